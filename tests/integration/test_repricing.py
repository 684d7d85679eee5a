"""Prices that move: the cart keeps the price when added; orders and quotes re-price every cart line
against the source at creation (REPRICE_TOLERANCE_PERCENT), and a short stock is 409 out_of_stock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.catalog.configured import get_source
from tests.integration.conftest import ALICE

pytestmark = pytest.mark.usefixtures("shop")


def add(api, product_id="prd_tee", sku_id="sku_tee_black_m", quantity=2):
    result = api.post(
        "/cart/items", {"product_id": product_id, "sku_id": sku_id, "quantity": quantity}, user=ALICE
    )
    assert result.status == 201, result.body
    return result.body


def set_sku(product_id: str, sku_id: str, **changes) -> None:
    """The marketplace changes a SKU's price or stock (the test source is a plain dict of products)."""
    source = get_source()
    product = source.products[product_id]
    skus = tuple(replace(s, **changes) if s.sku_id == sku_id else s for s in product.skus)
    source.products[product_id] = replace(product, skus=skus)


def delist(product_id: str) -> None:
    del get_source().products[product_id]


def order_body(*cart_items):
    return {"cart_item_ids": [c["cart_item_id"] for c in cart_items], "payment_channel": "balance"}


def nothing_written(api, cart_size: int) -> None:
    assert api.get("/orders", user=ALICE).body["items"] == []
    assert len(api.get("/cart", user=ALICE).body["items"]) == cart_size


def test_the_cart_shows_the_price_when_added_next_to_the_current_price(api):
    item = add(api)
    assert item["unit_price_fen"] == item["added_unit_price_fen"] == 2500 and item["price_changed"] is False
    set_sku("prd_tee", "sku_tee_black_m", price_fen=2600)
    (line,) = api.get("/cart", user=ALICE).body["items"]
    assert line["added_unit_price_fen"] == 2500 and line["unit_price_fen"] == 2600
    assert line["price_changed"] is True and line["stock"] == 100
    assert api.get("/cart", user=ALICE).body["subtotal_fen"] == 5200  # the cart totals current prices


def test_a_change_within_the_tolerance_is_charged_and_shown_on_the_quote_and_the_order(api):
    item = add(api)
    set_sku("prd_tee", "sku_tee_black_m", price_fen=2550)  # +2.0% of 2500: the default tolerance
    quote = api.post("/orders/quote", order_body(item), user=ALICE)
    assert quote.status == 200, quote.body
    assert quote.body["charges"]["product_fen"] == 5100
    change = {"snapshot_unit_price_fen": 2500, "unit_price_fen": 2550, "change_fen": 50}
    assert quote.body["price_changes"] == [
        {"cart_item_id": item["cart_item_id"], "product_id": "prd_tee", "sku_id": "sku_tee_black_m", **change}
    ]
    created = api.post("/orders", order_body(item), user=ALICE)
    assert created.status == 201, created.body
    assert created.body["charges"]["product_fen"] == 5100
    assert created.body["items"][0]["unit_price_fen"] == 2550
    (shown,) = created.body["price_changes"]
    assert shown["item_id"] == created.body["items"][0]["item_id"] and shown["change_fen"] == 50
    fetched = api.get(f"/orders/{created.body['order_id']}", user=ALICE).body
    assert fetched["price_changes"] == created.body["price_changes"]


def test_an_unchanged_price_shows_no_price_change(api):
    item = add(api)
    created = api.post("/orders", order_body(item), user=ALICE)
    assert created.status == 201 and created.body["price_changes"] == []
    assert api.post("/orders/quote", order_body(add(api)), user=ALICE).body["price_changes"] == []


def test_a_larger_change_is_409_price_changed_with_the_new_prices_and_writes_nothing(api):
    tee, bank = add(api), add(api, "prd_bank", "sku_bank", 1)
    set_sku("prd_tee", "sku_tee_black_m", price_fen=2600)  # +4%
    set_sku("prd_bank", "sku_bank", price_fen=9000)  # -9%: a drop beyond the tolerance is asked too
    for path in ("/orders/quote", "/orders"):
        result = api.post(path, order_body(tee, bank), user=ALICE)
        assert result.status == 409, result.body
        error = result.body["error"]
        assert error["code"] == "price_changed" and "2%" in error["message"]
        assert error["details"] == [
            {
                "cart_item_id": tee["cart_item_id"],
                "product_id": "prd_tee",
                "sku_id": "sku_tee_black_m",
                "snapshot_unit_price_fen": 2500,
                "unit_price_fen": 2600,
                "change_fen": 100,
            },
            {
                "cart_item_id": bank["cart_item_id"],
                "product_id": "prd_bank",
                "sku_id": "sku_bank",
                "snapshot_unit_price_fen": 9900,
                "unit_price_fen": 9000,
                "change_fen": -900,
            },
        ]
    nothing_written(api, 2)


def test_accepting_the_new_price_lets_the_order_through_at_it(api):
    item = add(api)
    set_sku("prd_tee", "sku_tee_black_m", price_fen=3000)
    assert api.post("/orders", order_body(item), user=ALICE).status == 409
    accepted = api.patch(f"/cart/items/{item['cart_item_id']}", {"accept_price": True}, user=ALICE)
    assert accepted.status == 200 and accepted.body["added_unit_price_fen"] == 3000
    assert accepted.body["quantity"] == 2 and accepted.body["price_changed"] is False
    created = api.post("/orders", order_body(item), user=ALICE)
    assert created.status == 201 and created.body["charges"]["product_fen"] == 6000
    assert created.body["price_changes"] == []


def test_the_tolerance_is_configurable(api, monkeypatch):
    item = add(api)
    set_sku("prd_tee", "sku_tee_black_m", price_fen=2600)  # +4%
    monkeypatch.setenv("REPRICE_TOLERANCE_PERCENT", "5")
    assert api.post("/orders", order_body(item), user=ALICE).status == 201
    item = add(api)
    set_sku("prd_tee", "sku_tee_black_m", price_fen=2601)  # +0.04% of 2600
    monkeypatch.setenv("REPRICE_TOLERANCE_PERCENT", "0")
    result = api.post("/orders", order_body(item), user=ALICE)
    assert result.status == 409 and result.body["error"]["code"] == "price_changed"


def test_stock_below_the_quantity_is_409_out_of_stock_and_writes_nothing(api):
    tee, white = add(api, quantity=5), add(api, "prd_tee", "sku_tee_white_l", 3)
    set_sku("prd_tee", "sku_tee_black_m", stock=4)
    set_sku("prd_tee", "sku_tee_white_l", stock=0)
    for path in ("/orders/quote", "/orders"):
        result = api.post(path, order_body(tee, white), user=ALICE)
        assert result.status == 409, result.body
        assert result.body["error"]["code"] == "out_of_stock"
        assert [
            (d["cart_item_id"], d["quantity"], d["stock"], d["available"])
            for d in result.body["error"]["details"]
        ] == [
            (tee["cart_item_id"], 5, 4, True),
            (white["cart_item_id"], 3, 0, False),
        ]
    nothing_written(api, 2)
    direct = {
        "items": [{"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 5}],
        "payment_channel": "balance",
    }
    assert api.post("/orders", direct, user=ALICE).body["error"]["code"] == "out_of_stock"


def test_a_cart_line_whose_product_was_delisted_is_409_out_of_stock(api):
    item = add(api, "prd_bank", "sku_bank", 1)
    delist("prd_bank")
    result = api.post("/orders", order_body(item), user=ALICE)
    assert result.status == 409 and result.body["error"]["code"] == "out_of_stock"
    assert result.body["error"]["details"][0]["available"] is False
    (line,) = api.get("/cart", user=ALICE).body["items"]
    assert (
        line["available"] is False and line["unit_price_fen"] is None and line["added_unit_price_fen"] == 9900
    )
    nothing_written(api, 1)
