"""Staff work queues: sparse, sharded secondary indexes (`queue_key = "<status>#<shard>"`) read oldest first.

Orders, items, packages, parcels and after-sales cases each carry `queue_key`/`queue_at` only while they
wait for staff; one status's queue spreads over QUEUE_SHARDS partitions so no key gets hot.

A queue index that projects only keys (items, packages: large records that change often while queued,
so an ALL projection rewrote the whole copy on every change) is read as its index entries, then the page's
records in one BatchGetItem (eventually consistent, as the index is); a record that has left the queue
since the index saw it (its `queue_key` changed) is left off the page.
"""

from __future__ import annotations

import zlib

from pynamodb.indexes import AllProjection
from pynamodb.models import Model

from chalicelib.models.commerce import QUEUE_SHARDS


def shard_key(status: str, entity_id: str) -> str:
    """`<status>#<n>`: spreads one status's queue over QUEUE_SHARDS partitions."""
    return f"{status}#{zlib.crc32(entity_id.encode()) % QUEUE_SHARDS}"


def queue_page(model: type[Model], status: str, limit: int, cursor: dict | None) -> tuple[list, dict | None]:
    """Oldest `queue_at` first across every shard of `status`.

    The cursor maps each shard to where it resumes ("done" once exhausted), so a page costs one Query
    per shard still holding work, however deep the queue.
    """
    cursor = cursor or {}
    hash_name = model._hash_key_attribute().attr_name
    found: list[tuple[str, int, Model]] = []
    exhausted: set[int] = set()
    for shard in range(QUEUE_SHARDS):
        position = cursor.get(str(shard))
        if position == "done":
            exhausted.add(shard)
            continue
        result = model.queue.query(
            f"{status}#{shard}",
            limit=limit,
            last_evaluated_key=position if isinstance(position, dict) else None,
        )
        rows = list(result)
        found.extend((row.queue_at, shard, row) for row in rows)
        if result.last_evaluated_key is None:
            exhausted.add(shard)  # every row of this shard was fetched; it is done once all are on a page
    found.sort(key=lambda entry: (entry[0], entry[1]))
    page, rest = found[:limit], found[limit:]
    next_cursor: dict = {}
    for shard in range(QUEUE_SHARDS):
        left_over = any(s == shard for _, s, _ in rest)
        if shard in exhausted and not left_over:
            next_cursor[str(shard)] = "done"
            continue
        mine = [row for _, s, row in page if s == shard]
        if mine:
            last = mine[-1]
            next_cursor[str(shard)] = {
                hash_name: {"S": getattr(last, hash_name)},
                "queue_key": {"S": last.queue_key},
                "queue_at": {"S": last.queue_at},
            }
        else:
            next_cursor[str(shard)] = cursor.get(str(shard))
    rows = _records([row for _, _, row in page], model)
    if all(v == "done" for v in next_cursor.values()):
        return rows, None
    return rows, next_cursor


def _records(rows: list, model: type[Model]) -> list:
    """The page's records: the index rows themselves when it projects everything, else read by key in one
    BatchGetItem (a page is at most 100: web.page_limit), which the request's riders share (db.ride)."""
    if not rows or isinstance(model.queue.Meta.projection, AllProjection):
        return rows
    from chalicelib import db

    queue_keys = {row.queue_key for row in rows}  # a record keeps its shard: in one of them, still queued
    return [record for record in db.records(model, rows) if record.queue_key in queue_keys]
