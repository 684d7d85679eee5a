"""Goods storage period (seed): 90 days from "In Warehouse"; exceptional parcels 30 days from receipt."""

from __future__ import annotations

import math
import zlib
from datetime import datetime, timedelta

STORAGE_DAYS = 90
EXCEPTIONAL_PARCEL_DAYS = 30
DEADLINE_SHARDS = 8  # one day's deadlines spread over this many index partitions
# statuses whose storage clock runs (an item in a package has its clock stopped)
CLOCK_RUNNING = ("in_warehouse", "inspection_issue", "not_transportable")
# statuses in which the goods are physically with us and listed in the customer's storage view
IN_STORAGE = (*CLOCK_RUNNING, "in_package")


def storage_expires_at(in_warehouse_at: datetime, days: int = STORAGE_DAYS) -> datetime:
    return in_warehouse_at + timedelta(days=days)


def exceptional_expires_at(received_at: datetime) -> datetime:
    return received_at + timedelta(days=EXCEPTIONAL_PARCEL_DAYS)


def deadline_key(expires_at: datetime, entity_id: str) -> str:
    """`<UTC day>#<shard>`: the sparse index key a daily sweep queries for that day."""
    return f"{expires_at.date().isoformat()}#{zlib.crc32(entity_id.encode()) % DEADLINE_SHARDS}"


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days until the deadline, rounded up (0 once it has passed)."""
    seconds = (expires_at - now).total_seconds()
    return max(0, math.ceil(seconds / 86400))
