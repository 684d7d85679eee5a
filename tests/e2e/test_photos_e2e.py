"""QC photos over real HTTP against `make run`: presign as warehouse, upload with the presigned POST
straight to the (moto) S3 endpoint, and see the photo attached for the owner within 10 s."""

from __future__ import annotations

import io
import random
import time

import boto3
import pytest
from PIL import Image

from chalicelib import ids

ALICE = "alice@example.com"
BOB = "bob@example.com"
WAREHOUSE = "warehouse@procure.example"
ITEMS_TABLE = "procure-local-items"
VISIBLE_WITHIN_S = 10.0


def jpeg(size=(1024, 768)) -> bytes:
    rng = random.Random(7)
    img = Image.new("RGB", size, (90, 140, 200))
    for x in range(0, size[0], 32):
        for y in range(0, size[1], 32):
            img.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)), (x, y, x + 16, y + 16))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def put_item_in_warehouse(local_stack: dict, owner_id: str) -> str:
    """No HTTP flow gets an item to the warehouse yet here: write one straight into the stack's table."""
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=local_stack["aws_endpoint_url"],
        region_name=local_stack["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    item_id = ids.new_id("itm")
    dynamodb.put_item(
        TableName=ITEMS_TABLE,
        Item={
            "item_id": {"S": item_id},
            "user_id": {"S": owner_id},
            "status": {"S": "in_warehouse"},
            "title": {"S": "Power bank 10000mAh (e2e photo test)"},
            "quantity": {"N": "1"},
            "unit_price_fen": {"N": "9900"},
            "source": {"S": "order"},
            "created_at": {"S": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        },
        ConditionExpression="attribute_not_exists(item_id)",
    )
    return item_id


def presign(http, item_id: str, content_type: str = "image/jpeg") -> dict:
    response = http.call(
        "POST", f"/staff/items/{item_id}/photos", user=WAREHOUSE, json={"content_type": content_type}
    )
    assert response.status_code == 201, response.text
    return response.json()


def upload(body: dict, data: bytes, content_type: str) -> None:
    import requests

    target = body["upload"]
    sent = requests.post(
        target["url"], data=target["fields"], files={"file": ("photo", data, content_type)}, timeout=30
    )
    assert sent.status_code in (200, 201, 204), sent.text


@pytest.fixture
def item_id(http, local_stack) -> str:
    owner = http.call("GET", "/me", user=ALICE).json()["user_id"]
    return put_item_in_warehouse(local_stack, owner)


def test_an_uploaded_photo_is_attached_within_10_seconds(http, item_id):
    import requests

    body = presign(http, item_id)
    assert body["upload"]["fields"]["key"] == f"qc/{item_id}/{body['photo_id']}.jpg"
    data = jpeg()
    upload(body, data, "image/jpeg")
    uploaded = time.monotonic()

    photos: list = []
    while time.monotonic() - uploaded < VISIBLE_WITHIN_S + 5:  # look a little longer, to report the miss
        response = http.call("GET", f"/items/{item_id}/photos", user=ALICE)
        assert response.status_code == 200, response.text
        photos = response.json()["items"]
        if photos:
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - uploaded
    print(f"\nQC photo upload -> visible to the owner: {elapsed:.2f} s")
    assert photos, f"the photo was not attached within {elapsed:.1f} s"
    assert elapsed < VISIBLE_WITHIN_S, f"attached after {elapsed:.1f} s"

    (photo,) = photos
    assert photo["photo_id"] == body["photo_id"]
    assert photo["content_type"] == "image/jpeg"
    served = requests.get(photo["url"], timeout=30)  # a plain GET, no token: the URL is presigned
    assert served.status_code == 200 and served.content == data
    thumb = requests.get(photo["thumbnail_url"], timeout=30)
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.content)) as img:
        assert img.format == "JPEG" and max(img.size) == 320

    assert http.call("GET", f"/items/{item_id}/photos", user=BOB).status_code == 404
    assert http.call("GET", f"/items/{item_id}/photos").status_code == 401


def test_a_non_image_upload_is_rejected_not_attached(http, item_id):
    body = presign(http, item_id)
    upload(body, b"<?php echo 'not a photo'; ?>" * 20, "image/jpeg")
    deadline = time.monotonic() + VISIBLE_WITHIN_S
    status = None
    while time.monotonic() < deadline:
        status = http.call("GET", f"/staff/photos/{body['photo_id']}", user=WAREHOUSE).json()
        if status["status"] != "pending":
            break
        time.sleep(0.1)
    assert status is not None and status["status"] == "rejected", status
    assert http.call("GET", f"/items/{item_id}/photos", user=ALICE).json()["items"] == []


def test_wrong_content_types_and_customers_are_refused(http, item_id):
    wrong = http.call(
        "POST", f"/staff/items/{item_id}/photos", user=WAREHOUSE, json={"content_type": "image/gif"}
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "validation_error"
    customer = http.call(
        "POST", f"/staff/items/{item_id}/photos", user=ALICE, json={"content_type": "image/png"}
    )
    assert customer.status_code == 403
