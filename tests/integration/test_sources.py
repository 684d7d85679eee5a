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


# --- the marketplace quota: caches, per-client and total budgets, the breaker kept for everyone -------

KEYWORD = "product.search.keywordQuery"


def from_ip(monkeypatch, ip: str) -> None:
    """The next requests come from `ip` (API Gateway's identity.sourceIp)."""
    import chalice.local

    monkeypatch.setattr(chalice.local.LambdaEventConverter, "LOCAL_SOURCE_IP", ip)


def keyword_calls(server) -> int:
    return sum(1 for r in server.requests if r.path == api_path(KEYWORD))


def test_the_same_search_by_many_visitors_costs_one_marketplace_call(api, market, monkeypatch):
    market.add("POST", api_path(KEYWORD), 200, fixture("1688/keyword.json"))
    for n in range(40):
        from_ip(monkeypatch, f"203.0.113.{n}")
        assert api.get("/products/search?q=cotton+tshirt&limit=2").status == 200
    assert keyword_calls(market) == 1
    clock.set_now(START + timedelta(minutes=11))  # SEARCH_CACHE_MINUTES (10) later: asked again
    assert api.get("/products/search?q=cotton+tshirt&limit=2").status == 200
    assert keyword_calls(market) == 2


def test_the_same_image_searched_twice_costs_one_marketplace_call(api, market):
    import base64

    from tests.images import bomb_png

    market.add("POST", api_path("product.image.upload"), 200, fixture("1688/image_upload.json"))
    market.add("POST", api_path("product.search.imageQuery"), 200, fixture("1688/image_query.json"))
    image = base64.b64encode(bomb_png(16, 16)).decode()
    for _ in range(3):
        found = api.post("/products/image-search", {"image_base64": image})
        assert found.status == 200 and found.body["items"][0]["product_id"] == "1688-681234567890"
    assert sum(1 for r in market.requests if r.path == api_path("product.image.upload")) == 1


def test_one_client_over_its_budget_gets_429_and_nobody_else_is_affected(api, market, monkeypatch):
    monkeypatch.setenv("SOURCE_CALLS_PER_CLIENT_PER_HOUR", "5")
    market.add("POST", api_path(KEYWORD), 200, fixture("1688/keyword.json"))
    from_ip(monkeypatch, "198.51.100.7")
    answers = [api.get(f"/products/search?q=word{n}").status for n in range(40)]
    answers += [
        api.post("/products/resolve", {"url": f"https://detail.1688.com/offer/6234187955{n:02d}.html"}).status
        for n in range(40)
    ]
    assert answers.count(200) == 5 and answers.count(429) == 75
    assert keyword_calls(market) + detail_calls(market) == 5  # 80 requests, 5 marketplace calls
    refused = api.get("/products/search?q=word99")
    assert refused.body["error"]["code"] == "too_many_requests"
    assert 0 < refused.body["error"]["details"][0]["retry_after_seconds"] <= 3600
    assert api.get("/products/search?q=word0").status == 200  # what was looked up is still served
    from chalicelib.catalog import remote

    assert remote.breaker("1688").allows() and remote.breaker("1688").failures == 0
    from_ip(monkeypatch, "192.0.2.44")  # another visitor
    assert api.get("/products/search?q=word77").status == 200
    clock.set_now(START + timedelta(hours=1))  # the next hour: a new budget
    from_ip(monkeypatch, "198.51.100.7")
    assert api.get("/products/search?q=word50").status == 200


def test_the_total_budget_bounds_every_client_together(api, market, monkeypatch):
    monkeypatch.setenv("SOURCE_CALLS_PER_HOUR", "3")
    market.add("POST", api_path(KEYWORD), 200, fixture("1688/keyword.json"))
    statuses = []
    for n in range(6):
        from_ip(monkeypatch, f"203.0.113.{n}")
        statuses.append(api.get(f"/products/search?q=word{n}").status)
    assert statuses == [200, 200, 200, 429, 429, 429] and keyword_calls(market) == 3


def test_over_budget_a_cached_product_is_served_stale_rather_than_refused(api, market, monkeypatch):
    assert api.post("/products/resolve", {"url": LINK_1688}).status == 200
    monkeypatch.setenv("SOURCE_CALLS_PER_CLIENT_PER_HOUR", "0")
    clock.set_now(START + timedelta(hours=2))  # stale
    assert api.get("/products/1688-623418795512").status == 200
    assert detail_calls(market) == 1


def test_keyword_hits_show_the_shop_name_of_an_offer_already_looked_up(api, market):
    assert api.post("/products/resolve", {"url": LINK_1688}).status == 200
    market.add("POST", api_path(KEYWORD), 200, fixture("1688/keyword.json"))
    page = api.get("/products/search?q=cotton+tshirt&limit=2")
    shops = {i["product_id"]: i["shop_name"] for i in page.body["items"]}
    assert shops["1688-623418795512"] == "义乌市优品服饰有限公司"  # from its detail (companyName)
    assert shops["1688-623418795599"] == "1688 seller"  # never looked up: the keyword hit has no shop


def test_a_tmall_links_sku_is_the_selected_variant(api, market):
    share = (
        "【天猫】https://detail.tmall.com/item.htm?id=690125534409&skuId=5012398761002 "
        "「充电宝」点击链接直接打开"
    )
    result = api.post("/products/resolve", {"url": share})
    assert result.status == 200 and result.body["selected_sku_id"] == "5012398761002"
    unknown = api.post("/products/resolve", {"url": share.replace("5012398761002", "5012398769999")})
    assert unknown.body["selected_sku_id"] is None  # not one of the item's SKUs: the customer picks


def test_onebound_refusals_do_not_open_the_breaker_for_everyone(api, market, monkeypatch):
    from chalicelib.catalog import remote

    monkeypatch.setenv("SOURCE_BREAKER_FAILURES", "2")
    item = json.loads(fixture("taobao/error.json"))
    item.update({"error": "item-error", "error_code": "5003", "reason": "该商品数据异常 (item data error)"})
    market.add("GET", "/taobao/item_get/", 200, json.dumps(item))
    for n in range(5):
        assert api.get(f"/products/taobao-69012553440{n}").status == 503
    assert sum(1 for r in market.requests if r.path == "/taobao/item_get/") == 5  # each one asked
    assert remote.breaker("taobao").allows() and remote.breaker("taobao").failures == 0
    market.add("GET", "/taobao/item_get/", 200, fixture("taobao/item.json"))
    assert api.get("/products/taobao-690125534409").status == 200


# --- share texts whose only link is a short link ----------------------------------------------------

TAOBAO_SHORT_SHARE = (
    "【淘宝】限时特惠 https://m.tb.cn/h.gW3kLpQ?tk=Ab12Cd3 「充电宝10000毫安快充」点击链接直接打开"
)
# m.tb.cn / e.tb.cn answer a page whose script holds the target (tests/fixtures/sources/SOURCES.md)
TAOBAO_SHORT_PAGE = (
    "<html><head><title>淘宝</title></head><body><script>"
    "var url = 'https://item.taobao.com/item.htm?ut_sk=1.x&id=690125534409&sourceType=item&skuId=5012398761001';"
    "location.replace(url);</script></body></html>"
)


@pytest.fixture
def short_links(market, monkeypatch):
    monkeypatch.setenv("SHORT_LINK_BASE_URL", market.url + "/short")
    return market


def test_a_taobao_share_text_with_only_a_short_link_resolves_through_the_adapter(api, short_links):
    short_links.add("GET", "/short/m.tb.cn/h.gW3kLpQ", 200, TAOBAO_SHORT_PAGE, content_type="text/html")
    result = api.post("/products/resolve", {"url": TAOBAO_SHORT_SHARE})
    assert result.status == 200, result.body
    assert (
        result.body["product_id"] == "taobao-690125534409"
        and result.body["selected_sku_id"] == "5012398761001"
    )
    (opened,) = [r for r in short_links.requests if r.path.startswith("/short/")]
    assert opened.query == {"tk": "Ab12Cd3"}  # the short link as shared, asked once


def test_a_1688_short_link_is_read_from_its_redirect_without_fetching_the_target(api, short_links):
    target = "https://m.1688.com/offer/623418795512.html?sk=share"
    short_links.add(
        "GET",
        "/short/qr.1688.com/s/xYz12AbC",
        302,
        "",
        content_type="text/html",
        headers={"Location": target},
    )
    answered = api.post("/products/resolve", {"url": "【1688】https://qr.1688.com/s/xYz12AbC 纯棉T恤"})
    assert answered.status == 200, answered.body
    assert answered.body["product_id"] == "1688-623418795512"
    assert not [r for r in short_links.requests if "offer" in r.path]  # the target was never requested


@pytest.mark.parametrize(
    ("status", "page"),
    [
        (404, "<html>链接已失效</html>"),  # an expired share link
        (200, "<html>no product here https://www.taobao.com/</html>"),
        (
            200,
            "<html>var url = 'https://detail.1688.com/offer/623418795512.html';</html>",
        ),  # another marketplace
    ],
)
def test_a_short_link_that_cannot_be_resolved_keeps_the_clear_400(api, short_links, status, page):
    short_links.add("GET", "/short/m.tb.cn/h.gW3kLpQ", status, page, content_type="text/html")
    result = api.post("/products/resolve", {"url": TAOBAO_SHORT_SHARE})
    assert result.status == 400 and result.body["error"]["code"] == "unsupported_link"
    assert "short share link (m.tb.cn)" in result.body["error"]["message"]


def test_a_short_link_host_that_times_out_keeps_the_clear_400_within_the_deadline(
    api, short_links, monkeypatch
):
    import time

    monkeypatch.setenv("SOURCE_DEADLINE_SECONDS", "1")
    short_links.add(
        "GET", "/short/m.tb.cn/h.gW3kLpQ", 200, TAOBAO_SHORT_PAGE, content_type="text/html", delay=2
    )
    started = time.monotonic()
    result = api.post("/products/resolve", {"url": TAOBAO_SHORT_SHARE})
    assert result.status == 400 and result.body["error"]["code"] == "unsupported_link"
    assert time.monotonic() - started < 2


def test_short_links_spend_the_quota(api, short_links, monkeypatch):
    monkeypatch.setenv("SOURCE_CALLS_PER_CLIENT_PER_HOUR", "0")
    short_links.add("GET", "/short/m.tb.cn/h.gW3kLpQ", 200, TAOBAO_SHORT_PAGE, content_type="text/html")
    result = api.post("/products/resolve", {"url": TAOBAO_SHORT_SHARE})
    assert result.status == 429
    assert not [r for r in short_links.requests if r.path.startswith("/short/")]


def test_with_the_demo_catalog_a_short_link_is_refused_without_any_request(api, short_links, monkeypatch):
    monkeypatch.setenv("PRODUCT_SOURCE_TAOBAO", "demo")
    result = api.post("/products/resolve", {"url": TAOBAO_SHORT_SHARE})
    assert result.status == 400 and "short share link" in result.body["error"]["message"]
    assert short_links.requests == []
