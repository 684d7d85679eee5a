"""Packing without surprises (issue 24): consent above a threshold, the answer deadline and its reminders,
the binding quote, and the rehearsal (confirm, repack, send back).

Figures (tests/integration/test_packages.py): Alice's paid EMS package with insurance and reinforcement
holds 30750 paid; her wallet then holds 13450. Packed at 5000 g in 40x30x20 cm it costs 64350: 33600
more, over the consent threshold min(20 % of 30750, ¥50) = 5000 and over the wallet.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clock, packages
from chalicelib.models.packages import Package
from infra.local.job import scheduled_event
from tests.integration.conftest import ALICE, BOB, WAREHOUSE, sent_emails, top_up
from tests.integration.test_packages import (
    ADDRESS,
    HEAVY_EMS_TOTAL,
    ORDER_TOTAL,
    SERVICES,
    balance,
    pack,
    paid_package,
    raw_item,
    stored,
)

pytestmark = pytest.mark.usefixtures("shop")

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
HEAVIER = (5000, {"l": 40, "w": 30, "h": 20})  # 33600 more than paid
DUE = 33600
SHIP = {"carrier": "EMS", "tracking_no": "EE123456789CN"}


def sweep(app_module, when: datetime) -> dict:
    clock.set_now(when)
    return app_module.storage_sweep(scheduled_event(clock.now_iso()), None)


def waiting_package(api) -> dict:
    """Alice's package packed 33600 over what she paid (over the threshold and her wallet)."""
    clock.set_now(T0)
    package = paid_package(api)
    packed = pack(api, package["package_id"], *HEAVIER)
    assert packed.status == 200, packed.body
    assert packed.body["status"] == "awaiting_difference" and packed.body["due_fen"] == DUE
    return packed.body


def emails(template: str) -> list[dict]:
    return [e for e in sent_emails(ALICE) if e["template"] == template]


class TestConsentAboveTheThreshold:
    def test_a_packing_difference_within_the_threshold_is_charged_without_asking(self, api):
        package = paid_package(api, user=BOB)
        before = balance(api, BOB)
        packed = pack(api, package["package_id"], 1600, {"l": 30, "w": 25, "h": 12})  # 4800 more <= 5000
        assert packed.body["status"] == "packed" and packed.body["packed"]["settlement"] == "charged"
        assert balance(api, BOB) == before - 4800 and packed.body["answer_due_at"] is None

    def test_a_packing_difference_over_the_threshold_waits_for_the_customer_with_a_deadline(self, api):
        package = waiting_package(api)
        assert package["packed"]["settlement"] == "awaiting_confirmation"
        assert package["answer_due_at"] == "2026-12-14T02:00:00Z"  # PACKING_ANSWER_DAYS = 7
        assert balance(api) == 50000 - ORDER_TOTAL - HEAVY_EMS_TOTAL  # nothing taken
        [asked] = emails("package_difference_confirm")
        assert asked["data"]["amount"] == "¥336.00" and asked["data"]["threshold"] == "¥50.00"
        queue = api.get("/staff/packages?status=awaiting_payment", user=WAREHOUSE).body["items"]
        assert [p["package_id"] for p in queue] == [package["package_id"]]
        pid = package["package_id"]
        assert api.post(f"/staff/packages/{pid}/ship", SHIP, user=WAREHOUSE).status == 409

    def test_the_customer_pays_the_difference_and_the_package_ships(self, api, app_module):
        package = waiting_package(api)
        pid = package["package_id"]
        top_up(api, ALICE, 30000)
        before = balance(api)
        paid = api.post(f"/packages/{pid}/pay-difference", user=ALICE, headers={"Idempotency-Key": "p1"})
        assert paid.status == 200 and paid.body["status"] == "packed", paid.body
        assert paid.body["packed"]["settlement"] == "charged" and paid.body["answer_due_at"] is None
        assert balance(api) == before - DUE
        assert Package.get(pid).deadline_key is None  # off the deadline index
        # the deadline passes: the sweep leaves a paid package alone
        result = sweep(app_module, T0 + timedelta(days=8))
        assert result.get("packages_returned_unanswered", 0) == 0
        assert api.post(f"/staff/packages/{pid}/ship", SHIP, user=WAREHOUSE).status == 200

    def test_the_customer_sends_it_back_to_storage_refunded_with_the_items_on_the_shelf(self, api):
        package = waiting_package(api)
        pid = package["package_id"]
        [item_id] = package["item_ids"]
        before = balance(api)
        clock.set_now(T0 + timedelta(days=2))
        key = {"Idempotency-Key": "back-1"}
        back = api.post(f"/packages/{pid}/return-to-storage", user=ALICE, headers=key)
        assert back.status == 200, back.body
        assert back.body["status"] == "cancelled" and back.body["cancel_reason"] == "returned_to_storage"
        assert back.body["packed"]["settlement"] == "declined" and back.body["due_fen"] == 0
        assert back.body["refunded_fen"] == HEAVY_EMS_TOTAL
        assert balance(api) == before + HEAVY_EMS_TOTAL
        item = raw_item(item_id)
        assert item.status == "in_warehouse" and item.package_id is None and item.deadline_key
        # the replay answers what was committed and moves nothing
        again = api.post(f"/packages/{pid}/return-to-storage", user=ALICE, headers=key)
        assert (again.status, again.body) == (back.status, back.body)
        assert balance(api) == before + HEAVY_EMS_TOTAL
        assert api.post(f"/packages/{pid}/return-to-storage", user=ALICE).status == 409
        assert api.post(f"/packages/{pid}/pay-difference", user=ALICE).status == 409

    def test_a_package_that_is_not_waiting_cannot_be_sent_back(self, api):
        package = paid_package(api)
        pid = package["package_id"]
        refused = api.post(f"/packages/{pid}/return-to-storage", user=ALICE)
        assert refused.status == 409 and "awaiting_difference" in refused.body["error"]["message"]
        assert api.post(f"/packages/{pid}/return-to-storage", user=BOB).status == 404


class TestNoPackageWaitsForEver:
    def test_a_packed_package_the_customer_cannot_pay_is_not_left_packed_and_unpaid_for_ever(
        self, api, app_module
    ):
        """The issue's case: packed, the difference over the wallet, no answer. It is reminded before its
        deadline and then goes back to storage, refunded, its items on the shelf with the grace period."""
        package = waiting_package(api)
        pid = package["package_id"]
        [item_id] = package["item_ids"]
        before = balance(api)
        sweep(app_module, T0 + timedelta(days=1))
        assert emails("package_answer_reminder") == []
        sweep(app_module, T0 + timedelta(days=4, hours=1))  # 3 days before the deadline
        sweep(app_module, T0 + timedelta(days=4, hours=5))  # a rerun sends nothing twice
        assert [e["data"]["days"] for e in emails("package_answer_reminder")] == [3]
        sweep(app_module, T0 + timedelta(days=6, hours=1))
        assert [e["data"]["days"] for e in emails("package_answer_reminder")] == [3, 1]
        assert api.get(f"/packages/{pid}", user=ALICE).body["status"] == "awaiting_difference"

        result = sweep(app_module, T0 + timedelta(days=7, hours=1))
        assert result["packages_returned_unanswered"] == 1
        body = api.get(f"/packages/{pid}", user=ALICE).body
        assert body["status"] == "cancelled" and body["cancel_reason"] == "answer_expired"
        assert body["refunded_fen"] == HEAVY_EMS_TOTAL and body["answer_due_at"] is None
        assert balance(api) == before + HEAVY_EMS_TOTAL
        [told] = emails("package_returned_to_storage")
        assert told["data"]["refund"] == "¥307.50"
        item = raw_item(item_id)
        assert item.status == "in_warehouse" and item.package_id is None
        grace = clock.now() + timedelta(days=7)
        assert clock.parse_iso(item.storage_expires_at) >= grace - timedelta(seconds=1)
        assert item.deadline_key
        again = sweep(app_module, T0 + timedelta(days=8))
        assert again.get("packages_returned_unanswered", 0) == 0
        assert balance(api) == before + HEAVY_EMS_TOTAL

    def test_the_sweep_losing_to_the_customers_payment_returns_nothing(self, api, app_module, monkeypatch):
        """The sweep read the package waiting; the customer pays before its commit: the payment wins."""
        package = waiting_package(api)
        pid = package["package_id"]
        top_up(api, ALICE, 40000)
        before = balance(api)
        real = packages._package
        raced = []

        def read_then_customer_pays(package_id, **how):
            found = real(package_id, **how)
            if not raced:
                raced.append(1)
                assert api.post(f"/packages/{pid}/pay-difference", user=ALICE).status == 200
            return found

        monkeypatch.setattr(packages, "_package", read_then_customer_pays)
        clock.set_now(T0 + timedelta(days=7, hours=1))
        assert packages.return_unanswered(Package.get(pid)) is False
        body = api.get(f"/packages/{pid}", user=ALICE).body
        assert body["status"] == "packed" and body["refunded_fen"] == 0
        assert balance(api) == before - DUE

    def test_the_payment_losing_to_the_sweep_is_409_and_moves_no_money(self, api, app_module, monkeypatch):
        """The customer's payment read the package waiting; the deadline sweep commits first."""
        package = waiting_package(api)
        pid = package["package_id"]
        top_up(api, ALICE, 40000)
        before = balance(api)
        clock.set_now(T0 + timedelta(days=7, hours=1))
        real = packages._package
        raced = []

        def read_then_sweep_returns_it(package_id, **how):
            found = real(package_id, **how)
            if not raced:
                raced.append(1)
                # the sweep is another Lambda: its own thread, outside this request's idempotency claim
                with ThreadPoolExecutor(max_workers=1) as other:
                    assert other.submit(packages.return_unanswered, Package.get(pid)).result() is True
            return found

        monkeypatch.setattr(packages, "_package", read_then_sweep_returns_it)
        paid = api.post(f"/packages/{pid}/pay-difference", user=ALICE, headers={"Idempotency-Key": "late"})
        assert paid.status == 409, paid.body
        assert balance(api) == before + HEAVY_EMS_TOTAL  # refunded by the sweep, nothing charged
        assert api.get(f"/packages/{pid}", user=ALICE).body["cancel_reason"] == "answer_expired"


class TestBindingQuote:
    def test_the_quote_says_the_most_the_final_charge_can_be_without_asking(self, api):
        item_ids = stored(api)
        body = {"item_ids": item_ids, "country": "US", "services": SERVICES}
        quote = api.post("/packages/quote", body, user=ALICE).body
        ems = next(q for q in quote["quotes"] if q["line_id"] == "ems")
        assert ems["total_fen"] == HEAVY_EMS_TOTAL
        assert ems["max_charge_without_consent_fen"] == HEAVY_EMS_TOTAL + 5000  # min(6150, 5000)
        created = api.post(
            "/packages",
            {"item_ids": item_ids, "address": ADDRESS, "line_id": "ems", "services": SERVICES},
            user=ALICE,
        ).body
        assert created["max_charge_without_consent_fen"] == HEAVY_EMS_TOTAL + 5000

    def test_the_packing_preview_is_the_servers_decision_with_the_threshold(self, api):
        package = paid_package(api)
        pid = package["package_id"]
        weight, dims = HEAVIER
        preview = api.post(
            f"/staff/packages/{pid}/pack-preview", {"weight_g": weight, "dims_cm": dims}, user=WAREHOUSE
        ).body
        assert preview["decision"]["consent_threshold_fen"] == 5000
        assert preview["decision"]["settlement"] == "awaiting_confirmation"
        assert preview["decision"]["due_fen"] == DUE
        assert pack(api, pid, weight, dims).body["packed"]["settlement"] == "awaiting_confirmation"


def rehearsal_package(api, user=ALICE) -> dict:
    """A paid package with a rehearsal (¥18 more than SERVICES' package)."""
    item_ids = stored(api, user=user)
    body = {"item_ids": item_ids, "address": ADDRESS, "line_id": "ems", "services": [*SERVICES, "rehearsal"]}
    created = api.post("/packages", body, user=user)
    assert created.status == 201, created.body
    assert created.body["services_breakdown"]["rehearsal"] == 1800
    paid = api.post(f"/packages/{created.body['package_id']}/pay", user=user)
    assert paid.status == 200, paid.body
    return paid.body


class TestRehearsal:
    def test_a_rehearsal_shows_the_parcel_and_its_exact_charge_before_anything_ships(self, api):
        clock.set_now(T0)
        package = rehearsal_package(api)
        pid = package["package_id"]
        before = balance(api)
        rehearsed = pack(api, pid, 1600, {"l": 30, "w": 25, "h": 12})
        assert rehearsed.status == 200, rehearsed.body
        body = rehearsed.body
        assert body["status"] == "rehearsed" and body["packed"]["weight_g"] == 1600
        assert body["packed"]["settlement"] == "awaiting_confirmation" and body["due_fen"] == 4800
        assert body["answer_due_at"] == "2026-12-14T02:00:00Z"
        assert balance(api) == before  # nothing moves until the customer confirms
        [told] = emails("package_rehearsed")
        assert told["data"]["weight_g"] == 1600 and told["data"]["difference"] == "¥48.00"
        assert api.post(f"/staff/packages/{pid}/ship", SHIP, user=WAREHOUSE).status == 409
        queue = api.get("/staff/packages?status=rehearsed", user=WAREHOUSE).body["items"]
        assert [p["package_id"] for p in queue] == [pid]

        note = {"note": "  Please remove the shoe box and add bubble wrap.  "}
        assert api.post(f"/packages/{pid}/repack", note, user=BOB).status == 404
        again = api.post(f"/packages/{pid}/repack", note, user=ALICE)
        assert again.status == 200 and again.body["status"] == "paid", again.body
        assert again.body["repack_note"] == "Please remove the shoe box and add bubble wrap."
        staff = api.get(f"/staff/packages/{pid}", user=WAREHOUSE).body
        assert staff["repack_note"] == again.body["repack_note"] and staff["answer_due_at"] is None
        assert api.post(f"/packages/{pid}/confirm-packing", user=ALICE).status == 409

        lighter = pack(api, pid, 1200, {"l": 30, "w": 20, "h": 10})
        assert lighter.body["status"] == "rehearsed" and lighter.body["packed"]["difference_fen"] == 0
        key = {"Idempotency-Key": "ok-1"}
        confirmed = api.post(f"/packages/{pid}/confirm-packing", user=ALICE, headers=key)
        assert confirmed.status == 200 and confirmed.body["status"] == "packed", confirmed.body
        assert confirmed.body["packed"]["settlement"] == "none" and confirmed.body["answer_due_at"] is None
        replay = api.post(f"/packages/{pid}/confirm-packing", user=ALICE, headers=key)
        assert (replay.status, replay.body) == (confirmed.status, confirmed.body)
        assert balance(api) == before
        assert api.post(f"/staff/packages/{pid}/ship", SHIP, user=WAREHOUSE).status == 200

    def test_confirming_a_dearer_rehearsal_charges_the_exact_difference(self, api):
        package = rehearsal_package(api)
        pid = package["package_id"]
        weight, dims = HEAVIER
        assert pack(api, pid, weight, dims).body["due_fen"] == DUE
        short = api.post(f"/packages/{pid}/confirm-packing", user=ALICE)
        assert short.status == 409 and short.body["error"]["code"] == "insufficient_funds"
        top_up(api, ALICE, 40000)
        before = balance(api)
        confirmed = api.post(f"/packages/{pid}/confirm-packing", user=ALICE)
        assert confirmed.status == 200 and confirmed.body["packed"]["settlement"] == "charged"
        assert balance(api) == before - DUE
        assert confirmed.body["paid_fen"] == HEAVY_EMS_TOTAL + 1800 + DUE

    def test_a_rehearsed_parcel_sent_back_keeps_only_the_rehearsal_fee(self, api):
        package = rehearsal_package(api)
        pid = package["package_id"]
        before = balance(api)
        assert pack(api, pid, 1200, {"l": 30, "w": 20, "h": 10}).body["status"] == "rehearsed"
        back = api.post(f"/packages/{pid}/return-to-storage", user=ALICE)
        assert back.status == 200 and back.body["cancel_reason"] == "returned_to_storage"
        assert back.body["refunded_fen"] == HEAVY_EMS_TOTAL  # paid HEAVY_EMS_TOTAL + 1800
        assert balance(api) == before + HEAVY_EMS_TOTAL

    def test_an_unanswered_rehearsal_goes_back_to_storage(self, api, app_module):
        clock.set_now(T0)
        package = rehearsal_package(api)
        pid = package["package_id"]
        assert pack(api, pid, 1200, {"l": 30, "w": 20, "h": 10}).body["status"] == "rehearsed"
        sweep(app_module, T0 + timedelta(days=6, hours=1))
        [reminder] = emails("package_answer_reminder")
        assert reminder["data"]["rehearsal"] is True
        sweep(app_module, T0 + timedelta(days=7, hours=1))
        body = api.get(f"/packages/{pid}", user=ALICE).body
        assert body["status"] == "cancelled" and body["cancel_reason"] == "answer_expired"
        assert body["refunded_fen"] == HEAVY_EMS_TOTAL

    def test_repack_needs_a_note_and_a_rehearsed_package(self, api):
        package = rehearsal_package(api)
        pid = package["package_id"]
        assert api.post(f"/packages/{pid}/repack", {"note": "x"}, user=ALICE).status == 409
        pack(api, pid, 1200, {"l": 30, "w": 20, "h": 10})
        for bad in ({}, {"note": ""}, {"note": "   "}, {"note": "x" * 501}):
            assert api.post(f"/packages/{pid}/repack", bad, user=ALICE).status == 400, bad
        assert api.get(f"/packages/{pid}", user=ALICE).body["status"] == "rehearsed"


class TestRehearsalPhotos:
    def test_the_customer_sees_the_photos_of_the_rehearsed_parcel(self, api, app_module, stack):
        from tests.integration.test_photos import deliver_queue, image_bytes, put

        package = rehearsal_package(api)
        pid = package["package_id"]
        assert pack(api, pid, 1200, {"l": 30, "w": 20, "h": 10}).body["status"] == "rehearsed"
        ticket = api.post(f"/staff/packages/{pid}/photos", {"content_type": "image/jpeg"}, user=WAREHOUSE)
        assert ticket.status == 201, ticket.body
        key = ticket.body["upload"]["fields"]["key"]
        assert key == f"qc/{pid}/{ticket.body['photo_id']}.jpg"
        jpeg = image_bytes(seed=7)
        put(stack, key, jpeg)
        assert len(deliver_queue(app_module, stack)) == 1
        assert api.get(f"/staff/photos/{ticket.body['photo_id']}", user=WAREHOUSE).body["status"] == "ready"

        seen = api.get(f"/packages/{pid}/photos", user=ALICE)
        assert seen.status == 200, seen.body
        (photo,) = seen.body["items"]
        assert photo["photo_id"] == ticket.body["photo_id"] and photo["size"] == len(jpeg)
        assert "X-Amz-Signature=" in photo["url"] and photo["thumbnail_url"]
        for user, status in ((BOB, 404), (WAREHOUSE, 200), (None, 401)):
            assert api.get(f"/packages/{pid}/photos", user=user).status == status, user
        # the package's other answers are untouched by its photos
        assert api.get(f"/packages/{pid}", user=ALICE).body["status"] == "rehearsed"

    def test_a_package_is_photographed_only_while_it_is_packed(self, api):
        item_ids = stored(api)
        body = {"item_ids": item_ids, "address": ADDRESS, "line_id": "ems", "services": ["rehearsal"]}
        pid = api.post("/packages", body, user=ALICE).body["package_id"]
        refused = api.post(f"/staff/packages/{pid}/photos", {"content_type": "image/png"}, user=WAREHOUSE)
        assert refused.status == 409 and "pending_payment" in refused.body["error"]["message"]
        assert (
            api.post("/staff/packages/pkg_nope/photos", {"content_type": "image/png"}, user=WAREHOUSE).status
            == 404
        )
        assert (
            api.post(f"/staff/packages/{pid}/photos", {"content_type": "image/png"}, user=ALICE).status == 403
        )
