"""Staff order review and purchasing (seed step 3): approve or reject paid orders, buy at the real price
(price differences settled, or confirmed or declined by the customer), and record the merchant's shipment.

Not to be confused with the customer's rating of a delivered package (packages.add_review)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib import (
    auth,
    cancellation,
    clock,
    config,
    currency,
    db,
    lifecycle,
    money,
    refunds,
    uow,
    users,
    wallet,
)
from chalicelib.errors import Conflict, NotFound, ValidationError
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
    Queue.AWAITING_REPLACEMENT,
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


@dataclass(frozen=True)
class Terms:
    """What the shop actually charged: its unit price, and optionally a smaller quantity sold and its
    actual domestic freight for the shop's parcel."""

    actual_unit_price_fen: int
    quantity_purchased: int | None = None
    actual_domestic_shipping_fen: int | None = None


@dataclass(frozen=True)
class Figures:
    """A purchase's money: the short quantity refunded now, the goods' price difference (`price_fen`, on
    the quantity bought) and the shop's freight difference (`shipping_fen`, against what is left paid
    for its shipping), settled together as one difference under the item's consent threshold."""

    quantity_purchased: int
    short_refund_fen: int
    price_fen: int
    shipping_fen: int
    difference: settlement.Difference


def purchase_figures(item: Item, order: Order | None, terms: Terms) -> Figures:
    """The purchase's figures (400 for a quantity outside 1..ordered; 409 for actual freight on an order
    that keeps no shipping per shop)."""
    ordered = int(item.quantity)
    bought = ordered if terms.quantity_purchased is None else terms.quantity_purchased
    if not 1 <= bought <= ordered:
        raise ValidationError(
            f"quantity_purchased must be 1 to {ordered} (the quantity ordered); mark the item unavailable "
            "when the shop sells none."
        )
    short = min(int(item.unit_price_fen) * (ordered - bought), refunds.refundable_fen(item))
    price = (terms.actual_unit_price_fen - baseline_unit_price_fen(item)) * bought
    shipping, shipping_left = 0, 0
    if terms.actual_domestic_shipping_fen is not None:
        entry = shop_shipping(order, item)
        if entry is None:
            raise Conflict("This order keeps no domestic shipping per shop; record the purchase without it.")
        shipping_left = int(entry["paid_fen"]) - int(entry["refunded_fen"])
        shipping = terms.actual_domestic_shipping_fen - shipping_left
    difference = settlement.Difference(
        amount_fen=price + shipping,
        consent_threshold_fen=confirm_threshold_fen(item),
        refundable_fen=refunds.refundable_fen(item) - short + shipping_left,
    )
    return Figures(bought, short, price, shipping, difference)


def baseline_unit_price_fen(item: Item) -> int:
    """The unit price a purchase's difference is counted from: the listed price, or for an after-sales
    exchange's replacement the exchanged goods' actual price (that is what the customer paid)."""
    if item.exchange is not None:
        return int(plain(item.exchange).get("baseline_unit_price_fen", item.unit_price_fen))
    return int(item.unit_price_fen)


def shop_shipping(order: Order | None, item: Item) -> dict | None:
    """The item's shop's domestic shipping record in its order: {"paid_fen", "refunded_fen"}."""
    return ((plain(order.shipping_by_shop) if order else None) or {}).get(item.shop_id or "")


def purchase_difference(item: Item, actual_unit_price_fen: int) -> settlement.Difference:
    """(actual - listed unit price) x quantity, with the item's consent threshold and refundable amount."""
    return purchase_figures(item, None, Terms(actual_unit_price_fen)).difference


def settle(user_id: str, difference: settlement.Difference) -> settlement.Decision:
    """How `difference` settles now against the customer's wallet (read only when it matters)."""
    balance = wallet.balance_fen(user_id) if settlement.needs_balance(difference) else None
    return settlement.decide(difference, balance)


def preview_purchase(item_id: str, terms: Terms) -> tuple[Item, Figures, settlement.Decision]:
    """What recording a purchase on these terms would settle now, for the console (409 unless the item
    awaits its purchase); moves no money and records nothing (the wallet read may create an empty
    account). Reads the item, its order when freight is given, and the wallet when a charge depends
    on its balance."""
    item = _item(item_id)
    if not lifecycle.ITEM.allows("purchase", item.status) or item.purchase:
        raise Conflict(f"The item is {item.status}; a purchase can be recorded only while purchasing.")
    order = _order(item.order_id) if terms.actual_domestic_shipping_fen is not None else None
    figures = purchase_figures(item, order, terms)
    return item, figures, settle(item.user_id, figures.difference)


@dataclass
class Settled:
    """What settling a purchase's parts moved, for the order's totals; `by_shop` when its shipping changed."""

    paid_fen: int = 0
    refunded_fen: int = 0
    by_shop: dict | None = None


def _settle_parts(work: uow.Unit, item: Item, order: Order, price_fen: int, shipping_fen: int) -> Settled:
    """Within `work`: the goods' and the freight's differences settled, each on its own record (the item's
    paid/refunded, the shop's shipping paid/refunded) with its own ledger leg, refunds first (so the
    wallet never dips below zero between the legs); `item` is updated in memory."""
    fx = currency.stored(item.fx)
    legs: list[tuple[int, str, str]] = []
    paid, refunded = 0, 0
    if price_fen < 0:
        refund = min(-price_fen, refunds.refundable_fen(item))
        legs.append((refund, "price_difference_refund", item.item_id))
        item.refunded_fen, refunded = refunds.refunded_fen(item) + refund, refund
    elif price_fen > 0:
        legs.append((-price_fen, "price_difference_charge", item.item_id))
        item.paid_fen, paid = refunds.paid_fen(item) + price_fen, price_fen
    by_shop = None
    if shipping_fen:
        by_shop = plain(order.shipping_by_shop) or {}
        entry = by_shop[item.shop_id]
        if shipping_fen < 0:
            refund = min(-shipping_fen, int(entry["paid_fen"]) - int(entry["refunded_fen"]))
            legs.append((refund, "domestic_shipping_refund", order.order_id))
            entry["refunded_fen"], refunded = int(entry["refunded_fen"]) + refund, refunded + refund
        else:
            legs.append((-shipping_fen, "domestic_shipping_charge", order.order_id))
            entry["paid_fen"], paid = int(entry["paid_fen"]) + shipping_fen, paid + shipping_fen
    for amount, kind, ref in sorted(legs, key=lambda leg: -leg[0]):
        work.move(item.user_id, amount, kind, ref, fx)
    return Settled(paid, refunded, by_shop)


def _no_open_offer(item: Item) -> None:
    """409 while a replacement SKU offered for the item waits for the customer's answer."""
    offer = plain(item.replacement) or {}
    if lifecycle.REPLACEMENT.allows("accept", offer.get("state", "")):
        raise Conflict("A replacement offer waits for the customer's answer; the item cannot be bought now.")


def order_key(order_id: str) -> Order:
    """An order not read, for an ADD to its totals: its version is bumped (so writers that read it re-run),
    never reset (a fresh model's missing version would be written as 1)."""
    order = Order(order_id)
    order.version = 0
    return order


def record_purchase(item_id: str, staff_id: str, merchant_order_no: str, terms: Terms | int) -> Item:
    """Item bought from the merchant on `terms`; what it changes is refunded or charged.

    Fewer units sold than ordered: the rest is refunded now. The price difference (on the units bought)
    and the shop's actual freight against its shipping paid are one difference (rules.settlement): a
    lower total is refunded (at most what may still be refunded), a higher one charged from the wallet
    only up to `confirm_threshold_fen`; above it, or when the wallet is short, the item waits in the
    `awaiting_payment` queue until the customer pays it (pay-difference) or declines it
    (decline-difference: the item is cancelled and refunded), and the customer is emailed.
    """
    if isinstance(terms, int):
        terms = Terms(terms)

    def unit() -> uow.Unit:
        item = _item(item_id)
        auth.require_not_own(staff_id, item.user_id, "record a purchase (and its refund or charge) for")
        if not lifecycle.ITEM.allows("purchase", item.status) or item.purchase:
            raise Conflict(f"The item is {item.status}; a purchase can be recorded only while purchasing.")
        _no_open_offer(item)
        order = _order(item.order_id)
        figures = purchase_figures(item, order, terms)
        difference = figures.difference
        decision = settle(item.user_id, difference)
        now = clock.now_iso()
        purchase = {
            "merchant_order_no": merchant_order_no,
            "actual_unit_price_fen": terms.actual_unit_price_fen,
            "price_difference_fen": figures.price_fen,
            "purchased_at": now,
            "purchased_by": staff_id,
        }
        if terms.quantity_purchased is not None:
            purchase.update(
                quantity_purchased=figures.quantity_purchased, short_refund_fen=figures.short_refund_fen
            )
        if terms.actual_domestic_shipping_fen is not None:
            purchase.update(
                actual_domestic_shipping_fen=terms.actual_domestic_shipping_fen,
                shipping_difference_fen=figures.shipping_fen,
            )
        work = uow.Unit()
        fx = currency.stored(item.fx)
        short = figures.short_refund_fen
        work.move(item.user_id, short, "item_refund", item.item_id, fx)  # the units the shop did not sell
        item.refunded_fen = refunds.refunded_fen(item) + short
        purchase["settlement"] = decision.settlement.value
        waiting = WAITING_EMAIL.get(decision.settlement)  # the email template when the customer must act
        action, due = (
            ("await_difference", decision.due_fen) if decision.waits_for_customer else ("purchase", 0)
        )
        settled = Settled()
        if not decision.waits_for_customer:
            settled = _settle_parts(work, item, order, figures.price_fen, figures.shipping_fen)
            if decision.settlement == Settlement.REFUNDED:
                purchase["refunded_fen"] = settled.refunded_fen
        order_adds = []
        if settled.paid_fen:  # paid for the order too: cancelling it later refunds what is left
            order_adds.append(Order.paid_fen.add(settled.paid_fen))
        if settled.refunded_fen + short:
            order_adds.append(Order.refunded_fen.add(settled.refunded_fen + short))
        # the item's order is still approved (not cancelled meanwhile): the state its items are bought in
        approved = lifecycle.ORDER.check(Order, lifecycle.ORDER.target("approve"))
        if settled.by_shop is not None:  # the shop's shipping record: read, so version-checked
            order.shipping_by_shop = settled.by_shop
            work.update(order, [*order_adds, Order.shipping_by_shop.set(settled.by_shop)], approved)
        elif order_adds:  # ADD: sibling items do not conflict
            work.write(
                lambda tx: tx.update(
                    order, actions=order_adds, condition=approved, add_version_condition=False
                )
            )
        else:
            work.check(Order, order.order_id, approved)
        values = {"paid_fen": int(item.paid_fen or 0), "refunded_fen": int(item.refunded_fen or 0)}
        if terms.quantity_purchased is not None:
            values["quantity_purchased"] = figures.quantity_purchased
        also = db.assign(item, purchase=purchase, price_difference_due_fen=due, **values)
        move = lifecycle.ITEM.move(item, action, now=now, also=also, when=Item.purchase.does_not_exist())
        work.update(item, *move)
        if waiting:
            work.notify(
                item.user_id,
                waiting,
                {
                    "item_id": item_id,
                    "title": item.title,
                    "amount": money.format_cny(difference.amount_fen),
                    "listed": money.format_cny(int(item.unit_price_fen)),
                    "actual": money.format_cny(terms.actual_unit_price_fen),
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
    """The customer settles a higher actual price (and freight) from the wallet; the item becomes
    purchased. Two DynamoDB requests (the item and the wallet account in one batch, then the
    transaction), and a read of the order when part of the difference is its shop's freight."""

    def unit() -> uow.Unit:
        item, due, work = _difference_due(user_id, item_id, "pay_difference", "Nothing is due on this item.")
        now = clock.now_iso()
        purchase = plain(item.purchase) or {}
        purchase["settlement"] = SETTLEMENT.target("pay_difference").value
        shipping = int(purchase.get("shipping_difference_fen") or 0)
        when = Item.price_difference_due_fen == due
        if shipping:  # the goods' and the freight's parts each settle on their own record
            order = _order(item.order_id)
            settled = _settle_parts(work, item, order, due - shipping, shipping)
            adds = [Order.paid_fen.add(settled.paid_fen)] if settled.paid_fen else []
            adds += [Order.refunded_fen.add(settled.refunded_fen)] if settled.refunded_fen else []
            order.shipping_by_shop = settled.by_shop
            work.update(order, [*adds, Order.shipping_by_shop.set(settled.by_shop)])
            values = {"paid_fen": int(item.paid_fen or 0), "refunded_fen": int(item.refunded_fen or 0)}
            also = db.assign(item, price_difference_due_fen=0, purchase=purchase, **values)
            work.update(item, *lifecycle.ITEM.move(item, "pay_difference", now=now, also=also, when=when))
            work.result = item
            return work
        work.move(user_id, -due, "price_difference_charge", item.item_id, currency.stored(item.fx))
        also = [
            Item.price_difference_due_fen.set(0),
            Item.purchase.set(purchase),
            *refunds.paid_actions(item, due),
        ]
        work.update(item, *lifecycle.ITEM.move(item, "pay_difference", now=now, also=also, when=when))
        # paid for the order too (ADD: its siblings do not conflict), so its refunds stay within it
        order = order_key(item.order_id)
        work.write(
            lambda tx: tx.update(
                order,
                actions=[Order.paid_fen.add(due)],
                condition=Order.order_id.exists(),
                add_version_condition=False,
            )
        )
        item.price_difference_due_fen, item.purchase = 0, purchase
        item.paid_fen = refunds.paid_fen(item) + due
        work.result = item
        return work

    return uow.run(unit)


def decline_price_difference(user_id: str, item_id: str) -> Item:
    """The customer declines a higher actual price: the item is cancelled (we cancel the merchant order)
    and refunded as an unavailable item is (cancellation.cancel_with_refund): what was paid for it,
    its shop's domestic shipping with the shop's last live item of the order, and the order cancelled
    with its last live item. DynamoDB requests: the item and the wallet account in one batch, the order,
    the order's other items in one batch (none for an order of one item), then the transaction; a lost
    race re-runs from fresh reads."""

    def unit() -> uow.Unit:
        item, _, work = _difference_due(
            user_id, item_id, "decline_difference", "No price difference awaits your decision on this item."
        )
        order = cancellation.order_of(item)
        items = cancellation.order_items(order, item)
        now = clock.now_iso()
        purchase = plain(item.purchase) or {}

        def record(cancelled: cancellation.Cancelled) -> list:
            declined = SETTLEMENT.target("decline_difference").value
            return db.assign(
                item, purchase={**purchase, "settlement": declined, "refunded_fen": cancelled.refund_fen}
            )

        cancellation.cancel_with_refund(work, order, items, item, "decline_difference", now, record)
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
