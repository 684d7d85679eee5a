"""Storage after inspection: paid extensions, the destruction queue and confirmed destruction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta

from chalicelib import clock, config, lifecycle, metrics, uow
from chalicelib.db import update_or_conflict
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.items import with_account
from chalicelib.models.commerce import Item, RequestRecord
from chalicelib.models.warehouse import Parcel
from chalicelib.queues import queue_page
from chalicelib.rules import storage as storage_rules

EXTENSION_DAYS = 30


def extension_price_fen() -> int:
    """Per item and 30 days; agents sell this at ¥10-15 a month (their published price lists)."""
    return config.get_int("STORAGE_EXTENSION_FEN")


def max_storage_days() -> int:
    return config.get_int("MAX_STORAGE_DAYS")


def extend(user_id: str, item_id: str, periods: int) -> Item:
    """Buy `periods` × 30 more days from the wallet, up to the maximum total; reminders follow."""
    if periods < 1:
        raise ValidationError("periods must be at least 1.")

    def unit() -> uow.Unit:
        # the item and the wallet account in one batch: two requests in all with the transaction
        found, _, work = with_account(user_id, [item_id])
        if not found or found[0].user_id != user_id:
            raise NotFound("No such item.")
        item = found[0]
        if item.status not in lifecycle.CLOCK_RUNNING or not item.storage_expires_at:
            raise Conflict(f"The item is {item.status}; only items in storage can be extended.")
        expires = clock.parse_iso(item.storage_expires_at)
        if expires <= clock.now():
            raise Conflict("The storage period has already ended.")
        started = clock.parse_iso(item.in_warehouse_at)
        new_expires = expires + timedelta(days=EXTENSION_DAYS * periods)
        total_days = (new_expires - started).days
        if total_days > max_storage_days():
            raise Conflict(f"Storage can be extended to at most {max_storage_days()} days in total.")
        price = extension_price_fen() * periods
        work.move(user_id, -price, "storage_extension", item.item_id)
        extended = int(item.storage_extended_days or 0) + EXTENSION_DAYS * periods
        now = clock.now_iso()
        work.update(
            item,
            [
                Item.storage_expires_at.set(clock.iso(new_expires)),
                Item.deadline_key.set(storage_rules.deadline_key(new_expires, item.item_id)),
                Item.storage_extended_days.set(extended),
                Item.reminders.set({}),  # reminders follow the new deadline
                Item.updated_at.set(now),
            ],
            lifecycle.ITEM.check(Item, item.status) & (Item.storage_expires_at == item.storage_expires_at),
        )
        item.storage_expires_at, item.storage_extended_days, item.updated_at = (
            clock.iso(new_expires),
            extended,
            now,
        )
        work.result = item
        return work

    return uow.run(unit)


def destruction_queue(limit: int, cursor: dict | None) -> tuple[list[Item | Parcel], dict | None]:
    """Abandoned items, then expired exceptional parcels, each oldest first, awaiting destruction; and
    where the next page starts."""
    cursor = cursor or {"phase": "items"}
    if not isinstance(cursor.get("phase"), str):
        raise ValidationError("cursor is not one this API returned.")
    goods: list[Item | Parcel] = []
    if cursor["phase"] == "items":
        items, next_items = queue_page(Item, lifecycle.Queue.DESTRUCTION, limit, cursor.get("at"))
        goods += items
        if next_items:
            return goods, {"phase": "items", "at": next_items}
        cursor = {"phase": "parcels"}
        limit -= len(goods)
        if limit <= 0:
            return goods, cursor
    parcels, next_parcels = queue_page(Parcel, lifecycle.Queue.DESTRUCTION, limit, cursor.get("at"))
    goods += parcels
    return goods, {"phase": "parcels", "at": next_parcels} if next_parcels else None


def _destroy(machine: lifecycle.Lifecycle, model, key: str, what: str):
    """abandoned -> destroyed once staff confirm the physical destruction; leaves the queue."""
    try:
        found = model.get(key, consistent_read=True)
    except model.DoesNotExist:
        raise NotFound(f"No such {what}.") from None
    if not machine.allows("destroy", found.status):
        raise Conflict(f"The {what} is {found.status}; only abandoned goods are destroyed.")
    update_or_conflict(
        found, *machine.move(found, "destroy", now=clock.now_iso()), f"The {what} changed meanwhile."
    )
    metrics.count("ItemsDestroyed", what=what)
    return found  # as the update committed it (PynamoDB reads the new image back into it)


def destroy_item(item_id: str) -> Item:
    return _destroy(lifecycle.ITEM, Item, item_id, "item")


def destroy_parcel(parcel_id: str) -> Parcel:
    return _destroy(lifecycle.PARCEL, Parcel, parcel_id, "parcel")


def resume_clock_actions(item: Item, now, grace_days: int) -> list:
    """Writes that restart an item's storage clock after a hold (see rules.storage.resumed_expires_at)."""
    expires = clock.parse_iso(item.storage_expires_at)
    resumed = storage_rules.resumed_expires_at(expires, now, grace_days)
    actions = [Item.deadline_key.set(storage_rules.deadline_key(resumed, item.item_id, now.date()))]
    if resumed != expires:  # a later deadline: its reminders are owed afresh
        actions += [Item.storage_expires_at.set(clock.iso(resumed)), Item.reminders.set({})]
        item.storage_expires_at = clock.iso(resumed)
    return actions


def reminder_days() -> list[int]:
    """Days before the deadline a reminder is sent (REMINDER_DAYS), ascending."""
    return storage_rules.reminder_days(config.setting("REMINDER_DAYS"))


def reread_day(item: Item, now) -> date | None:
    """The deadline day of an item whose clock just resumed, when a reminder window may already have read
    that day (it is within the longest threshold of today): the sweep must read it again, or a reminder
    still owed (the item was on hold when its day was read) would never be sent."""
    if not item.storage_expires_at or not reminder_days():
        return None
    day = clock.parse_iso(item.storage_expires_at).date()
    return day if day <= now.date() + timedelta(days=max(reminder_days())) else None


def reread_reminders(days: Iterable[date | None]) -> Callable:
    """A unit-of-work write: mark each day for the sweep to read again for reminders (one item per day,
    written once per transaction; a concurrent mark of the same day is a lost race the unit re-runs)."""
    wanted = sorted({d for d in days if d is not None})
    now = clock.now()

    def write(tx) -> None:
        for day in wanted:
            tx.update(
                RequestRecord(storage_rules.REREAD_PREFIX + day.isoformat()),
                actions=[
                    RequestRecord.request_hash.set(""),
                    RequestRecord.state.set("reread"),
                    RequestRecord.created_at.set(clock.iso(now)),
                    RequestRecord.expires_at.set(now + timedelta(days=max(reminder_days(), default=0) + 30)),
                ],
            )

    return write
