"""Responses of the currency routes (docs/currencies.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from chalicelib.responses.base import Out, Timestamp

DecimalText = Annotated[
    str, Field(pattern=r"^[0-9]+(\.[0-9]+)?$", description="A decimal number as a string.")
]


class CurrencyRate(Out):
    """A supported currency and the rate in force (rates are decimal strings, never floats)."""

    currency: str = Field(description="ISO 4217 code.")
    name: str
    minor_units: int = Field(description="ISO 4217 minor units: 2 for cents, 0 for JPY and KRW.")
    rate: DecimalText | None = Field(
        description="Units of this currency per 1 CNY, margin included; conversions use it (null: none yet)."
    )
    units_per_cny: DecimalText | None = Field(description="The same as `rate`.")
    cny_per_unit: DecimalText | None = Field(
        description="CNY per 1 unit of this currency (1 / rate), shown only."
    )
    reference_rate: DecimalText | None = Field(
        description="Units per 1 CNY from the source, before our margin."
    )
    margin_percent: DecimalText = Field(
        description="Our margin over the reference rate, in the customer's disfavour."
    )
    source: str | None = Field(description="Where the reference rate comes from: `ecb`, or `demo` locally.")
    as_of: Timestamp | None = Field(
        description="When the source fixed the rate (staleness is measured from it)."
    )
    rate_date: str | None = Field(description="The date the source published the rate for (yyyy-mm-dd).")
    stale: bool = Field(
        description="Older than the configured age (or missing): conversions answer 503 rate_unavailable."
    )


class CurrencyList(Out):
    items: list[CurrencyRate]
    next_cursor: None = None


class Preferences(Out):
    """The caller's saved preferences."""

    currency: str | None = Field(
        description="Display currency used when a request names none (null: CNY only)."
    )
