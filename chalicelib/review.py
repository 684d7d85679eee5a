"""Review and purchasing (seed step 3): staff approve or reject paid orders, buy, and record shipment."""

from __future__ import annotations

from pynamodb.transactions import TransactWrite

from chalicelib import clock, db, money, wallet
from chalicelib.errors import Conflict, NotFound
from chalicelib.items import item_json, plain, queue_page, shard_key
from chalicelib.logs import get_logger
from chalicelib.models.commerce import Item, Order
from chalicelib.notify import notify
from chalicelib.orders import move_items, order_items, order_json

log = get_logger("review")

ORDER_QUEUES = ("pending_review", "approved")
ITEM_QUEUES = ("purchasing", "awaiting_payment", "purchased", "shipped_domestic", "received")


def _order(order_id: str) -> Order:
    try:
        return Order.get(order_id, consistent_read=True)
    except Order.DoesNotExist:
        raise NotFound("No such order.") from None


def _item(item_id: str) -> Item:
    try:
        return Item.get(item_id, consistent_read=True)
    except Item.DoesNotExist:
        raise NotFound("No such item.") from None


def queue(status: str, limit: int, cursor: dict | None) -> dict:
    orders, next_cursor = queue_page(Order, status, limit, cursor)
    now = clock.now_iso()
    rows = []
    for order in orders:
        row = order_json(order, [])
        row.pop("items")
        row["item_count"] = len(order.item_ids)
        row["user_id"] = order.user_id
        row["overdue"] = bool(
            order.review_due_at and order.review_due_at < now and status == "pending_review"
        )
        rows.append(row)
    return {"items": rows, "next_cursor": next_cursor}


def order_detail(order_id: str) -> dict:
    """One order for staff: items, charges, owner and whether its review is overdue."""
    order = _order(order_id)
    row = order_json(order, order_items(order))
    row["user_id"] = order.user_id
    row["overdue"] = bool(
        order.status == "pending_review" and order.review_due_at and order.review_due_at < clock.now_iso()
    )
    return row


def item_queue(status: str, limit: int, cursor: dict | None) -> dict:
    items, next_cursor = queue_page(Item, status, limit, cursor)
    return {"items": [dict(item_json(i), user_id=i.user_id) for i in items], "next_cursor": next_cursor}


def approve(order_id: str, staff_id: str) -> dict:
    order = _order(order_id)
    if order.status != "pending_review":
        raise Conflict(f"The order is {order.status}; only pending_review orders can be approved.")
    items = order_items(order)
    now = clock.now_iso()
    try:
        with TransactWrite(connection=db.connection()) as tx:
            tx.update(
                order,
                actions=[
                    Order.status.set("approved"),
                    Order.decided_at.set(now),
                    Order.decided_by.set(staff_id),
                    Order.queue_key.set(shard_key("approved", order.order_id)),
                    Order.queue_at.set(now),
                ],
                condition=Order.status == "pending_review",
            )
            move_items(tx, items, ("pending_review",), "purchasing", queue_status="purchasing")
    except Exception as exc:
        if db.lost_race(exc):
            raise Conflict("The order was changed by someone else; reload it.") from None
        raise
    approved = _order(order_id)
    notify(order.user_id, "order_approved", {"order_id": order_id, "item_count": len(items)})
    return order_json(approved, order_items(approved))


def reject(order_id: str, staff_id: str, reason: str) -> dict:
    """Order rejected, the full amount paid goes back to the wallet, the customer is emailed."""

    def unit() -> wallet.Unit:
        order = _order(order_id)
        if order.status != "pending_review":
            raise Conflict(f"The order is {order.status}; only pending_review orders can be rejected.")
        items = order_items(order)
        work = wallet.Unit()
        refund = int(order.paid_fen or 0) - int(order.refunded_fen or 0)
        work.move(order.user_id, refund, "order_refund", order.order_id)

        def write(tx: TransactWrite) -> None:
            tx.update(
                order,
                actions=[
                    Order.status.set("rejected"),
                    Order.decided_at.set(clock.now_iso()),
                    Order.decided_by.set(staff_id),
                    Order.reject_reason.set(reason),
                    Order.refunded_fen.set(int(order.refunded_fen or 0) + refund),
                    Order.queue_key.remove(),
                    Order.queue_at.remove(),
                ],
                condition=Order.status == "pending_review",
            )
            move_items(tx, items, ("pending_review",), "rejected")

        work.write(write)
        work.result = (order.user_id, refund)
        return work

    user_id, refund = wallet.run(unit)
    notify(
        user_id,
        "order_rejected",
        {"order_id": order_id, "reason": reason, "refund": money.format_cny(refund)},
    )
    rejected = _order(order_id)
    return order_json(rejected, order_items(rejected))


def record_purchase(item_id: str, staff_id: str, merchant_order_no: str, actual_unit_price_fen: int) -> dict:
    """Item bought from the merchant; the price difference × quantity is refunded or charged."""

    def unit() -> wallet.Unit:
        item = _item(item_id)
        if item.status != "purchasing" or item.purchase:
            raise Conflict(f"The item is {item.status}; a purchase can be recorded only while purchasing.")
        order = _order(item.order_id)
        difference = (actual_unit_price_fen - int(item.unit_price_fen)) * int(item.quantity)
        now = clock.now_iso()
        purchase = {
            "merchant_order_no": merchant_order_no,
            "actual_unit_price_fen": actual_unit_price_fen,
            "price_difference_fen": difference,
            "purchased_at": now,
            "purchased_by": staff_id,
        }
        work = wallet.Unit()
        short = difference > 0 and wallet.balance_fen(item.user_id) < difference
        if short:
            purchase["settlement"] = "awaiting_payment"
            status, queue_status, due = "purchasing", "awaiting_payment", difference
        else:
            purchase["settlement"] = "refunded" if difference < 0 else ("charged" if difference else "none")
            kind = "price_difference_refund" if difference < 0 else "price_difference_charge"
            work.move(item.user_id, -difference, kind, item.item_id)
            status, queue_status, due = "purchased", "purchased", 0

        def write(tx: TransactWrite) -> None:
            tx.condition_check(Order, order.order_id, condition=Order.status == "approved")
            tx.update(
                item,
                actions=[
                    Item.status.set(status),
                    Item.purchase.set(purchase),
                    Item.price_difference_due_fen.set(due),
                    Item.updated_at.set(now),
                    Item.queue_key.set(shard_key(queue_status, item.item_id)),
                    Item.queue_at.set(now),
                ],
                condition=(Item.status == "purchasing") & Item.purchase.does_not_exist(),
            )

        work.write(write)
        work.result = (item.user_id, short, difference)
        return work

    user_id, short, difference = wallet.run(unit)
    if short:
        notify(user_id, "price_difference_due", {"item_id": item_id, "amount": money.format_cny(difference)})
    return item_json(_item(item_id))


def pay_price_difference(user_id: str, item_id: str) -> dict:
    """The customer settles a higher actual price from the wallet; the item becomes purchased."""

    def unit() -> wallet.Unit:
        item = _item(item_id)
        if item.user_id != user_id:
            raise NotFound("No such item.")
        due = int(item.price_difference_due_fen or 0)
        if item.status != "purchasing" or due <= 0:
            raise Conflict("Nothing is due on this item.")
        work = wallet.Unit()
        work.move(user_id, -due, "price_difference_charge", item.item_id)
        now = clock.now_iso()

        def write(tx: TransactWrite) -> None:
            purchase = plain(item.purchase) or {}
            purchase["settlement"] = "charged"
            tx.update(
                item,
                actions=[
                    Item.status.set("purchased"),
                    Item.price_difference_due_fen.set(0),
                    Item.purchase.set(purchase),
                    Item.updated_at.set(now),
                    Item.queue_key.set(shard_key("purchased", item.item_id)),
                    Item.queue_at.set(now),
                ],
                condition=(Item.status == "purchasing") & (Item.price_difference_due_fen == due),
            )

        work.write(write)
        return work

    wallet.run(unit)
    return item_json(_item(item_id))


def normalise_tracking(tracking_no: str) -> str:
    return "".join(tracking_no.split()).upper()


def record_domestic_shipment(item_id: str, staff_id: str, carrier: str, tracking_no: str) -> dict:
    item = _item(item_id)
    if item.status != "purchased":
        raise Conflict(f"The item is {item.status}; only purchased items can be shipped by the merchant.")
    now = clock.now_iso()
    tracking = normalise_tracking(tracking_no)
    db.update_or_conflict(
        item,
        [
            Item.status.set("shipped_domestic"),
            Item.domestic_shipment.set(
                {"carrier": carrier, "tracking_no": tracking, "shipped_at": now, "recorded_by": staff_id}
            ),
            Item.tracking_no.set(tracking),
            Item.updated_at.set(now),
            Item.queue_key.set(shard_key("shipped_domestic", item.item_id)),
            Item.queue_at.set(now),
        ],
        Item.status == "purchased",
        "The item was changed by someone else; reload it.",
    )
    return item_json(_item(item_id))
