"""Staff work queues: sparse, sharded secondary indexes (`queue_key = "<status>#<shard>"`) read oldest first.

Orders, items, packages, parcels and after-sales cases each carry `queue_key`/`queue_at` only while they
wait for staff; one status's queue spreads over QUEUE_SHARDS partitions so no key gets hot.
"""

from __future__ import annotations

import zlib

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
    if all(v == "done" for v in next_cursor.values()):
        return [row for _, _, row in page], None
    return [row for _, _, row in page], next_cursor
