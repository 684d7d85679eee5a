"""The currency snapshot an order, payment, top-up or ledger entry was made at, as their answers show it
(responses/currencies.py re-exports it): in a module of its own, so that those answers do not build the
currency routes' responses."""

from __future__ import annotations

from typing import Annotated, Any, Self

from chalicelib import currency
from chalicelib.responses.base import Out, Timestamp, absent
from chalicelib.typed import Field

DecimalText = Annotated[
    str, Field(pattern=r"^[0-9]+(\.[0-9]+)?$", description="A decimal number as a string.")
]


class FxSnapshot(Out):
    """The rate an order, package payment, top-up or ledger entry was made at, and its amounts converted
    at THAT rate (`<name>_minor`, in the currency's minor units): a refund goes back at the rate paid."""

    code: str
    minor_units: int
    rate: DecimalText = Field(description="Units of the currency per 1 CNY, margin included.")
    rate_at: Timestamp
    source: str
    margin_percent: DecimalText
    amount_minor: int = absent("Ledger entries and payments: `amount_fen` at the snapshot's rate.")
    charge_minor: int = absent("Payments: `charge_fen` at the snapshot's rate.")
    total_minor: int = absent("Orders: `charges.total_fen` at the snapshot's rate.")
    paid_minor: int = absent("Orders and packages: `paid_fen` at the snapshot's rate.")
    refunded_minor: int = absent("Orders and packages: `refunded_fen` at the snapshot's rate.")

    @classmethod
    def of(cls, stored: Any, **amounts_fen: Any) -> Self | None:
        """A stored snapshot (a MapAttribute, or None) with each `<name>_fen` converted at ITS rate as
        `<name>_minor` (not today's rate: what the customer paid or gets back)."""
        snap = currency.stored(stored)
        if not snap:
            return None
        units = int(snap["minor_units"])
        shown = {k: snap[k] for k in ("code", "rate", "rate_at", "source", "margin_percent")}
        minor = {
            f"{name.removesuffix('_fen')}_minor": currency.to_minor(int(fen), snap["rate"], units)
            for name, fen in amounts_fen.items()
        }
        return cls.build(**shown, minor_units=units, **minor)
