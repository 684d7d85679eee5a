"""Items as customers and staff see them (the JSON shape), and reads that serve money-moving routes."""

from __future__ import annotations

import json

from chalicelib import clock, lifecycle, photos, uow
from chalicelib.models.commerce import Item
from chalicelib.rules import storage as storage_rules


def plain(value):
    """A raw MapAttribute (or None) as a plain dict with ints for whole numbers."""
    if value is None:
        return None
    data = value.as_dict() if hasattr(value, "as_dict") else value
    return json.loads(json.dumps(data, default=_number))


def _number(value):
    return int(value) if value == int(value) else float(value)


def item_json(item: Item) -> dict:
    """The `Item` shape; warehouse fields (inspection, photos, storage) join as they are recorded."""
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
        # what the customer paid for this line's goods, and what was refunded of it (the refund cap)
        "paid_fen": int(item.paid_fen or 0),
        "refunded_fen": int(item.refunded_fen or 0),
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
    work = uow.Unit()
    work.accounts[user_id] = found.get(account_key) or wallet.new_account(user_id)
    return [found[k] for k in keys if k in found], {k: found[k] for k in extra if k in found}, work
