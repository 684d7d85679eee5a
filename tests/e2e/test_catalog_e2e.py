"""The demo catalog on the running local stack: real HTTP, pictures fetchable by a plain GET."""

from __future__ import annotations

import base64

import requests


def test_featured_products_and_their_pictures(http):
    result = http.call("GET", "/products/search")
    assert result.status_code == 200
    items = result.json()["items"]
    assert items
    for item in items[:3]:
        picture = requests.get(item["image_url"], timeout=10)
        assert picture.status_code == 200
        assert picture.headers["Content-Type"] == "image/jpeg"
        assert picture.content[:3] == b"\xff\xd8\xff"


def test_keyword_search_detail_and_link(http):
    result = http.call("GET", "/products/search", params={"q": "Power BANK"})
    assert result.status_code == 200
    product_id = result.json()["items"][0]["product_id"]
    detail = http.call("GET", f"/products/{product_id}").json()
    assert detail["battery"] is True
    assert all(requests.get(url, timeout=10).status_code == 200 for url in detail["images"])
    resolved = http.call("POST", "/products/resolve", json={"url": detail["source_url"]})
    assert resolved.status_code == 200
    assert resolved.json()["product_id"] == product_id
    refused = http.call("POST", "/products/resolve", json={"url": "https://example.com/item?id=1234567"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "unsupported_link"


def test_image_search_with_a_fetched_picture(http):
    item = http.call("GET", "/products/search", params={"q": "earbuds"}).json()["items"][0]
    picture = requests.get(item["image_url"], timeout=10).content
    result = http.call(
        "POST", "/products/image-search", json={"image_base64": base64.b64encode(picture).decode()}
    )
    assert result.status_code == 200
    assert result.json()["items"][0]["product_id"] == item["product_id"]
    bad = http.call(
        "POST", "/products/image-search", json={"image_base64": base64.b64encode(b"nope").decode()}
    )
    assert bad.status_code == 400
