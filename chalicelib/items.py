"""Items as customers and staff see them, and the sharded staff work queues over items and orders."""

from __future__ import annotations

import json
import zlib

from pynamodb.models import Model

from chalicelib import clock, lifecycle, photos
from chalicelib.models.commerce import QUEUE_SHARDS, Item
from chalicelib.rules import storage as storage_rules


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


def plain(value):
    """A raw MapAttribute (or None) as a plain dict with ints for whole numbers."""
    if value is None:
        return None
    data = value.as_dict() if hasattr(value, "as_dict") else value
    return json.loads(json.dumps(data, default=_number))


def _number(value):
    return int(value) if value == int(value) else float(value)


def item_json(item: Item) -> dict:
    """api.md's item shape; warehouse fields (inspection, photos, storage) join as they are recorded."""
    return {
        "item_id": item.item_id,
        "order_id": item.order_id,
        "status": item.status,
        "product_id": item.product_id,
        "sku_id": item.sku_id,
        "title": item.title,
        "props": plain(item.props) or {},
        "quantity": int(item.quantity),
        "unit_price_fen": int(item.unit_price_fen),
        "remark": item.remark,
        "purchase": plain(item.purchase),
        "domestic_shipment": plain(item.domestic_shipment),
        "price_difference_due_fen": int(item.price_difference_due_fen or 0),
        "inspection": plain(item.inspection),
        "photos": photos.photo_list(item),
        "weight_g": int(item.weight_g) if item.weight_g is not None else None,
        "dims_cm": plain(item.dims_cm),
        "storage": storage_json(item),
        "source": item.source,
        "parcel_id": item.parcel_id,
        "received_at": item.received_at,
        "package_id": item.package_id,
        "after_sales_case_id": item.open_case_id,
        "storage_extended_days": int(item.storage_extended_days or 0),
    }


def storage_json(item: Item) -> dict | None:
    """Where the item stands against its storage deadline (None unless it is stored with us)."""
    if not item.storage_expires_at or item.status not in lifecycle.WITH_DEADLINE:
        return None
    expires = clock.parse_iso(item.storage_expires_at)
    return {
        "in_warehouse_at": item.in_warehouse_at,
        "expires_at": item.storage_expires_at,
        "days_left": storage_rules.days_left(expires, clock.now()),
        "clock_running": item.status in storage_rules.CLOCK_RUNNING,
    }


def with_account(user_id: str, item_ids, extra: tuple = ()) -> tuple[list[Item], dict, object]:
    """Items, the owner's wallet account and any `extra` (model, key) pairs in ONE batch read.

    Returns (items in `item_ids` order, {(model, key): found} for `extra`, a unit of work that already
    holds the account, so committing it reads nothing more). What money-moving routes use to stay within
    three DynamoDB requests: the object, this batch, the transaction.
    """
    from chalicelib import db, wallet
    from chalicelib.models.commerce import WalletAccount

    keys = [(Item, (i,)) for i in item_ids]
    account_key = (WalletAccount, wallet.account_key(user_id))
    found = db.batch_read([*keys, account_key, *extra])
    work = wallet.Unit()
    work.accounts[user_id] = found.get(account_key) or wallet.new_account(user_id)
    return [found[k] for k in keys if k in found], {k: found[k] for k in extra if k in found}, work
