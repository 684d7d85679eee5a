"""`make bench-api`: DynamoDB requests and request units per API call for every route, and the lifecycle's.

In-process moto (the integration tests' stack), every botocore call counted where botocore makes it
(`BaseClient._make_api_call`, so PynamoDB's own client counts too), and sized by bench/capacity.py:
the read and write request units DynamoDB on-demand would bill for it, computed from the items moto
stores before and after the request with DynamoDB's documented rules (item sizes, 4 KB / 1 KB
rounding, consistency, transactions, every index entry a write adds, changes or removes; moto's own
ConsumedCapacity is a constant and is not used). One scripted run calls every route at least once, in
an order that lets most of them succeed, as customers with a saved display currency (the costliest
case of a currency route) and with an `Idempotency-Key` on every route that takes one, as a storefront
sends it; routes the script does not reach are called once on tests/integration/test_auth_matrix.py's
seeded objects. Per route: caller, status, requests (reads, writes, operations, Scans; of them the
requests on the key's own record, which a first request makes none of: its transaction writes it),
RRU and WRU (index writes apart). Figures are the median over BENCH_REPEATS runs (default 3).
Targets: <= 3 requests per customer route, the key's counted, <= ROUTE_WRU_TARGET WRU per
customer route; any Scan is flagged.

The lifecycle is one customer's order of 3 items, 2 QC photos each (presigned POST, upload, the S3 -> SQS
ingestion handler), and one package of the three, from the cart to delivery and review. Its DynamoDB
reads and writes are counted (requests, items written: a transaction of 4 puts/updates is 4, and request
units) against its state transitions (every status change of an order, item, package, parcel or photo,
and every such record created, read from the tables between steps, uncounted). Targets: writes <= 1.3 x
transitions; <= LIFECYCLE_WRU_TARGET WRU; priced at on-demand rates (WRU_USD, RRU_USD).
Writes the tables to docs/benchmarks.md. Cost: about a minute of CPU per run; single-threaded.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import platform
import re
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tests.conftest  # noqa: E402,F401  (the test stage's environment and fake credentials)

READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai: review hours
BUDGET = 3  # DynamoDB requests per customer route
ROUTE_WRU_TARGET = 40  # write request units per customer route
LIFECYCLE_WRU_TARGET = 400  # write request units per lifecycle (one order of 3 items to delivery)
# on-demand prices per million request units: docs/cost.md [7]; us-east-1, Singapore's not found
WRU_USD = 0.625
RRU_USD = 0.125
PRICE_REGION = "us-east-1 list prices: the Singapore ones were not found, see docs/cost.md"


@dataclass
class Call:
    operation: str
    table_items: int  # items the request writes or reads by key (1 for single-item requests)
    rru: float = 0.0  # read request units DynamoDB bills for it (bench/capacity.py)
    wru: float = 0.0  # write request units, index writes included
    index_wru: float = 0.0  # the part of `wru` that is global secondary index writes
    table: str = ""  # the table of a single-table request

    @property
    def for_key(self) -> bool:
        """A request of its own on the Idempotency-Key's record (a claim, a read, an answer recorded
        alone); the record put inside the route's transaction is not one."""
        from chalicelib.models.commerce import RequestRecord

        own = ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
        return self.operation in own and self.table == RequestRecord.Meta.table_name


class DynamoCounter:
    """Counts DynamoDB requests made by any botocore client of this process while `measure()` is open."""

    def __init__(self) -> None:
        self._open: list[list[Call]] = []

    def install(self) -> None:
        from botocore.client import BaseClient

        if getattr(BaseClient._make_api_call, "counts_dynamodb", False):
            return  # installed already (the test and the bench share the process)
        original = BaseClient._make_api_call
        counter = self

        def counting(client, operation_name, api_params):
            if not counter._open or client.meta.service_model.service_name != "dynamodb":
                return original(client, operation_name, api_params)
            from bench import capacity

            meter = capacity.Meter(client, lambda op, params: original(client, op, params))
            targets = meter.before(operation_name, api_params)
            answer = None
            try:
                answer = original(client, operation_name, api_params)
                return answer
            finally:
                units = meter.after(operation_name, api_params, answer, targets)
                call = Call(
                    operation_name,
                    _items_in(operation_name, api_params),
                    units.rru,
                    units.wru,
                    units.index_wru,
                    api_params.get("TableName", ""),
                )
                for calls in counter._open:
                    calls.append(call)

        counting.counts_dynamodb = True
        BaseClient._make_api_call = counting

    @contextlib.contextmanager
    def measure(self):
        calls: list[Call] = []
        self._open.append(calls)
        try:
            yield calls
        finally:
            self._open.remove(calls)

    @contextlib.contextmanager
    def paused(self):
        saved, self._open = self._open, []
        try:
            yield
        finally:
            self._open = saved


def _items_in(operation: str, params: dict) -> int:
    if operation == "TransactWriteItems" or operation == "TransactGetItems":
        return len(params.get("TransactItems", []))
    if operation == "BatchWriteItem":
        return sum(len(v) for v in params.get("RequestItems", {}).values())
    if operation == "BatchGetItem":
        return sum(len(v.get("Keys", [])) for v in params.get("RequestItems", {}).values())
    return 1


COUNTER = DynamoCounter()


@dataclass
class Row:
    route: tuple[str, str]
    caller: str
    status: int
    operations: Counter = field(default_factory=Counter)
    rru: float = 0.0
    wru: float = 0.0
    index_wru: float = 0.0
    keyed: bool = False  # sent with an Idempotency-Key (a money route, as a storefront calls it)
    for_key: int = 0  # requests of their own on the key's record (none when its transaction writes it)

    @property
    def requests(self) -> int:
        return sum(self.operations.values())

    @property
    def reads(self) -> int:
        return sum(n for op, n in self.operations.items() if op in READS)

    @property
    def writes(self) -> int:
        return sum(n for op, n in self.operations.items() if op in WRITES)


@dataclass
class Step:
    name: str
    reads: int
    writes: int
    items: int
    transitions: int
    rru: float
    wru: float
    index_wru: float


@dataclass
class Lifecycle:
    steps: list[Step] = field(default_factory=list)

    def add(self, name: str, calls: list[Call], transitions: int) -> None:
        self.steps.append(
            Step(
                name,
                reads=sum(1 for c in calls if c.operation in READS),
                writes=sum(1 for c in calls if c.operation in WRITES),
                items=sum(c.table_items for c in calls if c.operation in WRITES),
                transitions=transitions,
                rru=sum(c.rru for c in calls),
                wru=sum(c.wru for c in calls),
                index_wru=sum(c.index_wru for c in calls),
            )
        )

    def totals(self) -> dict:
        return {
            "reads": sum(s.reads for s in self.steps),
            "writes": sum(s.writes for s in self.steps),
            "items_written": sum(s.items for s in self.steps),
            "transitions": sum(s.transitions for s in self.steps),
            "rru": sum(s.rru for s in self.steps),
            "wru": sum(s.wru for s in self.steps),
            "index_wru": sum(s.index_wru for s in self.steps),
        }


def _states() -> dict[tuple[str, str], str]:
    """(table, key) -> status of every record with a status in the stateful tables (not counted)."""
    from chalicelib.models import all_models

    found = {}
    with COUNTER.paused():
        for model in all_models():
            if model.__name__ not in {"Order", "Item", "Package", "Parcel", "Photo"}:
                continue
            for record in model.scan():
                status = getattr(record, "status", None)
                if status is not None:
                    key = json.dumps(record._get_keys(), sort_keys=True, default=str)
                    found[(model.__name__, key)] = status
    return found


def _transitions(before: dict, after: dict) -> int:
    return sum(1 for key, status in after.items() if before.get(key) != status)


# --- the scripted run -----------------------------------------------------------------------------------


class Script:
    def __init__(self, api, lifecycle: Lifecycle):
        self.api = api
        self.rows: list[Row] = []
        self.lifecycle = lifecycle
        self.in_lifecycle = False

    def call(self, template: str, user: str | None, body=None, role: str = "", **params) -> object:
        method, path = template.split(" ", 1)
        concrete = path.split("?")[0]
        for name, value in params.items():
            concrete = concrete.replace("{" + name + "}", value)
        query = path.split("?", 1)[1] if "?" in path else ""
        route_path = re.sub(r"\?.*$", "", path)
        before = _states() if self.in_lifecycle else None
        keyed = _keyed((method, route_path))
        headers = {"Idempotency-Key": f"bench-{next(_KEYS)}"} if keyed else None
        with COUNTER.measure() as calls:
            result = self.api.call(
                method, concrete + (f"?{query}" if query else ""), user=user, body=body, headers=headers
            )
        self.rows.append(
            Row(
                (method, route_path),
                role or _role(user),
                result.status,
                _ops(calls),
                sum(c.rru for c in calls),
                sum(c.wru for c in calls),
                sum(c.index_wru for c in calls),
                keyed,
                sum(1 for c in calls if c.for_key),
            )
        )
        if self.in_lifecycle:
            self.lifecycle.add(f"{method} {route_path}", calls, _transitions(before, _states()))
        return result

    def step(self, name: str, action) -> object:
        """A lifecycle step that is not an API call (the S3 -> SQS photo ingestion)."""
        before = _states()
        with COUNTER.measure() as calls:
            out = action()
        self.lifecycle.add(name, calls, _transitions(before, _states()))
        return out


_KEYS = itertools.count(1)


def _keyed(route: tuple[str, str]) -> bool:
    """Whether a storefront sends an Idempotency-Key on the route (money routes and keyed posts)."""
    from chalicelib.web import ROUTES

    return any((s.method, s.path) == route and s.keyed for s in ROUTES)


def _ops(calls: list[Call]) -> Counter:
    return Counter(c.operation for c in calls)


def _role(user: str | None) -> str:
    from tests.integration.conftest import ADMIN, ALICE, BOB, REVIEWER, WAREHOUSE

    return {
        None: "anonymous",
        ALICE: "customer",
        BOB: "customer",
        REVIEWER: "reviewer",
        WAREHOUSE: "warehouse",
        ADMIN: "admin",
    }[user]


def ok(result, *statuses: int) -> dict:
    assert result.status in (statuses or (200, 201, 204)), (result.status, result.body)
    return result.body


def run_once() -> tuple[list[Row], Lifecycle]:
    from chalicelib import clock
    from chalicelib.jobs import storage_sweep
    from infra.local import demo_catalog as demo
    from tests.integration.conftest import ALICE, BOB, REVIEWER, WAREHOUSE, send_webhook, top_up
    from tests.integration.test_auth_matrix import (
        ADDRESS,
        INSPECTION,
        SOCKS,
        TEE,
        explicit_catalog,
        in_process_stack,
    )
    from tests.integration.test_packages import stored
    from tests.integration.test_photos import deliver_queue, image_bytes, put

    lifecycle = Lifecycle()
    with in_process_stack() as api, explicit_catalog():
        import app as application

        clock.set_now(T0)
        demo.seed(api.stack)
        storage_sweep.start_history(T0.date())
        from infra.local.seed import seed_rates

        seed_rates()
        s = Script(api, lifecycle)
        # customers with a saved display currency: the costliest case of every currency route
        s.call("PUT /me/preferences", ALICE, {"currency": "USD"})
        ok(api.call("PUT", "/me/preferences", user=BOB, body={"currency": "EUR"}))
        s.call("GET /currencies", None)
        tee_white = {"product_id": "prd_tee", "sku_id": "sku_tee_white_l", "quantity": 1}

        # public and reference routes
        s.call("GET /health", None)
        s.call("GET /openapi.json", None)
        s.call("GET /me", ALICE)
        s.call("GET /products/search", None)
        s.call("GET /products/search?q=shirt", None)
        featured = ok(api.get("/products/search?limit=1")).get("items")[0]
        detail = ok(s.call("GET /products/{product_id}", None, product_id=featured["product_id"]))
        s.call("POST /products/resolve", None, {"url": detail["source_url"]})
        image_key = "/".join(featured["image_url"].split("/")[3:])
        from chalicelib import aws

        picture = aws.client("s3").get_object(Bucket=api.stack["bucket"], Key=image_key)["Body"].read()
        import base64

        s.call("POST /products/image-search", None, {"image_base64": base64.b64encode(picture).decode()})
        s.call("GET /payment-channels", None)
        s.call("GET /shipping-lines?country=US", None)
        s.call("GET /package-services", ALICE)
        s.call("GET /storage/extension-price", ALICE)

        # wallet
        top = ok(s.call("POST /wallet/top-ups", ALICE, {"amount_fen": 100000, "channel": "alipay"}))
        with COUNTER.measure() as calls:
            hook = send_webhook(api, top["payment_id"], top["charge_fen"])
        s.rows.append(Row(("POST", "/payments/webhook"), "provider", hook.status, _ops(calls)))
        s.call("GET /payments/{payment_id}", ALICE, payment_id=top["payment_id"])
        s.call("GET /wallet", ALICE)

        # --- the lifecycle: 3 items from the cart to delivery, 2 photos each, one package ---
        s.in_lifecycle = True
        # three demo-catalog products (their lookups are DynamoDB reads, as in production)
        demo_lines = [
            {"product_id": p["product_id"], "sku_id": p["skus"][0]["sku_id"], "quantity": p["min_quantity"]}
            for p in demo.products()
            if p["min_quantity"] == 1 and not p["attributes"]
        ][:3]
        cart_ids = [ok(s.call("POST /cart/items", ALICE, line))["cart_item_id"] for line in demo_lines]
        s.in_lifecycle = False
        s.call("GET /cart", ALICE)
        s.call(
            "PATCH /cart/items/{cart_item_id}", ALICE, {"remark": "black please"}, cart_item_id=cart_ids[0]
        )
        s.call("POST /orders/quote", ALICE, {"cart_item_ids": cart_ids, "payment_channel": "balance"})
        s.in_lifecycle = True
        order = ok(s.call("POST /orders", ALICE, {"cart_item_ids": cart_ids, "payment_channel": "balance"}))
        item_ids = [i["item_id"] for i in order["items"]]
        ok(s.call("POST /orders/{order_id}/pay", ALICE, order_id=order["order_id"]))
        s.in_lifecycle = False
        s.call("GET /orders", ALICE)
        s.call("GET /orders/{order_id}", ALICE, order_id=order["order_id"])
        s.call("GET /staff/orders?status=pending_review", REVIEWER)
        s.in_lifecycle = True
        ok(s.call("POST /staff/orders/{order_id}/approve", REVIEWER, order_id=order["order_id"]))
        for item in order["items"]:
            body = {"merchant_order_no": "M-1", "actual_unit_price_fen": item["unit_price_fen"]}
            ok(s.call("POST /staff/items/{item_id}/purchase", REVIEWER, body, item_id=item["item_id"]))
        for item_id in item_ids:
            body = {"carrier": "YTO", "tracking_no": "YT7000001"}
            ok(s.call("POST /staff/items/{item_id}/domestic-shipment", REVIEWER, body, item_id=item_id))
        s.in_lifecycle = False
        s.call("GET /staff/items?status=shipped_domestic", REVIEWER)
        s.in_lifecycle = True
        ok(s.call("POST /staff/inbound", WAREHOUSE, {"tracking_no": "YT7000001", "weight_g": 1500}))
        photo_ids = []
        for item_id in item_ids:
            for n in range(2):
                body = {"content_type": "image/jpeg"}
                upload = ok(s.call("POST /staff/items/{item_id}/photos", WAREHOUSE, body, item_id=item_id))
                with COUNTER.paused():
                    put(api.stack, upload["upload"]["fields"]["key"], image_bytes(seed=len(photo_ids) + n))
                photo_ids.append(upload["photo_id"])
        s.step(
            "photo ingestion (S3 -> SQS -> photo_events, 6 uploads)",
            lambda: deliver_queue(application, api.stack),
        )
        for item_id in item_ids:
            body = dict(INSPECTION, weight_g=300, dims_cm={"l": 20, "w": 15, "h": 5})
            ok(s.call("POST /staff/items/{item_id}/inspection", WAREHOUSE, body, item_id=item_id))
        s.in_lifecycle = False
        s.call("GET /staff/photos/{photo_id}", WAREHOUSE, photo_id=photo_ids[0])
        s.call("GET /items/{item_id}/photos", ALICE, item_id=item_ids[0])
        s.call("GET /items/{item_id}", ALICE, item_id=item_ids[0])
        s.call("GET /warehouse/items", ALICE)
        s.call("POST /packages/quote", ALICE, {"item_ids": item_ids, "country": "US"})
        s.in_lifecycle = True
        package = ok(
            s.call("POST /packages", ALICE, {"item_ids": item_ids, "address": ADDRESS, "line_id": "ems"})
        )
        pid = package["package_id"]
        ok(s.call("POST /packages/{package_id}/pay", ALICE, package_id=pid))
        s.in_lifecycle = False
        s.call("GET /packages", ALICE)
        s.call("GET /packages/{package_id}", ALICE, package_id=pid)
        s.call("GET /staff/packages?status=paid", WAREHOUSE)
        s.call("GET /staff/packages/{package_id}", WAREHOUSE, package_id=pid)
        s.in_lifecycle = True
        body = {"weight_g": 900, "dims_cm": {"l": 20, "w": 15, "h": 15}}
        ok(s.call("POST /staff/packages/{package_id}/pack", WAREHOUSE, body, package_id=pid))
        body = {"carrier": "EMS", "tracking_no": "EE123456789CN"}
        ok(s.call("POST /staff/packages/{package_id}/ship", WAREHOUSE, body, package_id=pid))
        ok(s.call("POST /packages/{package_id}/confirm-receipt", ALICE, package_id=pid))
        ok(
            s.call(
                "POST /packages/{package_id}/review", ALICE, {"rating": 5, "comment": "fast"}, package_id=pid
            )
        )
        s.in_lifecycle = False

        # --- the other routes, each on objects in a state where it applies ---
        spare = ok(api.post("/cart/items", SOCKS, user=ALICE))
        s.call("DELETE /cart/items/{cart_item_id}", ALICE, cart_item_id=spare["cart_item_id"])
        other = ok(api.post("/orders", {"items": [TEE], "payment_channel": "balance"}, user=ALICE))
        s.call("POST /orders/{order_id}/cancel", ALICE, order_id=other["order_id"])
        rejected = ok(api.post("/orders", {"items": [TEE], "payment_channel": "balance"}, user=ALICE))
        ok(api.post(f"/orders/{rejected['order_id']}/pay", user=ALICE))
        s.call(
            "POST /staff/orders/{order_id}/reject",
            REVIEWER,
            {"reason": "sold out"},
            order_id=rejected["order_id"],
        )
        # a higher actual price with the wallet short: the item waits for the customer to pay the difference
        pricey = ok(api.post("/orders", {"items": [tee_white], "payment_channel": "balance"}, user=BOB))
        top_up(api, BOB, pricey["charges"]["total_fen"])
        ok(api.post(f"/orders/{pricey['order_id']}/pay", user=BOB))
        ok(api.post(f"/staff/orders/{pricey['order_id']}/approve", user=REVIEWER))
        pricey_item = pricey["items"][0]["item_id"]
        body = {"merchant_order_no": "M-2", "actual_unit_price_fen": 3500}
        ok(api.post(f"/staff/items/{pricey_item}/purchase", body, user=REVIEWER))
        top_up(api, BOB, 5000)
        s.call("POST /items/{item_id}/pay-difference", BOB, item_id=pricey_item)
        # ... or declines it: the item is cancelled and what was paid for it refunded
        declined = ok(api.post("/orders", {"items": [tee_white], "payment_channel": "balance"}, user=BOB))
        top_up(api, BOB, declined["charges"]["total_fen"])
        ok(api.post(f"/orders/{declined['order_id']}/pay", user=BOB))
        ok(api.post(f"/staff/orders/{declined['order_id']}/approve", user=REVIEWER))
        declined_item = declined["items"][0]["item_id"]
        ok(api.post(f"/staff/items/{declined_item}/purchase", body, user=REVIEWER))
        s.call("POST /items/{item_id}/decline-difference", BOB, item_id=declined_item)
        # storage: an item with an inspection issue, extensions, after-sales
        more = stored(api, user=ALICE, items=(TEE, SOCKS), tracking="YT7000002")
        issue = stored(
            api, user=ALICE, items=(tee_white,), tracking="YT7000003", result="issue", notes="seam torn"
        )[0]
        s.call("POST /items/{item_id}/accept", ALICE, item_id=issue)
        s.call("POST /items/{item_id}/extend-storage", ALICE, {"periods": 1}, item_id=more[0])
        case = ok(
            s.call("POST /after-sales", ALICE, {"item_id": more[1], "type": "refund", "reason": "torn"})
        )
        s.call("GET /after-sales", ALICE)
        s.call("GET /staff/after-sales", WAREHOUSE)
        body = {"resolution": "refund", "refund_fen": 500}
        s.call("POST /staff/after-sales/{case_id}/resolve", REVIEWER, body, case_id=case["case_id"])
        s.call("POST /forwarding", ALICE, {"tracking_no": "ZT12345678", "description": "shoes"})
        s.call("GET /forwarding", ALICE)
        # exceptional parcels: one assigned to a customer, one left to expire
        parcel = ok(s.call("POST /staff/inbound", WAREHOUSE, {"tracking_no": "SF0000001"}))
        s.call("GET /staff/parcels", WAREHOUSE)
        body = {"customer_email": ALICE, "description": "a parcel of socks"}
        s.call("POST /staff/parcels/{parcel_id}/assign", WAREHOUSE, body, parcel_id=parcel["parcel_id"])
        expiring = ok(api.post("/staff/inbound", {"tracking_no": "SF0000002"}, user=WAREHOUSE))
        # a package cancelled before packing, one packed heavier than quoted with the wallet short
        cancel_me = ok(
            api.post("/packages", {"item_ids": [issue], "address": ADDRESS, "line_id": "ems"}, user=ALICE)
        )
        s.call("POST /packages/{package_id}/cancel", ALICE, package_id=cancel_me["package_id"])
        bobs = stored(api, user=BOB, items=(SOCKS,), tracking="YT7000004")
        heavy = ok(api.post("/packages", {"item_ids": bobs, "address": ADDRESS, "line_id": "ems"}, user=BOB))
        ok(api.post(f"/packages/{heavy['package_id']}/pay", user=BOB))
        while ok(api.get("/wallet", user=BOB))["balance_fen"] >= 5800:  # spend it: the difference must wait
            spend = ok(api.post("/orders", {"items": [TEE], "payment_channel": "balance"}, user=BOB))
            ok(api.post(f"/orders/{spend['order_id']}/pay", user=BOB))
        body = {"weight_g": 4000, "dims_cm": {"l": 40, "w": 30, "h": 30}}
        ok(api.post(f"/staff/packages/{heavy['package_id']}/pack", body, user=WAREHOUSE))
        top_up(api, BOB, 100000)
        s.call("POST /packages/{package_id}/pay-difference", BOB, package_id=heavy["package_id"])
        # 91 days on: the storage sweep abandons what is left; the warehouse destroys it
        clock.set_now(T0 + timedelta(days=95))
        with COUNTER.paused():
            storage_sweep.run()
        s.call("GET /staff/destruction-queue", WAREHOUSE)
        s.call("POST /staff/items/{item_id}/destroy", WAREHOUSE, item_id=issue)
        s.call("POST /staff/parcels/{parcel_id}/destroy", WAREHOUSE, parcel_id=expiring["parcel_id"])
        clock.set_now(None)
        cover_the_rest(s, api)
        return s.rows, lifecycle


def cover_the_rest(s: Script, api) -> None:
    """Every route the script above does not call, once, on the objects tests/integration/
    test_auth_matrix.py seeds for it (its caller, path ids and body), so no route goes unmeasured.
    The objects are in the state the matrix leaves them, so a route may answer a 4xx refusal there
    (the status column says so; a refusal is usually cheaper than the success)."""
    from tests.integration import test_auth_matrix as matrix
    from tests.integration.conftest import ADMIN, ALICE, REVIEWER, WAREHOUSE

    called = {row.route for row in s.rows}
    objects = matrix.seed(api)
    from chalicelib.web import ROUTES

    for spec in ROUTES:
        route = (spec.method, spec.path)
        if route in called:
            continue
        expect = matrix.EXPECT[route]
        if expect.who == matrix.PUBLIC:
            user, role = None, "anonymous"
        elif expect.who in (matrix.OWNER, matrix.OWNER_OR_STAFF, matrix.SIGNED_IN):
            user, role = ALICE, "customer"
        elif "reviewer" in expect.who:
            user, role = REVIEWER, "reviewer"
        elif "warehouse" in expect.who:
            user, role = WAREHOUSE, "warehouse"
        else:
            user, role = ADMIN, "admin"
        mine = {**objects["staff"], **objects[ALICE if role == "customer" else matrix.BOB]}
        concrete, body = matrix.request_for(spec.method, spec.path, expect, mine)
        params = {}
        for name in re.findall(r"{(\w+)}", spec.path):
            params[name] = concrete.split("/")[spec.path.split("/").index("{" + name + "}")]
        s.call(f"{spec.method} {spec.path}", user, body, role=role, **params)


# --- report ---------------------------------------------------------------------------------------------


def route_kind(route: tuple[str, str]) -> str:
    from chalicelib.web import ROUTES

    spec = next(s for s in ROUTES if (s.method, s.path) == route)
    return "public" if spec.public else ("staff" if spec.groups else "customer")


def summarize(runs: list[list[Row]]) -> list[dict]:
    """Per route: the median requests of its calls (first call per run), and its operations."""
    from chalicelib.web import ROUTES

    by_route: dict[tuple[str, str], list[Row]] = {}
    for rows in runs:
        seen = set()
        for row in rows:
            if row.route in seen:
                continue
            seen.add(row.route)
            by_route.setdefault(row.route, []).append(row)
    summary = []
    for spec in sorted(ROUTES, key=lambda s: (s.path, s.method)):
        rows = by_route.get((spec.method, spec.path), [])
        if not rows:
            summary.append({"route": (spec.method, spec.path), "kind": route_kind((spec.method, spec.path))})
            continue
        middle = sorted(rows, key=lambda r: r.requests)[len(rows) // 2]
        summary.append(
            {
                "route": (spec.method, spec.path),
                "kind": route_kind((spec.method, spec.path)),
                "caller": middle.caller,
                "status": middle.status,
                "requests": statistics.median(r.requests for r in rows),
                "reads": statistics.median(r.reads for r in rows),
                "writes": statistics.median(r.writes for r in rows),
                "rru": statistics.median(r.rru for r in rows),
                "wru": statistics.median(r.wru for r in rows),
                "index_wru": statistics.median(r.index_wru for r in rows),
                "keyed": middle.keyed,
                "for_key": middle.for_key,
                "operations": middle.operations,
            }
        )
    return summary


def _ops_text(ops: Counter) -> str:
    return ", ".join(f"{op} x{n}" if n > 1 else op for op, n in sorted(ops.items())) or "none"


KEY_NOTE = (
    "The `Idempotency-Key` costs a first request no request of its own: the route's transaction puts the "
    "key's record (conditioned on there being none) with the answer (chalicelib/idempotency.py), one "
    "more action in a TransactWriteItems the route makes anyway; a route that has no transaction of its "
    "own (a top-up, a provider checkout) writes its item and the record in one. A retry, a duplicate or "
    "a refusal reads or writes the record alone (the \"the key's\" count): none in this table's first "
    "requests but the refusals (status 409), which record themselves with one PutItem. The staff "
    "withdrawal approval commits in steps and still claims the key first (one PutItem)."
)

WITHIN = (
    "How the keyed money routes stay within 3 (the operations column): the key's record is one more "
    "action in the route's TransactWriteItems, so a first request reads what it needs (one or two "
    "BatchGetItem, the caller's saved currency riding along) and commits once. "
    "`POST /wallet/top-ups`: the rates' BatchGetItem, then the payment and the key's record in one "
    "transaction. `POST /packages/{package_id}/checkout` (and `/pay` with an external channel, which adds "
    "the package's items to its second read): the package's BatchGetItem, the BatchGetItem of its payment "
    "by the id derived from the package, channel and total (asking again answers it: no Query of the "
    "customer's payments), then one transaction. `POST /wallet/withdrawals`: the account's BatchGetItem, "
    "the Query of the payments the money came from, one transaction. Retries and duplicates cost one "
    "GetItem of the key's record more (tests/integration/test_idempotency_folded.py)."
)

LIFECYCLE_CHANGES = (
    "Before issue 27's capacity work (2026-12-06): 505 WRU per lifecycle, 233 of them index writes. What "
    "changed: the items' `by_order` index is gone (no code queried it: an order's lines are "
    "`Order.item_ids`; its ALL projection rewrote every item's whole copy at every step, 72 WRU); the "
    "items' and packages' staff queues, the customer's storage and package lists and the deadline indexes "
    "the storage sweep and the auto-confirm job read (items, packages) project keys only, and their "
    "readers fetch the page's records by key in one BatchGetItem (chalicelib/db.py `records`; GET "
    "/packages and GET /warehouse/items stay within 3 requests, the saved-currency read riding on that "
    "BatchGetItem). An ALL entry of a 2-3 KB item or package cost 3 WRU at each change of it; a keys-only "
    "entry costs 1 WRU, and only when its keys change. What is left: the items' table writes (a stored "
    "item is 2-2.6 KB with its photo entries and inspection record, so each transactional write of it is "
    "6 WRU, and packing condition-checks its 3 items at that price), the Idempotency-Key's records (an "
    "answer holding presigned photo URLs compresses badly: 4-12 WRU each), the items' `queue` moving "
    "through 4 statuses (a key change is a delete and a put) and `by_tracking`, whose projected status "
    "changes at every step."
)

KNOWN_OVER: set[tuple[str, str]] = set()  # customer routes over BUDGET, the key's requests counted: none


def over_budget(summary: list[dict]) -> list[dict]:
    """Customer routes over BUDGET DynamoDB requests, the Idempotency-Key's own requests counted."""
    return [r for r in summary if r["kind"] == "customer" and "requests" in r and r["requests"] > BUDGET]


def _names(rows: list[dict]) -> str:
    return (" (" + ", ".join(f"`{r['route'][0]} {r['route'][1]}`" for r in rows) + ")") if rows else ""


def _units(value: float) -> str:
    return f"{value:g}"


def render(summary: list[dict], lifecycle: Lifecycle, repeats: int) -> str:
    over = over_budget(summary)
    scans = [r for r in summary if r.get("operations", {}).get("Scan")]
    missing = [r for r in summary if "requests" not in r]
    missing_customer = [r for r in missing if r["kind"] == "customer"]
    heavy = [r for r in summary if r["kind"] == "customer" and r.get("wru", 0) > ROUTE_WRU_TARGET]
    totals = lifecycle.totals()
    ratio_requests = totals["writes"] / totals["transitions"] if totals["transitions"] else float("nan")
    ratio_items = totals["items_written"] / totals["transitions"] if totals["transitions"] else float("nan")
    customer = sum(1 for r in summary if r["kind"] == "customer")
    lines = [
        "## DynamoDB requests per API call (`make bench-api`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, in-process moto; botocore calls counted at "
        f"`BaseClient._make_api_call` (PynamoDB's client included); median of {repeats} runs of "
        "bench/api_cost.py, which calls every route once in a state where it applies (the status column), "
        "as customers with a saved display currency, and sends an `Idempotency-Key` on every route that "
        "takes one (the key column), as a storefront does. " + KEY_NOTE,
        "",
        "RRU and WRU are the read and write request units DynamoDB on-demand would bill for the call, "
        "computed by bench/capacity.py from the items moto stores before and after each request with "
        "DynamoDB's documented rules (4 KB per read unit, half for eventually consistent reads, 1 KB per "
        "write unit, transactional reads and writes double, every global secondary index entry a write "
        "adds, changes or removes; the rules and their sources are in that module's docstring). moto's "
        "own `ConsumedCapacity` is a constant per operation and is not used.",
        "",
        f"Customer routes over the target of {BUDGET} requests (the key's counted): "
        f"{len(over)} of {customer}{_names(over)}. "
        f"Customer routes not called: {len(missing_customer)}{_names(missing_customer)}. "
        f"Scans: {len(scans)}{_names(scans)}. Customer routes over {ROUTE_WRU_TARGET} WRU (target): "
        f"{len(heavy)}{_names(heavy)}." + (f" Not called:{_names(missing)}." if missing else ""),
        "",
        "| route | kind | caller | status | key | requests | reads | writes | RRU | WRU | of which index "
        "| operations | flag |",
        "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in summary:
        method, path = r["route"]
        if "requests" not in r:
            lines.append(
                f"| `{method} {path}` | {r['kind']} | - | - | - | - | - | - | - | - | - | not called | |"
            )
            continue
        flag = []
        if r["operations"].get("Scan"):
            flag.append("**Scan**")
        if r["kind"] == "customer" and r["requests"] > BUDGET:
            flag.append(f"> {BUDGET}")
        requests = f"{r['requests']:g}" + (f" ({r['for_key']} the key's)" if r["for_key"] else "")
        lines.append(
            f"| `{method} {path}` | {r['kind']} | {r['caller']} | {r['status']} | "
            f"{'yes' if r['keyed'] else ''} | {requests} | {r['reads']:g} | {r['writes']:g} "
            f"| {_units(r['rru'])} | {_units(r['wru'])} | {_units(r['index_wru'])} "
            f"| {_ops_text(r['operations'])} | {' '.join(flag)} |"
        )
    lines += ["", WITHIN]
    cost = totals["rru"] * RRU_USD / 1e6 + totals["wru"] * WRU_USD / 1e6
    lines += [
        "",
        "## Lifecycle cost (`make bench-api`)",
        "",
        "One customer's order of 3 items (from the cart), 2 QC photos each (presigned POST, upload, the "
        "S3 -> SQS ingestion handler), inspection, and one package of the three to delivery and review, "
        "with an `Idempotency-Key` on every money route. Transitions: status changes of orders, items, "
        "packages, parcels and photos, and records created into their first status, read from the tables "
        "between steps (uncounted). RRU/WRU: request units as in the table above (bench/capacity.py).",
        "",
        "| step | reads | write requests | items written | transitions | RRU | WRU | of which index |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    merged: dict[str, list[float]] = {}
    for step in lifecycle.steps:
        row = merged.setdefault(step.name, [0] * 8)
        for n, value in enumerate(
            (1, step.reads, step.writes, step.items, step.transitions, step.rru, step.wru, step.index_wru)
        ):
            row[n] += value
    for name, (count, reads, writes, items, transitions, rru, wru, index_wru) in merged.items():
        label = f"`{name}`" + (f" x{count}" if count > 1 else "") if name[0].isupper() else name
        lines.append(
            f"| {label} | {reads} | {writes} | {items} | {transitions} | {_units(rru)} | {_units(wru)} "
            f"| {_units(index_wru)} |"
        )
    lines += [
        f"| **total** | **{totals['reads']}** | **{totals['writes']}** | **{totals['items_written']}** "
        f"| **{totals['transitions']}** | **{_units(totals['rru'])}** | **{_units(totals['wru'])}** "
        f"| **{_units(totals['index_wru'])}** |",
        "",
        f"Write requests / transitions: {ratio_requests:.2f}; items written / transitions: {ratio_items:.2f} "
        "(target <= 1.3).",
        "",
        f"Capacity: **{_units(totals['rru'])} RRU and {_units(totals['wru'])} WRU per lifecycle** "
        f"({_units(totals['index_wru'])} WRU of it index writes); target <= {LIFECYCLE_WRU_TARGET} WRU "
        f"({'met' if totals['wru'] <= LIFECYCLE_WRU_TARGET else '**not met**'}). On-demand at "
        f"${WRU_USD} per million WRU and ${RRU_USD} per million RRU ({PRICE_REGION}; docs/cost.md [7]): "
        f"**${cost * 1000:.3f} per 1,000 lifecycles** (writes ${totals['wru'] * WRU_USD / 1000:.3f}, "
        f"reads ${totals['rru'] * RRU_USD / 1000:.3f}).",
        "",
        LIFECYCLE_CHANGES,
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    from bench.markdown import replace_section

    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    COUNTER.install()
    runs, lifecycles = [], []
    for n in range(repeats):
        rows, lifecycle = run_once()
        runs.append(rows)
        lifecycles.append(lifecycle)
        print(f"run {n + 1}/{repeats}: {len(rows)} calls", flush=True)
    summary = summarize(runs)
    lifecycle = sorted(lifecycles, key=lambda lc: lc.totals()["writes"])[len(lifecycles) // 2]
    text = render(summary, lifecycle, repeats)
    print(text)
    heading, _, rest = text.partition("\n## Lifecycle cost")
    path = ROOT / "docs" / "benchmarks.md"
    replace_section(path, "## DynamoDB requests per API call", heading.rstrip() + "\n")
    replace_section(path, "## Lifecycle cost", "## Lifecycle cost" + rest)


if __name__ == "__main__":
    main()
