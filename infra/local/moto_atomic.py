"""Make moto's DynamoDB apply each write atomically, as DynamoDB does.

moto evaluates a condition and then writes without a lock, so two threads can both pass the same
condition (two transactions both "win"). Real DynamoDB never allows that, and our concurrency tests and
the local stack must not be weaker than production. One process-wide lock around moto's write
operations restores the guarantee; it changes moto, never our code.
"""

from __future__ import annotations

import functools
import threading

_LOCK = threading.RLock()
_OPERATIONS = (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
    "get_item",
    "query",
    "transact_get_items",
    "batch_get_item",
)
_applied = False


def _keep_streams(original):
    """moto rolls a canceled transaction back by swapping in deep copies of its tables, stream shards
    included: a stream reader's shard iterator then points at a shard no later write reaches (the local
    stack's outbox stopped sending for good after one lost race). Keep each table's own shard across the
    rollback, without the records of the writes rolled back, as DynamoDB's stream never shows them."""

    @functools.wraps(original)
    def transact_write_items(self, *args, **kwargs):
        shards = {
            name: (table.stream_shard, len(table.stream_shard.items))
            for name, table in self.tables.items()
            if getattr(table, "stream_shard", None) is not None
        }
        try:
            return original(self, *args, **kwargs)
        except Exception:
            for name, (shard, count) in shards.items():
                table = self.tables.get(name)
                if table is not None and table.stream_shard is not shard:
                    del shard.items[count:]
                    shard.table, table.stream_shard = table, shard
            raise

    return transact_write_items


def apply() -> None:
    global _applied
    if _applied:
        return
    from moto.dynamodb.models import DynamoDBBackend

    DynamoDBBackend.transact_write_items = _keep_streams(DynamoDBBackend.transact_write_items)
    for name in _OPERATIONS:
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def locked(self, *args, __original=original, **kwargs):
            with _LOCK:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    # a read's answer is serialized after the backend call returns: under the same lock, or a concurrent
    # write changes the item's attributes while they are turned into JSON (a 500 "dictionary changed size")
    from moto.dynamodb.responses import DynamoHandler

    original_call = DynamoHandler.call_action

    @functools.wraps(original_call)
    def locked_call(self, *args, **kwargs):
        with _LOCK:
            return original_call(self, *args, **kwargs)

    DynamoHandler.call_action = locked_call
    _applied = True
