"""A replacement offer's answer deadline: every item waiting on the customer has one.

Staff offer another SKU for an item the shop cannot supply (chalicelib/purchase_exceptions.py); the offer
waits on the customer for REPLACEMENT_ANSWER_DAYS. Its deadline is on the items' feedback index
(`Item.by_feedback_due`, keyed `<UTC day>#<shard>`, like an inspection's feedback deadline), which the
daily storage sweep walks: a reminder REPLACEMENT_REMINDER_DAYS before, and with no answer by then the
offer is declined for the customer: nothing is bought without their consent, so the item is cancelled and
refunded as a declined offer is (chalicelib/cancellation.py), and they are emailed why.

Cost: a reminder is one conditional UpdateItem with its outbox event; an expiry reads the order, its items
and the wallet account, then one transaction. Idempotent: every write is conditional on the offer and the
deadline read, so a customer's answer racing the sweep, or a sweep run twice, refunds and emails once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib import clock, config, db, feedback, money, refunds, uow
from chalicelib.cancellation import Cancelled, cancel_with_refund, refund_words, with_siblings
from chalicelib.errors import Conflict
from chalicelib.items import plain
from chalicelib.lifecycle import ITEM, REPLACEMENT
from chalicelib.models.commerce import Item
from chalicelib.rules import storage as storage_rules


def open_offer(item: Item) -> dict | None:
    """The item's replacement offer while it waits for the customer's answer, else None."""
    offer = plain(item.replacement)
    return offer if offer and REPLACEMENT.allows("accept", offer.get("state", "")) else None


def props_words(props: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in props.items()) or "the listed one"


def answer_days() -> int:
    return config.get_int("REPLACEMENT_ANSWER_DAYS")


def reminder_days() -> int:
    return config.get_int("REPLACEMENT_REMINDER_DAYS")


def answer_by(item: Item, due: str) -> list:
    """The writes putting the offer's deadline on the feedback index (set in memory too). Not on the
    owner's awaiting-decision list of stored items (`awaiting_by`): the item is not in the warehouse."""
    item.feedback_due_at = due
    item.feedback_key = storage_rules.deadline_key(clock.parse_iso(due), item.item_id)
    item.feedback_reminded_at = None
    return [
        Item.feedback_due_at.set(item.feedback_due_at),
        Item.feedback_key.set(item.feedback_key),
        Item.feedback_reminded_at.remove(),
    ]


def waits_on_offer(item: Item) -> bool:
    """The item's deadline on the feedback index is a replacement offer's (not an inspection's)."""
    return ITEM.allows("expire_replacement", item.status) and open_offer(item) is not None


def settle_offer_due(item: Item, now: datetime) -> str:
    """The sweep's step for an item read from the feedback index with an open offer: `expired` (no answer
    by the deadline: declined for the customer, the item cancelled and refunded, emailed), `reminded`,
    `skipped` (answered meanwhile, reminded already, not due yet) or `raced` (changed while deciding: the
    sweep reads the day again). Conditional on the offer and deadline read, so a customer's answer racing
    the sweep, or a sweep run twice, refunds and emails once."""
    due = item.feedback_due_at
    if not waits_on_offer(item) or not due:
        return "skipped"
    now_iso = clock.iso(now)
    if due > now_iso:
        if item.feedback_reminded_at or clock.parse_iso(due) > now + timedelta(days=reminder_days()):
            return "skipped"
        return _remind_offer(item, now_iso)
    return _expire_offer(item, now_iso)


def _offer_words(item: Item, offer: dict) -> dict:
    return {
        "item_id": item.item_id,
        "title": item.title,
        "offered": props_words(offer.get("props") or {}),
        "due_at": item.feedback_due_at,
        "refund": money.format_cny(refunds.refundable_fen(item)),
    }


def _remind_offer(item: Item, now_iso: str) -> str:
    offer = open_offer(item) or {}
    same = (Item.feedback_due_at == item.feedback_due_at) & Item.feedback_reminded_at.does_not_exist()
    work = uow.Unit()
    work.update(item, [Item.feedback_reminded_at.set(now_iso)], same & ITEM.check(Item, item.status))
    work.notify(item.user_id, "replacement_reminder", _offer_words(item, offer))
    try:
        uow.run(lambda: work, retry=False)
    except Conflict:
        return "raced"
    return "reminded"


def _expire_offer(first: Item, now_iso: str) -> str:
    """Decline the offer for the customer: cancel_with_refund under the version of the item as re-read
    with its order's items (a lost race re-reads and decides again: answered meanwhile is skipped)."""
    due = first.feedback_due_at

    def unit() -> uow.Unit:
        order, item, items, work = with_siblings(first)
        offer = open_offer(item)
        if offer is None or item.feedback_due_at != due or not ITEM.allows("expire_replacement", item.status):
            return uow.Unit(result="skipped")  # answered or withdrawn meanwhile
        words = _offer_words(item, offer)

        def record(_: Cancelled) -> list:
            expired = {**offer, "state": REPLACEMENT.target("expire").value, "decided_at": now_iso}
            return [*db.assign(item, replacement=expired), *feedback.clear_actions(item)]

        cancelled = cancel_with_refund(work, order, items, item, "expire_replacement", now_iso, record)
        closed = (
            "This was the order's last item, so the order is now closed." if cancelled.order_closed else ""
        )
        work.notify(
            item.user_id,
            "replacement_expired",
            {**words, "refund": refund_words(cancelled), "closed": closed},
        )
        work.result = REPLACEMENT.target("expire").value  # the outcome the sweep counts
        return work

    try:
        return uow.run(unit)
    except Conflict:
        return "raced"
