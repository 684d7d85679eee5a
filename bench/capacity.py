"""Benchmarks only: the read and write capacity units DynamoDB would bill for a request, computed.

moto's ConsumedCapacity is a constant per operation (GetItem and UpdateItem 0.5, PutItem, Query and
DeleteItem 1.0, BatchGetItem one per key: moto/dynamodb/responses.py, `include_consumed_capacity`),
whatever the item sizes, the consistency, the transaction or the indexes, so it is not used. Instead
each request the app makes is sized against moto's stored items (before and after it runs) with
DynamoDB's documented rules:

- item size: attribute names plus values; strings and binaries their bytes, a number 1 byte per two
  significant digits + 1, null and boolean 1, a list or map 3 + 1 per element + its elements
  ("DynamoDB item sizes and formats",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html);
- reads: every item rounded up to 4 KB; a strongly consistent read 1 unit per 4 KB, an eventually
  consistent one half, a transactional one 2; GetItem of a missing item still 1 (0.5 eventually
  consistent); BatchGetItem rounds every item by itself; Query sums the sizes of every item it reads
  (before any filter) and rounds the sum up to 4 KB once per page; a GSI Query reads index entries
  (projected attributes with both keys) and is always eventually consistent ("DynamoDB read and write
  operations", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html);
- writes: 1 unit per 1 KB of the larger of the item before and after (PutItem, UpdateItem), the deleted
  item (DeleteItem), at least 1; transactional writes 2 per 1 KB (same page; and "Pricing for
  Provisioned Capacity", https://aws.amazon.com/dynamodb/pricing/provisioned/: "a transactional write
  request of a 3 KB item would require six WCUs"); BatchWriteItem each item as its own write;
- every global secondary index whose entry a write adds, changes or removes: 1 write of the index
  entry's size (rounded to 1 KB), 2 when the write changes the entry's index key (a delete and a put)
  ("Provisioned throughput considerations for Global Secondary Indexes",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.Writes).

Assumptions the pages do not settle, kept on the costly side: a ConditionCheck in a transaction is
billed as a transactional write of the checked item; index writes of a transaction are standard
writes (1 per KB, not doubled); a request that fails its condition consumes the units of its table
writes as if applied, without index writes. On-demand bills a read request unit per read capacity
unit and a write request unit per write capacity unit, so the units here are what on-demand bills.

Cost and concurrency: in-process and single-threaded, a benchmark tool (never imported by the app);
it reads moto's backend directly, so measuring makes no DynamoDB requests of its own except the
unfiltered re-run of a filtered or projected Query (through the uncounted botocore call), which also
slows the measured code: time it in a run without the meter.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

READ_UNIT = 4096
WRITE_UNIT = 1024


@dataclass
class Units:
    rru: float = 0.0
    wru: float = 0.0
    index_wru: float = 0.0  # the part of `wru` that is global secondary index writes
    by_table: dict = field(default_factory=lambda: defaultdict(lambda: [0.0, 0.0]))  # table -> [rru, wru]

    def add(self, other: Units) -> None:
        self.rru += other.rru
        self.wru += other.wru
        self.index_wru += other.index_wru
        for table, (r, w) in other.by_table.items():
            self.by_table[table][0] += r
            self.by_table[table][1] += w

    def read(self, table: str, units: float) -> None:
        self.rru += units
        self.by_table[table][0] += units

    def write(self, table: str, units: float, index: bool = False) -> None:
        self.wru += units
        if index:
            self.index_wru += units
        self.by_table[table][1] += units


# --- item sizes -----------------------------------------------------------------------------------------


def _number_size(text: str) -> int:
    digits = str(Decimal(text).normalize()).lstrip("-").replace(".", "")
    digits = digits.split("E")[0].strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: dict) -> int:
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return len(inner) if isinstance(inner, bytes | bytearray) else len(inner.encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(n) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict | None) -> int:
    return sum(len(name.encode()) + value_size(v) for name, v in (item or {}).items())


def _write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT))


def _read_units(size: int) -> int:
    return max(1, math.ceil(size / READ_UNIT))


# --- moto's stored items ---------------------------------------------------------------------------------


class Store:
    """moto's DynamoDB backend of the client's account and region, read directly (uncounted)."""

    def __init__(self, client) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        self.backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][client.meta.region_name]

    def table(self, name: str):
        return self.backend.tables.get(name)

    def get(self, table_name: str, key: dict) -> dict | None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self.table(table_name)
        if table is None:
            return None
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        try:
            item = table.get_item(hash_value, range_value)
        except Exception:  # a malformed key: the request itself fails
            return None
        return item.to_json()["Attributes"] if item is not None else None

    def key_of(self, table_name: str, item: dict) -> dict:
        table = self.table(table_name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {n: item[n] for n in names if n in item}

    def indexes(self, table_name: str) -> list[tuple[str, list[str], dict]]:
        """(name, key attribute names, projection) of each global and local secondary index."""
        table = self.table(table_name)
        found = []
        for index in list(table.global_indexes or []) + list(table.indexes or []):
            keys = [k["AttributeName"] for k in index.schema]
            found.append((index.name, keys, index.projection or {"ProjectionType": "ALL"}))
        return found

    def entry(self, table_name: str, index: tuple, item: dict | None) -> dict | None:
        """The index entry `item` has in `index` (None when a key attribute is missing: sparse)."""
        if item is None:
            return None
        _, keys, projection = index
        if any(k not in item for k in keys):
            return None
        kind = projection.get("ProjectionType", "ALL")
        if kind == "ALL":
            return dict(item)
        table = self.table(table_name)
        names = (
            set(keys) | {table.hash_key_attr} | ({table.range_key_attr} if table.range_key_attr else set())
        )
        if kind == "INCLUDE":
            names |= set(projection.get("NonKeyAttributes", []))
        return {n: v for n, v in item.items() if n in names}


# --- the meter -------------------------------------------------------------------------------------------


def _write_targets(operation: str, params: dict) -> list[tuple[str, str, dict, dict | None]]:
    """(kind, table, key or item, put item) of every item a write request touches."""
    if operation == "PutItem":
        return [("Put", params["TableName"], None, params["Item"])]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(operation[:-4], params["TableName"], params["Key"], None)]
    if operation == "BatchWriteItem":
        found = []
        for table, requests in params.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    found.append(("Put", table, None, request["PutRequest"]["Item"]))
                else:
                    found.append(("Delete", table, request["DeleteRequest"]["Key"], None))
        return found
    if operation == "TransactWriteItems":
        found = []
        for action in params.get("TransactItems", []):
            (kind, body), *_ = action.items()
            found.append((kind, body["TableName"], body.get("Key"), body.get("Item")))
        return found
    return []


class Meter:
    """Sizes one request: `before(...)` ahead of the call, `after(...)` with its answer."""

    def __init__(self, client, call_uncounted) -> None:
        self.store = Store(client)
        self.call = call_uncounted  # (operation, params) -> parsed answer, not counted

    def before(self, operation: str, params: dict) -> list:
        targets = []
        for kind, table, key, item in _write_targets(operation, params):
            key = key if key is not None else self.store.key_of(table, item)
            targets.append((kind, table, key, self.store.get(table, key)))
        return targets

    def after(self, operation: str, params: dict, answer: dict | None, targets: list) -> Units:
        units = Units()
        if operation in ("GetItem", "BatchGetItem", "TransactGetItems"):
            self._key_reads(operation, params, units)
        elif operation in ("Query", "Scan"):
            self._query(operation, params, answer or {}, units)
        elif targets:
            self._writes(operation, targets, failed=answer is None, units=units)
        return units

    def _key_reads(self, operation: str, params: dict, units: Units) -> None:
        if operation == "GetItem":
            requests = [(params["TableName"], params["Key"], params.get("ConsistentRead", False))]
        elif operation == "BatchGetItem":
            requests = [
                (table, key, spec.get("ConsistentRead", False))
                for table, spec in params.get("RequestItems", {}).items()
                for key in spec.get("Keys", [])
            ]
        else:
            requests = [
                (a["Get"]["TableName"], a["Get"]["Key"], "transactional") for a in params["TransactItems"]
            ]
        for table, key, consistency in requests:
            size = item_size(self.store.get(table, key))
            factor = 2.0 if consistency == "transactional" else (1.0 if consistency else 0.5)
            units.read(table, _read_units(size) * factor)

    def _query(self, operation: str, params: dict, answer: dict, units: Units) -> None:
        table = params["TableName"]
        index_name = params.get("IndexName")
        # what the request read, before its filter and projection: the same page again without them
        plain = {
            k: v
            for k, v in params.items()
            if k not in ("FilterExpression", "ProjectionExpression", "Select", "ReturnConsumedCapacity")
        }
        names_used = set(re.findall(r"[#:][A-Za-z0-9_]+", plain.get("KeyConditionExpression", "")))
        if "ExpressionAttributeNames" in plain:
            plain["ExpressionAttributeNames"] = {
                k: v for k, v in plain["ExpressionAttributeNames"].items() if k in names_used
            }
            if not plain["ExpressionAttributeNames"]:
                del plain["ExpressionAttributeNames"]
        if "ExpressionAttributeValues" in plain:
            plain["ExpressionAttributeValues"] = {
                k: v for k, v in plain["ExpressionAttributeValues"].items() if k in names_used
            }
            if not plain["ExpressionAttributeValues"]:
                del plain["ExpressionAttributeValues"]
        reshaped = any(k in params for k in ("FilterExpression", "ProjectionExpression", "Select"))
        read = self.call(operation, plain).get("Items", []) if reshaped else answer.get("Items", [])
        if index_name:
            index = next(i for i in self.store.indexes(table) if i[0] == index_name)
            sizes = [
                item_size(self.store.entry(table, index, self.store.get(table, self.store.key_of(table, it))))
                for it in read
            ]
        else:
            sizes = [item_size(self.store.get(table, self.store.key_of(table, it))) for it in read]
        factor = 1.0 if params.get("ConsistentRead") and not index_name else 0.5
        units.read(table, _read_units(sum(sizes)) * factor)

    def _writes(self, operation: str, targets: list, failed: bool, units: Units) -> None:
        factor = 2.0 if operation == "TransactWriteItems" else 1.0
        for kind, table, key, old in targets:
            new = self.store.get(table, key)
            if kind == "ConditionCheck":
                units.write(table, _write_units(item_size(old)) * factor)
                continue
            size = max(item_size(old), item_size(new)) if kind != "Delete" else item_size(old)
            units.write(table, _write_units(size) * factor)
            if failed:
                continue
            for index in self.store.indexes(table):
                before, after = self.store.entry(table, index, old), self.store.entry(table, index, new)
                if before == after:
                    continue
                keys_changed = (
                    before is not None
                    and after is not None
                    and any(before.get(k) != after.get(k) for k in index[1])
                )
                if keys_changed:
                    units.write(table, _write_units(item_size(before)), index=True)
                    units.write(table, _write_units(item_size(after)), index=True)
                else:
                    units.write(
                        table, _write_units(item_size(after if after is not None else before)), index=True
                    )
