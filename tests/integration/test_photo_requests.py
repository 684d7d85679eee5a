"""Paid extra photos (issue 23, parts 2 and 5; chalicelib/photo_requests.py): the customer pays from the
wallet, the warehouse's queue delivers, the customer is emailed; the service is sold only while it can
be delivered, and a request the item outlives is refunded. The seed: "Value-added services are available
for purchase as needed"."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from chalicelib import aws, clock, photos
from chalicelib.models.commerce import Item
from chalicelib.models.photos import PhotoRequest
from infra.local.job import scheduled_event
from tests.integration.conftest import ALICE, BOB, REVIEWER, WAREHOUSE, sent_emails, top_up
from tests.integration.test_packages import ADDRESS, balance, pack, stored
from tests.integration.test_photos import deliver, drain, image_bytes, presign, put
from tests.integration.test_warehouse import received

pytestmark = pytest.mark.usefixtures("shop")

FEE = 600  # the extra_photos service's default fee (rules/shipping.py)
NOTE = {"note": "The collar label and the seams, close up please."}
BOX = {"l": 30, "w": 20, "h": 10}


def ask(api, item_id: str, user: str = ALICE, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else None
    return api.post(f"/items/{item_id}/photo-requests", NOTE, user=user, headers=headers)


def photograph(api, app_module, stack, item_id: str, seed: int = 5) -> bytes:
    """The warehouse uploads one photo of the item and the S3 notification is ingested."""
    data = image_bytes(seed=seed, size=(300, 200))
    put(stack, presign(api, item_id)["upload"]["fields"]["key"], data)
    deliver(app_module, stack, [m["Body"] for m in drain(stack)])
    return data


def queue(api) -> list[dict]:
    answer = api.get("/staff/photo-requests", user=WAREHOUSE)
    assert answer.status == 200, answer.body
    return answer.body["items"]


def ledger_kinds(api) -> list[str]:
    return [e["kind"] for e in api.get("/wallet?limit=100", user=ALICE).body["entries"]]


def emails(template: str) -> list[dict]:
    return [e for e in sent_emails(ALICE) if e["template"] == template]


def test_value_added_services_are_available_for_purchase_as_needed_more_photos_of_a_stored_item(
    api, app_module, stack
):
    [item_id] = stored(api)
    before = balance(api)
    asked = ask(api, item_id, key="photos-1")
    assert asked.status == 201, asked.body
    assert asked.body["status"] == "requested" and asked.body["fee_fen"] == FEE
    assert balance(api) == before - FEE and ledger_kinds(api).count("photo_request") == 1
    # the same request again (a client retry) is the same answer and no second charge
    again = ask(api, item_id, key="photos-1")
    assert (again.status, again.body) == (201, asked.body) and balance(api) == before - FEE
    # a second request while one is open: refused, nothing charged
    other = ask(api, item_id, key="photos-2")
    assert other.status == 409 and other.body["error"]["code"] == "photo_request_open"
    assert balance(api) == before - FEE

    (waiting,) = queue(api)
    assert waiting["request_id"] == asked.body["request_id"] and waiting["note"] == NOTE["note"]
    assert (waiting["title"], waiting["item_status"], waiting["new_photo_count"]) == (
        "Cotton T-shirt",
        "in_warehouse",
        0,
    )
    done_path = f"/staff/photo-requests/{asked.body['request_id']}/complete"
    early = api.post(done_path, user=WAREHOUSE)
    assert early.status == 409 and early.body["error"]["code"] == "photos_missing"

    picture = photograph(api, app_module, stack, item_id)
    assert queue(api)[0]["new_photo_count"] == 1
    done = api.post(done_path, user=WAREHOUSE)
    assert done.status == 200, done.body
    assert done.body["status"] == "completed" and done.body["completed_at"]
    assert queue(api) == []
    assert Item.get(item_id).photo_request_id is None
    (email,) = emails("photo_request_done")
    assert email["data"]["item_id"] == item_id and email["data"]["note"] == NOTE["note"]
    url = email["data"]["links"].strip()
    # the new photo's view copy (issue 27), not its original
    (entry,) = photos.attached(Item.get(item_id)).values()
    assert f"/{entry['view_key']}?" in url and "X-Amz-Expires=604800" in url
    view = aws.client("s3").get_object(Bucket=stack["bucket"], Key=entry["view_key"])["Body"].read()
    assert requests.get(url, timeout=10).content == view != picture
    assert api.post(done_path, user=WAREHOUSE).status == 409  # done once
    # delivered: another request may be bought now
    assert ask(api, item_id).status == 201


def test_photo_requests_are_refused_for_what_cannot_be_photographed_and_change_nothing(api):
    [item_id] = received(api)  # not inspected yet
    before = balance(api)
    refused = ask(api, item_id)
    assert refused.status == 409 and refused.body["error"]["code"] == "not_photographable"
    assert ask(api, item_id, user=BOB).status == 404  # another customer's item does not exist for Bob
    assert ask(api, "itm_nope").status == 404
    assert api.post(f"/items/{item_id}/photo-requests", {"note": ""}, user=ALICE).status == 400
    assert balance(api) == before and queue(api) == []


def test_the_fee_is_the_extra_photos_services_and_must_be_in_the_wallet(api, monkeypatch):
    [item_id] = stored(api)
    dear = balance(api) + 100  # the configured fee, ¥1 more than the wallet holds
    services = [{"service": "extra_photos", "name": "Extra photos", "unit": "item", "fee_fen": dear}]
    monkeypatch.setenv("VALUE_ADDED_SERVICES", json.dumps(services))
    before = balance(api)
    short = ask(api, item_id)
    assert short.status == 409 and short.body["error"]["code"] == "insufficient_funds"
    assert balance(api) == before and queue(api) == [] and Item.get(item_id).photo_request_id is None
    top_up(api, ALICE, 100)
    asked = ask(api, item_id)
    assert asked.status == 201 and asked.body["fee_fen"] == dear and balance(api) == 0


def test_the_queue_is_the_warehouses(api):
    assert api.get("/staff/photo-requests", user=ALICE).status == 403
    assert api.get("/staff/photo-requests", user=REVIEWER).status == 403
    assert api.post("/staff/photo-requests/phr_nope/complete", user=WAREHOUSE).status == 404
    assert api.post("/staff/photo-requests/phr_nope/complete", user=ALICE).status == 403


# --- part 5: packed items -------------------------------------------------------------------------


def _packaged(api, services=("extra_photos",), pay=True) -> tuple[str, str]:
    [item_id] = stored(api)
    body = {"item_ids": [item_id], "address": ADDRESS, "line_id": "ems", "services": list(services)}
    package = api.post("/packages", body, user=ALICE)
    assert package.status == 201, package.body
    package_id = package.body["package_id"]
    if pay:
        assert api.post(f"/packages/{package_id}/pay", user=ALICE).status == 200
    return item_id, package_id


def test_the_paid_extra_photos_service_of_a_package_can_be_delivered_before_it_is_packed(
    api, app_module, stack
):
    """Regression (issue 23, part 5): the package's `extra_photos` service was sold, but its items could
    not be photographed once in the package (409), so it could never be delivered."""
    item_id, package_id = _packaged(api)
    assert Item.get(item_id).status == "in_package"
    photograph(api, app_module, stack, item_id)  # presign answers 201 for an item of an unsealed package
    assert len(api.get(f"/items/{item_id}/photos", user=ALICE).body["items"]) == 1
    assert pack(api, package_id, 2600, BOX).status == 200
    sealed = api.post(f"/staff/items/{item_id}/photos", {"content_type": "image/jpeg"}, user=WAREHOUSE)
    assert sealed.status == 409  # packed: the box is sealed


def test_extra_photos_of_a_packed_item_are_taken_before_sealing_and_refused_once_sealed(
    api, app_module, stack
):
    item_id, package_id = _packaged(api, services=(), pay=True)
    asked = ask(api, item_id)
    assert asked.status == 201, asked.body  # in a paid package, not packed: still deliverable
    (waiting,) = queue(api)
    assert waiting["item_status"] == "in_package" and waiting["package_id"] == package_id
    # the packer cannot seal a box that still owes paid photos
    refused = pack(api, package_id, 2600, BOX)
    assert refused.status == 409 and refused.body["error"]["code"] == "photo_request_open"
    photograph(api, app_module, stack, item_id)
    assert (
        api.post(f"/staff/photo-requests/{asked.body['request_id']}/complete", user=WAREHOUSE).status == 200
    )
    assert pack(api, package_id, 2600, BOX).status == 200
    # sealed: the service is no longer sold, nothing is charged
    before = balance(api)
    sold = ask(api, item_id)
    assert sold.status == 409 and sold.body["error"]["code"] == "package_sealed"
    assert balance(api) == before


def test_a_request_racing_the_packing_is_refused_and_charges_nothing(api, monkeypatch):
    """The packer seals the box between the request's read (unsealed) and its commit: the transaction's
    check of the package's status fails, the rebuilt request sees the sealed package."""
    item_id, package_id = _packaged(api, services=(), pay=True)
    real = photos.package_status
    calls = []

    def packed_meanwhile(pid):
        calls.append(pid)
        if len(calls) == 1:
            assert pack(api, package_id, 2600, BOX).status == 200
            return "paid"  # what the request read before the packer sealed it
        return real(pid)

    monkeypatch.setattr(photos, "package_status", packed_meanwhile)
    late = ask(api, item_id)
    assert late.status == 409 and late.body["error"]["code"] == "package_sealed", late.body
    assert len(calls) == 2  # the lost race was rebuilt from fresh reads
    assert "photo_request" not in ledger_kinds(api) and queue(api) == []


# --- refunds when the item leaves first -------------------------------------------------------------


def test_after_sales_return_refunds_photos_never_taken(api):
    """Seed: "After receiving the products, if there are any issues caused by the inspection, you can apply
    for after-sales service": a return to the merchant refunds the open photo request with it."""
    [item_id] = stored(api)
    asked = ask(api, item_id)
    assert asked.status == 201
    before = balance(api)
    case = api.post(
        "/after-sales", {"item_id": item_id, "type": "return", "reason": "Wrong colour"}, user=ALICE
    )
    assert case.status == 201
    body = {"resolution": "return", "refund_fen": 0}
    resolved = api.post(f"/staff/after-sales/{case.body['case_id']}/resolve", body, user=WAREHOUSE)
    assert resolved.status == 200, resolved.body
    assert balance(api) == before + FEE and "photo_request_refund" in ledger_kinds(api)
    request = PhotoRequest.get(asked.body["request_id"])
    assert request.status == "refunded" and request.queue_key is None
    assert queue(api) == []
    (email,) = emails("photo_request_refunded")
    assert "returned to the merchant" in email["data"]["reason"]


def test_abandonment_at_the_end_of_storage_refunds_photos_never_taken(api, app_module):
    [item_id] = stored(api)
    asked = ask(api, item_id)
    assert asked.status == 201
    before = balance(api)
    expires = clock.parse_iso(Item.get(item_id).storage_expires_at)
    now = expires + timedelta(days=2)
    clock.set_now(now)
    result = app_module.storage_sweep(scheduled_event(clock.iso(now)), None)
    assert result["items_abandoned"] >= 1, result
    assert Item.get(item_id).status == "abandoned"
    assert balance(api) == before + FEE
    assert PhotoRequest.get(asked.body["request_id"]).status == "refunded"


def test_a_customer_deciding_on_an_inspection_issue_may_ask_for_more_photos_first(api, app_module, stack):
    """Issue 23, part 2: asking for more photos is one of the customer's decisions on an inspected item."""
    checks = {"color": "ok", "damage": "issue", "stains": "ok", "size": "ok"}
    checks |= {"model": "n/a", "version": "n/a"}
    [item_id] = stored(api, result="issue", checks=checks, notes="A scratch on the zip")
    assert Item.get(item_id).status == "inspection_issue"
    asked = ask(api, item_id)
    assert asked.status == 201, asked.body
    photograph(api, app_module, stack, item_id)
    done = api.post(f"/staff/photo-requests/{asked.body['request_id']}/complete", user=WAREHOUSE)
    assert done.status == 200, done.body
    assert Item.get(item_id).status == "inspection_issue"  # the decision is still the customer's
