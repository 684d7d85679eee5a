"""The customer's decision on an inspected item, its feedback deadline, and the item's remark.

An item the inspection found an issue with (`inspection_issue`), or electronics whose arrival photos wait
for the customer's confirmation (`awaiting_confirmation`), waits on the customer: accept (or confirm), or
open an after-sales case (return or exchange, chalicelib/aftersales.py). The wait has a deadline
(FEEDBACK_DAYS) in a sparse, sharded index (`Item.by_feedback_due`, keyed `<UTC day>#<shard>` like the
storage deadlines) that the daily storage sweep reads: a reminder FEEDBACK_REMINDER_DAYS before, and with
no answer by the deadline the item is taken as accepted, as the seed's "we will assume you have
communicated and reached an agreement with the merchant" says. The 90 storage days start when the item
becomes In Warehouse (accepted, confirmed or assumed), not at its arrival.

Cost: a decision is one GetItem and one transaction (the move and its email); the sweep reads only the
days that fall due. Concurrency and idempotency: every write is conditional on the status and the
deadline read, so a decision racing the sweep, or a sweep run twice, moves the item and sends the email
once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib import clock, config, db, lifecycle, uow
from chalicelib.errors import Conflict, NotFound
from chalicelib.lifecycle import ItemStatus
from chalicelib.models.commerce import Item
from chalicelib.rules import storage as storage_rules

REASONS = {
    ItemStatus.INSPECTION_ISSUE: "inspection issue",
    ItemStatus.AWAITING_CONFIRMATION: "electronics confirmation",
}
REMARK_HISTORY_MAX = 20  # versions of a remark kept on the item (one DynamoDB item stays small)


def feedback_days() -> int:
    return config.get_int("FEEDBACK_DAYS")


def reminder_days() -> int:
    return config.get_int("FEEDBACK_REMINDER_DAYS")


def due_actions(item: Item, now: datetime) -> list:
    """The writes that start the item's wait on the customer (set in memory too)."""
    due = now + timedelta(days=feedback_days())
    item.feedback_due_at = clock.iso(due)
    item.feedback_key = storage_rules.deadline_key(due, item.item_id)
    item.feedback_reminded_at, item.awaiting_by = None, item.user_id
    return [
        Item.feedback_due_at.set(item.feedback_due_at),
        Item.feedback_key.set(item.feedback_key),
        Item.feedback_reminded_at.remove(),
        Item.awaiting_by.set(item.user_id),
    ]


def clear_actions(item: Item) -> list:
    """The writes that end the wait (the customer answered, or it was taken as accepted)."""
    item.feedback_due_at = item.feedback_key = item.feedback_reminded_at = item.awaiting_by = None
    return [
        Item.feedback_due_at.remove(),
        Item.feedback_key.remove(),
        Item.feedback_reminded_at.remove(),
        Item.awaiting_by.remove(),
    ]


def awaiting_items(user_id: str, limit: int, cursor: dict | None) -> tuple[list[Item], dict | None]:
    """The customer's items waiting on their decision, soonest feedback deadline first (one Query)."""
    result = Item.awaiting_feedback.query(user_id, limit=limit, last_evaluated_key=cursor)
    return list(result), result.last_evaluated_key


def stored_actions(item: Item, now: datetime) -> list:
    """The writes that start the 90 storage days now: the item becomes In Warehouse (set in memory)."""
    expires = storage_rules.storage_expires_at(now)
    item.stored_by, item.storage_expires_at = item.user_id, clock.iso(expires)
    item.deadline_key, item.reminders = storage_rules.deadline_key(expires, item.item_id), {}
    return [
        Item.stored_by.set(item.stored_by),
        Item.storage_expires_at.set(item.storage_expires_at),
        Item.deadline_key.set(item.deadline_key),
        Item.reminders.set({}),
    ]


def own_item(user_id: str, item_id: str) -> Item:
    """The caller's item (404 for another's, as for a missing one)."""
    try:
        item = Item.get(item_id, consistent_read=True)
    except Item.DoesNotExist:
        raise NotFound("No such item.") from None
    if item.user_id != user_id:
        raise NotFound("No such item.")
    return item


def _accepted(item: Item, action: str, now: datetime, when=None) -> lifecycle.Move:
    also = [*clear_actions(item), *stored_actions(item, now)]
    return lifecycle.ITEM.move(item, action, now=clock.iso(now), source=item.status, also=also, when=when)


def decide(user_id: str, item_id: str, action: str) -> Item:
    """The customer accepts an inspection issue (`accept_issue`) or confirms electronics from their
    arrival photos (`confirm`): the item is In Warehouse and its 90 days start now. 404 for another's
    item, 409 from any other status."""
    item = own_item(user_id, item_id)
    lifecycle.ITEM.require(action, item.status)
    work = uow.Unit(result=item)
    work.update(item, *_accepted(item, action, clock.now()))
    return uow.run(lambda: work, retry=False, conflict="The item changed meanwhile; reload it.")


def settle_due(item: Item, now: datetime) -> str:
    """The sweep's step for one item read from the feedback index: `assumed` (no answer by the deadline:
    In Warehouse, emailed), `reminded`, or `skipped` (answered meanwhile, reminded already, not due)."""
    due = item.feedback_due_at
    if item.status not in lifecycle.AWAITING_FEEDBACK or not due or item.open_case_id:
        return "skipped"
    now_iso = clock.iso(now)
    same = (Item.feedback_due_at == due) & Item.open_case_id.does_not_exist()
    work = uow.Unit()
    data = {"item_id": item.item_id, "title": item.title, "due_at": due, "reason": REASONS[item.status]}
    if due <= now_iso:
        work.update(item, *_accepted(item, "assume_agreed", now, when=same))
        work.notify(item.user_id, "feedback_assumed", {**data, "expires_at": item.storage_expires_at})
        outcome = "assumed"
    elif not item.feedback_reminded_at and clock.parse_iso(due) <= now + timedelta(days=reminder_days()):
        when = same & Item.feedback_reminded_at.does_not_exist() & lifecycle.ITEM.check(Item, item.status)
        work.update(item, [Item.feedback_reminded_at.set(now_iso)], when)
        work.notify(item.user_id, "feedback_reminder", data)
        outcome = "reminded"
    else:
        return "skipped"
    try:
        uow.run(lambda: work, retry=False)
    except Conflict:
        return "raced"  # answered or changed meanwhile: the sweep reads the day again until it is done
    return outcome


def change_remark(user_id: str, item_id: str, remark: str | None) -> Item:
    """The customer's note for the item (the apparel inspection checks against the latest), changeable
    until the item is received; every version is kept, the last REMARK_HISTORY_MAX. One conditional
    update (the status still allows it, the item's version unchanged)."""
    item = own_item(user_id, item_id)
    if item.status not in lifecycle.REMARK_EDITABLE:
        raise Conflict(f"The item is {item.status}; its remark can be changed only until it is received.")
    remark = (remark or "").strip() or None
    if remark == item.remark:
        return item
    now = clock.now_iso()
    history = [h.as_dict() if hasattr(h, "as_dict") else dict(h) for h in item.remark_history or []]
    if not history:  # the first change keeps the remark given with the order
        history.append({"remark": item.remark, "changed_at": item.created_at})
    history = [*history, {"remark": remark, "changed_at": now}][-REMARK_HISTORY_MAX:]
    actions = [
        Item.remark.set(remark) if remark else Item.remark.remove(),
        Item.remark_history.set(history),
        Item.updated_at.set(now),
    ]
    db.update_or_conflict(
        item,
        actions,
        lifecycle.ITEM.check(Item, *lifecycle.REMARK_EDITABLE),
        "The item changed meanwhile (it may have been received); reload it.",
    )
    return item
