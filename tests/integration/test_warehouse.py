"""Seed step 4: receiving, exceptional parcels, forwarding, inspection scope, storage, after-sales."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clock
from tests.integration.conftest import ALICE, BOB, REVIEWER, WAREHOUSE, attach_photo, sent_emails, top_up

pytestmark = pytest.mark.usefixtures("shop")

TEE = {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2}
BANK = {"product_id": "prd_bank", "sku_id": "sku_bank", "quantity": 1}
PASS_CHECKS = {"color": "ok", "damage": "ok", "stains": "ok", "size": "ok", "model": "n/a", "version": "n/a"}


def shipped_items(api, items=(TEE,), tracking="YT1000001", user=ALICE):
    """An order paid, approved, purchased and shipped by the merchant under `tracking`."""
    top_up(api, user, 50000)
    order = api.post("/orders", {"items": list(items), "payment_channel": "balance"}, user=user).body
    api.post(f"/orders/{order['order_id']}/pay", user=user)
    api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER)
    ids = [i["item_id"] for i in order["items"]]
    for item_id, line in zip(ids, order["items"], strict=True):
        api.post(
            f"/staff/items/{item_id}/purchase",
            {"merchant_order_no": "M", "actual_unit_price_fen": line["unit_price_fen"]},
            user=REVIEWER,
        )
        shipped = api.post(
            f"/staff/items/{item_id}/domestic-shipment",
            {"carrier": "YTO", "tracking_no": tracking},
            user=REVIEWER,
        )
        assert shipped.status == 200, shipped.body
    return ids


def inspection(result="pass", category="general", checks=None, **extra):
    return {
        "category": category,
        "checks": checks or PASS_CHECKS,
        "weight_g": 420,
        "dims_cm": {"l": 30, "w": 20, "h": 5},
        "result": result,
        **extra,
    }


def received(api, **kw):
    ids = shipped_items(api, **kw)
    scan = api.post("/staff/inbound", {"tracking_no": kw.get("tracking", "YT1000001")}, user=WAREHOUSE)
    assert scan.status == 201, scan.body
    return ids


class TestInbound:
    def test_known_tracking_is_matched_and_items_received(self, api):
        ids = shipped_items(api, items=(TEE, BANK))
        scan = api.post(
            "/staff/inbound", {"tracking_no": "yt 1000001", "carrier": "YTO", "weight_g": 900}, user=WAREHOUSE
        )
        assert scan.status == 201
        assert scan.body["status"] == "matched" and sorted(scan.body["item_ids"]) == sorted(ids)
        for item_id in ids:
            assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "received"
        queue = api.get("/staff/items?status=received", user=WAREHOUSE).body["items"]
        assert sorted(i["item_id"] for i in queue) == sorted(ids)

    def test_unknown_tracking_is_an_exceptional_parcel_for_30_days(self, api):
        clock.set_now(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
        scan = api.post("/staff/inbound", {"tracking_no": "SF0000999"}, user=WAREHOUSE)
        assert scan.status == 201
        assert scan.body["status"] == "exceptional"
        assert scan.body["storage_expires_at"] == "2026-12-26T08:00:00Z"
        listed = api.get("/staff/parcels?status=exceptional", user=WAREHOUSE).body["items"]
        assert [p["parcel_id"] for p in listed] == [scan.body["parcel_id"]]
        assert sent_emails() == []  # nobody to remind

    def test_scanning_again_returns_the_same_parcel(self, api):
        first = api.post("/staff/inbound", {"tracking_no": "SF0000999"}, user=WAREHOUSE)
        again = api.post("/staff/inbound", {"tracking_no": "SF0000999"}, user=WAREHOUSE)
        assert again.status == 200 and again.body["already_received"]
        assert again.body["parcel_id"] == first.body["parcel_id"]

    def test_concurrent_scans_make_one_parcel(self, api):
        ids = shipped_items(api)
        api.token(WAREHOUSE)
        with ThreadPoolExecutor(max_workers=10) as pool:
            results = list(
                pool.map(
                    lambda _: api.post("/staff/inbound", {"tracking_no": "YT1000001"}, user=WAREHOUSE),
                    range(10),
                )
            )
        assert sorted(r.status for r in results) == [200] * 9 + [201]
        assert len({r.body["parcel_id"] for r in results}) == 1
        assert api.get(f"/items/{ids[0]}", user=ALICE).body["status"] == "received"

    def test_a_wrong_scan_is_voided_with_who_and_why_and_leaves_the_queue(self, api):
        clock.set_now(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
        parcel = api.post("/staff/inbound", {"tracking_no": "0FDCA90"}, user=WAREHOUSE).body
        assert parcel["status"] == "exceptional"
        clock.set_now(datetime(2026, 11, 20, 4, 30, tzinfo=UTC))
        voided = api.post(
            f"/staff/parcels/{parcel['parcel_id']}/void", {"reason": "two scans merged"}, user=WAREHOUSE
        )
        assert voided.status == 200, voided.body
        assert voided.body["status"] == "voided"
        assert voided.body["void"] == {
            "voided_at": "2026-11-20T04:30:00Z",
            "voided_by": api.user_id(WAREHOUSE),
            "reason": "two scans merged",
        }
        queue = api.get("/staff/parcels?status=exceptional", user=WAREHOUSE).body["items"]
        assert parcel["parcel_id"] not in {p["parcel_id"] for p in queue}
        again = api.post(f"/staff/parcels/{parcel['parcel_id']}/void", {"reason": "x"}, user=WAREHOUSE)
        assert again.status == 409
        assign = {"customer_email": "alice@example.com"}
        assert api.post(f"/staff/parcels/{parcel['parcel_id']}/assign", assign, user=WAREHOUSE).status == 409

    def test_a_parcel_is_not_voided_after_the_window_with_items_attached_or_without_a_reason(self, api):
        clock.set_now(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
        late = api.post("/staff/inbound", {"tracking_no": "JD0000000777"}, user=WAREHOUSE).body
        [item_id] = received(api)
        matched = api.post("/staff/inbound", {"tracking_no": "YT1000001"}, user=WAREHOUSE).body
        assert matched["status"] == "matched" and matched["item_ids"] == [item_id]
        assert api.post(f"/staff/parcels/{late['parcel_id']}/void", {}, user=WAREHOUSE).status == 400
        assert (
            api.post(f"/staff/parcels/{late['parcel_id']}/void", {"reason": ""}, user=WAREHOUSE).status == 400
        )
        reason = {"reason": "wrong scan"}
        assert api.post(f"/staff/parcels/{matched['parcel_id']}/void", reason, user=WAREHOUSE).status == 409
        assert api.post(f"/staff/parcels/{late['parcel_id']}/void", reason, user=ALICE).status == 403
        assert api.post("/staff/parcels/pcl_nope/void", reason, user=WAREHOUSE).status == 404
        clock.set_now(datetime(2026, 11, 20, 5, 1, tzinfo=UTC))  # PARCEL_VOID_MINUTES is 60
        refused = api.post(f"/staff/parcels/{late['parcel_id']}/void", reason, user=WAREHOUSE)
        assert refused.status == 409 and "60 minutes" in refused.body["error"]["message"]
        queue = api.get("/staff/parcels?status=exceptional", user=WAREHOUSE).body["items"]
        assert late["parcel_id"] in {p["parcel_id"] for p in queue}

    def test_assign_an_exceptional_parcel_to_expected_items(self, api):
        ids = shipped_items(api, tracking="YT2000002")
        parcel = api.post("/staff/inbound", {"tracking_no": "JD-unknown-1"}, user=WAREHOUSE).body
        assigned = api.post(f"/staff/parcels/{parcel['parcel_id']}/assign", {"item_ids": ids}, user=WAREHOUSE)
        assert assigned.status == 200 and assigned.body["status"] == "assigned"
        assert api.get(f"/items/{ids[0]}", user=ALICE).body["status"] == "received"
        again = api.post(f"/staff/parcels/{parcel['parcel_id']}/assign", {"item_ids": ids}, user=WAREHOUSE)
        assert again.status == 409

    def test_assign_an_exceptional_parcel_to_the_customer_who_identifies_it(self, api):
        parcel = api.post("/staff/inbound", {"tracking_no": "JD-unknown-2"}, user=WAREHOUSE).body
        assigned = api.post(
            f"/staff/parcels/{parcel['parcel_id']}/assign",
            {"customer_email": BOB, "description": "Blue umbrella"},
            user=WAREHOUSE,
        )
        assert assigned.status == 200
        [item_id] = assigned.body["item_ids"]
        item = api.get(f"/items/{item_id}", user=BOB).body
        assert (
            item["status"] == "received"
            and item["title"] == "Blue umbrella"
            and item["source"] == "exceptional"
        )
        assert api.get(f"/items/{item_id}", user=ALICE).status == 404

    def test_bad_inbound_and_assign_bodies(self, api):
        for body in (
            {},
            {"tracking_no": ""},
            {"tracking_no": "a"},
            {"tracking_no": "x" * 65},
            {"tracking_no": "YT<script>"},
            {"tracking_no": 12345678},
            {"tracking_no": "YT1", "x": 1},
            {"tracking_no": "YT10001", "weight_g": -5},
        ):
            assert api.post("/staff/inbound", body, user=WAREHOUSE).status == 400, body
        parcel = api.post("/staff/inbound", {"tracking_no": "JD-unknown-3"}, user=WAREHOUSE).body
        for body in (
            {},
            {"item_ids": ["a"], "customer_email": BOB},
            {"customer_email": "nobody@example.com"},
            {"item_ids": []},
        ):
            assert (
                api.post(f"/staff/parcels/{parcel['parcel_id']}/assign", body, user=WAREHOUSE).status == 400
            )
        assert api.post("/staff/parcels/pcl_nope/assign", {"item_ids": ["x"]}, user=WAREHOUSE).status == 404

    def test_inbound_needs_the_warehouse_group(self, api):
        assert api.post("/staff/inbound", {"tracking_no": "YT1000001"}, user=ALICE).status == 403
        assert api.post("/staff/inbound", {"tracking_no": "YT1000001"}, user=REVIEWER).status == 403
        assert api.post("/staff/inbound", {"tracking_no": "YT1000001"}).status == 401


class TestForwarding:
    def test_declared_parcel_becomes_the_customers_item_on_arrival(self, api):
        declared = api.post(
            "/forwarding",
            {"tracking_no": "SF1234567", "carrier": "SF", "description": "Tea set from a Jingdezhen shop"},
            user=BOB,
        )
        assert declared.status == 201 and declared.body["status"] == "declared"
        assert (  # one declaration per (tracking number, customer); another customer's is no oracle
            api.post("/forwarding", {"tracking_no": "sf 1234567", "description": "mine"}, user=BOB).status
            == 409
        )
        scan = api.post("/staff/inbound", {"tracking_no": "SF1234567", "weight_g": 1500}, user=WAREHOUSE).body
        assert scan["status"] == "matched"
        [item_id] = scan["item_ids"]
        item = api.get(f"/items/{item_id}", user=BOB).body
        assert item["status"] == "received" and item["source"] == "forwarding"
        assert api.get("/forwarding", user=BOB).body["items"][0]["status"] == "received"
        assert api.get("/forwarding", user=ALICE).body["items"] == []

    def test_bad_declarations(self, api):
        for body in (
            {"tracking_no": "SF1"},
            {"description": "x"},
            {"tracking_no": "SF123456", "description": ""},
            {"tracking_no": "SF123456", "description": "x", "user_id": "someone"},
        ):
            assert api.post("/forwarding", body, user=BOB).status == 400


class TestInspection:
    def test_pass_stores_for_90_days(self, api):
        clock.set_now(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
        [item_id] = received(api)
        result = api.post(
            f"/staff/items/{item_id}/inspection",
            inspection(category="apparel", label_size="M"),
            user=WAREHOUSE,
        )
        assert result.status == 200, result.body
        assert result.body["status"] == "in_warehouse"
        assert result.body["weight_g"] == 420 and result.body["dims_cm"] == {"l": 30, "w": 20, "h": 5}
        assert result.body["storage"]["expires_at"] == "2027-02-18T04:00:00Z"
        assert result.body["storage"]["days_left"] == 90
        stored = api.get("/warehouse/items", user=ALICE).body["items"]
        assert [i["item_id"] for i in stored] == [item_id]
        assert stored[0]["storage"]["days_left"] == 90
        clock.set_now(datetime(2026, 12, 20, 4, 0, tzinfo=UTC))
        assert api.get("/warehouse/items", user=ALICE).body["items"][0]["storage"]["days_left"] == 60
        assert api.get("/warehouse/items", user=BOB).body["items"] == []
        again = api.post(f"/staff/items/{item_id}/inspection", inspection(), user=WAREHOUSE)
        assert again.status == 409

    def test_an_item_is_read_by_id_in_any_status_by_staff_with_its_owner(self, api):
        [item_id] = received(api)
        api.post(f"/staff/items/{item_id}/inspection", inspection(), user=WAREHOUSE)
        found = api.get(f"/staff/items/{item_id}", user=WAREHOUSE)
        assert found.status == 200, found.body
        assert (found.body["item_id"], found.body["status"]) == (item_id, "in_warehouse")
        assert found.body["user_id"] == api.user_id(ALICE) and found.body["title"] == "Cotton T-shirt"
        assert api.get(f"/staff/items/{item_id}", user=REVIEWER).status == 200
        assert api.get(f"/staff/items/{item_id}", user=ALICE).status == 403
        assert api.get("/staff/items/itm_nope", user=WAREHOUSE).status == 404

    def test_apparel_colour_and_size_discrepancies_are_recorded_outside_scope(self, api):
        [item_id] = received(api)
        checks = dict(PASS_CHECKS, color="issue", size="issue")
        result = api.post(
            f"/staff/items/{item_id}/inspection",
            inspection(category="apparel", checks=checks, label_size="L"),
            user=WAREHOUSE,
        )
        assert result.status == 200
        assert result.body["status"] == "in_warehouse"
        assert result.body["inspection"]["out_of_scope_discrepancies"] == ["color", "size"]
        assert result.body["inspection"]["in_scope_issues"] == []

    def test_apparel_needs_the_label_size(self, api):
        [item_id] = received(api)
        result = api.post(
            f"/staff/items/{item_id}/inspection", inspection(category="apparel"), user=WAREHOUSE
        )
        assert result.status == 400
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "received"

    def test_damage_cannot_pass(self, api):
        [item_id] = received(api)
        checks = dict(PASS_CHECKS, damage="issue")
        assert (
            api.post(f"/staff/items/{item_id}/inspection", inspection(checks=checks), user=WAREHOUSE).status
            == 400
        )

    def test_issue_notifies_and_the_customer_may_accept(self, api):
        [item_id] = received(api)
        checks = dict(PASS_CHECKS, stains="issue")
        result = api.post(
            f"/staff/items/{item_id}/inspection",
            inspection("issue", checks=checks, notes="Stain on the left sleeve"),
            user=WAREHOUSE,
        )
        assert result.body["status"] == "inspection_issue"
        assert sent_emails(ALICE)[-1]["template"] == "inspection_issue"
        assert api.post(f"/items/{item_id}/accept", user=BOB).status == 404
        accepted = api.post(f"/items/{item_id}/accept", user=ALICE)
        assert accepted.status == 200 and accepted.body["status"] == "in_warehouse"
        assert api.post(f"/items/{item_id}/accept", user=ALICE).status == 409

    def test_electronics_ask_the_customer_to_confirm_from_photos(self, api):
        [item_id] = received(api, items=(BANK,))
        attach_photo(item_id)
        result = api.post(
            f"/staff/items/{item_id}/inspection", inspection(category="electronics"), user=WAREHOUSE
        )
        assert result.body["inspection"]["customer_confirmation_requested"] is True
        assert "never powered on" in result.body["inspection"]["scope"]
        # the photos-ready notice of its parcel follows (it has its photo)
        assert "electronics_confirm" in [e["template"] for e in sent_emails(ALICE)]

    def test_not_transportable_is_marked_and_the_customer_told_to_negotiate_a_return(self, api):
        [item_id] = received(api, items=(BANK,))
        assert (
            api.post(
                f"/staff/items/{item_id}/inspection",
                inspection("not_transportable", "electronics"),
                user=WAREHOUSE,
            ).status
            == 400
        )  # hazards required
        result = api.post(
            f"/staff/items/{item_id}/inspection",
            inspection("not_transportable", "electronics", hazards=["battery"]),
            user=WAREHOUSE,
        )
        assert result.body["status"] == "not_transportable"
        email = sent_emails(ALICE)[-1]
        assert email["template"] == "not_transportable" and email["data"]["hazards"] == "battery"

    def test_bad_inspection_bodies_store_nothing(self, api):
        [item_id] = received(api)
        bad = [
            {},
            inspection(category="food"),
            inspection(result="maybe"),
            dict(inspection(), checks=dict(PASS_CHECKS, color="fine")),
            dict(inspection(), checks={"color": "ok"}),
            dict(inspection(), weight_g=0),
            dict(inspection(), weight_g="420"),
            dict(inspection(), dims_cm={"l": 1, "w": 2}),
            dict(inspection(), dims_cm={"l": 1, "w": 2, "h": -3}),
            dict(inspection(), status="in_warehouse"),
            inspection("issue"),  # an issue with nothing wrong
        ]
        for body in bad:
            result = api.post(f"/staff/items/{item_id}/inspection", body, user=WAREHOUSE)
            assert result.status == 400, (body, result.body)
        item = api.get(f"/items/{item_id}", user=ALICE).body
        assert item["status"] == "received" and item["inspection"] is None and item["weight_g"] is None
        assert api.post("/staff/items/itm_nope/inspection", inspection(), user=WAREHOUSE).status == 404
        assert api.post(f"/staff/items/{item_id}/inspection", inspection(), user=REVIEWER).status == 403


class TestAfterSales:
    def _stored(self, api):
        [item_id] = received(api)
        api.post(f"/staff/items/{item_id}/inspection", inspection(), user=WAREHOUSE)
        return item_id

    def test_refund_through_the_ledger(self, api):
        item_id = self._stored(api)
        before = api.get("/wallet", user=ALICE).body["balance_fen"]
        case = api.post(
            "/after-sales", {"item_id": item_id, "type": "refund", "reason": "Torn seam"}, user=ALICE
        )
        assert case.status == 201 and case.body["status"] == "open"
        assert (
            api.post(
                "/after-sales", {"item_id": item_id, "type": "refund", "reason": "again"}, user=ALICE
            ).status
            == 409
        )
        queue = api.get("/staff/after-sales", user=WAREHOUSE).body["items"]
        assert [c["case_id"] for c in queue] == [case.body["case_id"]]
        too_much = api.post(
            f"/staff/after-sales/{case.body['case_id']}/resolve",
            {"resolution": "refund", "refund_fen": 5001},
            user=WAREHOUSE,
        )
        assert too_much.status == 400
        resolved = api.post(
            f"/staff/after-sales/{case.body['case_id']}/resolve",
            {"resolution": "refund", "refund_fen": 1500, "note": "Partial refund"},
            user=WAREHOUSE,
        )
        assert resolved.status == 200 and resolved.body["status"] == "resolved"
        assert api.get("/wallet", user=ALICE).body["balance_fen"] == before + 1500
        assert (
            api.post(
                f"/staff/after-sales/{case.body['case_id']}/resolve",
                {"resolution": "refund", "refund_fen": 1500},
                user=WAREHOUSE,
            ).status
            == 409
        )
        assert api.get("/wallet", user=ALICE).body["balance_fen"] == before + 1500
        assert api.get("/after-sales", user=ALICE).body["items"][0]["refund_fen"] == 1500

    def test_return_takes_the_item_out_of_storage(self, api):
        item_id = self._stored(api)
        case = api.post(
            "/after-sales", {"item_id": item_id, "type": "return", "reason": "Wrong model"}, user=ALICE
        ).body
        resolved = api.post(
            f"/staff/after-sales/{case['case_id']}/resolve", {"resolution": "return"}, user=WAREHOUSE
        )
        assert resolved.body["item"]["status"] == "returned"
        assert api.get("/warehouse/items", user=ALICE).body["items"] == []

    def test_cases_are_private_and_validated(self, api):
        item_id = self._stored(api)
        assert (
            api.post("/after-sales", {"item_id": item_id, "type": "refund", "reason": "x"}, user=BOB).status
            == 404
        )
        for body in (
            {"item_id": item_id, "type": "swap", "reason": "x"},
            {"item_id": item_id, "type": "refund"},
            {"item_id": item_id, "type": "refund", "reason": ""},
        ):
            assert api.post("/after-sales", body, user=ALICE).status == 400
        assert api.get("/staff/after-sales", user=ALICE).status == 403


def test_storage_days_left_counts_down_to_zero(api):
    clock.set_now(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
    [item_id] = received(api)
    api.post(f"/staff/items/{item_id}/inspection", inspection(), user=WAREHOUSE)
    clock.set_now(datetime(2026, 11, 20, 4, 0, tzinfo=UTC) + timedelta(days=89, hours=23))
    assert api.get(f"/items/{item_id}", user=ALICE).body["storage"]["days_left"] == 1
    clock.set_now(datetime(2026, 11, 20, 4, 0, tzinfo=UTC) + timedelta(days=91))
    assert api.get(f"/items/{item_id}", user=ALICE).body["storage"]["days_left"] == 0
