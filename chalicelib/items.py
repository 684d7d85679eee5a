"""Reads of items that serve money-moving routes, and stored maps as plain values."""

from __future__ import annotations

import json

from chalicelib import uow
from chalicelib.models.commerce import Item


def plain(value):
    """A raw MapAttribute (or None) as a plain dict with ints for whole numbers."""
    if value is None:
        return None
    data = value.as_dict() if hasattr(value, "as_dict") else value
    return json.loads(json.dumps(data, default=_number))


def _number(value):
    return int(value) if value == int(value) else float(value)


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
