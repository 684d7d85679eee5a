"""Paid services are work items (issue 24, part 3): the packer ticks off or refunds every paid service the
warehouse performs before `pack` is accepted; a refunded one is credited once and never charged again.

SERVICES = insurance (not work: a percentage of the value) + reinforcement (¥15, work).
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import ALICE, BOB, REVIEWER, WAREHOUSE
from tests.integration.test_packages import HEAVY, balance, paid_package, stored, submit

pytestmark = pytest.mark.usefixtures("shop")

REINFORCEMENT_FEN = 1500


def _pack(api, package_id):
    return api.post(f"/staff/packages/{package_id}/pack", HEAVY, user=WAREHOUSE)


def _service(api, package_id, service, action, body=None, user=WAREHOUSE, **kw):
    path = f"/staff/packages/{package_id}/services/{service}/{action}"
    return api.post(path, {} if body is None else body, user=user, **kw)


def _work(body) -> dict:
    return {w["service"]: w for w in body["service_work"]}


def _ledger(api, kind):
    return [e for e in api.get("/wallet?limit=100", user=ALICE).body["entries"] if e["kind"] == kind]


def test_pack_is_refused_while_a_paid_service_is_not_done_and_names_it(api):
    package = paid_package(api)
    pid = package["package_id"]
    assert _work(package) == {
        "reinforcement": {
            "service": "reinforcement",
            "name": "Reinforced packing (corner guards, extra carton, bubble wrap)",
            "price_fen": REINFORCEMENT_FEN,
            "status": "to_do",
            "at": None,
            "photo_id": None,
            "note": None,
            "refund_fen": 0,
        }
    }  # insurance is no work item
    before = balance(api)
    refused = _pack(api, pid)
    assert refused.status == 409, refused.body
    assert refused.body["error"]["code"] == "services_not_done"
    assert "reinforcement" in refused.body["error"]["message"]
    assert refused.body["error"]["details"] == [{"service": "reinforcement"}]
    after = api.get(f"/packages/{pid}", user=ALICE).body
    assert after["status"] == "paid" and after["packed"] is None and balance(api) == before


def test_a_performed_service_lets_the_package_be_packed_and_shows_who_did_it_when(api):
    pid = paid_package(api)["package_id"]
    done = _service(api, pid, "reinforcement", "perform", {"note": "Corner guards on all 8"})
    assert done.status == 200, done.body
    work = _work(done.body)["reinforcement"]
    assert work["status"] == "performed" and work["at"] and work["note"] == "Corner guards on all 8"
    packed = _pack(api, pid)
    assert packed.status == 200, packed.body
    assert packed.body["services_breakdown"]["reinforcement"] == REINFORCEMENT_FEN  # charged: it was done
    seen = api.get(f"/packages/{pid}", user=ALICE).body
    assert _work(seen)["reinforcement"]["status"] == "performed"
    again = _service(api, pid, "reinforcement", "perform")
    assert again.status == 409  # packed: nothing left to tick off


def test_a_service_that_could_not_be_done_is_refunded_once_and_not_charged_at_packing(api):
    package = paid_package(api)
    pid = package["package_id"]
    before = balance(api)
    refunded = _service(api, pid, "reinforcement", "refund", {"reason": "No carton big enough"})
    assert refunded.status == 200, refunded.body
    work = _work(refunded.body)["reinforcement"]
    assert (work["status"], work["refund_fen"], work["note"]) == ("refunded", 1500, "No carton big enough")
    assert refunded.body["refunded_fen"] == REINFORCEMENT_FEN
    assert balance(api) == before + REINFORCEMENT_FEN
    [entry] = _ledger(api, "package_service_refund")
    assert (entry["amount_fen"], entry["ref"]) == (REINFORCEMENT_FEN, pid)
    # a second refund or a tick after it: refused, nothing moves
    assert _service(api, pid, "reinforcement", "refund", {"reason": "again"}).status == 409
    assert _service(api, pid, "reinforcement", "perform").status == 409
    assert balance(api) == before + REINFORCEMENT_FEN
    # packing at the quoted size: the final charge leaves reinforcement out, and nothing more is refunded
    packed = _pack(api, pid)
    assert packed.status == 200, packed.body
    assert "reinforcement" not in packed.body["services_breakdown"]
    assert packed.body["total_fen"] == package["total_fen"] - REINFORCEMENT_FEN
    assert packed.body["packed"]["difference_fen"] == 0
    assert balance(api) == before + REINFORCEMENT_FEN


def test_a_cancelled_package_refunds_what_is_left_after_a_service_refund(api):
    package = paid_package(api)
    pid = package["package_id"]
    before = balance(api)
    assert _service(api, pid, "reinforcement", "refund", {"reason": "No carton"}).status == 200
    assert api.post(f"/packages/{pid}/cancel", user=ALICE).status == 200
    assert balance(api) == before + package["total_fen"]  # in all: exactly what was paid


def test_bad_input_is_a_4xx_and_changes_nothing(api):
    package = paid_package(api)
    pid = package["package_id"]
    before = (balance(api), api.get(f"/packages/{pid}", user=ALICE).body)
    assert _service(api, pid, "insurance", "perform").status == 404  # no work item
    assert _service(api, pid, "vacuum", "refund", {"reason": "not chosen"}).status == 404
    assert _service(api, pid, "Bad Name!", "perform").status == 404
    assert _service(api, "pkg_nope", "reinforcement", "perform").status == 404
    for body in ({"reason": ""}, {"reason": "x" * 501}, {}, {"reason": "ok ok", "extra": 1}):
        assert _service(api, pid, "reinforcement", "refund", body).status == 400, body
    for body in ({"photo_id": "nope"}, {"note": ""}, {"photo_id": "pho_01JDX9ZQ3R4S5T6V7W8X9Y0Z1A"}):
        assert _service(api, pid, "reinforcement", "perform", body).status == 400, body
    assert (balance(api), api.get(f"/packages/{pid}", user=ALICE).body) == before


def test_only_a_paid_package_has_services_to_do(api):
    item_ids = stored(api)
    created = submit(api, item_ids)
    assert created.status == 201
    pid = created.body["package_id"]
    assert _service(api, pid, "reinforcement", "perform").status == 409  # not paid yet
    assert _service(api, pid, "reinforcement", "refund", {"reason": "unpaid"}).status == 409


def test_services_are_the_warehouses_work(api):
    pid = paid_package(api)["package_id"]
    for user, status in ((ALICE, 403), (BOB, 403), (REVIEWER, 403), (None, 401)):
        assert _service(api, pid, "reinforcement", "perform", user=user).status == status
        assert _service(api, pid, "reinforcement", "refund", {"reason": "nope"}, user=user).status == status
    assert _work(api.get(f"/packages/{pid}", user=ALICE).body)["reinforcement"]["status"] == "to_do"


def test_a_photo_of_the_work_is_one_uploaded_for_an_item_of_the_package(api):
    package = paid_package(api)
    pid = package["package_id"]
    [item_id] = package["item_ids"]
    upload = api.post(f"/staff/items/{item_id}/photos", {"content_type": "image/jpeg"}, user=WAREHOUSE)
    assert upload.status == 201, upload.body  # the item is in a package on the packing table
    [other_item] = stored(api, tracking="YT1000077")
    other = api.post(f"/staff/items/{other_item}/photos", {"content_type": "image/jpeg"}, user=WAREHOUSE)
    assert other.status == 201
    wrong = _service(api, pid, "reinforcement", "perform", {"photo_id": other.body["photo_id"]})
    assert wrong.status == 400 and "not of an item of this package" in wrong.body["error"]["message"]
    done = _service(api, pid, "reinforcement", "perform", {"photo_id": upload.body["photo_id"]})
    assert done.status == 200, done.body
    assert _work(done.body)["reinforcement"]["photo_id"] == upload.body["photo_id"]
