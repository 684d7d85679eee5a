"""The catalog over HTTP on in-process moto: keyword search, pasted links, image search, detail."""

from __future__ import annotations

import base64
import io
import json
from decimal import Decimal
from urllib.parse import quote

import pytest
from PIL import Image
from pynamodb.connection import Connection, TableConnection

from chalicelib import aws, clock, currency
from chalicelib.catalog import find_sku, get_product
from chalicelib.catalog.dynamo_source import DynamoProductSource
from chalicelib.catalog.text import index_terms
from chalicelib.models.catalog import ProductModel, ProductWordModel
from chalicelib.models.currency import ExchangeRate
from infra.local import demo_catalog as demo
from tests.integration.conftest import ALICE


@pytest.fixture(autouse=True)
def no_scans(monkeypatch):
    """The catalog must never Scan: any scan through PynamoDB fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the catalog must not Scan")

    monkeypatch.setattr(Connection, "scan", refuse)
    monkeypatch.setattr(TableConnection, "scan", refuse)


@pytest.fixture
def catalog(api) -> dict[str, dict]:
    demo.seed(api.stack)
    return {r["product_id"]: r for r in demo.products()}


def by_title(catalog: dict, title: str) -> dict:
    return next(r for r in catalog.values() if r["title"] == title)


def ids(result) -> list[str]:
    return [item["product_id"] for item in result.json["items"]]


def image_bytes(api, product_id: str, n: int = 0) -> bytes:
    """The bytes behind images[n] of a product, read from the bucket its URL points at."""
    url = api.get(f"/products/{product_id}").json["images"][n]
    key = url.split(".amazonaws.com/", 1)[1]
    return aws.client("s3").get_object(Bucket=api.stack["bucket"], Key=key)["Body"].read()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- keyword search ----------------------------------------------------------------------------


def test_search_is_public_and_has_the_list_shape(api, catalog):
    result = api.get("/products/search?q=earbuds")
    assert result.status == 200
    assert set(result.json) == {"items", "next_cursor"}
    item = result.json["items"][0]
    assert set(item) == {"product_id", "source", "title", "price_fen", "image_url", "shop_name"}
    record = catalog[item["product_id"]]
    assert item["title"] == "Wireless Bluetooth Earbuds with Charging Case"
    assert item["price_fen"] == min(s["price_fen"] for s in record["skus"])
    assert type(item["price_fen"]) is int
    assert item["image_url"].endswith(f"/catalog/{record['product_id']}/0.jpg")
    assert item["shop_name"] == "酷能数码旗舰店"
    assert item["source"] == "tmall"


def test_search_hits_are_the_products_summaries_read_without_their_skus(api, catalog, monkeypatch):
    """A search page reads only what a list shows (dynamo_source.SUMMARY_ATTRIBUTES); every hit is the
    summary the whole product gives (its lowest SKU price, its first picture)."""
    from chalicelib import db

    sent = []
    batch_read = db._batch_read
    monkeypatch.setattr(db, "_batch_read", lambda *a: sent.append(a) or batch_read(*a))
    source = DynamoProductSource()
    wanted = list(catalog)
    whole = [p.summary() for p in source.get_many(wanted)]
    assert [s.summary() for s in source.summaries(wanted)] == whole and len(whole) == len(catalog)
    assert [table for *_, projected in sent for table in projected] == [ProductModel.Meta.table_name]
    by_id = {s["product_id"]: s for s in whole}
    listed = api.get("/products/search?q=apparel&limit=100").json["items"]
    assert listed and all(item == by_id[item["product_id"]] for item in listed)
    now = clock.now()
    currency.store(
        {"USD": Decimal("0.14")}, source="ecb", rate_date=now.date().isoformat(), rate_at=clock.iso(now)
    )
    sent.clear()  # the rate asked for rides on the same request, read whole
    converted = api.get("/products/search?q=apparel&limit=100&currency=USD").json["items"]
    assert [{k: v for k, v in item.items() if k != "price_minor"} for item in converted] == listed
    assert len(sent) == 1 and set(sent[0][2]) == {ProductModel.Meta.table_name}
    assert {model for model, _ in sent[0][0]} == {ProductModel, ExchangeRate}


def test_an_anonymous_request_without_a_currency_is_answered_without_one(api, catalog, monkeypatch):
    """Neither ?currency= nor a caller's preference: nothing to convert with, so web.route does not even
    load chalicelib.currency (a cold start's search); the answers are the plain CNY ones."""

    def refuse(*args, **kwargs):
        raise AssertionError("no currency was asked for")

    monkeypatch.setattr(currency, "Pending", refuse)
    found = api.get("/products/search?q=shirt")
    assert found.status == 200 and found.json["items"] and "display_currency" not in found.json
    assert api.get(f"/products/{next(iter(catalog))}").status == 200


def test_keyword_hits_are_case_insensitive(api, catalog):
    earbuds = by_title(catalog, "Wireless Bluetooth Earbuds with Charging Case")
    for query in ("earbuds", "EARBUDS", "Earbud", "  bluetooth EarBuds  ", "ｅａｒｂｕｄｓ", "蓝牙耳机"):
        result = api.get(f"/products/search?q={quote(query)}")
        assert result.status == 200
        assert earbuds["product_id"] in ids(result), query


def test_a_word_taken_from_any_title_finds_that_product(api, catalog):
    for n, record in enumerate(catalog.values()):
        words = [w for w in record["title"].split() if index_terms(w)]  # not stop words ("with")
        word = words[n % len(words)]  # a different position in each title
        for variant in (word, word.upper()):
            result = api.get(f"/products/search?limit=100&q={quote(variant)}")
            assert record["product_id"] in ids(result), (variant, record["title"])


def test_all_query_words_must_match(api, catalog):
    speaker = by_title(catalog, "Portable Waterproof Bluetooth Speaker")
    earbuds = by_title(catalog, "Wireless Bluetooth Earbuds with Charging Case")
    assert set(ids(api.get("/products/search?q=bluetooth"))) == {speaker["product_id"], earbuds["product_id"]}
    assert ids(api.get("/products/search?q=bluetooth%20speaker")) == [speaker["product_id"]]
    assert ids(api.get("/products/search?q=waterproof")) == sorted(
        [speaker["product_id"], by_title(catalog, "Waterproof Hiking Backpack 40L")["product_id"]]
    )
    assert ids(api.get("/products/search?q=bluetooth%20backpack")) == []


def test_chinese_keywords(api, catalog):
    bank = by_title(catalog, "20000mAh Power Bank USB-C Fast Charging")
    assert ids(api.get(f"/products/search?q={quote('充电宝')}")) == [bank["product_id"]]
    tee = by_title(catalog, "Women's Oversized Cotton T-Shirt")
    assert tee["product_id"] in ids(api.get(f"/products/search?q={quote('纯棉T恤')}"))


def test_keyword_miss_is_an_empty_list(api, catalog):
    for query in ("zzqxv", "bluetooth%20zzqxv", "the", "%21%21%21"):
        result = api.get(f"/products/search?q={query}")
        assert result.status == 200
        assert result.json == {"items": [], "next_cursor": None}, query


def test_no_query_gives_featured_products_in_rank_order(api, catalog):
    featured = sorted(
        (r for r in catalog.values() if r["featured_rank"] is not None), key=lambda r: r["featured_rank"]
    )
    for path in ("/products/search", "/products/search?q=", "/products/search?q=%20%20"):
        result = api.get(path)
        assert result.status == 200
        assert result.json["items"]
        assert ids(result) == [r["product_id"] for r in featured][:20]


def collect(api, path: str, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        result = api.get(url)
        assert result.status == 200, result.json
        assert len(result.json["items"]) <= limit
        pages.append(ids(result))
        cursor = result.json["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50


def test_keyword_paging_with_cursor(api, catalog):
    apparel = sorted(r["product_id"] for r in catalog.values() if r["category"] == "apparel")
    assert len(apparel) > 10
    everything = ids(api.get("/products/search?q=apparel&limit=100"))
    assert everything == apparel
    pages = collect(api, "/products/search?q=apparel", 4)
    assert [p for page in pages for p in page] == apparel
    assert all(len(page) == 4 for page in pages[:-1])
    assert pages[-1]  # no empty trailing page: the last full page has no cursor


def test_multi_word_paging(api, catalog):
    expected = sorted(
        r["product_id"] for r in catalog.values() if r["category"] == "apparel" and "Men's" in r["title"]
    )
    assert len(expected) >= 3
    pages = collect(api, "/products/search?q=apparel%20men", 1)
    assert [p for page in pages for p in page] == expected


def test_featured_paging_with_cursor(api, catalog):
    featured = ids(api.get("/products/search?limit=100"))
    pages = collect(api, "/products/search", 5)
    assert [p for page in pages for p in page] == featured
    assert len(pages) == -(-len(featured) // 5)


def forged(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


BAD_CURSORS = [
    "!!!",
    "not-a-cursor",
    "%FF%FE",
    forged([1, 2]),
    forged("text"),
    forged({}),
    forged({"after": 1}),
    forged({"after": ""}),
    forged({"after": "x" * 5000}),
    forged({"after": "a/b"}),
    forged({"rank": "1"}),
    forged({"rank": -5}),
    forged({"rank": 1e300}),
    forged({"after": "prd_x", "rank": 2}),
    base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
]


def test_tampered_cursors_are_400(api, catalog):
    for query in ("", "q=shirt&", "q=apparel%20men&"):
        for cursor in BAD_CURSORS:
            result = api.get(f"/products/search?{query}cursor={cursor}")
            assert result.status == 400, (query, cursor, result.json)
            assert result.json["error"]["code"] == "validation_error"


def test_bad_search_parameters_are_400(api, catalog):
    for params in ("limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1.5", "q=" + "a" * 201):
        result = api.get(f"/products/search?{params}")
        assert result.status == 400, params
        assert result.json["error"]["code"] == "validation_error"


def test_search_limit_bounds(api, catalog):
    assert len(api.get("/products/search?q=apparel&limit=1").json["items"]) == 1
    assert len(api.get("/products/search?q=apparel&limit=100").json["items"]) >= 14


# --- pasted links ------------------------------------------------------------------------------


def test_every_demo_source_url_resolves_to_its_product(api, catalog):
    for record in catalog.values():
        result = api.post("/products/resolve", {"url": record["source_url"]})
        assert result.status == 200, (record["source_url"], result.json)
        assert result.json["product_id"] == record["product_id"]
        assert result.json["source_url"] == record["source_url"]


LINK_FORMS = [
    ("Women's Oversized Cotton T-Shirt", "https://detail.1688.com/offer/{id}.html?spm=a2615.7691456"),
    ("Women's Oversized Cotton T-Shirt", "https://m.1688.com/offer/{id}.html"),
    ("Women's Oversized Cotton T-Shirt", "https://detail.m.1688.com/page/index.html?offerId={id}"),
    ("Women's Oversized Cotton T-Shirt", "detail.1688.com/offer/{id}.html"),
    ("Unisex Fleece Hooded Sweatshirt Hoodie", "https://item.taobao.com/item.htm?spm=a1z10&id={id}"),
    ("Unisex Fleece Hooded Sweatshirt Hoodie", "https://h5.m.taobao.com/awp/core/detail.htm?id={id}"),
    ("Unisex Fleece Hooded Sweatshirt Hoodie", "https://m.intl.taobao.com/detail/detail.html?id={id}"),
    ("Unisex Fleece Hooded Sweatshirt Hoodie", "https://world.taobao.com/item/{id}.htm"),
    ("20000mAh Power Bank USB-C Fast Charging", "https://detail.tmall.com/item.htm?id={id}&skuId=1"),
    ("20000mAh Power Bank USB-C Fast Charging", "https://detail.m.tmall.com/item.htm?id={id}"),
    ("20000mAh Power Bank USB-C Fast Charging", "https://item.taobao.com/item.htm?id={id}"),  # same id space
    ("Mulberry Silk Pajama Set", "https://weidian.com/item.html?itemID={id}"),
    ("Mulberry Silk Pajama Set", "https://shop1590287744.v.weidian.com/item.html?itemId={id}&wfr=wx"),
]


def test_each_link_form_resolves(api, catalog):
    for title, template in LINK_FORMS:
        record = by_title(catalog, title)
        url = template.format(id=record["source_item_id"])
        result = api.post("/products/resolve", {"url": url})
        assert result.status == 200, (url, result.json)
        assert result.json["product_id"] == record["product_id"]
        assert result.json["skus"]


UNSUPPORTED = [
    "https://www.amazon.com/dp/B0C1234567",
    "https://item.jd.com/100012345678.html",
    "https://detail.1688.com/",
    "https://item.taobao.com/item.htm",
    "https://detail.tmall.com/item.htm?skuId=5012345",
    "https://weidian.com/item.html",
    "https://m.tb.cn/h.5xYzAbC",
    "not a url",
    "ftp://detail.1688.com/offer/623418795512.html",
    "https://detail.1688.com.evil.example/offer/623418795512.html",
    "x" * 2048,
]


def test_unsupported_links_are_400(api, catalog):
    for url in UNSUPPORTED:
        result = api.post("/products/resolve", {"url": url})
        assert result.status == 400, url
        assert result.json["error"]["code"] == "unsupported_link"


def test_supported_link_to_an_unknown_product_is_404(api, catalog):
    taobao_id = by_title(catalog, "Floral Chiffon Summer Dress")["source_item_id"]
    for url in (
        "https://detail.1688.com/offer/999999999999.html",
        "https://item.taobao.com/item.htm?id=999999999999",
        "https://weidian.com/item.html?itemID=9999999999",
        # the 1688 and Taobao id spaces are separate: a Taobao id on 1688 is unknown
        f"https://detail.1688.com/offer/{taobao_id}.html",
    ):
        result = api.post("/products/resolve", {"url": url})
        assert result.status == 404, url
        assert result.json["error"]["code"] == "not_found"


def test_bad_resolve_bodies_are_400(api, catalog):
    url = next(iter(catalog.values()))["source_url"]
    bodies = [None, {}, {"url": 5}, {"url": None}, {"url": ""}, {"url": ["x"]}, {"url": "x" * 2049}]
    for body in [*bodies, {"link": url}, {"url": url, "price_fen": 1}, [url], url]:
        result = api.post("/products/resolve", body)
        assert result.status == 400, body
        assert result.json["error"]["code"] == "validation_error"
    assert api.call("POST", "/products/resolve", raw="{not json").status == 400


# --- image search ------------------------------------------------------------------------------


def test_own_first_image_finds_the_product_first(api, catalog):
    for product_id in list(catalog)[::10]:
        result = api.post("/products/image-search", {"image_base64": b64(image_bytes(api, product_id))})
        assert result.status == 200
        assert result.json["items"][0]["product_id"] == product_id
        assert result.json["items"][0]["distance"] == 0


def test_every_product_is_found_first_by_its_own_pictures(api, catalog):
    source = DynamoProductSource()
    for index, record in enumerate(catalog.values()):
        for n in range(demo.IMAGES_PER_PRODUCT if index % 3 == 0 else 1):
            caption = record["title"] if n == 0 else f"{record['title']} (detail)"
            data = demo.picture(record["product_id"], n, record["category"], caption)
            assert source.image_candidates(data, 1)[0].product.product_id == record["product_id"]


def test_resized_and_recompressed_copy_finds_the_product_first(api, catalog):
    product_id = by_title(catalog, "20000mAh Power Bank USB-C Fast Charging")["product_id"]
    original = image_bytes(api, product_id)
    with Image.open(io.BytesIO(original)) as img:
        smaller = img.resize((int(img.width * 0.75), int(img.height * 0.75)))
        out = io.BytesIO()
        smaller.save(out, format="JPEG", quality=55)
        png = io.BytesIO()
        img.resize((img.width * 2, img.height * 2)).save(png, format="PNG")
    for data in (out.getvalue(), png.getvalue()):
        result = api.post("/products/image-search", {"image_base64": b64(data)})
        assert result.status == 200
        assert result.json["items"][0]["product_id"] == product_id
        distances = [item["distance"] for item in result.json["items"]]
        assert distances == sorted(distances)
        assert distances[0] <= 6 < distances[1]


def test_image_search_results_are_summaries_most_similar_first(api, catalog):
    product_id = next(iter(catalog))
    result = api.post(
        "/products/image-search?limit=5", {"image_base64": b64(image_bytes(api, product_id, 1))}
    )
    assert result.status == 200
    assert result.json["next_cursor"] is None
    assert len(result.json["items"]) == 5
    assert result.json["items"][0]["product_id"] == product_id
    for item in result.json["items"]:
        assert {"product_id", "source", "title", "price_fen", "image_url", "shop_name", "distance"} == set(
            item
        )


def test_image_search_accepts_a_data_url(api, catalog):
    product_id = next(iter(catalog))
    body = {"image_base64": "data:image/jpeg;base64," + b64(image_bytes(api, product_id))}
    assert api.post("/products/image-search", body).json["items"][0]["product_id"] == product_id


NOT_IMAGES = [
    {"image_base64": b64(b"definitely not an image")},
    {"image_base64": b64(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)},
    {"image_base64": b64(b"\xff\xd8\xff\xe0" + b"\x00" * 64)},
    {"image_base64": "@@@ not base64 @@@"},
    {"image_base64": ""},
    {"image_base64": 12345},
    {"image_base64": None},
    {"image": "abc"},
    {},
    {"image_base64": b64(b"\x00" * (5 * 1024 * 1024 + 10))},
]


def test_image_search_rejects_what_is_not_an_image(api, catalog):
    for body in NOT_IMAGES:
        result = api.post("/products/image-search", body)
        assert result.status == 400, str(body)[:80]
        assert result.json["error"]["code"] == "validation_error"


def test_a_small_png_claiming_6300_by_6300_pixels_is_400_before_it_is_decoded(api):
    """Issue 11, hole 5: a 155 KB PNG of 6,300 x 6,300 RGBA used to be decoded and composited at full
    size (about 650 MB, measured) by this public route; the header's dimensions now refuse it (the
    memory figure is checked in tests/unit/test_catalog_imagehash.py, in a fresh process)."""
    from tests.images import bomb_png

    result = api.post("/products/image-search", {"image_base64": b64(bomb_png(6300, 6300))})
    assert result.status == 400
    assert result.json["error"]["code"] == "validation_error"
    assert "6300 x 6300 pixels" in result.json["error"]["message"]
    assert "4,000,000" in result.json["error"]["message"]


def test_image_search_takes_jpeg_png_and_webp_only(api, catalog):
    product_id = next(iter(catalog))
    with Image.open(io.BytesIO(image_bytes(api, product_id))) as img:
        for fmt, status in (("PNG", 200), ("WEBP", 200), ("GIF", 400), ("BMP", 400), ("TIFF", 400)):
            out = io.BytesIO()
            img.save(out, format=fmt)
            result = api.post("/products/image-search", {"image_base64": b64(out.getvalue())})
            assert result.status == status, fmt
            if status == 400:
                assert "JPEG, PNG or WebP" in result.json["error"]["message"]


def test_image_search_bounds_the_upload_before_decoding_it(api):
    from chalicelib.catalog import imagehash

    over = b64(b"\xff\xd8\xff" + b"\x00" * imagehash.MAX_IMAGE_BYTES)
    result = api.post("/products/image-search", {"image_base64": over})
    assert result.status == 400 and result.json["error"]["code"] == "validation_error"


def test_truncated_image_is_400(api, catalog):
    data = image_bytes(api, next(iter(catalog)))
    result = api.post("/products/image-search", {"image_base64": b64(data[: len(data) // 3])})
    assert result.status == 400


# --- product detail ----------------------------------------------------------------------------


def test_product_detail(api, catalog):
    record = by_title(catalog, "Women's Oversized Cotton T-Shirt")
    result = api.get(f"/products/{record['product_id']}")
    assert result.status == 200
    detail = result.json
    assert detail["product_id"] == record["product_id"]
    assert detail["source"] == "1688"
    assert detail["source_url"] == f"https://detail.1688.com/offer/{record['source_item_id']}.html"
    assert detail["title"] == record["title"]
    assert detail["shop"] == {"shop_id": record["shop_id"], "name": "杭州衣尚服饰有限公司"}
    assert detail["min_quantity"] == 2
    assert detail["domestic_shipping_fen"] == 800
    assert len(detail["images"]) == 2
    assert len(detail["skus"]) == 12
    for sku in detail["skus"]:
        assert set(sku) == {"sku_id", "props", "price_fen", "stock"}
        assert {"color", "size"} <= set(sku["props"])
        assert type(sku["price_fen"]) is int and type(sku["stock"]) is int
    assert detail["battery"] is False


def test_battery_flag_is_exposed(api, catalog):
    bank = by_title(catalog, "20000mAh Power Bank USB-C Fast Charging")
    detail = api.get(f"/products/{bank['product_id']}").json
    assert detail["battery"] is True
    assert "battery" in detail["attributes"]


def test_unknown_product_is_404(api, catalog):
    for product_id in ("prd_doesnotexist", "nope", "x" * 3000, "%E4%BA%A7%E5%93%81", "prd_a%20b", "search2"):
        result = api.get(f"/products/{product_id}")
        assert result.status == 404, product_id
        assert result.json["error"]["code"] == "not_found"


def test_catalog_routes_need_no_token_and_ignore_one(api, catalog):
    product_id = next(iter(catalog))
    assert api.get(f"/products/{product_id}", user=ALICE).status == 200
    assert api.get("/products/search?q=shirt", user=ALICE).status == 200


def test_images_are_stored_as_jpeg_in_the_photo_bucket(api, catalog):
    s3 = aws.client("s3")
    for product_id in list(catalog)[:5]:
        for n in range(2):
            head = s3.head_object(Bucket=api.stack["bucket"], Key=f"catalog/{product_id}/{n}.jpg")
            assert head["ContentType"] == "image/jpeg"


# --- what other areas call ---------------------------------------------------------------------


def test_get_product_and_find_sku(api, catalog):
    record = by_title(catalog, "Men's Slim Fit Stretch Denim Jeans")
    product = get_product(record["product_id"])
    assert product is not None and product.title == record["title"]
    sku = record["skus"][-1]
    found = find_sku(product, sku["sku_id"])
    assert found is not None
    assert found.price_fen == sku["price_fen"] == 4800  # size 34 costs 3 yuan more
    assert found.props == sku["props"]
    assert find_sku(product, "sku_unknown") is None
    assert get_product("prd_unknown") is None
    assert product.domestic_shipping_fen == 800 and product.weight_g == 650


# --- seeding -----------------------------------------------------------------------------------


def test_seeding_is_idempotent(api, catalog):
    before = {pid: api.get(f"/products/{pid}").json for pid in list(catalog)[:5]}
    featured = ids(api.get("/products/search"))
    demo.seed(api.stack)
    assert {pid: api.get(f"/products/{pid}").json for pid in before} == before
    assert ids(api.get("/products/search")) == featured
    assert len(ids(api.get("/products/search?q=apparel&limit=100"))) == sum(
        r["category"] == "apparel" for r in catalog.values()
    )


def test_retitling_a_product_moves_its_index_entries(api, catalog):
    record = by_title(catalog, "Silk Square Scarf")
    item = ProductModel.get(record["product_id"])
    item.title = "Silk Bandana"
    DynamoProductSource().put_product(item)
    assert record["product_id"] not in ids(api.get("/products/search?q=scarf"))
    assert record["product_id"] in ids(api.get("/products/search?q=bandana"))
    assert record["product_id"] in ids(api.get("/products/search?q=silk"))
    words = {w.word for w in ProductWordModel.query("bandana")}
    assert words == {"bandana"}


def test_catalog_pictures_are_public_and_nothing_else_is(api, catalog):
    s3 = aws.client("s3")
    bucket = api.stack["bucket"]
    other = {"Sid": "Other", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": "*"}
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({**policy, "Statement": [*policy["Statement"], other]})
    )
    demo.seed(api.stack)
    demo.seed(api.stack)
    statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statements.count(other) == 1
    public = [s for s in statements if s.get("Sid") == "PublicCatalogImages"]
    assert public == [demo.public_read_statement(bucket)]
    assert public[0]["Resource"] == f"arn:aws:s3:::{bucket}/catalog/*"
