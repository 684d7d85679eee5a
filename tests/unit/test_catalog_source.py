"""The product-source interface and what other areas call: get_product, find_sku, summaries, detail."""

from __future__ import annotations

import pytest

from chalicelib import catalog
from chalicelib.catalog import dynamo_source
from chalicelib.catalog.configured import get_source, set_source
from chalicelib.catalog.dynamo_source import DynamoProductSource, image_url
from chalicelib.catalog.source import ImageMatch, Page, Product, ProductSource, Shop, Sku, Summary

PRODUCT = Product(
    product_id="prd_test",
    source="1688",
    source_item_id="623418795512",
    source_url="https://detail.1688.com/offer/623418795512.html",
    title="Women's Oversized Cotton T-Shirt",
    category="apparel",
    shop=Shop(shop_id="shp_1", name="杭州衣尚服饰有限公司"),
    skus=(
        Sku(sku_id="sku_a", props={"color": "White", "size": "M"}, price_fen=1850, stock=10),
        Sku(sku_id="sku_b", props={"color": "White", "size": "XL"}, price_fen=2050, stock=0),
        Sku(sku_id="sku_c", props={"color": "Black", "size": "S"}, price_fen=1800, stock=3),
    ),
    images=("https://img.example/0.jpg", "https://img.example/1.jpg"),
    min_quantity=2,
    domestic_shipping_fen=800,
    weight_g=180,
    attributes=("battery",),
)


class FakeSource:
    """What a production 1688 / Taobao API source looks like from the app's side."""

    def get(self, product_id):
        return PRODUCT if product_id == PRODUCT.product_id else None

    def get_many(self, product_ids):
        return [PRODUCT for p in product_ids if p == PRODUCT.product_id]

    def by_source_ref(self, source, source_item_id):
        return PRODUCT if (source, source_item_id) == ("1688", PRODUCT.source_item_id) else None

    def search(self, words, limit, cursor):
        return Page(items=[PRODUCT])

    def featured(self, limit, cursor):
        return Page(items=[PRODUCT])

    def image_candidates(self, image, limit):
        return [ImageMatch(PRODUCT, 0)]


@pytest.fixture
def fake_source():
    set_source(FakeSource())
    yield
    set_source(None)


def test_both_sources_satisfy_the_protocol():
    assert isinstance(FakeSource(), ProductSource)
    assert isinstance(DynamoProductSource(), ProductSource)


def test_default_source_is_the_dynamodb_one():
    set_source(None)
    assert isinstance(get_source(), DynamoProductSource)


def test_get_product_and_find_sku_use_the_configured_source(fake_source):
    product = catalog.get_product("prd_test")
    assert product is PRODUCT
    assert catalog.find_sku(product, "sku_b").price_fen == 2050
    assert catalog.find_sku(product, "sku_zzz") is None
    assert catalog.find_sku(None, "sku_a") is None
    assert catalog.find_sku(product, 5) is None
    assert catalog.get_product("prd_other") is None
    assert catalog.get_product(None) is None


def test_summary_uses_the_lowest_sku_price_and_first_image():
    assert PRODUCT.summary() == {
        "product_id": "prd_test",
        "source": "1688",
        "title": "Women's Oversized Cotton T-Shirt",
        "price_fen": 1800,
        "image_url": "https://img.example/0.jpg",
        "shop_name": "杭州衣尚服饰有限公司",
    }


def test_a_product_summary_is_what_a_summary_hit_gives():
    hit = Summary("prd_test", "1688", PRODUCT.title, 1800, "https://img.example/0.jpg", PRODUCT.shop.name)
    assert list(PRODUCT.summary().items()) == list(hit.summary().items())  # the keys in the same order
    bare = Product(**{**PRODUCT.__dict__, "images": (), "skus": ()})
    assert bare.summary()["image_url"] is None and bare.summary()["price_fen"] == 0


def test_detail_has_every_contract_field():
    detail = PRODUCT.detail()
    for field in (
        "product_id",
        "source",
        "source_url",
        "title",
        "images",
        "shop",
        "skus",
        "min_quantity",
        "domestic_shipping_fen",
    ):
        assert field in detail
    assert detail["shop"] == {"shop_id": "shp_1", "name": "杭州衣尚服饰有限公司"}
    assert detail["skus"][0] == {
        "sku_id": "sku_a",
        "props": {"color": "White", "size": "M"},
        "price_fen": 1850,
        "stock": 10,
    }
    assert detail["images"] == ["https://img.example/0.jpg", "https://img.example/1.jpg"]
    assert detail["battery"] is True and detail["attributes"] == ["battery"]


def test_image_urls_follow_the_environment(monkeypatch):
    monkeypatch.setenv("PHOTO_BUCKET", "pics")
    monkeypatch.setenv("AWS_REGION", "ap-southeast-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("CATALOG_IMAGE_BASE_URL", raising=False)
    assert image_url("catalog/p/0.jpg") == "https://pics.s3.ap-southeast-1.amazonaws.com/catalog/p/0.jpg"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    assert image_url("catalog/p/0.jpg") == "http://127.0.0.1:5000/pics/catalog/p/0.jpg"
    monkeypatch.setenv("CATALOG_IMAGE_BASE_URL", "https://cdn.example/")
    assert image_url("catalog/p/0.jpg") == "https://cdn.example/catalog/p/0.jpg"


def test_malformed_ids_are_unknown_without_touching_the_database():
    source = DynamoProductSource()
    for bad in ("", "x" * 65, "prd/../x", "prd x", "产品"):
        assert source.get(bad) is None
    assert source.get_many(["", "a b"]) == []


@pytest.mark.parametrize(
    "cursor",
    [
        {},
        {"after": 5},
        {"after": ""},
        {"after": "x" * 65},
        {"after": "a b"},
        {"after": "p", "x": 1},
        {"rank": 1},
    ],
)
def test_search_rejects_foreign_cursors(cursor):
    with pytest.raises(dynamo_source.InvalidCursor):
        DynamoProductSource().search(["shirt"], 10, cursor)


@pytest.mark.parametrize(
    "cursor",
    [{}, {"rank": "1"}, {"rank": True}, {"rank": -1}, {"rank": 1.5}, {"rank": 10**12}, {"after": "p"}],
)
def test_featured_rejects_foreign_cursors(cursor):
    with pytest.raises(dynamo_source.InvalidCursor):
        DynamoProductSource().featured(10, cursor)
