"""GET /staff/orders/{order_id}: the staff console's order detail (items, charges, owner, overdue)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib import clock
from tests.integration.conftest import ALICE, REVIEWER, WAREHOUSE
from tests.integration.test_review import TEE, paid_order

pytestmark = pytest.mark.usefixtures("shop")


def test_a_reviewer_sees_any_order_with_its_items_and_whether_it_is_overdue(api):
    clock.set_now(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))  # Tuesday 10:00 Shanghai, due 13:00
    order = paid_order(api)
    detail = api.get(f"/staff/orders/{order['order_id']}", user=REVIEWER)
    assert detail.status == 200
    body = detail.body
    assert body["status"] == "pending_review" and body["overdue"] is False
    assert body["user_id"] and body["review_due_at"] == order["review_due_at"]
    assert body["charges"] == order["charges"]
    (item,) = body["items"]
    assert (item["sku_id"], item["quantity"]) == (TEE["sku_id"], TEE["quantity"])
    clock.set_now(datetime(2026, 11, 24, 5, 1, tzinfo=UTC))  # 13:01
    assert api.get(f"/staff/orders/{order['order_id']}", user=REVIEWER).body["overdue"] is True
    api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER)
    assert api.get(f"/staff/orders/{order['order_id']}", user=REVIEWER).body["overdue"] is False


def test_only_reviewers_see_the_order_detail_and_an_unknown_order_is_404(api):
    order = paid_order(api)
    assert api.get(f"/staff/orders/{order['order_id']}", user=ALICE).status == 403
    assert api.get(f"/staff/orders/{order['order_id']}", user=WAREHOUSE).status == 403
    missing = api.get("/staff/orders/ord_nothing", user=REVIEWER)
    assert missing.status == 404 and missing.body["error"]["code"] == "not_found"
