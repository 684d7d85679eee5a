"""Conditional writes: the one way to tell a lost race (a 409 for the caller) from a real failure.

Batch reads carry riders: keys a request registered (`ride`) that its first batch read fetches too, so a
read every route needs (the caller's saved currency, chalicelib/currency.py) costs no request of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from pynamodb.connection import Connection

from chalicelib import config
from chalicelib.errors import Conflict

LOST_RACE = (
    "ConditionalCheckFailedException",
    "TransactionCanceledException",
    "TransactionConflictException",
)


_connections: dict[tuple[str, str | None], Connection] = {}


def connection() -> Connection:
    """For TransactWrite and batch reads; honours AWS_ENDPOINT_URL like every other client. One per
    (region, endpoint) and process: a new Connection builds a botocore client (on the session every
    model shares, chalicelib/models/base.py), which a warm Lambda must not pay per transaction."""
    key = (config.region(), config.endpoint_url())
    found = _connections.get(key)
    if found is None:
        found = _connections.setdefault(key, Connection(region=key[0]))
    return found


def lost_race(exc: Exception) -> bool:
    """True when a write failed because its condition no longer held (someone else changed the item)."""
    return getattr(exc, "cause_response_code", None) in LOST_RACE


def assign(obj, **values) -> list:
    """The update actions setting `values` on `obj`, which is updated in memory to them: a unit of work's
    answer is then what its transaction commits, without a read after it."""
    model = type(obj)
    actions = [getattr(model, name).set(value) for name, value in values.items()]
    for name, value in values.items():
        setattr(obj, name, value)
    return actions


def update_or_conflict(obj, actions: list, condition, message: str) -> None:
    """Apply a conditional update; a failed condition becomes a 409 with `message`."""
    try:
        obj.update(actions=actions, condition=condition)
    except Exception as exc:
        if lost_race(exc):
            raise Conflict(message) from None
        raise


def update_if(obj, actions: list, condition, *, add_version_condition: bool = True) -> bool:
    """Apply a conditional update; False (not an error) when the condition no longer holds."""
    try:
        obj.update(actions=actions, condition=condition, add_version_condition=add_version_condition)
        return True
    except Exception as exc:
        if lost_race(exc):
            return False
        raise


MAX_BATCH_KEYS = 100  # BatchGetItem's limit

Rider = tuple[list[tuple[type, tuple]], Callable[[dict], None]]
_riders: ContextVar[Rider | None] = ContextVar("procure_batch_riders", default=None)


def ride(keys: list[tuple[type, tuple]], take: Callable[[dict], None]):
    """Have this request's next batch read (`batch_read`, `get`) fetch `keys` too and hand what it
    found to `take` (once); returns the token for `unride`."""
    return _riders.set((keys, take))


def unride(token) -> None:
    _riders.reset(token)


def get(model: type, *key):
    """`model.get(*key)` (strongly consistent) as a batch read, so this request's riders come along in
    the same request; DoesNotExist when it is missing."""
    found = batch_read([(model, tuple(key))])
    if (model, tuple(key)) not in found:
        raise model.DoesNotExist()
    return found[(model, tuple(key))]


def batch_read(
    wanted: list[tuple[type, tuple]], *, consistent: bool = True, only: tuple[str, ...] = ()
) -> dict[tuple[type, tuple], object]:
    """Read items of several tables in one BatchGetItem (strongly consistent unless `consistent=False`),
    by (model, key).

    `key` is `(hash,)` or `(hash, range)`. Missing items are absent from the answer. One request for
    up to 100 keys (the caller keeps within that), plus a retry of whatever DynamoDB left unprocessed.
    The request's riders (`ride`), if any and if they fit, are read in the same request.
    `only`: the attributes to read of `wanted`'s items (and their keys; not of the riders'), the others
    come back None.
    """
    rider = _riders.get()
    eventual = set() if consistent else {model.Meta.table_name for model, _ in wanted}
    projected = {model.Meta.table_name: only for model, _ in wanted} if only else {}
    if rider is None or len(set(wanted) | set(rider[0])) > MAX_BATCH_KEYS:
        return _batch_read(wanted, eventual, projected)
    _riders.set(None)  # taken once: the request's later reads carry nothing
    eventual -= {model.Meta.table_name for model, _ in rider[0]}  # riders are read consistently
    for model, _ in rider[0]:  # a rider of the same table is read whole
        projected.pop(model.Meta.table_name, None)
    found = _batch_read(list(wanted) + rider[0], eventual, projected)
    rider[1]({k: found[k] for k in rider[0] if k in found})
    mine = set(wanted)
    return {k: v for k, v in found.items() if k in mine}


def key_names(model: type) -> list[str]:
    """The attribute names of `model`'s key: its hash key, then its range key if it has one."""
    names = [model._hash_key_attribute().attr_name]
    if model._range_key_attribute() is not None:
        names.append(model._range_key_attribute().attr_name)
    return names


def records(model: type, rows, *, chunk: int = MAX_BATCH_KEYS):
    """The records of `model` that index rows name, in the rows' order, read by key (eventually consistent,
    as the index is) in one BatchGetItem per `chunk` rows: for an index that projects only keys. A record
    deleted since the index saw it is left off; whether one that changed still belongs is the caller's
    check. The request's riders come along with the first batch (`ride`)."""
    names = key_names(model)
    batch: list = []
    for row in rows:
        batch.append((model, tuple(getattr(row, n) for n in names)))
        if len(batch) == chunk:
            yield from _in_order(batch)
            batch = []
    if batch:
        yield from _in_order(batch)


def queried(model: type, index, key: str, rows):
    """What a Query of `index` on hash key `key` found: its `rows` themselves when the index projects every
    attribute; else the records they name (`records`) that are still on `key` (one that moved off it since
    the index saw it is left off)."""
    from pynamodb.indexes import AllProjection

    if isinstance(index.Meta.projection, AllProjection):
        return rows
    name = index._hash_key_attribute().attr_name
    return (record for record in records(model, rows) if getattr(record, name) == key)


def _in_order(keys: list) -> list:
    found = batch_read(keys, consistent=False)
    return [found[key] for key in keys if key in found]


def _batch_read(
    wanted: list[tuple[type, tuple]], eventual: set[str], projected: dict[str, tuple[str, ...]] | None = None
) -> dict[tuple[type, tuple], object]:
    by_table: dict[str, list[tuple[type, tuple]]] = {}
    for model, key in dict.fromkeys(wanted):
        by_table.setdefault(model.Meta.table_name, []).append((model, key))
    request = {}
    for table, entries in by_table.items():
        keys = []
        for model, key in entries:
            keys.append({name: {"S": str(value)} for name, value in zip(key_names(model), key, strict=True)})
        request[table] = {"Keys": keys, "ConsistentRead": table not in eventual}
        if projected and table in projected:
            request[table].update(_projection(entries[0][0], projected[table]))
    found: dict[tuple[type, tuple], object] = {}
    client = connection().client
    while request:
        answer = client.batch_get_item(RequestItems=request)
        for table, rows in answer.get("Responses", {}).items():
            for row in rows:
                for model, key in by_table[table]:
                    if _matches(model, key, row):
                        found[(model, key)] = model.from_raw_data(row)
                        break
        request = answer.get("UnprocessedKeys") or {}
    return found


def _projection(model: type, attributes: tuple[str, ...]) -> dict:
    """ProjectionExpression and ExpressionAttributeNames reading `attributes` and the key attributes (every
    name a placeholder: some, like `source`, are DynamoDB reserved words)."""
    names = {f"#p{n}": name for n, name in enumerate(dict.fromkeys([*key_names(model), *attributes]))}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def _matches(model: type, key: tuple, row: dict) -> bool:
    return all(row.get(name, {}).get("S") == str(v) for name, v in zip(key_names(model), key, strict=True))
