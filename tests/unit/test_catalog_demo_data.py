"""The demo catalog's data: enough realistic products, links that resolve, distinct pictures."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from chalicelib.catalog import imagehash
from chalicelib.catalog.links import parse_link
from chalicelib.catalog.source import TRANSPORT_FLAGS
from infra.local import demo_catalog as demo
from infra.local import demo_catalog_data as demo_data

RECORDS = demo.products()


def test_at_least_30_products_across_the_three_categories():
    assert len(RECORDS) >= 30
    counts = Counter(r["category"] for r in RECORDS)
    assert set(counts) == {"apparel", "electronics", "general"}
    assert min(counts.values()) >= 8


def test_every_platform_is_represented():
    assert {r["source"] for r in RECORDS} == {"1688", "taobao", "tmall", "weidian"}


def test_ids_are_unique_stable_and_opaque():
    ids = [r["product_id"] for r in RECORDS]
    assert len(set(ids)) == len(ids)
    assert ids == [r["product_id"] for r in demo.products()]
    assert all(re.fullmatch(r"prd_[a-z2-7]{24}", i) for i in ids)
    sku_ids = [s["sku_id"] for r in RECORDS for s in r["skus"]]
    assert len(set(sku_ids)) == len(sku_ids)
    refs = [(r["source"].replace("tmall", "taobao"), r["source_item_id"]) for r in RECORDS]
    assert len(set(refs)) == len(refs)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r["title"])
def test_product_record(record):
    link = parse_link(record["source_url"])
    assert (link.source, link.item_id) == (record["source"], record["source_item_id"])
    assert record["title"] and record["title_zh"]
    assert re.search(r"[\u4e00-\u9fff]", record["shop_name"])  # Chinese shop names
    assert record["images"] == [
        f"catalog/{record['product_id']}/0.jpg",
        f"catalog/{record['product_id']}/1.jpg",
    ]
    assert isinstance(record["min_quantity"], int) and record["min_quantity"] >= 1
    assert isinstance(record["domestic_shipping_fen"], int) and record["domestic_shipping_fen"] >= 0
    assert isinstance(record["weight_g"], int) and record["weight_g"] > 0
    assert set(record["attributes"]) <= set(TRANSPORT_FLAGS)
    assert record["skus"]
    for sku in record["skus"]:
        assert type(sku["price_fen"]) is int and sku["price_fen"] > 0
        assert type(sku["stock"]) is int and sku["stock"] >= 0
        assert sku["props"] and all(isinstance(v, str) for v in sku["props"].values())
    assert record["skus"][0]["stock"] > 0
    if record["category"] == "apparel":
        assert all({"color", "size"} <= set(s["props"]) for s in record["skus"])


def test_battery_products_exist_for_shipping_restrictions():
    battery = {r["title"] for r in RECORDS if "battery" in r["attributes"]}
    assert any("Power Bank" in t for t in battery)
    assert any("Earbuds" in t for t in battery)


def test_shipping_fee_is_per_shop():
    fees: dict[str, set[int]] = {}
    for r in RECORDS:
        fees.setdefault(r["shop_id"], set()).add(r["domestic_shipping_fen"])
    assert all(len(v) == 1 for v in fees.values())
    assert len(fees) == len(demo_data.SHOPS)


def test_featured_ranks_are_unique():
    ranks = [r["featured_rank"] for r in RECORDS if r["featured_rank"] is not None]
    assert len(ranks) >= 8
    assert len(set(ranks)) == len(ranks)


def test_surcharges_raise_the_price_of_bigger_variants():
    tee = next(r for r in RECORDS if r["title"] == "Women's Oversized Cotton T-Shirt")
    prices = {(s["props"]["color"], s["props"]["size"]): s["price_fen"] for s in tee["skus"]}
    assert prices[("White", "M")] == 1850
    assert prices[("White", "XL")] == 2050
    assert len(tee["skus"]) == 12


def test_every_demo_picture_is_distinguishable_by_its_hash():
    hashes = []
    for r in RECORDS:
        for n in range(demo.IMAGES_PER_PRODUCT):
            caption = r["title"] if n == 0 else f"{r['title']} (detail)"
            hashes.append((r["product_id"], demo.picture_hash(r["product_id"], n, r["category"], caption)))
    closest = min(
        imagehash.distance(a, b) for i, (pa, a) in enumerate(hashes) for pb, b in hashes[i + 1 :] if pa != pb
    )
    assert closest >= 10
