"""Responses of the currency routes (docs/currencies.md)."""

from __future__ import annotations

from typing import Self

from chalicelib import currency
from chalicelib.responses.base import Out, Timestamp
from chalicelib.responses.fx import DecimalText, FxSnapshot
from chalicelib.typed import ConfigDict, Field

__all__ = ["CurrencyList", "CurrencyRate", "DecimalText", "FxSnapshot", "Preferences"]


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

    @classmethod
    def of(cls, listed: currency.Listed) -> Self:
        shown, text = listed.shown, currency.decimal_text
        return cls.build(
            currency=listed.code,
            name=listed.name,
            minor_units=listed.minor_units,
            rate=text(shown.rate) if shown else None,
            units_per_cny=text(shown.rate) if shown else None,
            cny_per_unit=text(shown.cny_per_unit) if shown else None,
            reference_rate=text(shown.reference_rate) if shown else None,
            margin_percent=text(listed.margin_percent),
            source=shown.source if shown else None,
            as_of=shown.rate_at if shown else None,
            rate_date=shown.rate_date if shown else None,
            stale=listed.stale,
        )


_USD = {
    "currency": "USD",
    "name": "US dollar",
    "minor_units": 2,
    "rate": "0.1351",
    "units_per_cny": "0.1351",
    "cny_per_unit": "7.4019",
    "reference_rate": "0.1386",
    "margin_percent": "2.5",
    "source": "ecb",
    "as_of": "2026-11-27T15:00:00Z",
    "rate_date": "2026-11-27",
    "stale": False,
}


class CurrencyList(Out):
    """Every supported currency with the rate in force (one page: `next_cursor` is always null)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_USD], "next_cursor": None}]})

    items: list[CurrencyRate]
    next_cursor: None = None

    @classmethod
    def of(cls, listed: list[currency.Listed]) -> Self:
        return cls.build(items=[CurrencyRate.of(c) for c in listed], next_cursor=None)


class Preferences(Out):
    """The caller's saved preferences."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"currency": "USD"}]})

    currency: str | None = Field(
        description="Display currency used when a request names none (null: CNY only)."
    )
