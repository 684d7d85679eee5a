"""Benchmarks only: give moto's GSI Query the cost model of DynamoDB's.

moto answers a Query on a global secondary index by walking and sorting every item of the table, so
on moto a query's time grows with the table even when it returns ten rows. DynamoDB reads only the
index partition asked for. A benchmark of "reads follow what is due, not what is stored" would measure
moto instead of our code, so here each (table, index) keeps buckets of items by index hash value,
maintained on every write path, and an index Query walks only its bucket. Results are identical (moto
still evaluates every condition); only the walk is shorter.

moto also backs up every table a TransactWriteItems touches with `copy.deepcopy` before applying it
(to restore on a cancelled transaction), so on moto a transaction's time grows with the table, and its
stream records, too. Here the backup is of the items the transaction names, restored the same way
when moto cancels it. Never used by the app or the tests.
"""

from __future__ import annotations

import copy
import functools
from collections import defaultdict

_buckets: dict[str, dict[str, dict[tuple, dict]]] = {}  # table -> index -> hash value -> {pk: item}
_where: dict[str, dict[tuple, dict[str, tuple]]] = {}  # table -> pk -> index -> hash value
_applied = False


def _value(dynamo_value) -> tuple:
    return (dynamo_value.type, str(dynamo_value.value))


def _index_hash_attrs(table) -> dict[str, str]:
    return {
        index.name: next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
        for index in (table.global_indexes or [])
    }


def _pk(table, item) -> tuple:
    rng = item.range_key if table.range_key_attr else None
    return (_value(item.hash_key), _value(rng) if rng is not None else None)


def _place(table, pk: tuple, item) -> None:
    name = table.name
    buckets = _buckets.setdefault(name, defaultdict(lambda: defaultdict(dict)))
    where = _where.setdefault(name, {})
    for index, value in where.pop(pk, {}).items():
        buckets[index][value].pop(pk, None)
    if item is None:
        return
    placed = {}
    for index, attr in _index_hash_attrs(table).items():
        found = item.attrs.get(attr)
        if found is not None:
            value = _value(found)
            buckets[index][value][pk] = item
            placed[index] = value
    where[pk] = placed


def _reindex_key(table, key_json: dict) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(key_json[table.hash_key_attr])
    range_value = DynamoType(key_json[table.range_key_attr]) if table.range_key_attr else None
    item = table.get_item(hash_value, range_value)
    pk = (_value(hash_value), _value(range_value) if range_value is not None else None)
    _place(table, pk, item)


def reset() -> None:
    """Forget every bucket: call when a new moto backend starts (table names repeat across runs)."""
    _buckets.clear()
    _where.clear()


def apply() -> None:
    global _applied
    if _applied:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original_put, original_delete, original_query = Table.put_item, Table.delete_item, Table.query

    @functools.wraps(original_put)
    def put_item(self, *args, **kwargs):
        item = original_put(self, *args, **kwargs)
        if self.name in _buckets:
            _place(self, _pk(self, item), item)
        return item

    @functools.wraps(original_delete)
    def delete_item(self, hash_key, range_key=None, *args, **kwargs):
        result = original_delete(self, hash_key, range_key, *args, **kwargs)
        if self.name in _buckets:
            _place(self, (_value(hash_key), _value(range_key) if range_key is not None else None), None)
        return result

    @functools.wraps(original_query)
    def query(self, *args, **kwargs):
        # moto's backend passes index_name as the 8th positional argument
        index_name = kwargs.get("index_name", args[7] if len(args) > 7 else None)
        conditions = kwargs.get("hash_key_conditions") or []
        if not index_name or index_name not in _index_hash_attrs(self) or len(conditions) != 1:
            return original_query(self, *args, **kwargs)
        if self.name not in _buckets:  # first index query on this table: build its buckets once
            _buckets[self.name] = defaultdict(lambda: defaultdict(dict))
            for item in self.all_items():
                _place(self, _pk(self, item), item)
        candidates = list(_buckets[self.name][index_name].get(_value(conditions[0][1]), {}).values())
        self.all_items = lambda: candidates  # moto's query walks all_items(); give it the bucket
        try:
            return original_query(self, *args, **kwargs)
        finally:
            del self.all_items

    _cheap_transaction_backup(DynamoDBBackend)

    def reindexing(name: str, keys_of):
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def wrapper(self, *args, **kwargs):
            try:
                return original(self, *args, **kwargs)
            finally:
                for table_name, key in keys_of(self, *args, **kwargs):
                    table = self.tables.get(table_name)
                    if table is not None and table.name in _buckets:
                        _reindex_key(table, key)

        setattr(DynamoDBBackend, name, wrapper)

    def update_keys(self, table_name, key, *args, **kwargs):
        return [(table_name, key)]

    def transact_keys(self, transact_items, *args, **kwargs):
        keys = []
        for op in transact_items:
            for body in op.values():
                table = self.tables.get(body.get("TableName"))
                if table is None:
                    continue
                key = body.get("Key") or {
                    a: body["Item"][a] for a in (table.hash_key_attr, table.range_key_attr) if a
                }
                keys.append((table.name, key))
        return keys

    Table.put_item, Table.delete_item, Table.query = put_item, delete_item, query
    reindexing("update_item", update_keys)
    reindexing("transact_write_items", transact_keys)
    _applied = True


class _TablesNotCopied:
    """moto's module-level `copy`, except that a deep copy of a whole table is the table itself."""

    def deepcopy(self, value, memo=None):
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


def _cheap_transaction_backup(backend_class) -> None:
    import moto.dynamodb.models as moto_models
    from moto.dynamodb.models.dynamo_type import DynamoType

    moto_models.copy = _TablesNotCopied()
    original = backend_class.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self, transact_items, *args, **kwargs):
        saved = []
        for op in transact_items:
            body = next(iter(op.values()))
            table = self.tables.get(body.get("TableName"))
            if table is None:
                continue
            key = body.get("Key") or {
                a: body["Item"][a] for a in (table.hash_key_attr, table.range_key_attr) if a
            }
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            saved.append(
                (table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value)))
            )
        try:
            return original(self, transact_items, *args, **kwargs)
        except Exception:
            for table, hash_value, range_value, item in saved:  # moto's own restore, item by item
                if range_value is None:
                    if item is None:
                        table.items.pop(hash_value, None)
                    else:
                        table.items[hash_value] = item
                elif item is None:
                    table.items[hash_value].pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = item
            raise

    backend_class.transact_write_items = transact_write_items
