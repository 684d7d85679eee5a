"""Staff order review and purchasing (seed step 3): approve or reject paid orders, buy at the real price
(price differences settled, or confirmed or declined by the customer), and record the merchant's shipment.

Not to be confused with the customer's rating of a delivered package (packages.add_review)."""

from __future__ import annotations

from pynamodb.transactions import TransactWrite

from chalicelib import auth, clock, config, currency, db, lifecycle, money, refunds, uow, users, wallet
from chalicelib.errors import Conflict, NotFound
from chalicelib.items import plain, with_account
from chalicelib.lifecycle import SETTLEMENT, Queue, Settlement
from chalicelib.logs import get_logger
from chalicelib.models.commerce import Item, Order
from chalicelib.orders import (
    OrderResult,
    StaffOrderResult,
    move_items,
    order_items,
    refund_due_fen,
    refund_item,
)
from chalicelib.queues import queue_page
from chalicelib.rules import settlement
from chalicelib.tracking import normalise_tracking

log = get_logger("orders.purchasing")

ORDER_QUEUES = (Queue.PENDING_REVIEW, Queue.APPROVED)
ITEM_QUEUES = (
    Queue.PURCHASING,
    Queue.AWAITING_PAYMENT,
    Queue.PURCHASED,
    Queue.SHIPPED_DOMESTIC,
    Queue.RECEIVED,
)
WAITING_EMAIL = {
    Settlement.AWAITING_CONFIRMATION: "price_difference_confirm",
    Settlement.AWAITING_PAYMENT: "price_difference_due",
}


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


def queue(status: str, limit: int, cursor: dict | None) -> tuple[list[Order], dict | None]:
    """A page of the orders in a staff queue, oldest first, and the key to continue from."""
    return queue_page(Order, status, limit, cursor)


def order_detail(order_id: str) -> StaffOrderResult:
    """One order for staff, with its items, its owner's email and what rejecting it now refunds."""
    order = _order(order_id)
    email, refund = users.email_of(order.user_id), refund_due_fen(order)
    return StaffOrderResult(order, order_items(order), customer_email=email, refund_if_rejected_fen=refund)


def staff_item(item_id: str) -> Item:
    """One item in any status (what a scanned item label opens)."""
    return _item(item_id)


def item_queue(status: str, limit: int, cursor: dict | None) -> tuple[list[Item], dict | None]:
    return queue_page(Item, status, limit, cursor)


def approve(order_id: str, staff_id: str) -> OrderResult:
    order = _order(order_id)
    auth.require_not_own(staff_id, order.user_id, "approve")
    lifecycle.ORDER.require("approve", order.status)
    items = order_items(order)
    now = clock.now_iso()
    work = uow.Unit()
    work.update(
        order, *lifecycle.ORDER.move(order, "approve", now=now, also=[Order.decided_by.set(staff_id)])
    )
    move_items(work, items, "approve", now)
    work.notify(order.user_id, "order_approved", {"order_id": order_id, "item_count": len(items)})
    uow.run(lambda: work, retry=False, conflict="The order was changed by someone else; reload it.")
    return OrderResult(order, items)


def reject(order_id: str, staff_id: str, reason: str) -> OrderResult:
    """Order rejected, the full amount paid goes back to the wallet, the customer is emailed.
    Answers with what its transaction commits (no read after it), so a replay is the committed answer."""

    def unit() -> uow.Unit:
        order = _order(order_id)
        auth.require_not_own(staff_id, order.user_id, "reject")
        if not lifecycle.ORDER.allows("reject", order.status):
            raise Conflict(f"The order is {order.status}; only pending_review orders can be rejected.")
        items = order_items(order)
        work = uow.Unit()
        refund = refund_due_fen(order)  # the bank fee of an external channel is not refunded
        work.move(order.user_id, refund, "order_refund", order.order_id, currency.stored(order.fx))
        now = clock.now_iso()
        refunded = int(order.refunded_fen or 0) + refund
        also = db.assign(order, decided_by=staff_id, reject_reason=reason, refunded_fen=refunded)
        work.update(order, *lifecycle.ORDER.move(order, "reject", now=now, also=also))
        move_items(work, items, "reject", now, extra=refund_item)  # refund_item sets the items in memory
        work.notify(
            order.user_id,
            "order_rejected",
            {"order_id": order_id, "reason": reason, "refund": money.format_cny(refund)},
        )
        work.result = OrderResult(order, items)
        return work

    return uow.run(unit)


def confirm_threshold_fen(item: Item) -> int:
    """The largest higher price charged without asking the customer (rules.settlement)."""
    return settlement.purchase_consent_threshold_fen(
        refunds.paid_fen(item),
        config.get_decimal("PRICE_DIFFERENCE_CONFIRM_PERCENT"),
        config.get_int("PRICE_DIFFERENCE_CONFIRM_FEN"),
    )


def purchase_difference(item: Item, actual_unit_price_fen: int) -> settlement.Difference:
    """(actual - listed unit price) x quantity, with the item's consent threshold and refundable amount.
    An exchange's replacement is counted from the exchanged goods' actual price: that is what was paid."""
    baseline = int(item.unit_price_fen)
    if item.exchange is not None:
        baseline = int(plain(item.exchange).get("baseline_unit_price_fen", baseline))
    return settlement.Difference(
        amount_fen=(actual_unit_price_fen - baseline) * int(item.quantity),
        consent_threshold_fen=confirm_threshold_fen(item),
        refundable_fen=refunds.refundable_fen(item),
    )


def settle(user_id: str, difference: settlement.Difference) -> settlement.Decision:
    """How `difference` settles now against the customer's wallet (read only when it matters)."""
    balance = wallet.balance_fen(user_id) if settlement.needs_balance(difference) else None
    return settlement.decide(difference, balance)


def preview_purchase(
    item_id: str, actual_unit_price_fen: int
) -> tuple[Item, settlement.Difference, settlement.Decision]:
    """What recording a purchase at this price would settle now, for the console (409 unless the item
    awaits its purchase); moves no money and records nothing (the wallet read may create an empty
    account). One or two DynamoDB reads: the item, and the wallet when a charge depends on its balance."""
    item = _item(item_id)
    if not lifecycle.ITEM.allows("purchase", item.status) or item.purchase:
        raise Conflict(f"The item is {item.status}; a purchase can be recorded only while purchasing.")
    difference = purchase_difference(item, actual_unit_price_fen)
    return item, difference, settle(item.user_id, difference)


def _order_refunded(tx: TransactWrite, order: Order, refund: int, condition) -> None:
    """Adds an item's refund to its order's `refunded_fen` (ADD: sibling items do not conflict)."""
    tx.update(
        order,
        actions=[Order.refunded_fen.add(refund)],
        condition=condition,
        add_version_condition=False,
    )


def record_purchase(item_id: str, staff_id: str, merchant_order_no: str, actual_unit_price_fen: int) -> Item:
    """Item bought from the merchant; the price difference x quantity is refunded or charged.

    A lower price is refunded (at most what was paid for the item). A higher one is charged from the
    wallet only up to `confirm_threshold_fen`; above it, or when the wallet is short, the item waits in
    the `awaiting_payment` queue until the customer pays it (pay-difference) or declines it
    (decline-difference: the item is cancelled and refunded), and the customer is emailed.
    """

    def unit() -> uow.Unit:
        item = _item(item_id)
        auth.require_not_own(staff_id, item.user_id, "record a purchase (and its refund or charge) for")
        if not lifecycle.ITEM.allows("purchase", item.status) or item.purchase:
            raise Conflict(f"The item is {item.status}; a purchase can be recorded only while purchasing.")
        order = _order(item.order_id)
        difference = purchase_difference(item, actual_unit_price_fen)
        decision = settle(item.user_id, difference)
        now = clock.now_iso()
        purchase = {
            "merchant_order_no": merchant_order_no,
            "actual_unit_price_fen": actual_unit_price_fen,
            "price_difference_fen": difference.amount_fen,
            "purchased_at": now,
            "purchased_by": staff_id,
        }
        work = uow.Unit()
        item_values: dict = {}  # the item's paid or refunded figure after the charge or refund
        refund = decision.refund_fen
        purchase["settlement"] = decision.settlement.value
        waiting = WAITING_EMAIL.get(decision.settlement)  # the email template when the customer must act
        action, due = (
            ("await_difference", decision.due_fen) if decision.waits_for_customer else ("purchase", 0)
        )
        if decision.charge_fen:
            work.move(
                item.user_id,
                -decision.charge_fen,
                "price_difference_charge",
                item.item_id,
                currency.stored(item.fx),
            )
            item_values["paid_fen"] = refunds.paid_fen(item) + decision.charge_fen
        elif decision.settlement == Settlement.REFUNDED:
            purchase["refunded_fen"] = refund
            work.move(item.user_id, refund, "price_difference_refund", item.item_id, currency.stored(item.fx))
            item_values["refunded_fen"] = refunds.refunded_fen(item) + refund

        def write(tx: TransactWrite) -> None:
            if refund:
                _order_refunded(tx, order, refund, approved)
            else:
                tx.condition_check(Order, order.order_id, condition=approved)
            tx.update(item, actions=move.actions, condition=move.condition)

        # the item's order is still approved (not cancelled meanwhile): the state its items are bought in
        approved = lifecycle.ORDER.check(Order, lifecycle.ORDER.target("approve"))
        also = db.assign(item, purchase=purchase, price_difference_due_fen=due, **item_values)
        move = lifecycle.ITEM.move(item, action, now=now, also=also, when=Item.purchase.does_not_exist())

        work.write(write)
        if waiting:
            work.notify(
                item.user_id,
                waiting,
                {
                    "item_id": item_id,
                    "title": item.title,
                    "amount": money.format_cny(difference.amount_fen),
                    "listed": money.format_cny(int(item.unit_price_fen)),
                    "actual": money.format_cny(actual_unit_price_fen),
                    "refund": money.format_cny(refunds.refundable_fen(item)),
                },
            )
        work.result = item
        return work

    return uow.run(unit)


def _difference_due(user_id: str, item_id: str, action: str, nothing: str) -> tuple[Item, int, uow.Unit]:
    """The caller's item with a price difference awaiting them, what is due, and a unit holding their
    wallet account (one batch read); 404 for another's item, 409 `nothing` when no difference awaits."""
    found, _, work = with_account(user_id, [item_id])
    if not found or found[0].user_id != user_id:
        raise NotFound("No such item.")
    item = found[0]
    due = int(item.price_difference_due_fen or 0)
    if not lifecycle.ITEM.allows(action, item.status) or due <= 0:
        raise Conflict(nothing)
    return item, due, work


def pay_price_difference(user_id: str, item_id: str) -> Item:
    """The customer settles a higher actual price from the wallet; the item becomes purchased.
    Two DynamoDB requests: the item and the wallet account in one batch, then the transaction."""

    def unit() -> uow.Unit:
        item, due, work = _difference_due(user_id, item_id, "pay_difference", "Nothing is due on this item.")
        work.move(user_id, -due, "price_difference_charge", item.item_id, currency.stored(item.fx))
        now = clock.now_iso()
        purchase = plain(item.purchase) or {}
        purchase["settlement"] = SETTLEMENT.target("pay_difference").value
        also = [
            Item.price_difference_due_fen.set(0),
            Item.purchase.set(purchase),
            *refunds.paid_actions(item, due),
        ]
        when = Item.price_difference_due_fen == due
        work.update(item, *lifecycle.ITEM.move(item, "pay_difference", now=now, also=also, when=when))
        item.price_difference_due_fen, item.purchase = 0, purchase
        item.paid_fen = refunds.paid_fen(item) + due
        work.result = item
        return work

    return uow.run(unit)


def decline_price_difference(user_id: str, item_id: str) -> Item:
    """The customer declines a higher actual price: the item is cancelled (we cancel the merchant order)
    and what was paid for it is refunded to the wallet (its order's domestic shipping is not).
    Two DynamoDB requests: the item and the wallet account in one batch, then the transaction (the
    order's refunded total is an ADD, so the order need not be read)."""

    def unit() -> uow.Unit:
        item, due, work = _difference_due(
            user_id, item_id, "decline_difference", "No price difference awaits your decision on this item."
        )
        refund = refunds.refundable_fen(item)
        work.move(user_id, refund, "item_refund", item.item_id, currency.stored(item.fx))
        now = clock.now_iso()
        purchase = plain(item.purchase) or {}
        purchase["settlement"] = SETTLEMENT.target("decline_difference").value
        purchase["refunded_fen"] = refund
        also = [
            Item.price_difference_due_fen.set(0),
            Item.purchase.set(purchase),
            *refunds.refund_actions(item, refund),
        ]
        when = Item.price_difference_due_fen == due
        work.update(item, *lifecycle.ITEM.move(item, "decline_difference", now=now, also=also, when=when))
        if refund:
            order = Order(item.order_id)
            work.write(lambda tx: _order_refunded(tx, order, refund, Order.order_id.exists()))
        item.price_difference_due_fen, item.purchase = 0, purchase
        item.refunded_fen = refunds.refunded_fen(item) + refund
        work.result = item
        return work

    return uow.run(unit)


def record_domestic_shipment(item_id: str, staff_id: str, carrier: str, tracking_no: str) -> Item:
    """The merchant shipped the item to our warehouse; the answer is the item as the update committed it
    (DynamoDB's new image, which PynamoDB's update reads back into `item`)."""
    item = _item(item_id)
    if not lifecycle.ITEM.allows("ship_domestic", item.status):
        raise Conflict(f"The item is {item.status}; only purchased items can be shipped by the merchant.")
    now = clock.now_iso()
    tracking = normalise_tracking(tracking_no)
    also = [
        Item.domestic_shipment.set(
            {"carrier": carrier, "tracking_no": tracking, "shipped_at": now, "recorded_by": staff_id}
        ),
        Item.tracking_no.set(tracking),
    ]
    db.update_or_conflict(
        item,
        *lifecycle.ITEM.move(item, "ship_domestic", now=now, also=also),
        "The item was changed by someone else; reload it.",
    )
    return item
