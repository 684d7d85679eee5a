"""Real product sources behind the API: a configuration switch per marketplace, the DynamoDB product
cache (one marketplace call for many pastes; stale copies while the marketplace is down), 503
source_unavailable, and adapter products in the cart and orders."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clock
from chalicelib.catalog.configured import set_source
from tests.integration.conftest import ALICE
from tests.replay_server import ReplayServer
from tests.sources import api_path, fast_retries, fixture, switch_on  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_retries")
DETAIL = "product.search.queryProductDetail"
FREIGHT = "product.freight.estimate"
LINK_1688 = "https://detail.1688.com/offer/623418795512.html?spm=a26352.13672862&tracelog=share"
TAOBAO_SHARE = "【天猫】https://detail.tmall.com/item.htm?id=690125534409&skuId=1 「充电宝」点击链接直接打开"
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def market(api, monkeypatch):
    """The replay server as 1688 and onebound, both switched on (with credentials)."""
    with ReplayServer() as server:
        server.add("POST", api_path(DETAIL), 200, fixture("1688/detail_multi_sku.json"))
        server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight.json"))
        server.add("GET", "/taobao/item_get/", 200, fixture("taobao/item.json"))
        switch_on(monkeypatch, server.url)
        set_source(None)
        clock.set_now(START)
        yield server
        set_source(None)


def detail_calls(server) -> int:
    return sum(1 for r in server.requests if r.path == api_path(DETAIL))


def test_a_pasted_1688_link_resolves_through_the_adapter(api, market):
    result = api.post("/products/resolve", {"url": LINK_1688})
    assert result.status == 200, result.body
    product = result.body
    assert product["product_id"] == "1688-623418795512" and product["source"] == "1688"
    assert product["title"].startswith("2024 summer cotton") and product["title_zh"].startswith("2024夏季")
    assert [s["price_fen"] for s in product["skus"]] == [1850, 1850, 1980]
    assert product["min_quantity"] == 2 and product["weight_g"] == 260
    assert product["domestic_shipping_fen"] == 600


def test_taobao_share_text_resolves_through_onebound(api, market):
    result = api.post("/products/resolve", {"url": TAOBAO_SHARE})
    assert result.status == 200, result.body
    assert result.body["product_id"] == "taobao-690125534409" and result.body["source"] == "tmall"


def test_the_same_link_pasted_by_many_customers_costs_one_marketplace_call(api, market):
    for _ in range(5):
        assert api.post("/products/resolve", {"url": LINK_1688}).status == 200
    assert api.get("/products/1688-623418795512").status == 200
    assert detail_calls(market) == 1
    clock.set_now(START + timedelta(minutes=11))  # PRODUCT_CACHE_MINUTES (10) later: asked again
    assert api.get("/products/1688-623418795512").status == 200
    assert detail_calls(market) == 2


def test_a_cached_product_is_served_while_the_marketplace_is_down(api, market):
    assert api.post("/products/resolve", {"url": LINK_1688}).status == 200
    market.add("POST", api_path(DETAIL), 503, "down")
    clock.set_now(START + timedelta(hours=2))  # stale, within PRODUCT_CACHE_STALE_HOURS
    stale = api.get("/products/1688-623418795512")
    assert stale.status == 200 and stale.body["skus"][0]["price_fen"] == 1850
    clock.set_now(START + timedelta(hours=25))  # beyond: nothing to serve
    gone = api.get("/products/1688-623418795512")
    assert gone.status == 503 and gone.body["error"]["code"] == "source_unavailable"


def test_a_marketplace_that_throttles_without_a_cached_copy_is_503_source_unavailable(api, market):
    market.add("POST", api_path(DETAIL), 429, fixture("1688/throttled.json"))
    result = api.post("/products/resolve", {"url": LINK_1688})
    assert result.status == 503 and result.body["error"]["code"] == "source_unavailable"
    assert "1688" in result.body["error"]["message"]


def test_a_delisted_offer_is_404_and_not_asked_again_while_fresh(api, market):
    market.add("POST", api_path(DETAIL), 200, fixture("1688/detail_delisted.json"))
    for _ in range(2):
        assert api.post("/products/resolve", {"url": LINK_1688}).status == 404
    assert detail_calls(market) == 1


def test_a_source_switched_on_without_credentials_is_503_and_never_called(api, market, monkeypatch):
    monkeypatch.delenv("ALIBABA_APP_SECRET")
    result = api.post("/products/resolve", {"url": LINK_1688})
    assert result.status == 503 and result.body["error"]["code"] == "source_unavailable"
    assert "credentials" in result.body["error"]["message"]
    assert market.requests == []


def test_search_and_image_search_go_to_the_1688_adapter(api, market):
    from tests.images import bomb_png

    market.add("POST", api_path("product.search.keywordQuery"), 200, fixture("1688/keyword.json"))
    market.add("POST", api_path("product.image.upload"), 200, fixture("1688/image_upload.json"))
    market.add("POST", api_path("product.search.imageQuery"), 200, fixture("1688/image_query.json"))
    page = api.get("/products/search?q=cotton+tshirt&limit=2")
    assert page.status == 200, page.body
    assert [i["product_id"] for i in page.body["items"]] == ["1688-623418795512", "1688-623418795599"]
    assert page.body["next_cursor"]
    following = api.get(f"/products/search?q=cotton+tshirt&limit=2&cursor={page.body['next_cursor']}")
    assert following.status == 200
    import base64

    image = base64.b64encode(bomb_png(16, 16)).decode()  # a small, valid PNG
    found = api.post("/products/image-search", {"image_base64": image})
    assert found.status == 200, found.body
    assert [i["product_id"] for i in found.body["items"]] == ["1688-681234567890"]


def test_weidian_and_demo_products_stay_on_the_demo_catalog(api, market):
    result = api.post("/products/resolve", {"url": "https://weidian.com/item.html?itemID=4419682733"})
    assert result.status == 404  # not in the demo catalog; never sent to a marketplace
    assert market.requests == []


def test_an_adapter_product_goes_into_the_cart_and_an_order_at_its_price(api, market):
    added = api.post(
        "/cart/items",
        {"product_id": "1688-623418795512", "sku_id": "5012345678901", "quantity": 2},
        user=ALICE,
    )
    assert added.status == 201, added.body
    assert added.body["unit_price_fen"] == 1850 and added.body["added_unit_price_fen"] == 1850
    created = api.post(
        "/orders", {"cart_item_ids": [added.body["cart_item_id"]], "payment_channel": "balance"}, user=ALICE
    )
    assert created.status == 201, created.body
    assert created.body["charges"]["product_fen"] == 3700
    assert created.body["charges"]["domestic_shipping_fen"] == 600
    assert detail_calls(market) == 1  # the cart and the order used the cached detail


def test_an_order_re_prices_against_the_marketplace_not_the_cached_copy(api, market):
    added = api.post(
        "/cart/items",
        {"product_id": "1688-623418795512", "sku_id": "5012345678901", "quantity": 2},
        user=ALICE,
    )
    assert added.status == 201 and added.body["added_unit_price_fen"] == 1850
    offer = json.loads(fixture("1688/detail_multi_sku.json"))
    offer["result"]["result"]["productSkuInfos"][0]["price"] = "19.90"  # +7.6%: the shop raised it
    market.add("POST", api_path(DETAIL), 200, json.dumps(offer))
    clock.set_now(START + timedelta(minutes=2))  # the cached copy is fresh for browsing, too old to charge
    assert api.get("/cart", user=ALICE).body["items"][0]["unit_price_fen"] == 1850  # browsing: the cache
    body = {"cart_item_ids": [added.body["cart_item_id"]], "payment_channel": "balance"}
    result = api.post("/orders", body, user=ALICE)
    assert result.status == 409 and result.body["error"]["code"] == "price_changed"
    assert result.body["error"]["details"][0]["unit_price_fen"] == 1990
    assert detail_calls(market) == 2
    assert api.get("/orders", user=ALICE).body["items"] == []


def test_absurd_marketplace_numbers_are_answered_and_cached_never_a_500(api, market):
    item = json.loads(fixture("taobao/item.json"))
    for sku in item["item"]["skus"]["sku"]:
        sku["price"], sku["quantity"] = "1e30", "Infinity"
    item["item"]["price"], item["item"]["num"] = "1e30", "1e20"
    market.add("GET", "/taobao/item_get/", 200, json.dumps(item))
    for _ in range(3):
        answered = api.get("/products/taobao-690125534409")
        assert answered.status == 404, answered.body  # no usable price: no product, never a 500
    assert sum(1 for r in market.requests if r.path == "/taobao/item_get/") == 1  # the answer was cached
    item["item"]["price"] = "0.00"  # a ¥0 price is no price either
    market.add("GET", "/taobao/item_get/", 200, json.dumps(item))
    clock.set_now(START + timedelta(minutes=11))
    assert api.get("/products/taobao-690125534409").status == 404
