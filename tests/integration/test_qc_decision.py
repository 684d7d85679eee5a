"""The customer's decision on an inspected item (issue 23, parts 2-4), each test named after the seed's
sentence it holds us to: electronics arrival photos for the user's confirmation, the inspection's scope,
apparel against the latest notes, the feedback deadline and the "assume agreed" rule, the 90 days from
In Warehouse, exchanges, and the notices the answers carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clock
from chalicelib.jobs import storage_sweep
from chalicelib.models.commerce import Item as ItemRow
from tests.integration.conftest import ALICE, BOB, REVIEWER, WAREHOUSE, attach_photo, sent_emails
from tests.integration.test_warehouse import BANK, PASS_CHECKS, TEE, inspection, received, shipped_items

pytestmark = pytest.mark.usefixtures("shop")

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def inspect(api, item_id, *args, **kw):
    return api.post(f"/staff/items/{item_id}/inspection", inspection(*args, **kw), user=WAREHOUSE)


def with_issue(api, items=(TEE,)):
    [item_id] = received(api, items=items)
    checks = dict(PASS_CHECKS, stains="issue")
    result = inspect(api, item_id, "issue", checks=checks, notes="Stain on the left sleeve")
    assert result.status == 200 and result.body["status"] == "inspection_issue", result.body
    return item_id, result.body


def emails(template, to=ALICE):
    return [e for e in sent_emails(to) if e["template"] == template]


def sweep(at: datetime) -> dict:
    clock.set_now(at)
    return storage_sweep.run()


def days_between(later: str, earlier: str) -> float:
    return (clock.parse_iso(later) - clock.parse_iso(earlier)).total_seconds() / 86400


class TestElectronics:
    def test_inspectors_will_send_arrival_photos_for_user_confirmation(self, api):
        clock.set_now(T0)
        [item_id] = received(api, items=(BANK,))
        refused = inspect(api, item_id, category="electronics")
        assert refused.status == 409 and refused.body["error"]["code"] == "arrival_photo_required"
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "received"  # nothing changed
        assert not emails("electronics_confirm")

        attach_photo(item_id)
        passed = inspect(api, item_id, category="electronics")
        assert passed.status == 200, passed.body
        assert passed.body["status"] == "awaiting_confirmation"
        assert passed.body["storage"] is None  # the 90 days have not started
        feedback = passed.body["feedback"]
        assert feedback["waiting_for"] == "electronics_confirmation"
        assert feedback["due_at"] == clock.iso(T0 + timedelta(days=7))
        [email] = emails("electronics_confirm")
        assert email["data"]["due_at"] == feedback["due_at"]
        assert api.post(f"/items/{item_id}/confirm", user=BOB).status == 404

        clock.set_now(T0 + timedelta(days=3))
        confirmed = api.post(f"/items/{item_id}/confirm", user=ALICE)
        assert confirmed.status == 200 and confirmed.body["status"] == "in_warehouse"
        assert confirmed.body["feedback"] is None
        storage = confirmed.body["storage"]
        assert storage["in_warehouse_at"] == clock.iso(T0 + timedelta(days=3))
        assert storage["days_left"] == 90 and storage["clock_running"] is True
        assert api.post(f"/items/{item_id}/confirm", user=ALICE).status == 409
        row = ItemRow.get(item_id, consistent_read=True)
        assert row.feedback_key is None and row.deadline_key  # off the feedback index, on the storage one

    def test_electronics_are_not_powered_on_and_an_issue_needs_no_photo(self, api):
        [item_id] = received(api, items=(BANK,))
        checks = dict(PASS_CHECKS, damage="issue")
        result = inspect(api, item_id, "issue", category="electronics", checks=checks)
        assert result.status == 200 and result.body["status"] == "inspection_issue"
        assert "never powered on" in result.body["inspection"]["scope"]
        assert result.body["inspection"]["customer_confirmation_requested"] is False


class TestScope:
    def test_discrepancies_in_color_size_error_and_performance_are_not_within_the_inspection_scope(self, api):
        [item_id] = received(api)
        checks = dict(PASS_CHECKS, color="issue", size="issue")
        result = inspect(api, item_id, checks=checks, discrepancies=["performance"])  # a general item
        assert result.status == 200, result.body
        assert result.body["status"] == "in_warehouse"
        recorded = result.body["inspection"]
        assert recorded["outside_scope"] == ["colour", "performance", "size_error"]
        assert recorded["out_of_scope_discrepancies"] == ["color", "size"]
        assert recorded["in_scope_issues"] == []

    def test_a_colour_discrepancy_alone_is_no_inspection_issue(self, api):
        [item_id] = received(api)
        result = inspect(api, item_id, "issue", checks=dict(PASS_CHECKS, color="issue"))
        assert result.status == 400
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "received"

    def test_for_apparel_based_on_your_product_notes_or_final_changes_made_later(self, api):
        [item_id] = shipped_items(api)
        changed = api.patch(f"/items/{item_id}", {"remark": "Size L please"}, user=ALICE)
        assert changed.status == 200, changed.body
        assert changed.body["remark"] == "Size L please"
        assert [v["remark"] for v in changed.body["remark_history"]] == [None, "Size L please"]
        assert api.patch(f"/items/{item_id}", {"remark": "x"}, user=BOB).status == 404
        staff = api.get(f"/staff/items/{item_id}", user=WAREHOUSE).body
        assert staff["remark"] == "Size L please" and len(staff["remark_history"]) == 2

        api.post("/staff/inbound", {"tracking_no": "YT1000001"}, user=WAREHOUSE)
        late = api.patch(f"/items/{item_id}", {"remark": "Size M after all"}, user=ALICE)
        assert late.status == 409
        assert api.get(f"/items/{item_id}", user=ALICE).body["remark"] == "Size L please"
        result = inspect(api, item_id, category="apparel", label_size="L")
        assert result.status == 200, result.body
        assert result.body["inspection"]["remark"] == "Size L please"  # checked against the latest note

    def test_the_remark_history_is_bounded(self, api):
        [item_id] = shipped_items(api)
        for n in range(25):
            assert api.patch(f"/items/{item_id}", {"remark": f"note {n}"}, user=ALICE).status == 200
        history = api.get(f"/items/{item_id}", user=ALICE).body["remark_history"]
        assert len(history) == 20 and history[-1]["remark"] == "note 24"


class TestFeedbackDeadline:
    def test_goods_are_stored_90_days_starting_from_the_in_warehouse_status_not_from_arrival(self, api):
        """Regression: an item accepted 30 days after its inspection had only 60 days left."""
        clock.set_now(T0)
        item_id, _ = with_issue(api)
        accepted_at = T0 + timedelta(days=30)
        clock.set_now(accepted_at)
        accepted = api.post(f"/items/{item_id}/accept", user=ALICE)
        assert accepted.status == 200 and accepted.body["status"] == "in_warehouse"
        storage = accepted.body["storage"]
        assert storage["in_warehouse_at"] == clock.iso(accepted_at)
        assert storage["expires_at"] == clock.iso(accepted_at + timedelta(days=90))
        assert storage["days_left"] == 90

    def test_for_information_that_cannot_be_confirmed_we_assume_you_reached_an_agreement(self, api):
        clock.set_now(T0)
        item_id, body = with_issue(api)
        due = body["feedback"]["due_at"]
        assert due == clock.iso(T0 + timedelta(days=7))
        assert emails("inspection_issue")[-1]["data"]["due_at"] == due
        assert {"assumed_agreed", "inspection_scope"} <= {n["key"] for n in body["notices"]}

        sweep(T0 + timedelta(days=4))  # more than 2 days ahead: nothing yet
        assert not emails("feedback_reminder")
        sweep(T0 + timedelta(days=5, hours=1))
        [reminder] = emails("feedback_reminder")
        assert reminder["data"]["item_id"] == item_id and reminder["data"]["due_at"] == due
        sweep(T0 + timedelta(days=6))  # reminded once
        assert len(emails("feedback_reminder")) == 1
        assert api.get(f"/items/{item_id}", user=ALICE).body["feedback"]["reminded_at"]

        assumed_at = T0 + timedelta(days=7, hours=1)
        result = sweep(assumed_at)
        assert result["feedback_assumed"] == 1
        item = api.get(f"/items/{item_id}", user=ALICE).body
        assert item["status"] == "in_warehouse" and item["feedback"] is None
        assert item["storage"]["in_warehouse_at"] == clock.iso(assumed_at)
        assert days_between(item["storage"]["expires_at"], item["storage"]["in_warehouse_at"]) == 90
        [assumed] = emails("feedback_assumed")
        assert assumed["data"]["expires_at"] == item["storage"]["expires_at"]
        again = sweep(assumed_at + timedelta(hours=2))  # a rerun moves and sends nothing more
        assert again.get("feedback_assumed", 0) == 0 and len(emails("feedback_assumed")) == 1

    def test_the_customer_lists_what_waits_for_their_decision(self, api):
        item_id, body = with_issue(api)
        waiting = api.get("/warehouse/items?status=awaiting_feedback", user=ALICE)
        assert waiting.status == 200
        assert [i["item_id"] for i in waiting.body["items"]] == [item_id]
        assert waiting.body["items"][0]["feedback"]["due_at"] == body["feedback"]["due_at"]
        assert api.get("/warehouse/items?status=awaiting_feedback", user=BOB).body["items"] == []
        assert api.get("/warehouse/items?status=in_warehouse", user=ALICE).status == 400
        assert item_id not in [i["item_id"] for i in api.get("/warehouse/items", user=ALICE).body["items"]]
        assert api.post(f"/items/{item_id}/accept", user=ALICE).status == 200
        assert api.get("/warehouse/items?status=awaiting_feedback", user=ALICE).body["items"] == []
        assert item_id in [i["item_id"] for i in api.get("/warehouse/items", user=ALICE).body["items"]]

    def test_an_answer_before_the_deadline_is_never_overruled_by_the_sweep(self, api):
        clock.set_now(T0)
        item_id, _ = with_issue(api)
        clock.set_now(T0 + timedelta(days=6))
        assert api.post(f"/items/{item_id}/accept", user=ALICE).status == 200
        sweep(T0 + timedelta(days=8))
        assert not emails("feedback_assumed")
        item = api.get(f"/items/{item_id}", user=ALICE).body
        assert item["storage"]["in_warehouse_at"] == clock.iso(T0 + timedelta(days=6))

    def test_an_after_sales_case_answers_and_a_rejected_one_gives_a_new_deadline(self, api):
        clock.set_now(T0)
        item_id, _ = with_issue(api)
        case = api.post(
            "/after-sales", {"item_id": item_id, "type": "return", "reason": "Stained"}, user=ALICE
        )
        assert case.status == 201, case.body
        assert api.get(f"/items/{item_id}", user=ALICE).body["feedback"] is None
        sweep(T0 + timedelta(days=8))  # the open case holds it: not taken as accepted
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "inspection_issue"
        clock.set_now(T0 + timedelta(days=9))
        resolved = api.post(
            f"/staff/after-sales/{case.body['case_id']}/resolve", {"resolution": "reject"}, user=REVIEWER
        )
        assert resolved.status == 200, resolved.body
        item = api.get(f"/items/{item_id}", user=ALICE).body
        assert item["status"] == "inspection_issue"
        assert item["feedback"]["due_at"] == clock.iso(T0 + timedelta(days=16))


class TestExchange:
    def test_staff_resolve_an_exchange_and_the_replacement_difference_is_settled(self, api):
        item_id, _ = with_issue(api)
        case = api.post(
            "/after-sales", {"item_id": item_id, "type": "exchange", "reason": "Stained"}, user=ALICE
        ).body
        resolve = f"/staff/after-sales/{case['case_id']}/resolve"
        refused = api.post(resolve, {"resolution": "exchange", "refund_fen": 100}, user=REVIEWER)
        assert refused.status == 400
        done = api.post(resolve, {"resolution": "exchange"}, user=REVIEWER)
        assert done.status == 200, done.body
        item = api.get(f"/items/{item_id}", user=ALICE).body
        assert item["status"] == "purchasing"
        assert item["purchase"] is None and item["inspection"] is None and item["photos"] == []
        assert item["exchange"]["case_id"] == case["case_id"]
        assert item["exchange"]["baseline_unit_price_fen"] == 2500
        queue = api.get("/staff/items?status=purchasing", user=REVIEWER).body["items"]
        assert item_id in [i["item_id"] for i in queue]

        wallet = api.get("/wallet", user=ALICE).body["balance_fen"]
        bought = api.post(
            f"/staff/items/{item_id}/purchase",
            {"merchant_order_no": "M2", "actual_unit_price_fen": 2550},
            user=REVIEWER,
        )
        assert bought.status == 200, bought.body
        # (25.50 - 25.00) x 2 = 1.00 over the exchanged goods' price: within the consent threshold, charged
        assert bought.body["purchase"]["price_difference_fen"] == 100
        assert bought.body["purchase"]["settlement"] == "charged"
        assert api.get("/wallet", user=ALICE).body["balance_fen"] == wallet - 100

    def test_goods_that_came_as_an_exceptional_parcel_cannot_be_exchanged(self, api):
        """An exchange sends the item back to purchasing; an item assigned from an unknown parcel was
        never bought by us, so there is no order to buy the replacement on (the purchase had no order)."""
        parcel = api.post("/staff/inbound", {"tracking_no": "JD-unknown-exchange"}, user=WAREHOUSE).body
        assigned = api.post(
            f"/staff/parcels/{parcel['parcel_id']}/assign",
            {"customer_email": ALICE, "description": "Blue umbrella"},
            user=WAREHOUSE,
        ).body
        [item_id] = assigned["item_ids"]
        case = api.post(
            "/after-sales", {"item_id": item_id, "type": "exchange", "reason": "Wrong colour"}, user=ALICE
        )
        assert case.status == 201, case.body
        resolve = f"/staff/after-sales/{case.body['case_id']}/resolve"
        refused = api.post(resolve, {"resolution": "exchange"}, user=REVIEWER)
        assert refused.status == 409, refused.body
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "received"
        assert api.post(resolve, {"resolution": "reject", "note": "kept"}, user=REVIEWER).status == 200


class TestNotices:
    def test_order_inspection_and_storage_answers_carry_the_notices_that_apply(self, api):
        [item_id] = received(api)
        ordered = api.get(f"/items/{item_id}", user=ALICE).body
        assert [n["key"] for n in ordered["notices"]] == ["third_party"]
        stored = inspect(api, item_id)
        assert [n["key"] for n in stored.body["notices"]] == ["third_party", "inspection_scope"]
        listed = api.get("/warehouse/items", user=ALICE).body["items"]
        assert {n["key"] for n in listed[0]["notices"]} == {"third_party", "inspection_scope"}
