"""Idempotency records keep what a replay needs within DynamoDB's item limit, and a claim left behind by
a crashed or timed-out request expires after the function's timeout (issue 11, hole 6)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib import clock, idempotency
from chalicelib.models.commerce import Item, RequestRecord
from tests.integration.conftest import ALICE, top_up
from tests.integration.test_packages import ADDRESS, stored

pytestmark = pytest.mark.usefixtures("shop")


def with_many_photos(item_id: str, count: int) -> None:
    """What `count` ingested QC photos leave on the item (each listed with two presigned URLs)."""
    photos = {
        f"pho_{n:05d}": {
            "key": f"qc/{item_id}/pho_{n:05d}.jpg",
            "thumb_key": f"thumbs/{item_id}/pho_{n:05d}.jpg",
            "content_type": "image/jpeg",
            "uploaded_at": clock.now_iso(),
            "width": 1200,
            "height": 900,
            "size": 123456,
        }
        for n in range(count)
    }
    Item.get(item_id, consistent_read=True).update(actions=[Item.photos.set(photos)])


def wallet(api) -> dict:
    return api.get("/wallet", user=ALICE).body


def test_a_payment_whose_response_is_larger_than_a_dynamodb_item_still_answers_and_replays(api):
    item_ids = stored(api)
    with_many_photos(item_ids[0], 700)
    top_up(api, ALICE, 200_000)
    body = {"item_ids": item_ids, "address": ADDRESS, "line_id": "ems", "services": []}
    package_id = api.post("/packages", body, user=ALICE).body["package_id"]
    headers = {"Idempotency-Key": "pay-big-package"}
    paid = api.post(f"/packages/{package_id}/pay", user=ALICE, headers=headers)
    assert paid.status == 200, paid.body
    size = len(json.dumps(paid.body).encode())
    assert size > 400_000  # the response itself is over DynamoDB's 400 KB item limit
    balance = wallet(api)["balance_fen"]
    again = api.post(f"/packages/{package_id}/pay", user=ALICE, headers=headers)
    assert again.status == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.body == paid.body
    assert wallet(api)["balance_fen"] == balance


def test_a_claim_left_by_a_crashed_request_expires_after_the_function_timeout(api):
    top_up(api, ALICE, 50_000)
    line = {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 1}
    body = {"items": [line], "payment_channel": "balance"}
    order = api.post("/orders", body, user=ALICE)
    assert order.status == 201, order.body
    order_id = order.body["order_id"]
    user_id = api.user_id(ALICE)
    started = clock.now()
    clock.set_now(started)
    # a Lambda that claimed the key and then timed out: the record stays in_progress
    scope = f"{user_id}:POST /orders/{order_id}/pay"
    assert isinstance(idempotency.begin(scope, "pay-once", idempotency.fingerprint(b"")), idempotency.Claim)
    headers = {"Idempotency-Key": "pay-once"}
    busy = api.post(f"/orders/{order_id}/pay", user=ALICE, headers=headers)
    assert busy.status == 409  # still within the dead request's time limit: it might be running
    assert wallet(api)["balance_fen"] == 50_000
    clock.set_now(started + timedelta(seconds=idempotency.lease_seconds() + 1))
    retried = api.post(f"/orders/{order_id}/pay", user=ALICE, headers=headers)
    assert retried.status == 200, retried.body
    assert retried.body["status"] == "pending_review"
    replay = api.post(f"/orders/{order_id}/pay", user=ALICE, headers=headers)
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.body == retried.body
    debits = [e for e in wallet(api)["entries"] if e["kind"] == "order_payment"]
    assert len(debits) == 1
    record = RequestRecord.get(f"idem#{scope}#pay-once", consistent_read=True)
    assert record.state == "done" and record.lease_until is None
