"""The refund cap of an item: what the customer paid for it, minus what was already refunded for it.

Every refund of an item (after-sales of any resolution, a cheaper purchase price, declining a higher one,
cancelling or rejecting its order) reads the item, takes at most `refundable_fen(item)`, and writes
`refund_actions(item, amount)` in the same transaction as the ledger leg; the item's version condition
makes a concurrent refund re-run from a fresh read, so two refunds can never both spend the same fen.
"""

from __future__ import annotations

from chalicelib.errors import ValidationError
from chalicelib.models.commerce import Item


def goods_fen(item: Item) -> int:
    """The line's goods price: unit price snapshotted at ordering x quantity."""
    return int(item.unit_price_fen or 0) * int(item.quantity or 0)


def paid_fen(item: Item) -> int:
    return int(item.paid_fen or 0)


def refunded_fen(item: Item) -> int:
    return int(item.refunded_fen or 0)


def refundable_fen(item: Item) -> int:
    """What may still be refunded for the item."""
    return max(0, paid_fen(item) - refunded_fen(item))


def check(item: Item, amount_fen: int) -> None:
    """400 when `amount_fen` is more than the item may still be refunded."""
    left = refundable_fen(item)
    if amount_fen > left:
        raise ValidationError(
            f"refund_fen can be at most {left} fen: what was paid for the item ({paid_fen(item)} fen) "
            f"minus what was already refunded for it ({refunded_fen(item)} fen)."
        )


def refund_actions(item: Item, amount_fen: int) -> list:
    """The item's share of a refund transaction (its version condition guards the read figure)."""
    return [Item.refunded_fen.set(refunded_fen(item) + int(amount_fen))] if amount_fen else []


def paid_actions(item: Item, amount_fen: int) -> list:
    """The item's share of a charge transaction (price difference paid)."""
    return [Item.paid_fen.set(paid_fen(item) + int(amount_fen))] if amount_fen else []
