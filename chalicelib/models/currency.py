"""Exchange rates (the customer's currency, docs/currencies.md) and customers' display preferences.

`ExchangeRate`: one partition per currency; `day = "current"` is the rate in force, `day = <yyyy-mm-dd>`
the history (one row per source date, written once). Rates are reference rates without our margin, as
decimal strings (never floats): units of the currency per 1 CNY. Reading what is in force is one
GetItem per currency (a BatchGetItem for GET /currencies); the job writes only when the source
published a newer date, with conditions, so a re-run or a concurrent run changes nothing.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, VersionAttribute
from pynamodb.models import Model

from chalicelib.models.base import table_meta

CURRENT = "current"


class ExchangeRate(Model):
    Meta = table_meta("exchange-rates")

    currency = UnicodeAttribute(hash_key=True)  # ISO 4217 code, e.g. USD
    day = UnicodeAttribute(range_key=True)  # "current" or the source's date (yyyy-mm-dd)
    reference_rate = UnicodeAttribute()  # units of `currency` per 1 CNY, no margin, a decimal string
    source = UnicodeAttribute()  # "ecb", "demo"...
    rate_date = UnicodeAttribute()  # the date the source published the rate for
    rate_at = UnicodeAttribute()  # when the source fixed it (ISO 8601 UTC): what staleness is measured on
    fetched_at = UnicodeAttribute()


class UserPreference(Model):
    """A customer's preferences (PUT /me/preferences): the display currency for now."""

    Meta = table_meta("preferences")

    user_id = UnicodeAttribute(hash_key=True)
    currency = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    version = VersionAttribute()


MODELS: list[type] = [ExchangeRate, UserPreference]
