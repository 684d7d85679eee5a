"""Configuration comes from environment variables (`.chalice/config.json` per stage).

Read at call time, never cached at import, so tests and the local runner can set them.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal

DEFAULTS = {
    "STAGE": "local",
    "AWS_REGION": "ap-southeast-1",
    "TABLE_PREFIX": "procure-local",
    "PHOTO_BUCKET": "procure-local-photos",
    "PHOTO_QUEUE": "procure-local-photo-events",
    "EMAIL_SENDER": "no-reply@procure.example",
    "USER_POOL_ID": "",
    "USER_POOL_CLIENT_ID": "",
    # no default for secrets (PAYMENT_WEBHOOK_SECRET, CURSOR_SECRET): outside the local and test stages
    # the API refuses to serve without them (production_problems) rather than trust a known value
    # browsers may call the API from these origins (a comma list; the stages set their own)
    "CORS_ALLOWED_ORIGINS": "",
    "CURSOR_MAX_AGE_SECONDS": "86400",  # a list cursor older than this is refused (400): page again
    "IMAGE_SEARCH_MAX_PIXELS": "4000000",  # image search decodes at most this many pixels (400 above)
    "PHOTO_MAX_PIXELS": "16000000",  # a QC photo (PNG/WebP) of more pixels is quarantined undecoded
    # view copies and thumbnails: presigned S3 GETs (s3), or CloudFront signed URLs (cloudfront: the
    # template sets it with PHOTO_CDN_DOMAIN and PHOTO_CDN_KEY_ID; chalicelib/photo_urls.py)
    "PHOTO_URLS": "s3",
    # product sources (docs/sources.md): demo (the embedded catalog) or the marketplace's API adapter
    "PRODUCT_SOURCE_1688": "demo",  # demo | alibaba
    "PRODUCT_SOURCE_TAOBAO": "demo",  # demo | onebound (Taobao and Tmall)
    "ALIBABA_BASE_URL": "https://gw.open.1688.com/openapi",
    "ONEBOUND_BASE_URL": "https://api-gw.onebound.cn",
    "SOURCE_CONNECT_TIMEOUT_SECONDS": "2",
    "SOURCE_READ_TIMEOUT_SECONDS": "5",
    "SOURCE_MAX_ATTEMPTS": "3",  # per call, on timeouts, 429, 5xx and throttled answers
    "SOURCE_BACKOFF_BASE_MS": "200",  # full jitter: a random wait up to base x 2^attempt
    "SOURCE_DEADLINE_SECONDS": "10",  # one call, its retries and waits included
    "SOURCE_BREAKER_FAILURES": "5",  # failed calls in a row that open a marketplace's breaker
    "SOURCE_BREAKER_OPEN_SECONDS": "30",
    "PRODUCT_CACHE_MINUTES": "10",  # a fetched product is served without asking for this long
    "PRODUCT_CACHE_STALE_HOURS": "24",  # and kept this long, served only while the marketplace is down
    "SEARCH_CACHE_MINUTES": "10",  # a marketplace search page (keyword or image) served without asking
    "REPRICE_MAX_AGE_SECONDS": "60",  # quotes and orders re-read a cached product older than this
    "SOURCE_DEFAULT_DOMESTIC_SHIPPING_FEN": "1000",  # when a shop's freight cannot be estimated
    # tests and local runs only: short links are requested at <this>/<host><path> (catalog/shortlinks.py)
    "SHORT_LINK_BASE_URL": "",
    "SOURCE_MAX_PRICE_FEN": "10000000",  # a marketplace unit price above ¥100,000 is taken as malformed
    # the warehouse's region for 1688 freight estimates (GB/T 2260 codes: Zhejiang, Jinhua, Yiwu)
    "WAREHOUSE_PROVINCE_CODE": "330000",
    "WAREHOUSE_CITY_CODE": "330700",
    "WAREHOUSE_DISTRICT_CODE": "330782",  # the API's `toCountryCode` is this district code
    # exchange rates (docs/currencies.md): the source the exchange_rates job reads, and its address
    "CURRENCY_SOURCE": "ecb",
    "ECB_BASE_URL": "https://www.ecb.europa.eu",
    "CURRENCY_SOURCE_TIMEOUT_SECONDS": "10",
}

LOCAL_STAGES = ("local", "test")  # stages that may run with demo secrets and development origins
REQUIRED_SECRETS = ("PAYMENT_WEBHOOK_SECRET", "CURSOR_SECRET")
REAL_PAYMENT_PROVIDERS = ("stripe", "paypal")  # what a deployed stage may map a channel to


# where objects live in the photo bucket: uploads under qc/ trigger ingestion (S3 -> SQS); idempotent
# responses too large for DynamoDB are kept under idempotency/ for two days
PHOTO_UPLOAD_PREFIX = "qc/"
IDEMPOTENCY_PREFIX = "idempotency/"


def outbox_stream_arn() -> str:
    """The outbox table's stream, as `app.outbox_events` names it: in AWS the template replaces it with
    the table's `StreamArn` (infra/template.py); locally the stack and the tests read the stream itself."""
    return get("OUTBOX_STREAM_ARN") or (
        f"arn:aws:dynamodb:{get('AWS_REGION')}:000000000000:table/{table_name('outbox')}/stream/latest"
    )


def get(name: str) -> str:
    """The setting `name` from the environment, or its documented default."""
    value = os.environ.get(name)
    if value:
        return value
    if name == "AWS_REGION":
        return os.environ.get("AWS_DEFAULT_REGION") or DEFAULTS[name]
    return DEFAULTS.get(name) or BUSINESS_DEFAULTS.get(name, "")


def get_int(name: str) -> int:
    """An integer setting (DEFAULTS or BUSINESS_DEFAULTS give its default); a malformed value is a
    configuration error, so the default is used."""
    default = BUSINESS_DEFAULTS.get(name) or DEFAULTS[name]
    try:
        return int(os.environ.get(name) or default)
    except ValueError:
        return int(default)


def cors_allowed_origins() -> frozenset[str]:
    """The exact origins (scheme://host[:port]) browsers may call the API from: the stage's list, plus the
    staff console's own origin where the template deploys one (CONSOLE_ORIGIN)."""
    listed = [*get("CORS_ALLOWED_ORIGINS").split(","), get("CONSOLE_ORIGIN")]
    return frozenset(o.strip().rstrip("/") for o in listed if o.strip())


def production_problems() -> list[str]:
    """Why this process must not serve (empty in the local and test stages, and when all is set)."""
    if get("STAGE") in LOCAL_STAGES:
        return []
    problems = [f"{name} is not set" for name in REQUIRED_SECRETS if not get(name)]
    if "*" in cors_allowed_origins():
        problems.append("CORS_ALLOWED_ORIGINS may not contain * outside the local and test stages")
    problems += _payment_provider_problems()
    return problems


def _payment_provider_problems() -> list[str]:
    """A deployed stack's channels are collected by real providers only (the simulation is local)."""
    try:
        table = json.loads(get("PAYMENT_PROVIDERS") or "{}")
    except ValueError:
        return ["PAYMENT_PROVIDERS is not a JSON object"]
    if not isinstance(table, dict):
        return ["PAYMENT_PROVIDERS is not a JSON object"]
    return [
        f"PAYMENT_PROVIDERS maps {channel} to {name!r}, not a real provider (stripe, paypal)"
        for channel, name in sorted(table.items())
        if name not in REAL_PAYMENT_PROVIDERS
    ]


def get_decimal(name: str) -> Decimal:
    """A decimal setting (percentages)."""
    return Decimal(get(name))


def region() -> str:
    return get("AWS_REGION")


def endpoint_url() -> str | None:
    """The AWS endpoint override (moto server locally); None in AWS."""
    return os.environ.get("AWS_ENDPOINT_URL") or None


def table_name(suffix: str) -> str:
    return f"{get('TABLE_PREFIX')}-{suffix}"


# --- business settings -------------------------------------------------------------------------------
# Every business rule's tunable number, with its default; the environment variable of the same name
# overrides it per stage (.chalice/config.json).
BUSINESS_DEFAULTS = {
    # a higher purchase price is charged without asking only up to the lower of these two; above it the
    # item waits for the customer's confirmation (POST /items/{id}/pay-difference or decline-difference)
    "PRICE_DIFFERENCE_CONFIRM_PERCENT": "5",  # percent of the line's paid goods price
    "PRICE_DIFFERENCE_CONFIRM_FEN": "10000",  # 100 CNY
    "FORWARDING_MAX_OPEN_PER_CUSTOMER": "20",  # open forwarding declarations one customer may hold
    # storage (seed: 90 days free, reminders before the deadline); extensions per 30 days, up to a cap
    "REMINDER_DAYS": "7,1",
    "STORAGE_EXTENSION_FEN": "1200",
    "MAX_STORAGE_DAYS": "180",
    # an inspected item waiting on the customer (an inspection issue, an electronics confirmation) has
    # this many days to answer; a reminder goes this many days before; no answer is taken as accepted
    "FEEDBACK_DAYS": "7",
    "FEEDBACK_REMINDER_DAYS": "2",
    # a replacement SKU offered for an item the shop cannot supply waits this many days for the customer;
    # a reminder goes this many days before; no answer declines it (cancelled and refunded)
    "REPLACEMENT_ANSWER_DAYS": "7",
    "REPLACEMENT_REMINDER_DAYS": "2",
    # days after shipping when an unconfirmed package is taken as delivered: the line's longest delivery
    # estimate plus this margin (rules/shipping.line_auto_confirm_days); AUTO_CONFIRM_DAYS for a line
    # without an estimate
    "AUTO_CONFIRM_MARGIN_DAYS": "5",
    "AUTO_CONFIRM_DAYS": "20",
    # --- after delivery: after-sales and insurance claims (issue 22; the peers' published figures) ---
    # days after delivery when a delivered item may still open an after-sales case (the business's choice)
    "AFTER_SALES_DAYS_AFTER_DELIVERY": "14",
    # an insured package's damage claim: within this many days of delivery (Orientdig: 7 after signing)
    "CLAIM_DAMAGE_DAYS": "7",
    # a loss claim opens this many days after the line's longest delivery estimate has passed since
    # shipping, and loss and seizure claims close this many days after shipping (Orientdig: 45)
    "CLAIM_LOST_GRACE_DAYS": "7",
    "CLAIM_LOST_WINDOW_DAYS": "45",
    # compensation is at most this percent of the insured value (goods declared + shipping paid)
    "CLAIM_COMPENSATION_PERCENT": "100",
    # days a submitted package may stay unpaid before it expires and its items go back to storage
    "PACKAGE_PAYMENT_DAYS": "7",
    # packing (issue 24): a final charge above what was paid is taken from the wallet without asking only
    # up to the lower of these two (Superbuy settles differences up to ¥100 later; the carton and filling
    # commonly add one 500 g step to the items' sum); above it, or when the wallet is short, the package
    # waits for the customer
    "PACKING_DIFFERENCE_CONFIRM_PERCENT": "20",  # percent of what the package holds paid (its quote)
    "PACKING_DIFFERENCE_CONFIRM_FEN": "5000",  # 50 CNY
    # days a packed package waits for the customer's answer (a difference to pay, a rehearsal to confirm)
    # before it goes back to storage, and the reminders before that deadline
    "PACKING_ANSWER_DAYS": "7",
    "PACKING_ANSWER_REMINDER_DAYS": "3,1",
    # an item back on the shelf after a hold keeps its deadline, but never less than this many days
    "STORAGE_RESUME_GRACE_DAYS": "7",
    # minutes after its scan when staff may still void an exceptional parcel scanned by mistake
    "PARCEL_VOID_MINUTES": "60",
    # the Lambda timeout (.chalice/config.json lambda_timeout): an idempotency claim is leased this long
    "FUNCTION_TIMEOUT_SECONDS": "30",
    # an order re-prices its cart lines at creation: a change of at most this percent of the cart's
    # price snapshot is accepted (and shown); a larger one is 409 price_changed (docs/sources.md)
    "REPRICE_TOLERANCE_PERCENT": "2",
    # the paid marketplace quota (catalog/budget.py): uncached marketplace calls (searches, pasted links,
    # product ids, image searches, short links) one client (source IP) may cause per hour, and all
    # clients together; past either the caller gets 429 (cached answers keep being served)
    "SOURCE_CALLS_PER_CLIENT_PER_HOUR": "60",  # an anonymous caller (per source IP)
    "SOURCE_CALLS_PER_USER_PER_HOUR": "600",  # a signed-in customer (carts and orders re-price)
    "SOURCE_CALLS_PER_HOUR": "3000",
    # the customer's currency (docs/currencies.md): our margin over the reference rate, in the customer's
    # disfavour (market practice 2-3%), and the age past which a rate is stale (conversions stop, 503):
    # 128 h covers the ECB's longest gap (Easter, Christmas: four closing days) plus the hourly job's lag
    "CURRENCY_MARGIN_PERCENT": "2.5",
    "CURRENCY_MAX_AGE_HOURS": "128",
    # a published rate that moved more than this percent from the rate in force (same source) is held
    # back, not used, and alarmed (ExchangeRatesRefused): a genuine move that large needs a person
    "CURRENCY_MAX_DAILY_CHANGE_PERCENT": "10",
    # order and package messages (chalicelib/messages.py): the longest body, in characters, and how long
    # the customer's email waits after a staff reply so that replies within it leave as one email
    "MESSAGE_MAX_CHARS": "2000",
    "MESSAGE_EMAIL_BATCH_MINUTES": "5",
}


# Tables of rules kept as JSON in the environment, each with its built-in default beside the rule:
# PAYMENT_CHANNELS (rules/charges.py), SHIPPING_LINES, PACKAGE_SERVICE_FEE, VALUE_ADDED_SERVICES
# (rules/shipping.py).


def setting(name: str) -> str:
    """A business setting as text: the environment's value, or its default above."""
    return os.environ.get(name) or BUSINESS_DEFAULTS[name]


# --- customs declarations (issue 24; chalicelib/rules/customs.py, docs/customs.md for the sources) -----
# What each destination's customs require of a package's declaration lines; CUSTOMS_RULES (JSON)
# replaces the whole table per stage. Values in fen at the business's reference rates: EUR 150 at
# 7.8 CNY/EUR and 300 SDR at 9.6 CNY/SDR, rounded down so a parcel near a limit takes the stricter form.
CUSTOMS_DEFAULTS = {
    "recipient_tax_id": {"BR": "cpf", "KR": "pccc"},  # Brazil: the CPF; Korea: the PCCC
    "ioss_max_value_fen": 117000,  # EU parcels up to EUR 150 are declared under IOSS
    "ioss_number": "",  # the business's own IOSS registration (IM + 10 digits), if it has one
    "cn22_max_value_fen": 288000,  # UPU: a CN22 up to 300 SDR, a CN23 above
    # the sender printed on CN22/CN23 forms: our warehouse (WAREHOUSE_*_CODE above: Yiwu, Zhejiang)
    "sender": {
        "name": "Procure Sourcing Warehouse",
        "line1": "88 Chouzhou North Road",
        "city": "Yiwu",
        "state": "Zhejiang",
        "postal_code": "322000",
        "country": "CN",
        "phone": "+86 579 8555 0100",
    },
}


def customs_rules() -> dict:
    """The customs rules table in force (CUSTOMS_RULES, else CUSTOMS_DEFAULTS)."""
    import json

    raw = os.environ.get("CUSTOMS_RULES")
    return json.loads(raw) if raw else CUSTOMS_DEFAULTS
