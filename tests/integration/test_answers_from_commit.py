"""A mutation answers what it committed: its answer is what a read right after it shows, and a staff
mutation reads nothing of what it wrote once its write is done (issue 20: views own the JSON)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pynamodb.connection.base import Connection

from tests.integration.conftest import ALICE, REVIEWER, WAREHOUSE, top_up

pytestmark = pytest.mark.usefixtures("shop")

TEE = {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2}
READS = {"GetItem", "BatchGetItem", "Query"}
WRITES = {"TransactWriteItems", "UpdateItem", "PutItem", "DeleteItem"}


@contextmanager
def dynamodb_operations(monkeypatch) -> Iterator[list[str]]:
    """The DynamoDB operations made meanwhile, in order (every PynamoDB call goes through dispatch)."""
    made: list[str] = []
    dispatch = Connection.dispatch

    def recording(self, operation_name, operation_kwargs):
        made.append(operation_name)
        return dispatch(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "dispatch", recording)
    try:
        yield made
    finally:
        monkeypatch.setattr(Connection, "dispatch", dispatch)


def reads_after_last_write(made: list[str]) -> list[str]:
    last = max(i for i, op in enumerate(made) if op in WRITES)
    return [op for op in made[last + 1 :] if op in READS]


def new_order(api) -> dict:
    created = api.post("/orders", {"items": [TEE], "payment_channel": "balance"}, user=ALICE)
    assert created.status == 201, created.body
    return created.body


def test_order_mutations_answer_what_a_read_then_shows(api):
    top_up(api, ALICE, 50000)
    order = new_order(api)
    path = f"/orders/{order['order_id']}"
    assert order == api.get(path, user=ALICE).body

    paid = api.post(f"{path}/pay", user=ALICE).body
    assert paid["items"][0]["paid_fen"] == 5000  # the item's goods are paid for (the refund cap)
    assert paid == api.get(path, user=ALICE).body

    approved = api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER).body
    assert approved == api.get(path, user=ALICE).body

    cancelled = api.post(f"{path}/cancel", user=ALICE).body
    assert cancelled["items"][0]["refunded_fen"] == 5000
    assert cancelled == api.get(path, user=ALICE).body

    rejected_order = new_order(api)
    api.post(f"/orders/{rejected_order['order_id']}/pay", user=ALICE)
    rejected = api.post(
        f"/staff/orders/{rejected_order['order_id']}/reject", {"reason": "Sold out."}, user=REVIEWER
    ).body
    assert rejected["status"] == "rejected" and rejected["items"][0]["refunded_fen"] == 5000
    assert rejected == api.get(f"/orders/{rejected_order['order_id']}", user=ALICE).body


def staff_read(api, item_id: str) -> dict:
    """The item as staff read it (staff answers keep staff ids; customers' answers drop them)."""
    item = api.get(f"/staff/items/{item_id}", user=REVIEWER).body
    item.pop("user_id")
    return item


def test_item_mutations_answer_what_a_read_then_shows(api):
    top_up(api, ALICE, 50000)
    order = new_order(api)
    api.post(f"/orders/{order['order_id']}/pay", user=ALICE)
    api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER)
    item_id = order["items"][0]["item_id"]
    purchased = api.post(
        f"/staff/items/{item_id}/purchase",
        {"merchant_order_no": "M-1", "actual_unit_price_fen": 2300},  # cheaper: 400 refunded
        user=REVIEWER,
    ).body
    assert purchased["purchase"]["settlement"] == "refunded" and purchased["refunded_fen"] == 400
    assert purchased == staff_read(api, item_id)
    shipped = api.post(
        f"/staff/items/{item_id}/domestic-shipment",
        {"carrier": "ZTO", "tracking_no": "ZT100200300"},
        user=REVIEWER,
    ).body
    assert shipped["status"] == "shipped_domestic"
    assert shipped == staff_read(api, item_id)


def test_staff_mutations_read_nothing_after_their_write(api, monkeypatch):
    top_up(api, ALICE, 50000)
    first, second = new_order(api), new_order(api)
    for order in (first, second):
        api.post(f"/orders/{order['order_id']}/pay", user=ALICE)
    with dynamodb_operations(monkeypatch) as made:
        api.post(f"/staff/orders/{first['order_id']}/reject", {"reason": "Sold out."}, user=REVIEWER)
    assert reads_after_last_write(made) == []

    api.post(f"/staff/orders/{second['order_id']}/approve", user=REVIEWER)
    item_id = second["items"][0]["item_id"]
    with dynamodb_operations(monkeypatch) as made:
        purchase = {"merchant_order_no": "M-2", "actual_unit_price_fen": 2500}
        assert api.post(f"/staff/items/{item_id}/purchase", purchase, user=REVIEWER).status == 200
    assert reads_after_last_write(made) == []
    with dynamodb_operations(monkeypatch) as made:
        shipment = {"carrier": "ZTO", "tracking_no": "ZT100200301"}
        assert api.post(f"/staff/items/{item_id}/domestic-shipment", shipment, user=REVIEWER).status == 200
    assert reads_after_last_write(made) == []
    with dynamodb_operations(monkeypatch) as made:
        assert api.post("/staff/inbound", {"tracking_no": "ZT100200301"}, user=WAREHOUSE).status == 201
    inspection = {
        "category": "general",
        "checks": dict.fromkeys(("color", "damage", "stains", "size", "model", "version"), "ok"),
        "result": "pass",
        "weight_g": 300,
        "dims_cm": {"l": 20, "w": 15, "h": 5},
    }
    with dynamodb_operations(monkeypatch) as made:
        inspected = api.post(f"/staff/items/{item_id}/inspection", inspection, user=WAREHOUSE)
    assert inspected.status == 200, inspected.body
    assert reads_after_last_write(made) == []
    assert inspected.body == staff_read(api, item_id)
