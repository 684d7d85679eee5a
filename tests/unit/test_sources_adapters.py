"""The 1688 and Taobao adapters against recorded answers, through their real HTTP layer: signed
requests, careful mapping, sold-out and delisted offers, errors, throttling, timeouts, the breaker."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clock
from chalicelib.catalog import remote
from chalicelib.catalog.alibaba import AlibabaClient, AlibabaSource, signature
from chalicelib.catalog.source import InvalidCursor, Sku
from chalicelib.catalog.taobao import OneboundClient, TaobaoSource
from tests.replay_server import ReplayServer
from tests.sources import ACCESS_TOKEN, APP_KEY, APP_SECRET, NS, api_path, fast_retries, fixture  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_retries")
DETAIL = "product.search.queryProductDetail"
FREIGHT = "product.freight.estimate"


@pytest.fixture
def server():
    with ReplayServer() as s:
        yield s


def alibaba(server) -> AlibabaSource:
    return AlibabaSource(AlibabaClient(APP_KEY, APP_SECRET, ACCESS_TOKEN, base_url=server.url + "/openapi"))


def taobao(server) -> TaobaoSource:
    return TaobaoSource(OneboundClient("t-key", "t-secret", base_url=server.url))


def calls(server, api: str) -> int:
    return sum(1 for r in server.requests if r.path == api_path(api))


# --- 1688 ----------------------------------------------------------------------------------


def test_1688_requests_are_signed_with_hmac_sha1_over_the_path_and_sorted_parameters(server):
    server.add("POST", api_path(DETAIL), 200, fixture("1688/detail_multi_sku.json"))
    server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight.json"))
    alibaba(server).fetch("623418795512")
    request = next(r for r in server.requests if r.path == api_path(DETAIL))
    params = dict(request.query)
    sent = params.pop("_aop_signature")
    assert params["access_token"] == ACCESS_TOKEN
    assert json.loads(params["offerDetailParam"]) == {"offerId": 623418795512, "country": "en"}
    path = f"{NS}/{DETAIL}/{APP_KEY}"
    message = path + "".join(k + params[k] for k in sorted(params))
    assert sent == hmac.new(APP_SECRET.encode(), message.encode(), hashlib.sha1).hexdigest().upper()
    assert sent == signature(path, params, APP_SECRET) and sent.isupper() and len(sent) == 40


def test_1688_signature_known_answer():
    # computed independently: HMAC-SHA1("secret", "param2/1/ns/api/1b1=2c=3") in uppercase hex
    expected = hmac.new(b"secret", b"param2/1/ns/api/1b1=2c=3", hashlib.sha1).hexdigest().upper()
    assert signature("param2/1/ns/api/1", {"c": "=3", "b": "1=2"}, "secret") == expected


def test_1688_multi_sku_offer_maps_translations_sku_prices_moq_grams_and_freight(server):
    server.add("POST", api_path(DETAIL), 200, fixture("1688/detail_multi_sku.json"))
    server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight.json"))
    product = alibaba(server).fetch("623418795512")
    assert product.product_id == "1688-623418795512" and product.source == "1688"
    assert product.source_url == "https://detail.1688.com/offer/623418795512.html"
    assert product.title == "2024 summer cotton short-sleeve T-shirt men loose crew neck"
    assert product.title_zh == "2024夏季新款纯棉短袖T恤男宽松圆领"
    assert product.shop.name == "义乌市优品服饰有限公司"
    assert product.skus == (
        Sku("5012345678901", {"Color": "Black", "Size": "XL"}, 1850, 1200),
        Sku("5012345678902", {"Color": "White", "Size": "XL"}, 1850, 0),
        # no SKU price: the price range of the smallest quantity (2 pieces: 19.80), the highest; the
        # untranslated attribute keeps its Chinese name and value
        Sku("5012345678903", {"颜色": "藏青色", "Size": "XXL"}, 1980, 300),
    )
    assert product.min_quantity == 2
    assert product.weight_g == 260  # grams per SKU (the heaviest), not the offer's 0.25 kg
    assert product.domestic_shipping_fen == 600
    assert product.images == (
        "https://cbu01.alicdn.com/img/ibank/O1CN01aaaa_!!2200000000001-0-cib.jpg",
        "https://cbu01.alicdn.com/img/ibank/O1CN01bbbb_!!2200000000001-0-cib.jpg",
    )


def test_1688_offer_priced_by_quantity_has_one_sku_at_the_moq_price_and_kg_weight(server):
    server.add("POST", api_path(DETAIL), 200, fixture("1688/detail_normal.json"))
    server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight_free.json"))
    product = alibaba(server).fetch("681234567890")
    assert product.skus == (Sku("681234567890", {}, 420, 8000),)
    assert product.min_quantity == 3  # the first range's startQuantity
    assert product.weight_g == 80  # 0.08 kg
    assert product.domestic_shipping_fen == 0  # free postage


def test_1688_sold_out_offer_is_a_product_with_no_stock(server):
    server.add("POST", api_path(DETAIL), 200, fixture("1688/detail_sold_out.json"))
    server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight.json"))
    product = alibaba(server).fetch("681234567890")
    assert [s.stock for s in product.skus] == [0]


def test_1688_delisted_and_unknown_offers_are_no_product(server):
    for name in ("1688/detail_delisted.json", "1688/detail_not_found.json"):
        server.add("POST", api_path(DETAIL), 200, fixture(name))
        assert alibaba(server).fetch("681234567890") is None
    assert calls(server, FREIGHT) == 0


def test_1688_freight_failure_falls_back_to_the_default_domestic_shipping(server, monkeypatch):
    monkeypatch.setenv("SOURCE_DEFAULT_DOMESTIC_SHIPPING_FEN", "1200")
    server.add("POST", api_path(DETAIL), 200, fixture("1688/detail_normal.json"))
    server.add("POST", api_path(FREIGHT), 400, fixture("1688/error_signature.json"))
    assert alibaba(server).fetch("681234567890").domestic_shipping_fen == 1200


def test_1688_gateway_error_is_503_without_retrying(server):
    server.add("POST", api_path(DETAIL), 400, fixture("1688/error_signature.json"))
    with pytest.raises(remote.SourceUnavailable) as raised:
        alibaba(server).fetch("681234567890")
    assert raised.value.status == 503 and raised.value.code == "source_unavailable"
    assert calls(server, DETAIL) == 1


def test_1688_throttling_is_retried_with_backoff_then_answers(server):
    throttled = fixture("1688/throttled.json")
    server.add(
        "POST", api_path(DETAIL), [429, 400, 200], [throttled, throttled, fixture("1688/detail_normal.json")]
    )
    server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight.json"))
    assert alibaba(server).fetch("681234567890").product_id == "1688-681234567890"
    assert calls(server, DETAIL) == 3


def test_1688_persistent_throttling_gives_up_after_the_bounded_attempts(server, monkeypatch):
    monkeypatch.setenv("SOURCE_MAX_ATTEMPTS", "3")
    server.add("POST", api_path(DETAIL), 400, fixture("1688/throttled.json"))
    with pytest.raises(remote.SourceUnavailable, match="throttled"):
        alibaba(server).fetch("681234567890")
    assert calls(server, DETAIL) == 3


def test_a_marketplace_that_times_out_is_503_within_the_deadline(server, monkeypatch):
    monkeypatch.setenv("SOURCE_DEADLINE_SECONDS", "1")
    server.add("POST", api_path(DETAIL), 200, fixture("1688/detail_normal.json"), delay=2)
    started = time.monotonic()
    with pytest.raises(remote.SourceUnavailable, match="timed out"):
        alibaba(server).fetch("681234567890")
    assert time.monotonic() - started < 1.5  # the deadline bounds attempts and waits together


def test_5xx_is_retried(server):
    server.add("POST", api_path(DETAIL), [502, 200], ["bad gateway", fixture("1688/detail_normal.json")])
    server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight.json"))
    assert alibaba(server).fetch("681234567890") is not None


def test_the_breaker_opens_after_repeated_failures_and_half_opens_later(server, monkeypatch):
    monkeypatch.setenv("SOURCE_BREAKER_FAILURES", "2")
    monkeypatch.setenv("SOURCE_BREAKER_OPEN_SECONDS", "30")
    monkeypatch.setenv("SOURCE_MAX_ATTEMPTS", "1")
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    clock.set_now(start)
    server.add("POST", api_path(DETAIL), 503, "down")
    for _ in range(2):
        with pytest.raises(remote.SourceUnavailable):
            alibaba(server).fetch("681234567890")
    assert calls(server, DETAIL) == 2
    with pytest.raises(remote.SourceUnavailable, match="not answering"):
        alibaba(server).fetch("681234567890")
    assert calls(server, DETAIL) == 2  # open: failed at once, the marketplace was not called
    clock.set_now(start + timedelta(seconds=31))
    server.add("POST", api_path(DETAIL), 200, fixture("1688/detail_normal.json"))
    server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight.json"))
    assert alibaba(server).fetch("681234567890") is not None  # half-open: one call let through
    assert remote.breaker("1688").failures == 0


def test_1688_keyword_search_maps_hits_and_pages(server):
    server.add("POST", api_path("product.search.keywordQuery"), 200, fixture("1688/keyword.json"))
    page = alibaba(server).search("cotton tshirt", 2, None)
    assert [s.summary() for s in page.items] == [
        {
            "product_id": "1688-623418795512",
            "source": "1688",
            "title": "Cotton short-sleeve T-shirt men",
            "price_fen": 1850,
            "image_url": "https://cbu01.alicdn.com/img/ibank/O1CN01aaaa.jpg",
            "shop_name": "1688 seller",
        },
        {
            "product_id": "1688-623418795599",
            "source": "1688",
            "title": "Loose T-shirt",
            "price_fen": 1200,
            "image_url": "https://cbu01.alicdn.com/img/ibank/O1CN01cccc.jpg",
            "shop_name": "1688 seller",
        },
    ]
    assert page.next_cursor == {"page": 2}
    sent = json.loads(server.requests[-1].query["offerQueryParam"])
    assert sent == {"keyword": "cotton tshirt", "beginPage": 1, "pageSize": 2, "country": "en"}
    for bad in ({"page": "2"}, {"page": 0}, {"after": "x"}):
        with pytest.raises(InvalidCursor):
            alibaba(server).search("x", 2, bad)


def test_1688_image_search_uploads_then_queries(server):
    server.add("POST", api_path("product.image.upload"), 200, fixture("1688/image_upload.json"))
    server.add("POST", api_path("product.search.imageQuery"), 200, fixture("1688/image_query.json"))
    hits = alibaba(server).image_search(b"\x89PNG fake bytes", 5)
    assert [h.product_id for h in hits] == ["1688-681234567890"]
    assert json.loads(server.requests[-1].query["offerQueryParam"])["imageId"] == "1145141919810"


# --- Taobao / Tmall (onebound item_get) ----------------------------------------------------

ITEM_GET = "/taobao/item_get/"


def test_taobao_item_maps_tmall_skus_prices_stock_weight_and_freight(server):
    server.add("GET", ITEM_GET, 200, fixture("taobao/item.json"))
    product = taobao(server).fetch("690125534409")
    assert server.requests[0].query == {
        "key": "t-key",
        "secret": "t-secret",
        "num_iid": "690125534409",
        "lang": "en",
    }
    assert product.product_id == "taobao-690125534409" and product.source == "tmall"
    assert product.source_url == "https://detail.tmall.com/item.htm?id=690125534409"
    assert product.title == "Power bank 10000mAh fast charging slim"
    assert product.title_zh == "充电宝10000毫安快充超薄"
    assert product.shop.name == "Xiaomi official flagship store"
    assert product.skus == (
        Sku("5012398761001", {"Color": "White"}, 8900, 1200),
        Sku("5012398761002", {"Color": "Black: matte"}, 9250, 0),  # ':' inside a value survives
    )
    assert product.weight_g == 300 and product.domestic_shipping_fen == 800
    assert product.images == (
        "https://img.alicdn.com/imgextra/i1/1714128138/O1CN01main.jpg",
        "https://img.alicdn.com/imgextra/i2/1714128138/O1CN01side.jpg",
    )


def test_taobao_sold_out_delisted_and_unknown(server):
    server.add("GET", ITEM_GET, 200, fixture("taobao/sold_out.json"))
    assert {s.stock for s in taobao(server).fetch("690125534409").skus} == {0}
    server.add("GET", ITEM_GET, 200, fixture("taobao/delisted.json"))
    assert taobao(server).fetch("690125534409") is None
    server.add("GET", ITEM_GET, 200, fixture("taobao/not_found.json"))
    assert taobao(server).fetch("690125534409") is None


def test_taobao_error_is_503_and_throttling_is_retried(server):
    server.add("GET", ITEM_GET, 200, fixture("taobao/error.json"))
    with pytest.raises(remote.SourceUnavailable):
        taobao(server).fetch("690125534409")
    assert len(server.requests) == 1
    server.add("GET", ITEM_GET, [200, 200], [fixture("taobao/throttled.json"), fixture("taobao/item.json")])
    assert taobao(server).fetch("690125534409") is not None
    assert len(server.requests) == 3


# --- every number a marketplace sends is bounded -----------------------------------------------------


def item_with(**changes) -> bytes:
    body = json.loads(fixture("taobao/item.json"))
    body["item"].update(changes)
    return json.dumps(body).encode()


def sku_with(**changes) -> bytes:
    body = json.loads(fixture("taobao/item.json"))
    for sku in body["item"]["skus"]["sku"]:
        sku.update(changes)
    return json.dumps(body).encode()


@pytest.mark.parametrize("price", ["1e30", 1e30, "Infinity", "NaN", "-5", "0.00", "0", 0, "abc", True])
def test_an_absurd_or_zero_sku_price_is_no_price(server, price):
    server.add("GET", ITEM_GET, 200, sku_with(price=price))
    product = taobao(server).fetch("690125534409")
    # the item's own price (89.00) stands in only when no SKU has a usable price... and then as one SKU
    assert product.skus == (Sku("690125534409", {}, 8900, 2300),)


@pytest.mark.parametrize("price", ["0.00", "1e30", "Infinity"])
def test_an_item_without_any_usable_price_is_no_product_never_a_zero_yuan_sku(server, price):
    body = json.loads(item_with(price=price))
    body["item"]["skus"] = {"sku": []}
    server.add("GET", ITEM_GET, 200, json.dumps(body).encode())
    assert taobao(server).fetch("690125534409") is None


@pytest.mark.parametrize("stock", ["Infinity", "1e20", 1e20, "-Infinity", "NaN", "12.5", [], {"n": 1}])
def test_an_absurd_stock_is_no_stock_never_an_overflow(server, stock):
    server.add("GET", ITEM_GET, 200, sku_with(quantity=stock))
    assert {s.stock for s in taobao(server).fetch("690125534409").skus} == {0}


def test_a_large_but_plausible_stock_is_kept(server):
    server.add("GET", ITEM_GET, 200, sku_with(quantity="9999999"))
    assert {s.stock for s in taobao(server).fetch("690125534409").skus} == {9_999_999}


def test_a_price_above_the_business_cap_is_no_price(server, monkeypatch):
    monkeypatch.setenv("SOURCE_MAX_PRICE_FEN", "5000")  # ¥50
    server.add("GET", ITEM_GET, 200, fixture("taobao/item.json"))
    assert taobao(server).fetch("690125534409") is None  # 89.00 and 92.50 both above
    monkeypatch.setenv("SOURCE_MAX_PRICE_FEN", "9000")
    assert [s.price_fen for s in taobao(server).fetch("690125534409").skus] == [8900]


@pytest.mark.parametrize(
    ("field", "value", "attribute", "expected"),
    [
        ("item_weight", "1e30", "weight_g", 0),
        ("item_weight", "Infinity", "weight_g", 0),
        ("min_num", "1e20", "min_quantity", 1),
        ("min_num", "Infinity", "min_quantity", 1),
        ("express_fee", "1e30", "domestic_shipping_fen", 1000),  # the default freight
    ],
)
def test_absurd_weights_quantities_and_freight_fall_back(server, field, value, attribute, expected):
    server.add("GET", ITEM_GET, 200, item_with(**{field: value}))
    assert getattr(taobao(server).fetch("690125534409"), attribute) == expected


def detail_with(**changes) -> bytes:
    body = json.loads(fixture("1688/detail_multi_sku.json"))
    offer = body["result"]["result"]
    for sku in offer["productSkuInfos"]:
        sku.update(changes)
    return json.dumps(body).encode()


@pytest.mark.parametrize("stock", ["Infinity", 1e20, "1e20"])
def test_1688_absurd_stock_is_no_stock(server, stock):
    server.add("POST", api_path(DETAIL), 200, detail_with(amountOnSale=stock))
    server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight.json"))
    assert {s.stock for s in alibaba(server).fetch("623418795512").skus} == {0}


def test_1688_absurd_prices_are_no_price(server):
    body = json.loads(fixture("1688/detail_normal.json"))
    for entry in body["result"]["result"]["productSaleInfo"]["priceRangeList"]:
        entry["price"] = "1e30"
    server.add("POST", api_path(DETAIL), 200, json.dumps(body).encode())
    server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight.json"))
    assert alibaba(server).fetch("681234567890") is None


def test_1688_keyword_hits_with_absurd_prices_are_left_out(server):
    body = json.loads(fixture("1688/keyword.json"))
    body["result"]["result"]["data"][0]["priceInfo"]["price"] = "Infinity"
    body["result"]["result"]["totalPage"] = "1e30"
    server.add("POST", api_path("product.search.keywordQuery"), 200, json.dumps(body).encode())
    page = alibaba(server).search("cotton tshirt", 2, None)
    assert [s.product_id for s in page.items] == ["1688-623418795599"] and page.next_cursor is None


# --- 1688 as documented (tests/fixtures/sources/SOURCES.md) ------------------------------------------


def test_1688_skus_priced_by_quantity_take_the_range_price_never_the_deprecated_consign_price(server):
    server.add("POST", api_path(DETAIL), 200, fixture("1688/detail_skus_by_quantity.json"))
    server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight.json"))
    product = alibaba(server).fetch("702345678901")
    # quoteType 2: every SKU at the smallest quantity's range price (2 pieces: 19.80), not 21.00
    assert [(s.sku_id, s.price_fen, s.stock) for s in product.skus] == [
        ("5023456789011", 1980, 500),
        ("5023456789012", 1980, 0),
    ]
    assert product.min_quantity == 2


def test_1688_a_sku_without_its_own_price_takes_the_range_price_not_consign_price(server):
    body = json.loads(fixture("1688/detail_multi_sku.json"))
    body["result"]["result"]["productSkuInfos"][2]["consignPrice"] = "25.00"  # documented as deprecated
    server.add("POST", api_path(DETAIL), 200, json.dumps(body).encode())
    server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight.json"))
    assert alibaba(server).fetch("623418795512").skus[2].price_fen == 1980


def sent(server, api: str, param: str) -> dict:
    request = next(r for r in reversed(server.requests) if r.path == api_path(api))
    return json.loads(request.query[param])


def test_1688_freight_is_asked_for_the_warehouse_district_with_the_required_sku_list(server, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_DISTRICT_CODE", "330782")
    server.add("POST", api_path(DETAIL), 200, fixture("1688/detail_multi_sku.json"))
    server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight.json"))
    alibaba(server).fetch("623418795512")
    assert sent(server, FREIGHT, "productFreightQueryParamsNew") == {
        "offerId": 623418795512,
        "toProvinceCode": "330000",
        "toCityCode": "330700",
        "toCountryCode": "330782",  # the district (滨江区 330108 in the documentation's example)
        "totalNum": 1,
        "logisticsSkuNumModels": [{"skuId": "5012345678901", "number": 1}],
    }


def test_1688_freight_for_an_offer_without_skus_still_sends_the_sku_list(server):
    server.add("POST", api_path(DETAIL), 200, fixture("1688/detail_normal.json"))
    server.add("POST", api_path(FREIGHT), 200, fixture("1688/freight.json"))
    product = alibaba(server).fetch("681234567890")
    query = sent(server, FREIGHT, "productFreightQueryParamsNew")
    assert query["logisticsSkuNumModels"] == [] and query["toCountryCode"] == "330782"
    assert product.domestic_shipping_fen == 600  # the estimate, not the flat default


def test_1688_image_search_sends_the_documented_offer_query_param(server):
    server.add("POST", api_path("product.image.upload"), 200, fixture("1688/image_upload.json"))
    server.add("POST", api_path("product.search.imageQuery"), 200, fixture("1688/image_query.json"))
    alibaba(server).image_search(b"\x89PNG fake bytes", 5)
    request = server.requests[-1]
    assert "imageParam" not in request.query
    assert sent(server, "product.search.imageQuery", "offerQueryParam") == {
        "imageId": "1145141919810",
        "beginPage": 1,
        "pageSize": 5,
        "country": "en",
    }


def test_1688_an_image_over_the_upload_limit_is_re_encoded_to_fit(server):
    import base64
    import io
    import random

    from PIL import Image

    from chalicelib.catalog.alibaba import UPLOAD_MAX_BYTES

    rng = random.Random(7)
    noise = Image.frombytes("RGB", (1100, 1100), bytes(rng.getrandbits(8) for _ in range(1100 * 1100 * 3)))
    raw = io.BytesIO()
    noise.save(raw, "PNG")
    image = raw.getvalue()
    assert UPLOAD_MAX_BYTES < len(image) <= 4 * 1024 * 1024  # what the route accepts
    server.add("POST", api_path("product.image.upload"), 200, fixture("1688/image_upload.json"))
    server.add("POST", api_path("product.search.imageQuery"), 200, fixture("1688/image_query.json"))
    alibaba(server).image_search(image, 5)
    uploaded = base64.b64decode(sent(server, "product.image.upload", "uploadImageParam")["imageBase64"])
    assert len(uploaded) <= UPLOAD_MAX_BYTES
    with Image.open(io.BytesIO(uploaded)) as img:
        assert img.format == "JPEG" and max(img.size) <= 1600


def test_1688_a_small_image_is_uploaded_unchanged(server):
    server.add("POST", api_path("product.image.upload"), 200, fixture("1688/image_upload.json"))
    server.add("POST", api_path("product.search.imageQuery"), 200, fixture("1688/image_query.json"))
    alibaba(server).image_search(b"\x89PNG small", 5)
    import base64

    uploaded = sent(server, "product.image.upload", "uploadImageParam")["imageBase64"]
    assert base64.b64decode(uploaded) == b"\x89PNG small"


# --- onebound freight and refusals as real answers carry them (tests/fixtures/sources/SOURCES.md) ---


@pytest.mark.parametrize(
    ("fields", "expected_fen"),
    [
        ({"post_fee": 0, "express_fee": None, "ems_fee": "", "freight": "快递: 免运费"}, 0),
        ({"post_fee": "", "express_fee": "", "freight": "快递: 免运费"}, 0),
        ({"post_fee": "", "express_fee": "", "freight": "快递: 8.00"}, 800),
        ({"post_fee": "", "express_fee": "12.00"}, 1200),
        ({"post_fee": 0, "express_fee": None}, 0),
        ({"post_fee": "", "express_fee": ""}, 1000),  # nothing said: the default
    ],
)
def test_onebound_freight_reads_the_text_field_and_free_shipping(server, fields, expected_fen):
    server.add("GET", ITEM_GET, 200, item_with(**fields))
    assert taobao(server).fetch("690125534409").domestic_shipping_fen == expected_fen


def test_an_onebound_refusal_is_503_without_retrying_or_counting_towards_the_breaker(server, monkeypatch):
    monkeypatch.setenv("SOURCE_BREAKER_FAILURES", "2")
    server.add("GET", ITEM_GET, 200, fixture("taobao/error.json"))  # 4005: the key
    for _ in range(4):
        with pytest.raises(remote.SourceUnavailable):
            taobao(server).fetch("690125534409")
    assert len(server.requests) == 4 and remote.breaker("taobao").failures == 0


def test_an_onebound_outage_still_opens_the_breaker(server, monkeypatch):
    monkeypatch.setenv("SOURCE_BREAKER_FAILURES", "2")
    monkeypatch.setenv("SOURCE_MAX_ATTEMPTS", "1")
    server.add("GET", ITEM_GET, 502, "bad gateway")
    for _ in range(3):
        with pytest.raises(remote.SourceUnavailable):
            taobao(server).fetch("690125534409")
    assert len(server.requests) == 2 and not remote.breaker("taobao").allows()
