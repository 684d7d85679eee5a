"""Insurance claims on packages (issue 22): when a claim may be filed, and how much it may compensate.

Pure functions of dates and integer fen (no I/O), unit-tested in milliseconds. The peers' figures are the
defaults in config.py: damage within 7 days of delivery, loss and seizure within 45 days of shipping
(Orientdig), a loss only once the line's longest delivery estimate plus a grace has passed (before that
the parcel is late, not lost); compensation is shipping plus goods, up to the insured value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.lifecycle import ClaimKind

KINDS = tuple(k.value for k in ClaimKind)
INSURANCE_SERVICE = "insurance"


@dataclass(frozen=True)
class Windows:
    """The claim windows in days (config.py: CLAIM_DAMAGE_DAYS, CLAIM_LOST_GRACE_DAYS and
    CLAIM_LOST_WINDOW_DAYS)."""

    damage_days: int
    lost_grace_days: int
    lost_window_days: int


@dataclass(frozen=True)
class Window:
    opens: datetime
    closes: datetime


class ClaimRefused(ValueError):
    """The claim cannot be filed now; the message says why (a 409 for the customer)."""


def window(
    kind: str,
    windows: Windows,
    *,
    shipped_at: datetime,
    delivered_at: datetime | None,
    confirmed_by_customer: bool,
    longest_estimate_days: int,
) -> Window:
    """When a claim of `kind` may be filed on a package shipped (and perhaps delivered) then.

    damaged: from delivery, for `damage_days`. lost: from the line's longest estimate plus the grace after
    shipping; seized: from shipping; both close `lost_window_days` after shipping (never sooner than
    `damage_days` after a loss window opens, for a line slower than the window), and neither is open on
    a package the customer confirmed receiving (an auto-confirmed one may still be lost).
    """
    if kind == ClaimKind.DAMAGED:
        if delivered_at is None:
            raise ClaimRefused("A damage claim is filed once the package is delivered.")
        return Window(delivered_at, delivered_at + timedelta(days=windows.damage_days))
    if kind not in (ClaimKind.LOST, ClaimKind.SEIZED):
        raise ValueError(f"unknown claim kind {kind!r}")
    if confirmed_by_customer:
        raise ClaimRefused(f"You confirmed receiving this package, so it cannot be claimed {kind}.")
    opens = shipped_at
    if kind == ClaimKind.LOST:
        opens = shipped_at + timedelta(days=longest_estimate_days + windows.lost_grace_days)
    closes = max(
        shipped_at + timedelta(days=windows.lost_window_days), opens + timedelta(days=windows.damage_days)
    )
    return Window(opens, closes)


def refusal(kind: str, w: Window, now: datetime) -> str | None:
    """Why a claim of `kind` cannot be filed at `now` (None when its window is open)."""
    if now < w.opens:
        if kind == ClaimKind.LOST:
            return (
                f"The package is late, not lost, until its line's longest delivery estimate plus the grace "
                f"period has passed: a loss claim opens {w.opens:%Y-%m-%d %H:%M} UTC."
            )
        return f"A {kind} claim opens {w.opens:%Y-%m-%d %H:%M} UTC."
    if now > w.closes:
        return f"The window for a {kind} claim closed {w.closes:%Y-%m-%d %H:%M} UTC."
    return None


def insured_value_fen(declared_value_fen: int, shipping_fen: int) -> int:
    """What the insurance covers: the goods value declared for the package plus the shipping paid."""
    return int(declared_value_fen) + int(shipping_fen)


def compensation_cap_fen(
    insured_value: int, percent: int, compensated: int, goods_refundable: list[int], shipping_left: int
) -> int:
    """The most an approval may still pay: `percent` of the insured value less what earlier claims on the
    package paid, and never more than was paid and not yet refunded (the claimed items' goods and the
    package's shipping)."""
    by_policy = insured_value * percent // 100 - compensated
    return max(0, min(by_policy, sum(goods_refundable) + max(0, shipping_left)))


def split(amount_fen: int, goods_refundable: list[int], shipping_left: int) -> tuple[list[int], int]:
    """`amount_fen` as (each claimed item's share, the shipping share): the goods first, item by item up
    to what each may still be refunded, the rest as shipping. The caller checked the cap."""
    shares = []
    rest = amount_fen
    for refundable in goods_refundable:
        share = min(rest, max(0, refundable))
        shares.append(share)
        rest -= share
    if rest > shipping_left:
        raise ValueError("amount over the cap")
    return shares, rest
