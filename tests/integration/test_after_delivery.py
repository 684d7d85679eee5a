"""Issue 22, after delivery: auto-confirm by the line's own estimate, after-sales for delivered goods,
and insurance claims on packages, over HTTP on in-process moto.

Figures: EMS is estimated 7-15 days and China Post SAL 15-30; AUTO_CONFIRM_MARGIN_DAYS is 5, so an EMS
package counts as delivered 20 days after shipping and a SAL one 35 days after (the old flat 20 days
confirmed a SAL package while it could still be in transit).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clock
from chalicelib.models.commerce import Item
from chalicelib.rules import shipping as shipping_rules
from infra.local.job import scheduled_event
from tests.integration.conftest import ADMIN, ALICE, BOB, REVIEWER, WAREHOUSE, sent_emails, top_up
from tests.integration.test_packages import pack, stored, submit
from tests.integration.test_photos import deliver, deliver_queue, image_bytes, put

pytestmark = pytest.mark.usefixtures("shop")

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
BOX = {"l": 30, "w": 20, "h": 10}


def shipped_package(api, line_id="ems", services=("insurance",), user=ALICE, when=T0, tracking="YT2200001"):
    """A package of one stored T-shirt line, paid, packed and shipped at `when`."""
    clock.set_now(when)
    item_ids = stored(api, user=user, tracking=tracking)
    package = submit(api, item_ids, user=user, line_id=line_id, services=list(services))
    assert package.status == 201, package.body
    package_id = package.body["package_id"]
    top_up(api, user, 100000)
    assert api.post(f"/packages/{package_id}/pay", user=user).status == 200
    assert pack(api, package_id, 1200, BOX).status == 200
    ship = {"carrier": "EMS", "tracking_no": "EE123456789CN"}
    assert api.post(f"/staff/packages/{package_id}/ship", ship, user=WAREHOUSE).status == 200
    return package_id


def delivered_package(api, delivered_at=T0 + timedelta(days=10), **kw):
    package_id = shipped_package(api, **kw)
    clock.set_now(delivered_at)
    assert api.post(f"/packages/{package_id}/confirm-receipt", user=kw.get("user", ALICE)).status == 200
    return package_id


def item_of(api, package_id, user=ALICE) -> str:
    return api.get(f"/packages/{package_id}", user=user).body["items"][0]["item_id"]


def balance(api, user=ALICE) -> int:
    return api.get("/wallet", user=user).body["balance_fen"]


def auto_confirm(app_module) -> dict:
    return app_module.auto_confirm_receipt(scheduled_event(clock.now_iso()), None)


# --- auto-confirm follows the line's estimate ---------------------------------------------------------------


class TestAutoConfirmFollowsTheLine:
    def test_a_slow_line_is_not_confirmed_while_its_estimate_still_runs(self, api, app_module):
        package_id = shipped_package(api, line_id="china_post_sal")
        due = (T0 + timedelta(days=30 + 5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert api.get(f"/packages/{package_id}", user=ALICE).body["auto_confirm_at"] == due
        # 21 days: past the old flat 20, inside SAL's 15-30 day estimate
        clock.set_now(T0 + timedelta(days=21))
        assert auto_confirm(app_module)["confirmed"] == 0
        assert api.get(f"/packages/{package_id}", user=ALICE).body["status"] == "shipped"
        clock.set_now(T0 + timedelta(days=34, hours=23))
        assert auto_confirm(app_module)["confirmed"] == 0
        clock.set_now(T0 + timedelta(days=35, hours=1))
        assert auto_confirm(app_module)["confirmed"] == 1
        package = api.get(f"/packages/{package_id}", user=ALICE).body
        assert package["status"] == "delivered" and package["delivery_confirmed_by"] == "auto"
        assert auto_confirm(app_module)["confirmed"] == 0  # a rerun finds nothing

    def test_a_fast_line_is_confirmed_after_its_own_shorter_estimate(self, api, app_module):
        package_id = shipped_package(api, line_id="dhl_express")  # 3-6 days: due 11 days after shipping
        clock.set_now(T0 + timedelta(days=10))
        assert auto_confirm(app_module)["confirmed"] == 0
        clock.set_now(T0 + timedelta(days=11, hours=1))
        assert auto_confirm(app_module)["confirmed"] == 1
        assert api.get(f"/packages/{package_id}", user=ALICE).body["status"] == "delivered"

    def test_the_margin_is_configuration(self, api, app_module, monkeypatch):
        monkeypatch.setenv("AUTO_CONFIRM_MARGIN_DAYS", "10")
        package_id = shipped_package(api, line_id="ems")  # 15 + 10
        assert api.get(f"/packages/{package_id}", user=ALICE).body["auto_confirm_at"].startswith("2026-12-26")
        assert api.get("/package-services", user=ALICE).body["auto_confirm_margin_days"] == 10


# --- after-sales for delivered goods ------------------------------------------------------------------------


def open_case(api, item_id, issue="damage", user=ALICE, type_="refund"):
    body = {"item_id": item_id, "type": type_, "reason": "The sleeve is torn", "issue": issue}
    return api.post("/after-sales", body, user=user)


class TestAfterSalesAfterDelivery:
    def test_a_delivered_item_opens_a_case_within_the_window(self, api):
        package_id = delivered_package(api)
        item_id = item_of(api, package_id)
        clock.set_now(T0 + timedelta(days=10 + 13))
        case = open_case(api, item_id)
        assert case.status == 201, case.body
        assert case.body["status"] == "open" and case.body["issue"] == "damage"
        assert case.body["delivered_at"] == "2026-12-11T06:00:00Z" and case.body["photos"] == []
        queue = api.get("/staff/after-sales", user=WAREHOUSE).body["items"]
        assert case.body["case_id"] in [c["case_id"] for c in queue]
        # one open case per item
        assert open_case(api, item_id).status == 409

    def test_the_window_closes_after_the_configured_days(self, api, monkeypatch):
        package_id = delivered_package(api)
        item_id = item_of(api, package_id)
        clock.set_now(T0 + timedelta(days=10 + 14, minutes=1))
        late = open_case(api, item_id)
        assert late.status == 409 and late.body["error"]["code"] == "after_sales_window_closed"
        monkeypatch.setenv("AFTER_SALES_DAYS_AFTER_DELIVERY", "30")
        assert open_case(api, item_id).status == 201

    @pytest.mark.parametrize("issue", ["colour", "size_error", "performance"])
    def test_issues_outside_the_inspection_scope_are_refused_with_the_seeds_reason(self, api, issue):
        item_id = item_of(api, delivered_package(api))
        refused = open_case(api, item_id, issue=issue)
        assert refused.status == 409 and refused.body["error"]["code"] == "outside_inspection_scope"
        assert "not within the inspection scope" in refused.body["error"]["message"]
        assert Item.get(item_id, consistent_read=True).open_case_id is None

    def test_a_delivered_case_needs_an_issue_and_is_a_refund(self, api):
        item_id = item_of(api, delivered_package(api))
        assert open_case(api, item_id, issue=None).status == 400
        assert open_case(api, item_id, type_="return").status == 409
        assert open_case(api, item_id, issue="broken").status == 400  # not a kind we know
        assert open_case(api, item_id, user=BOB).status == 404

    def test_a_shipped_item_still_in_transit_has_no_case(self, api):
        item_id = item_of(api, shipped_package(api))
        assert open_case(api, item_id).status == 409

    def test_refund_is_capped_by_what_was_paid_and_reaches_the_wallet_once(self, api):
        item_id = item_of(api, delivered_package(api))
        case_id = open_case(api, item_id).body["case_id"]
        paid = int(Item.get(item_id, consistent_read=True).paid_fen)
        resolve = f"/staff/after-sales/{case_id}/resolve"
        too_much = api.post(resolve, {"resolution": "refund", "refund_fen": paid + 1}, user=REVIEWER)
        assert too_much.status == 400
        assert api.post(resolve, {"resolution": "return"}, user=REVIEWER).status == 409
        before = balance(api)
        emails = len(sent_emails(ALICE))
        done = api.post(resolve, {"resolution": "refund", "refund_fen": 1500, "note": "Torn"}, user=REVIEWER)
        assert done.status == 200, done.body
        assert done.body["item"]["status"] == "delivered" and done.body["refund_fen"] == 1500
        assert balance(api) == before + 1500
        assert api.post(resolve, {"resolution": "refund", "refund_fen": 1500}, user=REVIEWER).status == 409
        assert balance(api) == before + 1500
        assert [e["template"] for e in sent_emails(ALICE)[emails:]] == ["after_sales_resolved"]
        # a second case may take at most what is left
        case_2 = open_case(api, item_id).body["case_id"]
        again = {"resolution": "refund", "refund_fen": paid - 1500 + 1}
        assert api.post(f"/staff/after-sales/{case_2}/resolve", again, user=REVIEWER).status == 400
        item = Item.get(item_id, consistent_read=True)
        assert int(item.refunded_fen) == 1500 <= int(item.paid_fen)

    def test_reject_with_a_reason_moves_no_money(self, api):
        item_id = item_of(api, delivered_package(api))
        case_id = open_case(api, item_id).body["case_id"]
        before = balance(api)
        body = {"resolution": "reject", "note": "The photos show no damage."}
        done = api.post(f"/staff/after-sales/{case_id}/resolve", body, user=WAREHOUSE)
        assert done.status == 200 and done.body["resolution"] == "reject"
        assert balance(api) == before

    def test_concurrent_refunds_of_one_case_pay_once(self, api):
        item_id = item_of(api, delivered_package(api))
        case_id = open_case(api, item_id).body["case_id"]
        before = balance(api)
        body = {"resolution": "refund", "refund_fen": 1000}

        def resolve(user):
            return api.post(f"/staff/after-sales/{case_id}/resolve", body, user=user).status

        with ThreadPoolExecutor(4) as pool:
            statuses = sorted(pool.map(resolve, [REVIEWER, WAREHOUSE, ADMIN, REVIEWER]))
        assert statuses.count(200) == 1 and set(statuses) <= {200, 409}
        assert balance(api) == before + 1000

    def test_evidence_photos_are_uploaded_by_the_owner_and_ingested_onto_the_case(
        self, api, app_module, stack
    ):
        item_id = item_of(api, delivered_package(api))
        case_id = open_case(api, item_id).body["case_id"]
        path = f"/after-sales/{case_id}/photos"
        assert api.post(path, {"content_type": "image/gif"}, user=ALICE).status == 400
        assert api.post(path, {"content_type": "image/jpeg"}, user=BOB).status == 404
        upload = api.post(path, {"content_type": "image/jpeg"}, user=ALICE)
        assert upload.status == 201, upload.body
        fields = upload.body["upload"]["fields"]
        assert fields["key"] == f"qc/{case_id}/{upload.body['photo_id']}.jpg"
        assert upload.body["max_bytes"] == 10 * 1024 * 1024
        put(stack, fields["key"], image_bytes())
        deliver_queue(app_module, stack)
        [case] = [c for c in api.get("/after-sales", user=ALICE).body["items"] if c["case_id"] == case_id]
        assert [p["photo_id"] for p in case["photos"]] == [upload.body["photo_id"]]
        assert "X-Amz-Signature=" in case["photos"][0]["url"]
        staff_view = api.get("/staff/after-sales", user=WAREHOUSE).body["items"]
        assert next(c["photos"] for c in staff_view if c["case_id"] == case_id)[0]["photo_id"]
        # the item itself gets no photo: evidence belongs to the case
        assert api.get(f"/items/{item_id}/photos", user=ALICE).body["items"] == []
        # once resolved, no more evidence
        api.post(f"/staff/after-sales/{case_id}/resolve", {"resolution": "reject"}, user=REVIEWER)
        assert api.post(path, {"content_type": "image/jpeg"}, user=ALICE).status == 409


# --- insurance claims ---------------------------------------------------------------------------------------


def file_claim(api, package_id, kind="damaged", user=ALICE, **extra):
    body = {"kind": kind, "description": "The carton arrived crushed", **extra}
    return api.post(f"/packages/{package_id}/claims", body, user=user)


def resolve_claim(api, claim_id, decision="approved", user=WAREHOUSE, headers=None, **extra):
    body = {"decision": decision, "note": "Checked the photos", **extra}
    return api.post(f"/staff/claims/{claim_id}/resolve", body, user=user, headers=headers)


def insured_value(api, package_id) -> int:
    package = api.get(f"/packages/{package_id}", user=ALICE).body
    return package["declared_value_fen"] + package["shipping_fen"]


class TestClaims:
    def test_a_damage_claim_is_filed_queued_and_approved_into_the_wallet_capped(self, api):
        package_id = delivered_package(api)
        clock.set_now(T0 + timedelta(days=12))
        filed = file_claim(api, package_id)
        assert filed.status == 201, filed.body
        claim = filed.body
        assert claim["status"] == "open" and claim["kind"] == "damaged" and claim["compensation_fen"] == 0
        value = insured_value(api, package_id)
        assert claim["insured_value_fen"] == value
        queue = api.get("/staff/claims", user=WAREHOUSE).body["items"]
        assert [c["claim_id"] for c in queue] == [claim["claim_id"]]
        assert queue[0]["user_id"] == api.user_id(ALICE)
        assert [c["claim_id"] for c in api.get("/claims", user=ALICE).body["items"]] == [claim["claim_id"]]
        assert api.get("/claims", user=BOB).body["items"] == []
        # one open claim per package
        assert file_claim(api, package_id, kind="damaged").status == 409

        over = resolve_claim(api, claim["claim_id"], compensation_fen=value + 1)
        assert over.status == 400 and str(value) in over.body["error"]["message"]
        before, emails = balance(api), len(sent_emails(ALICE))
        done = resolve_claim(api, claim["claim_id"], compensation_fen=value)
        assert done.status == 200, done.body
        assert done.body["status"] == "approved" and done.body["compensation_fen"] == value
        assert done.body["decided_by"] == api.user_id(WAREHOUSE) and done.body["decided_at"]
        assert balance(api) == before + value
        entry = api.get("/wallet", user=ALICE).body["entries"][0]
        assert (entry["kind"], entry["amount_fen"], entry["ref"]) == (
            "claim_compensation",
            value,
            claim["claim_id"],
        )
        assert [e["template"] for e in sent_emails(ALICE)[emails:]] == ["claim_resolved"]
        assert api.get("/staff/claims", user=WAREHOUSE).body["items"] == []
        # the goods share is recorded on the item: no later refund can pay it again
        item = Item.get(item_of(api, package_id), consistent_read=True)
        assert int(item.refunded_fen) == int(item.paid_fen)
        # a second claim on the same package has nothing left to pay
        second = file_claim(api, package_id).body["claim_id"]
        assert resolve_claim(api, second).status == 400
        case = open_case(api, item.item_id)
        assert case.status == 201
        refund = {"resolution": "refund", "refund_fen": 1}
        assert (
            api.post(f"/staff/after-sales/{case.body['case_id']}/resolve", refund, user=REVIEWER).status
            == 400
        )

    def test_default_compensation_is_the_cap_and_never_more_than_was_paid(self, api):
        package_id = delivered_package(api)
        claim_id = file_claim(api, package_id).body["claim_id"]
        item_id = item_of(api, package_id)
        # an earlier after-sales refund lowers what the goods may still return
        case_id = open_case(api, item_id).body["case_id"]
        refund = {"resolution": "refund", "refund_fen": 1000}
        assert api.post(f"/staff/after-sales/{case_id}/resolve", refund, user=REVIEWER).status == 200
        package = api.get(f"/packages/{package_id}", user=ALICE).body
        item = Item.get(item_id, consistent_read=True)
        expected = min(insured_value(api, package_id), int(item.paid_fen) - 1000 + package["shipping_fen"])
        before = balance(api)
        done = resolve_claim(api, claim_id)
        assert done.status == 200 and done.body["compensation_fen"] == expected
        assert balance(api) == before + expected
        item = Item.get(item_id, consistent_read=True)
        assert int(item.refunded_fen) == int(item.paid_fen)

    def test_an_uninsured_package_has_no_claim_and_is_told_why(self, api):
        package_id = delivered_package(api, services=())
        refused = file_claim(api, package_id)
        assert refused.status == 409 and refused.body["error"]["code"] == "not_insured"
        assert "without insurance" in refused.body["error"]["message"]

    def test_a_package_whose_insurance_was_refunded_is_not_insured(self, api, monkeypatch):
        # a stage where the warehouse buys each parcel's policy: insurance is a work item it can refund
        services = [
            dict(s, work=True) if s["service"] == "insurance" else s for s in shipping_rules.DEFAULT_SERVICES
        ]
        monkeypatch.setenv("VALUE_ADDED_SERVICES", json.dumps(services))
        clock.set_now(T0)
        package = submit(api, stored(api), services=["insurance"])
        assert package.status == 201, package.body
        package_id = package.body["package_id"]
        top_up(api, ALICE, 100000)
        assert api.post(f"/packages/{package_id}/pay", user=ALICE).status == 200
        refund = {"reason": "The insurer refused the parcel"}
        refunded = api.post(f"/staff/packages/{package_id}/services/insurance/refund", refund, user=WAREHOUSE)
        assert refunded.status == 200, refunded.body
        assert pack(api, package_id, 1200, BOX).status == 200
        ship = {"carrier": "EMS", "tracking_no": "EE123456789CN"}
        assert api.post(f"/staff/packages/{package_id}/ship", ship, user=WAREHOUSE).status == 200
        clock.set_now(T0 + timedelta(days=10))
        assert api.post(f"/packages/{package_id}/confirm-receipt", user=ALICE).status == 200
        refused = file_claim(api, package_id)
        assert refused.status == 409 and refused.body["error"]["code"] == "not_insured", refused.body
        assert "refunded" in refused.body["error"]["message"]

    def test_damage_only_within_the_window_after_delivery(self, api):
        package_id = shipped_package(api)
        early = file_claim(api, package_id)
        assert early.status == 409 and early.body["error"]["code"] == "claim_window_closed"
        clock.set_now(T0 + timedelta(days=10))
        assert api.post(f"/packages/{package_id}/confirm-receipt", user=ALICE).status == 200
        clock.set_now(T0 + timedelta(days=17, minutes=1))
        late = file_claim(api, package_id)
        assert late.status == 409 and late.body["error"]["code"] == "claim_window_closed"
        clock.set_now(T0 + timedelta(days=16))
        assert file_claim(api, package_id).status == 201

    def test_lost_only_after_the_lines_longest_estimate_plus_the_grace(self, api, app_module):
        package_id = shipped_package(api, line_id="china_post_sal")  # 15-30 days; grace 7
        clock.set_now(T0 + timedelta(days=36, hours=23))
        early = file_claim(api, package_id, kind="lost")
        assert early.status == 409 and "late, not lost" in early.body["error"]["message"]
        # auto-confirmed at 35 days: the customer never confirmed it, so it may still be lost
        assert auto_confirm(app_module)["confirmed"] == 1
        clock.set_now(T0 + timedelta(days=37, hours=1))
        assert file_claim(api, package_id, kind="lost").status == 201

    def test_a_package_the_customer_confirmed_is_not_lost(self, api):
        package_id = delivered_package(api, delivered_at=T0 + timedelta(days=3))
        clock.set_now(T0 + timedelta(days=30))
        refused = file_claim(api, package_id, kind="lost")
        assert refused.status == 409 and "confirmed receiving" in refused.body["error"]["message"]

    def test_seized_from_shipping_until_the_loss_window_closes(self, api):
        package_id = shipped_package(api)
        clock.set_now(T0 + timedelta(days=2))
        assert file_claim(api, package_id, kind="seized").status == 201

    def test_item_ids_must_be_the_packages(self, api):
        package_id = delivered_package(api)
        other = stored(api, tracking="YT2200009")[0]
        assert file_claim(api, package_id, item_ids=[other]).status == 400
        mine = item_of(api, package_id)
        filed = file_claim(api, package_id, item_ids=[mine])
        assert filed.status == 201 and filed.body["item_ids"] == [mine]

    def test_another_customers_package_and_claim_are_not_found(self, api):
        package_id = delivered_package(api)
        assert file_claim(api, package_id, user=BOB).status == 404
        claim_id = file_claim(api, package_id).body["claim_id"]
        assert api.post(f"/claims/{claim_id}/photos", {"content_type": "image/png"}, user=BOB).status == 404
        assert api.get("/staff/claims", user=ALICE).status == 403
        assert resolve_claim(api, claim_id, user=ALICE).status == 403
        assert resolve_claim(api, "clm_nope").status == 404

    def test_reject_moves_no_money_and_a_second_decision_is_409(self, api):
        package_id = delivered_package(api)
        claim_id = file_claim(api, package_id).body["claim_id"]
        before = balance(api)
        assert resolve_claim(api, claim_id, "rejected", compensation_fen=5).status == 400
        done = resolve_claim(api, claim_id, "rejected", user=REVIEWER)
        assert done.status == 200 and done.body["status"] == "rejected" and done.body["compensation_fen"] == 0
        assert resolve_claim(api, claim_id).status == 409
        assert balance(api) == before
        assert sent_emails(ALICE)[-1]["template"] == "claim_resolved"

    def test_a_replayed_resolve_answers_the_first_and_pays_once(self, api):
        package_id = delivered_package(api)
        claim_id = file_claim(api, package_id).body["claim_id"]
        before = balance(api)
        key = {"Idempotency-Key": "claim-resolve-1"}
        first = resolve_claim(api, claim_id, compensation_fen=3000, headers=key)
        again = resolve_claim(api, claim_id, compensation_fen=3000, headers=key)
        assert first.status == again.status == 200 and first.body == again.body
        assert resolve_claim(api, claim_id, compensation_fen=2000, headers=key).status == 409
        assert balance(api) == before + 3000

    def test_concurrent_resolves_pay_once(self, api):
        package_id = delivered_package(api)
        claim_id = file_claim(api, package_id).body["claim_id"]
        before = balance(api)

        def resolve(user):
            return resolve_claim(api, claim_id, compensation_fen=2500, user=user).status

        with ThreadPoolExecutor(4) as pool:
            statuses = sorted(pool.map(resolve, [WAREHOUSE, REVIEWER, ADMIN, WAREHOUSE]))
        assert statuses.count(200) == 1 and set(statuses) <= {200, 409}, statuses
        assert balance(api) == before + 2500

    def test_concurrent_claims_on_one_package_file_one(self, api):
        package_id = delivered_package(api)
        with ThreadPoolExecutor(4) as pool:
            statuses = sorted(pool.map(lambda _: file_claim(api, package_id).status, range(4)))
        assert statuses.count(201) == 1 and set(statuses) <= {201, 409}, statuses
        assert len(api.get("/staff/claims", user=WAREHOUSE).body["items"]) == 1

    def test_evidence_photos_attach_to_the_claim(self, api, app_module, stack):
        package_id = delivered_package(api)
        claim_id = file_claim(api, package_id).body["claim_id"]
        upload = api.post(f"/claims/{claim_id}/photos", {"content_type": "image/png"}, user=ALICE)
        assert upload.status == 201, upload.body
        key = upload.body["upload"]["fields"]["key"]
        assert key == f"qc/{claim_id}/{upload.body['photo_id']}.png"
        put(stack, key, image_bytes("PNG", size=(300, 200)), "image/png")
        bodies = deliver_queue(app_module, stack)
        [claim] = api.get("/staff/claims", user=WAREHOUSE).body["items"]
        assert [p["photo_id"] for p in claim["photos"]] == [upload.body["photo_id"]]
        assert claim["photos"][0]["content_type"] == "image/png"
        # a replayed notification changes nothing
        deliver(app_module, stack, bodies * 2)
        [again] = api.get("/claims", user=ALICE).body["items"]
        assert [p["photo_id"] for p in again["photos"]] == [upload.body["photo_id"]]
