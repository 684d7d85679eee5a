"""Cart and procurement orders: exact charges, snapshots, paying, cancelling, ownership."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib import clock
from tests.integration.conftest import ALICE, BOB, REVIEWER, send_webhook, top_up

pytestmark = pytest.mark.usefixtures("shop")


def add(api, product_id="prd_tee", sku_id="sku_tee_black_m", quantity=2, user=ALICE, **extra):
    result = api.post(
        "/cart/items", {"product_id": product_id, "sku_id": sku_id, "quantity": quantity, **extra}, user=user
    )
    assert result.status == 201, result.body
    return result.body


def order(api, user=ALICE, channel="balance", **body):
    body.setdefault("items", [{"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2}])
    result = api.post("/orders", {**body, "payment_channel": channel}, user=user)
    assert result.status == 201, result.body
    return result.body


def balance(api, user=ALICE):
    return api.get("/wallet", user=user).body["balance_fen"]


class TestCart:
    def test_add_change_remove(self, api):
        item = add(api, remark="please check stitching")
        assert item["unit_price_fen"] == 2500 and item["props"] == {"color": "black", "size": "M"}
        assert item["title"] == "Cotton T-shirt"
        cart = api.get("/cart", user=ALICE).body
        assert cart["subtotal_fen"] == 5000 and len(cart["items"]) == 1
        changed = api.patch(f"/cart/items/{item['cart_item_id']}", {"quantity": 3}, user=ALICE)
        assert changed.status == 200 and changed.body["quantity"] == 3
        assert api.get("/cart", user=ALICE).body["subtotal_fen"] == 7500
        assert api.delete(f"/cart/items/{item['cart_item_id']}", user=ALICE).status == 204
        assert api.get("/cart", user=ALICE).body == {"items": [], "subtotal_fen": 0}

    def test_the_same_sku_added_twice_is_one_line_with_the_quantities_added(self, api):
        first = add(api, quantity=2)
        again = add(api, quantity=3, remark="one in a gift bag")
        assert again["cart_item_id"] == first["cart_item_id"]
        assert again["quantity"] == 5 and again["remark"] == "one in a gift bag"
        cart = api.get("/cart", user=ALICE).body
        assert [(i["sku_id"], i["quantity"]) for i in cart["items"]] == [("sku_tee_black_m", 5)]
        other = add(api, sku_id="sku_tee_white_l", quantity=1)
        assert other["cart_item_id"] != first["cart_item_id"]

    def test_adding_the_same_sku_beyond_its_stock_is_400_and_keeps_the_line(self, api):
        add(api, sku_id="sku_tee_white_l", quantity=2)  # 3 in stock
        over = api.post(
            "/cart/items", {"product_id": "prd_tee", "sku_id": "sku_tee_white_l", "quantity": 2}, user=ALICE
        )
        assert over.status == 400, over.body
        assert [i["quantity"] for i in api.get("/cart", user=ALICE).body["items"]] == [2]

    def test_bad_cart_input_is_400_and_stores_nothing(self, api):
        bad = [
            {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 0},
            {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": -1},
            {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": "2"},
            {"product_id": "prd_nope", "sku_id": "sku_tee_black_m", "quantity": 1},
            {"product_id": "prd_tee", "sku_id": "sku_nope", "quantity": 1},
            {"product_id": "prd_tee", "sku_id": "sku_tee_white_l", "quantity": 4},  # 3 in stock
            {"product_id": "prd_socks", "sku_id": "sku_socks", "quantity": 1},  # min quantity 2
            {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 1, "unit_price_fen": 1},
            {"product_id": "prd_tee", "sku_id": "sku_tee_black_m"},
        ]
        for body in bad:
            result = api.post("/cart/items", body, user=ALICE)
            assert result.status == 400, (body, result.body)
        assert api.post("/cart/items", raw="{oops", user=ALICE).status == 400
        assert api.get("/cart", user=ALICE).body["items"] == []

    def test_another_customers_cart_item_is_404(self, api):
        item = add(api)
        assert api.patch(f"/cart/items/{item['cart_item_id']}", {"quantity": 5}, user=BOB).status == 404
        assert api.delete(f"/cart/items/{item['cart_item_id']}", user=BOB).status == 404
        assert api.get("/cart", user=BOB).body["items"] == []
        assert api.get("/cart", user=ALICE).body["items"][0]["quantity"] == 2


class TestQuoteAndCreate:
    def test_quote_is_exact(self, api):
        body = {
            "items": [
                {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2},
                {"product_id": "prd_socks", "sku_id": "sku_socks", "quantity": 2},
                {"product_id": "prd_bank", "sku_id": "sku_bank", "quantity": 1},
            ],
            "payment_channel": "paypal",
        }
        result = api.post("/orders/quote", body, user=ALICE)
        assert result.status == 200
        # product 5000 + 2000 + 9900; shipping shop_a 800 (max of 800/600) + shop_b 1000
        # PayPal 4.4% of 18700 = 822.8 -> 823, + 230
        assert result.body["charges"] == {
            "product_fen": 16900,
            "domestic_shipping_fen": 1800,
            "bank_fee_fen": 1053,
            "total_fen": 19753,
        }

    def test_create_from_cart_snapshots_prices_and_empties_the_cart(self, api):
        first = add(api)
        second = add(api, "prd_bank", "sku_bank", 1)
        created = order(api, cart_item_ids=[first["cart_item_id"], second["cart_item_id"]], items=None)
        assert created["status"] == "pending_payment"
        assert created["charges"]["total_fen"] == 5000 + 9900 + 800 + 1000
        assert {i["status"] for i in created["items"]} == {"pending_payment"}
        assert api.get("/cart", user=ALICE).body["items"] == []
        fetched = api.get(f"/orders/{created['order_id']}", user=ALICE).body
        assert fetched["items"][0]["unit_price_fen"] == 2500
        assert fetched["created_at"].endswith("Z")

    def test_bad_order_bodies(self, api):
        item = add(api)
        bad = [
            {"payment_channel": "balance"},
            {"cart_item_ids": [item["cart_item_id"]], "items": [], "payment_channel": "balance"},
            {"cart_item_ids": [], "payment_channel": "balance"},
            {"cart_item_ids": [item["cart_item_id"]], "payment_channel": "gold"},
            {"cart_item_ids": [item["cart_item_id"], item["cart_item_id"]], "payment_channel": "balance"},
            {
                "items": [
                    {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 1, "unit_price_fen": 1}
                ],
                "payment_channel": "balance",
            },
            {
                "items": [{"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 1}],
                "payment_channel": "balance",
                "total_fen": 1,
            },
            {
                "items": [{"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 1}],
                "payment_channel": "balance",
                "status": "approved",
            },
        ]
        for body in bad:
            result = api.post("/orders", body, user=ALICE)
            assert result.status == 400, (body, result.body)
        assert api.get("/orders", user=ALICE).body["items"] == []
        assert len(api.get("/cart", user=ALICE).body["items"]) == 1

    def test_ordering_someone_elses_cart_item_is_404(self, api):
        item = add(api)
        result = api.post(
            "/orders", {"cart_item_ids": [item["cart_item_id"]], "payment_channel": "balance"}, user=BOB
        )
        assert result.status == 404

    def test_orders_are_private(self, api):
        created = order(api)
        assert api.get(f"/orders/{created['order_id']}", user=BOB).status == 404
        assert api.post(f"/orders/{created['order_id']}/pay", user=BOB).status == 404
        assert api.post(f"/orders/{created['order_id']}/cancel", user=BOB).status == 404
        assert api.get("/orders", user=BOB).body["items"] == []
        assert api.get("/orders/ord_unknown", user=ALICE).status == 404


class TestPaying:
    def test_pay_from_balance_queues_for_review_within_three_working_hours(self, api):
        clock.set_now(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))  # Friday 17:00 in Shanghai
        top_up(api, ALICE, 20000)
        created = order(api)
        paid = api.post(f"/orders/{created['order_id']}/pay", user=ALICE)
        assert paid.status == 200, paid.body
        assert paid.body["status"] == "pending_review"
        assert paid.body["review_due_at"] == "2026-11-30T03:00:00Z"  # Monday 11:00 Shanghai
        assert {i["status"] for i in paid.body["items"]} == {"pending_review"}
        assert balance(api) == 20000 - 5800
        entries = api.get("/wallet", user=ALICE).body["entries"]
        assert entries[0] == {
            **entries[0],
            "kind": "order_payment",
            "amount_fen": -5800,
            "balance_after_fen": 14200,
            "ref": created["order_id"],
        }

    def test_short_balance_is_409_insufficient_funds(self, api):
        top_up(api, ALICE, 1000)
        created = order(api)
        result = api.post(f"/orders/{created['order_id']}/pay", user=ALICE)
        assert result.status == 409 and result.body["error"]["code"] == "insufficient_funds"
        assert balance(api) == 1000
        assert api.get(f"/orders/{created['order_id']}", user=ALICE).body["status"] == "pending_payment"

    def test_paying_twice_is_409(self, api):
        top_up(api, ALICE, 20000)
        created = order(api)
        assert api.post(f"/orders/{created['order_id']}/pay", user=ALICE).status == 200
        again = api.post(f"/orders/{created['order_id']}/pay", user=ALICE)
        assert again.status == 409 and again.body["error"]["code"] == "conflict"
        assert balance(api) == 20000 - 5800

    def test_idempotent_pay_replays_the_first_response(self, api):
        top_up(api, ALICE, 20000)
        created = order(api)
        headers = {"Idempotency-Key": "pay-1"}
        first = api.post(f"/orders/{created['order_id']}/pay", user=ALICE, headers=headers)
        again = api.post(f"/orders/{created['order_id']}/pay", user=ALICE, headers=headers)
        assert first.status == again.status == 200
        assert first.body == again.body
        assert balance(api) == 20000 - 5800
        changed = api.post(f"/orders/{created['order_id']}/pay", {"x": 1}, user=ALICE, headers=headers)
        assert changed.status == 409

    def test_external_channel_is_paid_by_the_provider(self, api):
        created = order(api, channel="card")
        # card 3% of 5800 = 174 + 150
        assert created["charges"]["bank_fee_fen"] == 324 and created["charges"]["total_fen"] == 6124
        started = api.post(f"/orders/{created['order_id']}/pay", user=ALICE)
        assert started.status == 200
        payment = started.body["payment"]
        assert payment["charge_fen"] == 6124 and payment["status"] == "requires_action"
        assert started.body["status"] == "pending_payment"
        again = api.post(f"/orders/{created['order_id']}/pay", user=ALICE).body["payment"]
        assert again["payment_id"] == payment["payment_id"]
        assert send_webhook(api, payment["payment_id"], payment["charge_fen"]).status == 200
        assert send_webhook(api, payment["payment_id"], payment["charge_fen"]).status == 200
        paid = api.get(f"/orders/{created['order_id']}", user=ALICE).body
        assert paid["status"] == "pending_review" and paid["paid_fen"] == 6124
        assert balance(api) == 0
        kinds = [(e["kind"], e["amount_fen"]) for e in api.get("/wallet", user=ALICE).body["entries"]]
        assert kinds == [("order_payment", -6124), ("payment_received", 6124)]


class TestCancelling:
    def test_cancel_unpaid(self, api):
        created = order(api)
        result = api.post(f"/orders/{created['order_id']}/cancel", user=ALICE)
        assert result.status == 200 and result.body["status"] == "cancelled"
        assert {i["status"] for i in result.body["items"]} == {"cancelled"}
        assert api.post(f"/orders/{created['order_id']}/cancel", user=ALICE).status == 409
        assert api.post(f"/orders/{created['order_id']}/pay", user=ALICE).status == 409

    def test_cancel_after_payment_refunds_to_the_wallet(self, api):
        top_up(api, ALICE, 20000)
        created = order(api)
        api.post(f"/orders/{created['order_id']}/pay", user=ALICE)
        result = api.post(f"/orders/{created['order_id']}/cancel", user=ALICE)
        assert result.status == 200 and result.body["refunded_fen"] == 5800
        assert balance(api) == 20000

    def test_cancel_after_approval_until_the_first_purchase(self, api):
        top_up(api, ALICE, 20000)
        created = order(
            api,
            items=[
                {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2},
                {"product_id": "prd_bank", "sku_id": "sku_bank", "quantity": 1},
            ],
        )
        oid = created["order_id"]
        api.post(f"/orders/{oid}/pay", user=ALICE)
        assert api.post(f"/staff/orders/{oid}/approve", user=REVIEWER).status == 200
        item_id = created["items"][0]["item_id"]
        purchase = {"merchant_order_no": "M1", "actual_unit_price_fen": 2500}
        assert api.post(f"/staff/items/{item_id}/purchase", purchase, user=REVIEWER).status == 200
        refused = api.post(f"/orders/{oid}/cancel", user=ALICE)
        assert refused.status == 409
        assert balance(api) == 20000 - created["charges"]["total_fen"]

    def test_list_orders_newest_first_with_paging(self, api):
        ids = [order(api)["order_id"] for _ in range(3)]
        page = api.get("/orders?limit=2", user=ALICE).body
        assert [o["order_id"] for o in page["items"]] == ids[::-1][:2]
        assert page["items"][0]["items"][0]["title"] == "Cotton T-shirt"
        rest = api.get(f"/orders?limit=2&cursor={page['next_cursor']}", user=ALICE).body
        assert [o["order_id"] for o in rest["items"]] == ids[:1]
        assert api.get("/orders?limit=0", user=ALICE).status == 400
        assert api.get("/orders?cursor=zzz", user=ALICE).status == 400
