"""The settlement of a difference between what the customer paid and what is finally owed.

One rule for the two places a difference arises, and for the staff console's preview of both:
- purchasing: the shop's actual price differs from the listed one (seed step 3);
- packing: the packed weight and size price the package differently from its quote (seed step 6).

A difference the customer owes is charged from the wallet silently up to a consent threshold (when the
flow has one); above it the customer must consent (pay or decline), and a wallet too short for a
charge leaves it due. What the customer overpaid is refunded, at most what may still be refunded.
Pure: no I/O, no clock; the caller reads the balance only when `needs_balance` says the decision
depends on it, so a refund or an over-threshold charge costs no wallet read.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chalicelib import money
from chalicelib.lifecycle import Settlement  # the table's words; `decided` never gives `declined`

__all__ = [
    "Decision",
    "Difference",
    "Settlement",
    "decide",
    "needs_balance",
    "purchase_consent_threshold_fen",
]


@dataclass(frozen=True)
class Difference:
    """What is owed minus what was paid, in fen (positive: the customer owes more), and its limits.

    `consent_threshold_fen`: the largest charge made without asking; None when the flow asks no
    consent (packing). `refundable_fen`: the most that may be refunded; None when uncapped."""

    amount_fen: int
    consent_threshold_fen: int | None = None
    refundable_fen: int | None = None


@dataclass(frozen=True)
class Decision:
    """The settlement, and the money it moves now (`charge_fen` from the wallet, `refund_fen` to it) or
    leaves for the customer (`due_fen`)."""

    settlement: Settlement
    charge_fen: int = 0
    refund_fen: int = 0
    due_fen: int = 0

    @property
    def waits_for_customer(self) -> bool:
        return self.settlement in (Settlement.AWAITING_CONFIRMATION, Settlement.AWAITING_PAYMENT)


def purchase_consent_threshold_fen(paid_fen: int, percent: Decimal, cap_fen: int) -> int:
    """The largest higher purchase price charged without asking: the lower of `percent` of the line's
    paid goods price and `cap_fen` (PRICE_DIFFERENCE_CONFIRM_PERCENT / _FEN in config)."""
    return min(money.percent_of(paid_fen, percent), cap_fen)


def _needs_consent(difference: Difference) -> bool:
    threshold = difference.consent_threshold_fen
    return threshold is not None and difference.amount_fen > threshold


def needs_balance(difference: Difference) -> bool:
    """Whether the decision depends on the wallet's balance: a charge the customer need not consent to."""
    return difference.amount_fen > 0 and not _needs_consent(difference)


def decide(difference: Difference, balance_fen: int | None = None) -> Decision:
    """The settlement of `difference` against a wallet holding `balance_fen` (read only when
    `needs_balance`; a caller that may not charge passes 0, which leaves a charge due)."""
    amount = difference.amount_fen
    if amount < 0:
        refund = -amount
        if difference.refundable_fen is not None:
            refund = min(refund, difference.refundable_fen)
        return Decision(Settlement.REFUNDED, refund_fen=refund)
    if amount == 0:
        return Decision(Settlement.NONE)
    if _needs_consent(difference):
        return Decision(Settlement.AWAITING_CONFIRMATION, due_fen=amount)
    if balance_fen is None:
        raise ValueError("A charge within the consent threshold is decided against the wallet's balance.")
    if balance_fen < amount:
        return Decision(Settlement.AWAITING_PAYMENT, due_fen=amount)
    return Decision(Settlement.CHARGED, charge_fen=amount)
