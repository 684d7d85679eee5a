"""Cancelling an ordered item with its refund: what a purchasing exception (unavailable, a declined or
unanswered replacement offer) and a declined price difference share (chalicelib/purchase_exceptions.py,
chalicelib/purchasing.py, chalicelib/replacement_deadline.py).

The item moves to `cancelled` in the same transaction as its refund: what was paid for it and not refunded
yet, its shop's domestic shipping when no other live item of that shop is left in the order, and the
order closed when none of its items is left. Cost: the order (GetItem), the order's items and the wallet
account (one batch read), then one transaction. Concurrency: the item's and the order's version
conditions and a condition check that every other live item of the order is still live (so two items of
one shop cancelled at once cannot both leave the shipping unrefunded, nor both refund it); callers run it
in a unit of work that re-runs from fresh reads on a lost race.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib import currency, money, refunds, uow
from chalicelib.errors import Conflict, NotFound
from chalicelib.items import plain, with_account
from chalicelib.lifecycle import ITEM, ORDER
from chalicelib.models.commerce import Item, Order

# statuses that take an item out of its order's delivery for good (its shop ships nothing for it)
GONE = ITEM.targets("cancel", "reject")


@dataclass
class Cancelled:
    """What cancelling an item refunded: its goods, its shop's shipping, and whether the order closed."""

    refund_fen: int
    shipping_refund_fen: int
    order_closed: bool


def order_of(item: Item) -> Order:
    if not item.order_id:
        raise Conflict("This item was not bought for an order.")
    try:
        return Order.get(item.order_id, consistent_read=True)
    except Order.DoesNotExist:
        raise NotFound("No such order.") from None


def order_items(order: Order, item: Item) -> list[Item]:
    """The order's items, `item` as already read and the others in one consistent batch (no request for an
    order of one item): what cancel_with_refund decides the shop's shipping and the order's closing by."""
    others = [i for i in order.item_ids if i != item.item_id]
    found = {i.item_id: i for i in Item.batch_get(others, consistent_read=True)} if others else {}
    found[item.item_id] = item
    return [found[i] for i in order.item_ids if i in found]


def with_siblings(item: Item) -> tuple[Order, Item, list[Item], uow.Unit]:
    """The item's order, the item and its order's items read again in one batch with the wallet account
    (the unit of work that holds it)."""
    order = order_of(item)
    items, _, work = with_account(item.user_id, order.item_ids)
    fresh = next((i for i in items if i.item_id == item.item_id), None)
    if fresh is None:
        raise NotFound("No such item.")
    return order, fresh, items, work


def cancel_with_refund(
    work: uow.Unit,
    order: Order,
    items: list[Item],
    item: Item,
    action: str,
    now: str,
    also: Callable[[Cancelled], list] = lambda _: [],
) -> Cancelled:
    """Within `work`: `item` moved by `action` (to cancelled), and everything paid for it and not
    refunded returned to the wallet; its shop's domestic shipping too when no other live item of the shop
    remains in the order; the order closed when no live item remains. `also(cancelled)`: more actions on
    the item, given what is refunded. `item` and `order` are updated in memory to what commits."""
    fx = currency.stored(item.fx)
    others = [i for i in items if i.item_id != item.item_id and i.status not in GONE]
    by_shop = plain(order.shipping_by_shop) or {}
    shipping = 0
    entry = by_shop.get(item.shop_id or "")
    if entry is not None and not any(i.shop_id == item.shop_id for i in others):
        shipping = max(0, int(entry["paid_fen"]) - int(entry["refunded_fen"]))
        entry["refunded_fen"] = int(entry["refunded_fen"]) + shipping
    cancelled = Cancelled(
        refunds.refundable_fen(item), shipping, not others and ORDER.allows("close_cancelled", order.status)
    )
    refund = cancelled.refund_fen
    work.move(item.user_id, refund, "item_refund", item.item_id, fx)
    work.move(item.user_id, shipping, "domestic_shipping_refund", order.order_id, fx)
    item_also = [
        *refunds.refund_actions(item, refund),
        Item.price_difference_due_fen.set(0),
        *also(cancelled),
    ]
    work.update(item, *ITEM.move(item, action, now=now, also=item_also))
    item.refunded_fen = refunds.refunded_fen(item) + refund
    item.price_difference_due_fen = 0
    order_also = [Order.refunded_fen.add(refund + shipping)] if refund + shipping else []
    if shipping:
        order_also.append(Order.shipping_by_shop.set(by_shop))
        order.shipping_by_shop = by_shop
    order.refunded_fen = int(order.refunded_fen or 0) + refund + shipping
    if cancelled.order_closed:
        work.update(order, *ORDER.move(order, "close_cancelled", now=now, also=order_also))
    elif order_also:
        work.update(order, order_also, ORDER.check(Order, ORDER.target("approve")))
    for other in others:  # still live when this commits: else shipping and closing are decided again
        work.check(Item, other.item_id, ~ITEM.check(Item, *GONE))
    return cancelled


def refund_words(cancelled: Cancelled) -> str:
    return money.format_cny(cancelled.refund_fen + cancelled.shipping_refund_fen)
