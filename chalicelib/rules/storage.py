"""Goods storage period (seed): 90 days from "In Warehouse"; exceptional parcels 30 days from receipt."""

from __future__ import annotations

import math
import zlib
from datetime import date, datetime, timedelta

from chalicelib.lifecycle import CLOCK_RUNNING, IN_STORAGE  # noqa: F401 - the sets storage code reads

STORAGE_DAYS = 90
EXCEPTIONAL_PARCEL_DAYS = 30
DEADLINE_SHARDS = 8  # one day's deadlines spread over this many index partitions
REREAD_PREFIX = "reminders-reread#"  # + a UTC day: the sweep reads that day's deadlines again for reminders


def reminder_days(raw: str) -> list[int]:
    """REMINDER_DAYS ("7,1"): days before the deadline a reminder is sent, ascending."""
    return sorted({int(x) for x in raw.split(",") if x.strip()})


def storage_expires_at(in_warehouse_at: datetime, days: int = STORAGE_DAYS) -> datetime:
    return in_warehouse_at + timedelta(days=days)


def exceptional_expires_at(received_at: datetime) -> datetime:
    return received_at + timedelta(days=EXCEPTIONAL_PARCEL_DAYS)


def deadline_key(expires_at: datetime, entity_id: str, not_before: date | None = None) -> str:
    """`<UTC day>#<shard>`: the sparse index key a daily sweep queries for that day.

    `not_before` (today, for a deadline written back after a hold) keeps the key on a day the sweep
    has not finished yet: the sweep re-reads today on every run and never goes back to days it has
    checkpointed, so an already-past day would hide the item from it for ever.
    """
    day = expires_at.date() if not_before is None else max(expires_at.date(), not_before)
    return f"{day.isoformat()}#{zlib.crc32(entity_id.encode()) % DEADLINE_SHARDS}"


def resumed_expires_at(expires_at: datetime, now: datetime, grace_days: int) -> datetime:
    """The deadline of an item whose clock resumes after a hold (a package cancelled or expired, an
    after-sales case closed): its own deadline, but never sooner than `grace_days` from now, so the
    customer is never surprised by goods destroyed the day they come back to the shelf."""
    return max(expires_at, now + timedelta(days=grace_days))


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days until the deadline, rounded up (0 once it has passed)."""
    seconds = (expires_at - now).total_seconds()
    return max(0, math.ceil(seconds / 86400))
