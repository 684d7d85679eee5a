"""Indexes that project only keys (issue 27: write units). An ALL projection copies the whole record into
the index and rewrites that copy on every change of it; the queues of items and packages hold keys only,
and a list read through them returns the full records, read by key, in the index's order, leaving off a
record that has left the list since the index saw it (a GSI is eventually consistent)."""

from __future__ import annotations

import pytest

from chalicelib import queues, warehouse
from chalicelib.models.commerce import Item
from chalicelib.models.packages import Package
from tests.integration.conftest import ALICE, REVIEWER, WAREHOUSE, top_up
from tests.integration.test_auth_matrix import SOCKS
from tests.integration.test_auth_matrix import TEE as TEE_LINE
from tests.integration.test_packages import paid_package

pytestmark = pytest.mark.usefixtures("shop")

TEE = [{"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 1}]


def _approved_items(api, count: int) -> list[str]:
    top_up(api, ALICE, 100_000)
    ids = []
    for _ in range(count):
        order = api.post("/orders", {"items": TEE, "payment_channel": "balance"}, user=ALICE).body
        assert api.post(f"/orders/{order['order_id']}/pay", user=ALICE).status == 200
        assert api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER).status == 200
        ids += [i["item_id"] for i in order["items"]]
    return ids


def test_the_item_and_package_queues_and_lists_project_keys_only():
    for index in (Item.queue, Item.in_storage, Package.queue, Package.by_user):
        assert index.Meta.projection.projection_type == "KEYS_ONLY"


def test_a_keys_only_queue_lists_full_items_oldest_first_across_pages(api):
    ids = _approved_items(api, 3)
    first = api.get("/staff/items?status=purchasing&limit=2", user=REVIEWER)
    assert first.status == 200, first.body
    rest = api.get(
        f"/staff/items?status=purchasing&limit=2&cursor={first.body['next_cursor']}", user=REVIEWER
    )
    listed = first.body["items"] + rest.body["items"]
    assert sorted(i["item_id"] for i in listed) == sorted(ids)
    assert all(i["title"] and i["status"] == "purchasing" for i in listed)  # the records, not index keys


def test_a_record_that_left_the_queue_since_the_index_saw_it_is_left_off_the_page(api):
    ids = _approved_items(api, 2)
    rows = [Item(item_id=i, queue_key=Item.get(i).queue_key) for i in ids]  # the index rows of the page
    moved = Item.get(ids[0])
    moved.update(actions=[Item.queue_key.set("purchased#0")])  # it moved on after the index was read
    assert [i.item_id for i in queues._records(rows, Item)] == ids[1:]


def test_the_packing_queue_lists_the_full_package_with_its_items(api):
    package = paid_package(api)
    listed = api.get("/staff/packages?status=paid", user=WAREHOUSE)
    assert listed.status == 200, listed.body
    (row,) = [p for p in listed.body["items"] if p["package_id"] == package["package_id"]]
    assert row["status"] == "paid" and row["items"] and row["address"]


def test_the_customers_stored_items_and_packages_list_full_records(api):
    package = paid_package(api)
    stored = api.get("/warehouse/items", user=ALICE)
    assert stored.status == 200, stored.body
    assert {i["item_id"] for i in stored.body["items"]} == set(package["item_ids"])
    assert all(i["title"] and i["status"] == "in_package" for i in stored.body["items"])
    listed = api.get("/packages", user=ALICE)
    assert listed.status == 200, listed.body
    (row,) = listed.body["items"]
    assert row["package_id"] == package["package_id"] and row["status"] == "paid" and row["total_fen"]


def test_an_item_that_left_storage_since_the_index_saw_it_is_left_off(api, monkeypatch):
    package = paid_package(api, items=(TEE_LINE, SOCKS))
    gone = Item.get(package["item_ids"][0])
    gone.update(actions=[Item.stored_by.remove()])  # it left storage; a stale index row still names it
    rows = [Item(item_id=i) for i in package["item_ids"]]

    class Stale(list):
        last_evaluated_key = None

    monkeypatch.setattr(Item.in_storage, "query", lambda *a, **k: Stale(rows))
    items, _ = warehouse.stored_items(gone.user_id, 20, None)
    assert [i.item_id for i in items] == package["item_ids"][1:]


def test_the_deadline_indexes_project_keys_only_and_the_jobs_read_records_by_key():
    for index in (Item.by_deadline, Package.by_deadline, Package.by_confirm_day):
        assert index.Meta.projection.projection_type == "KEYS_ONLY"
