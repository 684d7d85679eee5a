"""Review and purchasing by the reviewer group, and the concurrency duties of state changes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clock
from tests.integration.conftest import (
    ADMIN,
    ALICE,
    BOB,
    REVIEWER,
    WAREHOUSE,
    send_webhook,
    sent_emails,
    top_up,
)

pytestmark = pytest.mark.usefixtures("shop")

TEE = {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2}
BANK = {"product_id": "prd_bank", "sku_id": "sku_bank", "quantity": 1}


def paid_order(api, user=ALICE, items=(TEE,), top_up_fen=50000):
    top_up(api, user, top_up_fen)
    created = api.post("/orders", {"items": list(items), "payment_channel": "balance"}, user=user).body
    paid = api.post(f"/orders/{created['order_id']}/pay", user=user)
    assert paid.status == 200, paid.body
    return paid.body


def balance(api, user=ALICE):
    return api.get("/wallet", user=user).body["balance_fen"]


def test_queue_is_oldest_due_first_with_overdue(api):
    clock.set_now(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))  # Tuesday 10:00 Shanghai
    first = paid_order(api)
    clock.set_now(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))
    second = paid_order(api, user=BOB)
    clock.set_now(datetime(2026, 11, 24, 5, 30, tzinfo=UTC))  # 13:30: first due 13:00, second 14:00
    queue = api.get("/staff/orders?status=pending_review", user=REVIEWER)
    assert queue.status == 200
    rows = queue.body["items"]
    assert [r["order_id"] for r in rows] == [first["order_id"], second["order_id"]]
    assert [r["overdue"] for r in rows] == [True, False]
    assert api.get("/staff/orders", user=REVIEWER).body["items"] == rows  # pending_review is the default


def test_queue_pages_across_shards(api):
    made = []
    base = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    for n in range(7):
        clock.set_now(base + timedelta(minutes=n))
        made.append(paid_order(api, top_up_fen=6000)["order_id"])
    seen, cursor = [], None
    while True:
        page = api.get("/staff/orders?limit=3" + (f"&cursor={cursor}" if cursor else ""), user=REVIEWER).body
        seen += [r["order_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made


def test_approve_moves_items_to_purchasing_and_emails(api):
    order = paid_order(api)
    result = api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER)
    assert result.status == 200
    assert result.body["status"] == "approved"
    assert {i["status"] for i in result.body["items"]} == {"purchasing"}
    assert api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER).status == 409
    assert api.get("/staff/orders", user=REVIEWER).body["items"] == []
    assert [e["template"] for e in sent_emails(ALICE)] == ["order_approved"]
    work = api.get("/staff/items?status=purchasing", user=REVIEWER).body["items"]
    assert [i["item_id"] for i in work] == [order["items"][0]["item_id"]]


def test_reject_refunds_in_full_and_emails_the_reason(api):
    order = paid_order(api, top_up_fen=5800)
    assert balance(api) == 0
    result = api.post(f"/staff/orders/{order['order_id']}/reject", {"reason": "Shop closed"}, user=REVIEWER)
    assert result.status == 200 and result.body["status"] == "rejected"
    assert {i["status"] for i in result.body["items"]} == {"rejected"}
    assert balance(api) == 5800
    [email] = sent_emails(ALICE)
    assert email["template"] == "order_rejected"
    assert email["data"]["reason"] == "Shop closed" and email["data"]["refund"] == "¥58.00"
    assert api.post(f"/staff/orders/{order['order_id']}/reject", {"reason": "x"}, user=REVIEWER).status == 409
    assert balance(api) == 5800
    assert api.post(f"/staff/orders/{order['order_id']}/reject", {}, user=REVIEWER).status in (400, 409)


def test_the_order_detail_names_the_customer_by_email_and_what_a_rejection_returns(api):
    balance_paid = paid_order(api, top_up_fen=5800)
    detail = api.get(f"/staff/orders/{balance_paid['order_id']}", user=REVIEWER).body
    assert detail["customer_email"] == "alice@example.com" and detail["user_id"] == api.user_id(ALICE)
    assert detail["refund_if_rejected_fen"] == 5800  # paid from the wallet: all of it comes back
    created = api.post("/orders", {"items": [TEE], "payment_channel": "card"}, user=ALICE).body
    payment = api.post(f"/orders/{created['order_id']}/pay", user=ALICE).body["payment"]
    assert send_webhook(api, payment["payment_id"], payment["charge_fen"]).status == 200
    card = api.get(f"/staff/orders/{created['order_id']}", user=REVIEWER).body
    assert card["paid_fen"] == 6124 and card["charges"]["bank_fee_fen"] == 324
    assert card["refund_if_rejected_fen"] == 5800  # the card's bank fee is kept
    api.post(f"/staff/orders/{created['order_id']}/reject", {"reason": "Shop closed"}, user=REVIEWER)
    assert api.get(f"/staff/orders/{created['order_id']}", user=REVIEWER).body["refund_if_rejected_fen"] == 0


def _approved(api, **kw):
    order = paid_order(api, **kw)
    api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER)
    return order


def test_cheaper_purchase_refunds_the_difference(api):
    order = _approved(api)
    item_id = order["items"][0]["item_id"]
    before = balance(api)
    result = api.post(
        f"/staff/items/{item_id}/purchase",
        {"merchant_order_no": "TB-1", "actual_unit_price_fen": 2300},
        user=REVIEWER,
    )
    assert result.status == 200, result.body
    assert result.body["status"] == "purchased"
    assert result.body["purchase"]["price_difference_fen"] == -400
    assert balance(api) == before + 400
    assert api.get("/wallet", user=ALICE).body["entries"][0]["kind"] == "price_difference_refund"
    again = api.post(
        f"/staff/items/{item_id}/purchase",
        {"merchant_order_no": "TB-1", "actual_unit_price_fen": 2300},
        user=REVIEWER,
    )
    assert again.status == 409
    assert balance(api) == before + 400


def test_dearer_purchase_is_charged_from_the_wallet(api):
    order = _approved(api)
    item_id = order["items"][0]["item_id"]
    before = balance(api)
    result = api.post(
        f"/staff/items/{item_id}/purchase",
        {"merchant_order_no": "TB-2", "actual_unit_price_fen": 2600},
        user=REVIEWER,
    )
    assert result.body["status"] == "purchased"
    assert balance(api) == before - 200


def test_dearer_purchase_with_a_short_wallet_waits_for_the_customer(api):
    order = _approved(api, top_up_fen=5800)
    item_id = order["items"][0]["item_id"]
    result = api.post(
        f"/staff/items/{item_id}/purchase",
        {"merchant_order_no": "TB-3", "actual_unit_price_fen": 2600},  # +200: within the 5% threshold
        user=REVIEWER,
    )
    assert result.status == 200
    assert result.body["status"] == "purchasing" and result.body["price_difference_due_fen"] == 200
    assert [e["template"] for e in sent_emails(ALICE)][-1] == "price_difference_due"
    assert api.post(f"/items/{item_id}/pay-difference", user=ALICE).status == 409  # still short
    top_up(api, ALICE, 200)
    assert api.post(f"/items/{item_id}/pay-difference", user=BOB).status == 404
    paid = api.post(f"/items/{item_id}/pay-difference", user=ALICE)
    assert paid.status == 200 and paid.body["status"] == "purchased"
    assert balance(api) == 0
    assert api.post(f"/items/{item_id}/pay-difference", user=ALICE).status == 409


def test_domestic_shipment(api):
    order = _approved(api)
    item_id = order["items"][0]["item_id"]
    body = {"carrier": "ZTO", "tracking_no": "zt 7530 0001"}
    assert api.post(f"/staff/items/{item_id}/domestic-shipment", body, user=REVIEWER).status == 409
    api.post(
        f"/staff/items/{item_id}/purchase",
        {"merchant_order_no": "A", "actual_unit_price_fen": 2500},
        user=REVIEWER,
    )
    result = api.post(f"/staff/items/{item_id}/domestic-shipment", body, user=REVIEWER)
    assert result.status == 200
    assert result.body["status"] == "shipped_domestic"
    assert result.body["domestic_shipment"]["tracking_no"] == "ZT75300001"
    mine = api.get(f"/orders/{order['order_id']}", user=ALICE).body["items"][0]
    assert mine["status"] == "shipped_domestic"


def test_staff_routes_need_the_reviewer_group(api):
    order = paid_order(api)
    oid = order["order_id"]
    for user in (ALICE, WAREHOUSE):
        assert api.get("/staff/orders", user=user).status == 403
        assert api.post(f"/staff/orders/{oid}/approve", user=user).status == 403
        assert api.post(f"/staff/orders/{oid}/reject", {"reason": "x"}, user=user).status == 403
    assert api.get("/staff/orders").status == 401
    assert api.post(f"/staff/orders/{oid}/approve", user=ADMIN).status == 200  # admin may do what staff may
    assert api.post("/staff/orders/ord_missing/approve", user=REVIEWER).status == 404


def test_bad_staff_bodies(api):
    order = _approved(api)
    item_id = order["items"][0]["item_id"]
    for body in (
        {"merchant_order_no": "A"},
        {"merchant_order_no": "A", "actual_unit_price_fen": -1},
        {"merchant_order_no": "A", "actual_unit_price_fen": "25"},
        {"merchant_order_no": "", "actual_unit_price_fen": 1},
    ):
        assert api.post(f"/staff/items/{item_id}/purchase", body, user=REVIEWER).status == 400
    assert api.get("/staff/orders?status=nonsense", user=REVIEWER).status == 400
    assert api.get(f"/orders/{order['order_id']}", user=ALICE).body["items"][0]["purchase"] is None


def test_twenty_concurrent_pays_debit_once(api):
    top_up(api, ALICE, 50000)
    created = api.post("/orders", {"items": [TEE], "payment_channel": "balance"}, user=ALICE).body
    api.token(ALICE)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(
            pool.map(lambda _: api.post(f"/orders/{created['order_id']}/pay", user=ALICE), range(20))
        )
    statuses = sorted(r.status for r in results)
    assert statuses.count(200) == 1 and statuses.count(409) == 19, statuses
    assert balance(api) == 50000 - 5800
    entries = api.get("/wallet", user=ALICE).body["entries"]
    assert [e["kind"] for e in entries].count("order_payment") == 1


def test_twenty_concurrent_approvals_one_wins(api):
    order = paid_order(api)
    api.token(REVIEWER)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(
            pool.map(
                lambda _: api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER), range(20)
            )
        )
    statuses = sorted(r.status for r in results)
    assert statuses.count(200) == 1 and statuses.count(409) == 19, statuses


def test_a_reviewer_cannot_approve_reject_or_purchase_for_their_own_order(api):
    """Issue 21, item 8: four eyes on money; another staff member (here the admin) can."""
    own = paid_order(api, user=REVIEWER)
    order_id = own["order_id"]
    approve = api.post(f"/staff/orders/{order_id}/approve", user=REVIEWER)
    assert approve.status == 403 and "your own order" in approve.body["error"]["message"]
    reject = api.post(f"/staff/orders/{order_id}/reject", {"reason": "mine"}, user=REVIEWER)
    assert reject.status == 403
    assert api.get(f"/orders/{order_id}", user=REVIEWER).body["status"] == "pending_review"  # nothing changed
    assert api.post(f"/staff/orders/{order_id}/approve", user=ADMIN).status == 200
    item_id = own["items"][0]["item_id"]
    body = {"merchant_order_no": "TB-OWN", "actual_unit_price_fen": 100}  # would refund most of it
    before = balance(api, REVIEWER)
    assert api.post(f"/staff/items/{item_id}/purchase", body, user=REVIEWER).status == 403
    assert balance(api, REVIEWER) == before
    assert api.post(f"/staff/items/{item_id}/purchase", body, user=ADMIN).status == 200
