"""Purchasing exceptions (issue 22, part 1): an approved item the shop cannot supply.

Staff mark it unavailable (out of stock, delisted, refused by the merchant, other) or offer a replacement
SKU of the same product that is in stock; the customer accepts the offer (the price difference settled by
rules/settlement.py) or declines it, by the offer's answer deadline (chalicelib/replacement_deadline.py:
with no answer the sweep declines it for them). Cancelling an item (unavailable, declined) refunds, in
the same transaction as the status move (chalicelib/cancellation.py): what was paid for the item and not
refunded yet, its shop's domestic shipping when no other live item of that shop is left in the order,
and closes the order when none of its items is left. The customer is emailed through the outbox.

Cost: the item (GetItem), its order (GetItem), the order's items and the wallet account (one batch
read), then one transaction. Concurrency: the item's and the order's version conditions and a condition
check that every other live item of the order is still live (so two items of one shop cancelled at
once cannot both leave the shipping unrefunded, nor both refund it): a lost race re-runs from fresh
reads and then answers 409 when the item moved on. Idempotent: the money routes take an
Idempotency-Key whose completion commits with the money (uow); a repeat without one is a 409.
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib import auth, clock, currency, db, feedback, money, orders, refunds, uow
from chalicelib.cancellation import Cancelled, cancel_with_refund, refund_words, with_siblings
from chalicelib.errors import Conflict, InsufficientFunds, NotFound, ValidationError
from chalicelib.items import plain
from chalicelib.lifecycle import ITEM, ORDER, REPLACEMENT, ReplacementState
from chalicelib.models.commerce import Item, Order
from chalicelib.replacement_deadline import answer_by, answer_days, open_offer, props_words
from chalicelib.rules import settlement

# why an item cannot be bought, in the words the customer's email uses
REASONS = {
    "out_of_stock": "the shop has run out of stock",
    "delisted": "the shop no longer sells it",
    "merchant_refused": "the shop refused the order",
    "other": "we could not buy it from the shop",
}


def _item(item_id: str) -> Item:
    try:
        return Item.get(item_id, consistent_read=True)
    except Item.DoesNotExist:
        raise NotFound("No such item.") from None


def mark_unavailable(item_id: str, staff_id: str, reason: str, note: str | None) -> Item:
    """The shop cannot supply the item: it is cancelled and refunded (cancel_with_refund), a replacement
    offer still open is withdrawn, and the customer is emailed why and what came back."""

    def unit() -> uow.Unit:
        first = _item(item_id)
        auth.require_not_own(staff_id, first.user_id, "mark unavailable an item of")
        ITEM.require("mark_unavailable", first.status)
        order, item, items, work = with_siblings(first)
        ITEM.require("mark_unavailable", item.status)
        now = clock.now_iso()
        offer = plain(item.replacement)

        def record(cancelled: Cancelled) -> list:
            values = {
                "unavailable": {
                    "reason": reason,
                    "note": note,
                    "marked_at": now,
                    "marked_by": staff_id,
                    "refunded_fen": cancelled.refund_fen,
                    "shipping_refunded_fen": cancelled.shipping_refund_fen,
                }
            }
            if offer and REPLACEMENT.allows("withdraw", offer.get("state", "")):  # an open offer is withdrawn
                values["replacement"] = {**offer, "state": REPLACEMENT.target("withdraw").value}
                return [*db.assign(item, **values), *feedback.clear_actions(item)]
            return db.assign(item, **values)

        cancelled = cancel_with_refund(work, order, items, item, "mark_unavailable", now, record)
        work.notify(
            item.user_id,
            "item_unavailable",
            {
                "item_id": item.item_id,
                "order_id": order.order_id,
                "title": item.title,
                "reason": REASONS[reason],
                "note": note or "",
                "refund": refund_words(cancelled),
                "closed": "This was the order's last item, so the order is now closed."
                if cancelled.order_closed
                else "",
            },
        )
        work.result = item
        return work

    return uow.run(unit)


# --- a replacement SKU of the same product --------------------------------------------------------------


def offer_replacement(item_id: str, staff_id: str, sku_id: str, note: str | None) -> Item:
    """Staff offer another SKU of the item's product that the shop has in stock for the whole quantity;
    the item waits on the `awaiting_replacement` queue and the customer is emailed the offer. Moves no
    money (the customer's answer does). Two reads (the item, the catalog) and one conditional write."""

    def unit() -> uow.Unit:
        item = _item(item_id)
        auth.require_not_own(staff_id, item.user_id, "offer a replacement for an item of")
        ITEM.require("offer_replacement", item.status)
        if item.purchase or open_offer(item) or int(item.price_difference_due_fen or 0):
            raise Conflict("The item is already bought, or waits for the customer's answer to an offer.")
        if sku_id == item.sku_id:
            raise ValidationError("sku_id is the SKU ordered; offer another SKU of the product.")
        product, sku = orders.sku_of(
            orders.catalog_details([item.product_id], current=True), item.product_id, sku_id
        )
        stock = int(sku.get("stock") or 0)
        if stock < int(item.quantity):
            raise Conflict(
                f"Only {stock} of SKU {sku_id} in stock; the item needs {int(item.quantity)}.",
                code="out_of_stock",
                details=[
                    {
                        "product_id": item.product_id,
                        "sku_id": sku_id,
                        "quantity": int(item.quantity),
                        "stock": stock,
                        "available": stock > 0,
                    }
                ],
            )
        now = clock.now_iso()
        due = clock.iso(clock.parse_iso(now) + timedelta(days=answer_days()))
        price = int(sku["price_fen"])
        offer = {
            "sku_id": sku_id,
            "props": dict(sku.get("props") or {}),
            "unit_price_fen": price,
            "difference_fen": (price - int(item.unit_price_fen)) * int(item.quantity),
            "note": note,
            "state": ReplacementState.OFFERED.value,
            "offered_at": now,
            "offered_by": staff_id,
            "due_at": due,
        }
        work = uow.Unit()
        also = [*db.assign(item, replacement=offer), *answer_by(item, due)]
        work.update(item, *ITEM.move(item, "offer_replacement", now=now, also=also))
        work.notify(
            item.user_id,
            "replacement_offered",
            {
                "item_id": item.item_id,
                "title": item.title,
                "ordered": props_words(plain(item.props) or {}),
                "offered": props_words(offer["props"]),
                "price": money.format_cny(price),
                "difference": money.format_cny(offer["difference_fen"]),
                "refund": money.format_cny(refunds.refundable_fen(item)),
                "note": note or "",
                "product": product["title"],
                "due_at": due,
            },
        )
        work.result = item
        return work

    return uow.run(unit, retry=False, conflict="The item was changed by someone else; reload it.")


def _own_offered(user_id: str, item_id: str) -> tuple[Item, dict]:
    item = _item(item_id)
    if item.user_id != user_id:
        raise NotFound("No such item.")
    offer = open_offer(item)
    if offer is None or not ITEM.allows("accept_replacement", item.status):
        raise Conflict("No replacement offer awaits your answer on this item.")
    return item, offer


def accept_replacement(user_id: str, item_id: str) -> Item:
    """The customer takes the offered SKU: the item becomes that SKU at its price, and the difference is
    settled by the one settlement rule (rules/settlement.py): a cheaper SKU refunded, a dearer one
    charged from the wallet (accepting the offer is the customer's consent; a short wallet is a 409
    insufficient_funds that changes nothing). The item goes back to the purchasing queue."""

    def unit() -> uow.Unit:
        first, offer = _own_offered(user_id, item_id)
        order, item, _, work = with_siblings(first)
        offer = open_offer(item)
        if offer is None or not ITEM.allows("accept_replacement", item.status):
            raise Conflict("No replacement offer awaits your answer on this item.")
        difference = settlement.Difference(
            amount_fen=int(offer["difference_fen"]), refundable_fen=refunds.refundable_fen(item)
        )
        balance = (
            int(work.accounts[user_id].balance_fen or 0) if settlement.needs_balance(difference) else None
        )
        decision = settlement.decide(difference, balance)
        if decision.waits_for_customer:
            raise InsufficientFunds(
                f"Accepting costs {money.format_cny(decision.due_fen)} more than you paid; top up your "
                "wallet and accept again."
            )
        fx = currency.stored(item.fx)
        now = clock.now_iso()
        work.move(user_id, -decision.charge_fen, "price_difference_charge", item.item_id, fx)
        work.move(user_id, decision.refund_fen, "price_difference_refund", item.item_id, fx)
        decided = {
            **offer,
            "state": REPLACEMENT.target("accept").value,
            "decided_at": now,
            "settlement": decision.settlement.value,
        }
        also = [
            *refunds.paid_actions(item, decision.charge_fen),
            *refunds.refund_actions(item, decision.refund_fen),
            *db.assign(
                item,
                sku_id=offer["sku_id"],
                props=offer["props"],
                unit_price_fen=int(offer["unit_price_fen"]),
                replacement=decided,
            ),
            *feedback.clear_actions(item),  # answered: off the deadline index
        ]
        work.update(item, *ITEM.move(item, "accept_replacement", now=now, also=also))
        item.paid_fen = refunds.paid_fen(item) + decision.charge_fen
        item.refunded_fen = refunds.refunded_fen(item) + decision.refund_fen
        # the order's paid and refunded totals follow, so cancelling the order later refunds the rest
        order_also = []
        if decision.charge_fen:
            order_also.append(Order.paid_fen.add(decision.charge_fen))
        if decision.refund_fen:
            order_also.append(Order.refunded_fen.add(decision.refund_fen))
        if order_also:
            approved = ORDER.check(Order, ORDER.target("approve"))
            work.write(
                lambda tx: tx.update(
                    order, actions=order_also, condition=approved, add_version_condition=False
                )
            )
        work.result = item
        return work

    return uow.run(unit)


def decline_replacement(user_id: str, item_id: str) -> Item:
    """The customer declines the offered SKU: the item is cancelled and refunded as an unavailable item
    is (cancel_with_refund: its goods, its shop's shipping with the shop's last item, the order closed
    with its last item)."""

    def unit() -> uow.Unit:
        first, _ = _own_offered(user_id, item_id)
        order, item, items, work = with_siblings(first)
        offer = open_offer(item)
        if offer is None or not ITEM.allows("decline_replacement", item.status):
            raise Conflict("No replacement offer awaits your answer on this item.")
        now = clock.now_iso()

        def record(_: Cancelled) -> list:
            decided = {**offer, "state": REPLACEMENT.target("decline").value, "decided_at": now}
            return [*db.assign(item, replacement=decided), *feedback.clear_actions(item)]

        cancel_with_refund(work, order, items, item, "decline_replacement", now, record)
        work.result = item
        return work

    return uow.run(unit)
