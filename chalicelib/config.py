"""Configuration comes from environment variables (`.chalice/config.json` per stage).

Read at call time, never cached at import, so tests and the local runner can set them.
"""

from __future__ import annotations

import os

DEFAULTS = {
    "STAGE": "local",
    "AWS_REGION": "ap-southeast-1",
    "TABLE_PREFIX": "procure-local",
    "PHOTO_BUCKET": "procure-local-photos",
    "PHOTO_QUEUE": "procure-local-photo-events",
    "EMAIL_SENDER": "no-reply@procure.example",
    "USER_POOL_ID": "",
    "USER_POOL_CLIENT_ID": "",
    # no default for secrets: a stage without one rejects every webhook rather than trust a known value
}


# where objects live in the photo bucket: uploads under qc/ trigger ingestion (S3 -> SQS); idempotent
# responses too large for DynamoDB are kept under idempotency/ for two days
PHOTO_UPLOAD_PREFIX = "qc/"
IDEMPOTENCY_PREFIX = "idempotency/"


def get(name: str) -> str:
    """The setting `name` from the environment, or its documented default."""
    value = os.environ.get(name)
    if value:
        return value
    if name == "AWS_REGION":
        return os.environ.get("AWS_DEFAULT_REGION") or DEFAULTS[name]
    return DEFAULTS.get(name, "")


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
    # storage (seed: 90 days free, reminders before the deadline); extensions per 30 days, up to a cap
    "REMINDER_DAYS": "7,1",
    "STORAGE_EXTENSION_FEN": "1200",
    "MAX_STORAGE_DAYS": "180",
    # days after shipping when an unconfirmed package is taken as delivered
    "AUTO_CONFIRM_DAYS": "20",
    # days a submitted package may stay unpaid before it expires and its items go back to storage
    "PACKAGE_PAYMENT_DAYS": "7",
    # an item back on the shelf after a hold keeps its deadline, but never less than this many days
    "STORAGE_RESUME_GRACE_DAYS": "7",
    # the Lambda timeout (.chalice/config.json lambda_timeout): an idempotency claim is leased this long
    "FUNCTION_TIMEOUT_SECONDS": "30",
}


# Tables of rules kept as JSON in the environment, each with its built-in default beside the rule:
# PAYMENT_CHANNELS (rules/charges.py), SHIPPING_LINES, PACKAGE_SERVICE_FEE, VALUE_ADDED_SERVICES
# (rules/shipping.py).


def setting(name: str) -> str:
    """A business setting as text: the environment's value, or its default above."""
    return os.environ.get(name) or BUSINESS_DEFAULTS[name]


def get_int(name: str) -> int:
    """A whole-number business setting (BUSINESS_DEFAULTS gives the default)."""
    raw = os.environ.get(name) or BUSINESS_DEFAULTS.get(name) or DEFAULTS.get(name)
    if raw is None:
        raise KeyError(f"no setting {name}")
    return int(raw)
