"""Every lost race is a 409 naming what changed, never a 500 (issue 11, hole 7)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.models.commerce import Payment
from tests.integration.conftest import ALICE

pytestmark = pytest.mark.usefixtures("shop")

TEE = {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 1}


def at_once(count: int, call):
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def test_orders_racing_for_the_same_cart_item_one_wins_the_rest_409(api):
    cart_item = api.post("/cart/items", TEE, user=ALICE).body["cart_item_id"]
    api.token(ALICE)
    body = {"cart_item_ids": [cart_item], "payment_channel": "balance"}
    results = at_once(10, lambda: api.post("/orders", body, user=ALICE))
    statuses = [r.status for r in results]
    assert statuses.count(201) == 1, statuses
    # the losers either lost the write (409, naming the cart) or read the cart after the winner (404)
    assert set(statuses) <= {201, 404, 409}, statuses
    conflicts = [r.body["error"]["message"] for r in results if r.status == 409]
    assert all("cart item" in m for m in conflicts)
    orders = api.get("/orders", user=ALICE).body["items"]
    assert len(orders) == 1


def test_concurrent_pays_on_an_external_channel_create_one_payment_and_no_500(api):
    order = api.post("/orders", {"items": [TEE], "payment_channel": "paypal"}, user=ALICE).body
    api.token(ALICE)
    results = at_once(10, lambda: api.post(f"/orders/{order['order_id']}/pay", user=ALICE))
    statuses = [r.status for r in results]
    assert 500 not in statuses and set(statuses) <= {200, 409}, statuses
    payment_ids = {r.body["payment"]["payment_id"] for r in results if r.status == 200}
    assert len(payment_ids) == 1
    conflicts = [r.body["error"]["message"] for r in results if r.status == 409]
    assert all("payment" in m for m in conflicts)
    [payment_id] = payment_ids
    assert Payment.get(payment_id).order_id == order["order_id"]
    stored = api.get(f"/orders/{order['order_id']}", user=ALICE).body
    again = api.post(f"/orders/{order['order_id']}/pay", user=ALICE)
    assert again.status == 200 and again.body["payment"]["payment_id"] == payment_id
    assert stored["status"] == "pending_payment"


def test_a_payment_arriving_after_the_order_was_cancelled_stays_in_the_wallet_less_the_bank_fee(api):
    from tests.integration.conftest import send_webhook

    order = api.post("/orders", {"items": [TEE], "payment_channel": "paypal"}, user=ALICE).body
    payment = api.post(f"/orders/{order['order_id']}/pay", user=ALICE).body["payment"]
    assert api.post(f"/orders/{order['order_id']}/cancel", user=ALICE).status == 200
    assert send_webhook(api, payment["payment_id"], payment["charge_fen"]).status == 200
    wallet = api.get("/wallet", user=ALICE).body
    # the provider collected charge_fen and kept its fee: the customer keeps the rest (REFUND_POLICY)
    assert wallet["balance_fen"] == payment["charge_fen"] - payment["fee_fen"] == payment["amount_fen"]
    kinds = [e["kind"] for e in wallet["entries"]]
    assert kinds.count("payment_received") == 1 and kinds.count("payment_channel_fee") == 1
    assert api.get(f"/orders/{order['order_id']}", user=ALICE).body["status"] == "cancelled"
