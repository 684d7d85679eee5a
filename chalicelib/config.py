"""Configuration comes from environment variables (`.chalice/config.json` per stage).

Read at call time, never cached at import, so tests and the local runner can set them.
"""

from __future__ import annotations

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
    # business settings (hole 10 and hole 1 of issue 11)
    # a higher purchase price is charged without asking only up to the lower of these two; above it the
    # item waits for the customer's confirmation (POST /items/{id}/pay-difference or decline-difference)
    "PRICE_DIFFERENCE_CONFIRM_PERCENT": "5",  # percent of the line's paid goods price
    "PRICE_DIFFERENCE_CONFIRM_FEN": "10000",  # 100 CNY
    "FORWARDING_MAX_OPEN_PER_CUSTOMER": "20",  # open forwarding declarations one customer may hold
    # no default for secrets: a stage without one rejects every webhook rather than trust a known value
}


def get(name: str) -> str:
    """The setting `name` from the environment, or its documented default."""
    value = os.environ.get(name)
    if value:
        return value
    if name == "AWS_REGION":
        return os.environ.get("AWS_DEFAULT_REGION") or DEFAULTS[name]
    return DEFAULTS.get(name, "")


def get_int(name: str) -> int:
    """A whole-number setting (fen, counts, days)."""
    return int(get(name))


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
