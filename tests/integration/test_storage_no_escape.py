"""No item escapes the storage sweep: every stored item is packaged and paid, has a deadline the sweep
will still read, or is in a final state (issue 11, hole 2).

Each scenario puts an item back into the deadline index after the sweep has checkpointed its deadline's
day, or races the sweep, or leaves a package unpaid; on the code before the fix the item stayed on the
shelf for ever.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import clock, db
from chalicelib.jobs import storage_sweep
from chalicelib.models.commerce import Item
from chalicelib.models.jobs import JobState
from chalicelib.models.packages import Package
from tests.integration.conftest import ALICE, sent_emails, top_up
from tests.integration.test_packages import ADDRESS, stored

pytestmark = pytest.mark.usefixtures("shop")


def sweep_at(at) -> dict:
    clock.set_now(at)
    return storage_sweep.run()


def item(item_id: str) -> Item:
    return Item.get(item_id, consistent_read=True)


def checkpoint() -> str:
    return JobState.get(storage_sweep.JOB, consistent_read=True).state.as_dict()["abandon_done_through"]


def deadline(item_id: str):
    return clock.parse_iso(item(item_id).storage_expires_at)


def submit(api, item_ids):
    body = {"item_ids": item_ids, "address": ADDRESS, "line_id": "ems", "services": []}
    created = api.post("/packages", body, user=ALICE)
    assert created.status == 201, created.body
    return created.body["package_id"]


def test_an_item_whose_package_is_cancelled_after_its_deadline_is_still_abandoned(api, monkeypatch):
    monkeypatch.setenv("STORAGE_RESUME_GRACE_DAYS", "0")  # the item's own deadline, already past
    [item_id] = stored(api)
    expires = deadline(item_id)
    top_up(api, ALICE, 100_000)
    package_id = submit(api, [item_id])
    assert api.post(f"/packages/{package_id}/pay", user=ALICE).status == 200
    # the sweep runs daily past the item's deadline while the item is packaged (clock stopped)
    for day in range(1, 12):
        sweep_at(expires + timedelta(days=day, hours=-expires.hour))
    assert checkpoint() > expires.date().isoformat()
    clock.set_now(expires + timedelta(days=11, hours=3))
    assert api.post(f"/packages/{package_id}/cancel", user=ALICE).status == 200
    assert item(item_id).status == "in_warehouse"
    result = sweep_at(expires + timedelta(days=12))
    assert result["items_abandoned"] == 1
    assert item(item_id).status == "abandoned"


def test_an_item_back_from_a_package_gets_a_grace_period_before_abandonment(api):
    [item_id] = stored(api)
    expires = deadline(item_id)
    top_up(api, ALICE, 100_000)
    package_id = submit(api, [item_id])
    assert api.post(f"/packages/{package_id}/pay", user=ALICE).status == 200
    sweep_at(expires + timedelta(days=5))
    cancelled_at = expires + timedelta(days=5, hours=1)
    clock.set_now(cancelled_at)
    back = api.post(f"/packages/{package_id}/cancel", user=ALICE)
    assert back.status == 200, back.body
    # the default grace: seven days from now, not the deadline that passed while packaged
    assert deadline(item_id) == cancelled_at + timedelta(days=7)
    assert sweep_at(cancelled_at + timedelta(days=6)).get("items_abandoned", 0) == 0
    assert sweep_at(cancelled_at + timedelta(days=7, hours=1))["items_abandoned"] == 1
    assert item(item_id).status == "abandoned"


def test_an_abandonment_that_loses_a_race_is_decided_again_not_skipped(api, monkeypatch):
    [item_id] = stored(api)
    expires = deadline(item_id)
    real_update_if = db.update_if
    raced = []

    def racing_update_if(obj, actions, condition, **kw):
        if isinstance(obj, Item) and not raced:  # another writer bumps the item first (e.g. a reminder mark)
            raced.append(obj.item_id)
            Item.get(obj.item_id, consistent_read=True).update(actions=[Item.remark.set("changed")])
        return real_update_if(obj, actions, condition, **kw)

    monkeypatch.setattr(storage_sweep.db, "update_if", racing_update_if)
    result = sweep_at(expires + timedelta(days=1, hours=1))
    assert raced == [item_id]
    assert result["items_abandoned"] == 1
    assert item(item_id).status == "abandoned"


def test_an_unpaid_package_expires_and_its_items_go_back_with_their_deadlines(api):
    [item_id] = stored(api)
    expires = deadline(item_id)
    created_at = clock.now()
    package_id = submit(api, [item_id])
    package = api.get(f"/packages/{package_id}", user=ALICE).body
    assert package["payment_due_at"] == clock.iso(created_at + timedelta(days=7))
    assert sweep_at(created_at + timedelta(days=6)).get("packages_expired", 0) == 0
    assert item(item_id).status == "in_package"
    result = sweep_at(created_at + timedelta(days=7, hours=1))
    assert result["packages_expired"] == 1
    package = api.get(f"/packages/{package_id}", user=ALICE).body
    assert package["status"] == "cancelled"
    assert package["cancel_reason"] == "payment_expired"
    stored_item = item(item_id)
    assert stored_item.status == "in_warehouse" and stored_item.package_id is None
    assert deadline(item_id) == expires  # far from its deadline: the clock resumes unchanged
    [email] = [e for e in sent_emails(ALICE) if e["template"] == "package_expired"]
    assert email["data"]["package_id"] == package_id
    # once only: the next run finds nothing more to do and sends nothing
    again = sweep_at(created_at + timedelta(days=8))
    assert again.get("packages_expired", 0) == 0
    assert len([e for e in sent_emails(ALICE) if e["template"] == "package_expired"]) == 1


def test_a_paid_package_never_expires(api):
    [item_id] = stored(api)
    top_up(api, ALICE, 100_000)
    created_at = clock.now()
    package_id = submit(api, [item_id])
    assert api.post(f"/packages/{package_id}/pay", user=ALICE).status == 200
    assert Package.get(package_id, consistent_read=True).deadline_key is None
    result = sweep_at(created_at + timedelta(days=30))
    assert result.get("packages_expired", 0) == 0
    assert api.get(f"/packages/{package_id}", user=ALICE).body["status"] == "paid"
    assert item(item_id).status == "in_package"


def test_an_item_held_by_an_after_sales_case_that_is_rejected_is_abandoned_after_the_grace(api):
    from tests.integration.conftest import WAREHOUSE

    [item_id] = stored(api)
    expires = deadline(item_id)
    case = api.post("/after-sales", {"item_id": item_id, "type": "refund", "reason": "Stained"}, user=ALICE)
    assert case.status == 201, case.body
    # the deadline passes while the case is open: the sweep holds the item and checkpoints the day
    held = sweep_at(expires + timedelta(days=3))
    assert held["held_by_after_sales"] == 1 and item(item_id).status == "in_warehouse"
    assert checkpoint() > expires.date().isoformat()
    closed_at = expires + timedelta(days=3, hours=2)
    clock.set_now(closed_at)
    resolved = api.post(
        f"/staff/after-sales/{case.body['case_id']}/resolve", {"resolution": "reject"}, user=WAREHOUSE
    )
    assert resolved.status == 200, resolved.body
    assert deadline(item_id) == closed_at + timedelta(days=7)  # the grace period, on a day still read
    assert sweep_at(closed_at + timedelta(days=6)).get("items_abandoned", 0) == 0
    assert sweep_at(closed_at + timedelta(days=7, hours=1))["items_abandoned"] == 1
    assert item(item_id).status == "abandoned"
