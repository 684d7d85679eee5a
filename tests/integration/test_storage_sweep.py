"""Storage policy: reminders, abandonment, destruction queue, extensions; reruns, gaps and crashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from chalicelib import clock, emails, ids
from chalicelib.jobs import storage_sweep
from chalicelib.models.commerce import Item
from chalicelib.rules import storage as storage_rules
from chalicelib.warehouse import parcel_id_for
from tests.integration.conftest import ALICE, BOB, WAREHOUSE, sent_emails, top_up

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def stored(user_id: str, at: datetime, status: str = "in_warehouse", title: str = "Cotton T-shirt") -> str:
    """An item put into storage at `at` (what a passing inspection writes)."""
    item_id = ids.new_id("itm")
    expires = storage_rules.storage_expires_at(at)
    Item(
        item_id,
        user_id=user_id,
        status=status,
        title=title,
        quantity=1,
        unit_price_fen=2500,
        created_at=clock.iso(at),
        in_warehouse_at=clock.iso(at),
        storage_expires_at=clock.iso(expires),
        stored_by=user_id,
        deadline_key=storage_rules.deadline_key(expires, item_id) if status != "in_package" else None,
    ).save()
    return item_id


def sweep(at: datetime) -> dict:
    clock.set_now(at)
    return storage_sweep.run()


def travel(at: datetime) -> dict:
    """What `make job JOB=storage_sweep NOW=<at>` does: only the job's clock moves."""
    clock.set_now(at, travel=True)
    return storage_sweep.run()


def status(item_id: str) -> str:
    return Item.get(item_id, consistent_read=True).status


def reminder_emails(to=None):
    return [e for e in sent_emails(to) if e["template"] == "storage_reminder"]


@pytest.fixture
def alice(api):
    return api.user_id(ALICE)


@pytest.fixture
def bob(api):
    return api.user_id(BOB)


def test_reminds_7_and_1_days_before_then_abandons_without_email(api, alice):
    item = stored(alice, T0)
    assert sweep(T0 + timedelta(days=82))["finished"]
    assert reminder_emails() == []
    sweep(T0 + timedelta(days=83))
    [email] = reminder_emails(ALICE)
    assert email["data"]["days"] == 7 and [i["item_id"] for i in email["data"]["items"]] == [item]
    sweep(T0 + timedelta(days=83))  # the same job again at the same NOW sends nothing more
    sweep(T0 + timedelta(days=83, hours=5))
    assert len(reminder_emails()) == 1
    sweep(T0 + timedelta(days=89))
    assert [e["data"]["days"] for e in reminder_emails(ALICE)] == [7, 1]
    sweep(T0 + timedelta(days=89, hours=23))
    assert status(item) == "in_warehouse"
    result = sweep(T0 + timedelta(days=90, hours=1))
    assert result["items_abandoned"] == 1
    assert status(item) == "abandoned"
    assert len(sent_emails()) == 2  # nothing about abandonment or destruction
    queue = api.get("/staff/destruction-queue", user=WAREHOUSE).body["items"]
    assert [(q["kind"], q["item_id"]) for q in queue] == [("item", item)]
    mine = api.get("/warehouse/items", user=ALICE).body["items"]
    assert [(i["item_id"], i["status"]) for i in mine] == [(item, "abandoned")]


def test_one_email_per_customer_listing_all_their_items_at_that_threshold(api, alice, bob):
    alices = [stored(alice, T0 + timedelta(hours=h)) for h in (0, 3, 6)]
    bobs = [stored(bob, T0)]
    stored(alice, T0 + timedelta(days=3))  # a later deadline: not in this run's reminder
    sweep(T0 + timedelta(days=83))
    emails_sent = reminder_emails()
    assert len(emails_sent) == 2
    by_user = {e["to"][0]: e for e in emails_sent}
    assert sorted(i["item_id"] for i in by_user[ALICE]["data"]["items"]) == sorted(alices)
    assert [i["item_id"] for i in by_user[BOB]["data"]["items"]] == bobs
    assert by_user[ALICE]["data"]["count"] == 3


def test_skipped_runs_catch_up_without_late_reminders(api, alice):
    sweep(T0 + timedelta(days=80))  # the job ran normally until day 80
    expires_90 = stored(alice, T0)  # expires day 90: should have had 7d and 1d reminders in days 83/89
    expires_92 = stored(alice, T0 + timedelta(days=2))
    expires_100 = stored(alice, T0 + timedelta(days=10))  # day 95 is 5 days before its deadline
    expires_110 = stored(alice, T0 + timedelta(days=20))
    packaged = stored(alice, T0, status="in_package")
    clock.set_now(T0 + timedelta(days=81))  # runs of days 81..94 are skipped entirely
    result = sweep(T0 + timedelta(days=95))
    assert status(expires_90) == status(expires_92) == "abandoned"
    assert status(expires_100) == status(expires_110) == "in_warehouse"
    assert status(packaged) == "in_package"
    assert result["items_abandoned"] == 2
    [email] = reminder_emails(ALICE)
    assert email["data"]["days"] == 7
    assert [i["item_id"] for i in email["data"]["items"]] == [expires_100]


def test_both_thresholds_due_at_once_send_the_most_urgent_only(api, alice):
    sweep(T0)
    item = stored(alice, T0)
    sweep(T0 + timedelta(days=89, hours=6))  # the 7-day run was missed
    [email] = reminder_emails()
    assert email["data"]["days"] == 1 and email["data"]["items"][0]["item_id"] == item
    sweep(T0 + timedelta(days=89, hours=12))
    assert len(reminder_emails()) == 1


def test_packaged_items_are_never_abandoned(api, alice):
    item = stored(alice, T0, status="in_package")
    for day in (83, 89, 90, 95, 200):
        sweep(T0 + timedelta(days=day))
    assert status(item) == "in_package"
    assert reminder_emails() == []


def test_exceptional_parcels_expire_after_30_days_silently(api):
    clock.set_now(T0)
    scan = api.post("/staff/inbound", {"tracking_no": "SF0000777"}, user=WAREHOUSE).body
    assert scan["status"] == "exceptional"
    sweep(T0 + timedelta(days=29, hours=23))
    assert api.get("/staff/destruction-queue", user=WAREHOUSE).body["items"] == []
    result = sweep(T0 + timedelta(days=30, minutes=1))
    assert result["parcels_abandoned"] == 1
    queue = api.get("/staff/destruction-queue", user=WAREHOUSE).body["items"]
    assert [(q["kind"], q["parcel_id"]) for q in queue] == [("parcel", parcel_id_for("SF0000777"))]
    assert sent_emails() == []
    destroyed = api.post(f"/staff/parcels/{queue[0]['parcel_id']}/destroy", user=WAREHOUSE)
    assert destroyed.status == 200 and destroyed.body["status"] == "destroyed"
    assert api.get("/staff/destruction-queue", user=WAREHOUSE).body["items"] == []


def test_destroying_an_abandoned_item_shows_the_final_status(api, alice):
    item = stored(alice, T0)
    sweep(T0 + timedelta(days=91))
    assert api.post(f"/staff/items/{item}/destroy", user=ALICE).status == 403
    done = api.post(f"/staff/items/{item}/destroy", user=WAREHOUSE)
    assert done.status == 200 and done.body["status"] == "destroyed"
    assert api.post(f"/staff/items/{item}/destroy", user=WAREHOUSE).status == 409
    assert api.get(f"/items/{item}", user=ALICE).body["status"] == "destroyed"
    fresh = stored(alice, T0 + timedelta(days=91))
    assert api.post(f"/staff/items/{fresh}/destroy", user=WAREHOUSE).status == 409


def test_a_run_killed_halfway_is_finished_by_the_next_run(api, alice, bob, monkeypatch):
    items = [stored(alice, T0 + timedelta(minutes=m)) for m in range(6)]
    for m in range(3):
        stored(bob, T0 + timedelta(days=7, minutes=m))  # due for the 7-day reminder on day 90
    real = storage_sweep.Sweep._abandon_item
    calls = {"n": 0}

    def crash_after_three(self, item):
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("Lambda killed")
        return real(self, item)

    monkeypatch.setattr(storage_sweep.Sweep, "_abandon_item", crash_after_three)
    with pytest.raises(RuntimeError):
        sweep(T0 + timedelta(days=90, hours=1))
    assert sum(status(i) == "abandoned" for i in items) == 3
    monkeypatch.setattr(storage_sweep.Sweep, "_abandon_item", real)
    result = sweep(T0 + timedelta(days=90, hours=2))
    assert all(status(i) == "abandoned" for i in items)
    assert result["items_abandoned"] == 3
    assert len(reminder_emails(BOB)) == 1


def test_a_crash_between_reminder_batches_never_doubles_an_email(api, alice, bob, monkeypatch):
    stored(alice, T0)
    stored(bob, T0)
    real = storage_sweep.Sweep._send_batch
    calls = {"n": 0}

    def crash_after_first(self, *args):
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("Lambda killed")
        return real(self, *args)

    monkeypatch.setattr(storage_sweep.Sweep, "_send_batch", crash_after_first)
    with pytest.raises(RuntimeError):
        sweep(T0 + timedelta(days=83))
    assert len(reminder_emails()) == 1
    monkeypatch.setattr(storage_sweep.Sweep, "_send_batch", real)
    sweep(T0 + timedelta(days=83, hours=1))
    sweep(T0 + timedelta(days=84))
    assert sorted(e["to"][0] for e in reminder_emails()) == [ALICE, BOB]


def test_the_reminder_marks_and_their_email_commit_together(api, alice, monkeypatch):
    """A run killed at the commit leaves neither marks nor an email; the rerun sends it once."""
    item = stored(alice, T0)
    real_commit = storage_sweep.uow.commit

    def killed(unit):
        raise RuntimeError("Lambda killed")

    monkeypatch.setattr(storage_sweep.uow, "commit", killed)
    with pytest.raises(RuntimeError):
        sweep(T0 + timedelta(days=83))
    assert reminder_emails() == []
    assert "7" not in Item.get(item).reminders.as_dict()
    monkeypatch.setattr(storage_sweep.uow, "commit", real_commit)
    sweep(T0 + timedelta(days=83, hours=1))
    sweep(T0 + timedelta(days=83, hours=2))
    assert len(reminder_emails()) == 1
    assert Item.get(item).reminders.as_dict()["7"].startswith("sent:")


def test_ses_down_delays_reminders_and_loses_none(api, alice, bob, monkeypatch):
    """The sweep writes the reminders whatever SES does; the outbox sends them once SES is back."""
    stored(alice, T0)
    stored(bob, T0)

    def unavailable(name, to, data):
        raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "SendTemplatedEmail")

    monkeypatch.setattr(emails, "send", unavailable)
    result = sweep(T0 + timedelta(days=83))
    assert result["reminder_emails"] == 2 and not result.get("reminders_deferred")
    assert reminder_emails() == []
    monkeypatch.undo()
    assert sorted(e["to"][0] for e in reminder_emails()) == [ALICE, BOB]
    sweep(T0 + timedelta(days=84))
    assert len(reminder_emails()) == 2


def test_a_run_near_the_time_limit_stops_and_the_next_continues(api, alice):
    items = [stored(alice, T0 + timedelta(days=d)) for d in range(4)]

    class Context:
        def __init__(self, budget):
            self.budget = budget

        def get_remaining_time_in_millis(self):
            self.budget -= 1
            return 120_000 if self.budget > 0 else 1_000

    clock.set_now(T0 + timedelta(days=80))
    storage_sweep.run()
    clock.set_now(T0 + timedelta(days=95))
    partial = storage_sweep.run(Context(budget=12))  # enough for days 81-91 of the catch-up
    assert not partial["finished"]
    assert 0 < sum(status(i) == "abandoned" for i in items) < 4
    assert storage_sweep.run()["finished"]
    assert all(status(i) == "abandoned" for i in items)


def test_storage_extension_moves_the_deadline_and_the_reminders(api, alice):
    clock.set_now(T0)
    item = stored(alice, T0)
    top_up(api, ALICE, 5000)
    price = api.get("/storage/extension-price", user=ALICE).body
    assert price == {"days_per_period": 30, "price_fen": 1200, "max_total_days": 180}
    headers = {"Idempotency-Key": "ext-1"}
    extended = api.post(f"/items/{item}/extend-storage", {"periods": 1}, user=ALICE, headers=headers)
    again = api.post(f"/items/{item}/extend-storage", {"periods": 1}, user=ALICE, headers=headers)
    assert extended.status == again.status == 200
    assert extended.body["storage"]["expires_at"] == clock.iso(T0 + timedelta(days=120))
    assert api.get("/wallet", user=ALICE).body["balance_fen"] == 5000 - 1200
    sweep(T0 + timedelta(days=83))
    sweep(T0 + timedelta(days=91))
    assert reminder_emails() == [] and status(item) == "in_warehouse"
    sweep(T0 + timedelta(days=113))
    assert [e["data"]["days"] for e in reminder_emails()] == [7]
    assert api.post(f"/items/{item}/extend-storage", {"periods": 2}, user=ALICE).status == 200  # 180 days
    assert api.post(f"/items/{item}/extend-storage", {"periods": 1}, user=ALICE).status == 409
    assert api.post(f"/items/{item}/extend-storage", {"periods": 1}, user=BOB).status == 404
    assert api.post(f"/items/{item}/extend-storage", {"periods": 0}, user=ALICE).status == 400
    assert api.get("/wallet", user=ALICE).body["balance_fen"] == 5000 - 3600


def test_extension_needs_money(api, alice):
    clock.set_now(T0)
    item = stored(alice, T0)
    result = api.post(f"/items/{item}/extend-storage", {}, user=ALICE)
    assert result.status == 409 and result.body["error"]["code"] == "insufficient_funds"
    assert api.get(f"/items/{item}", user=ALICE).body["storage"]["expires_at"] == clock.iso(
        T0 + timedelta(days=90)
    )


def test_reminder_thresholds_are_configurable(api, alice, monkeypatch):
    monkeypatch.setenv("REMINDER_DAYS", "14,3")
    stored(alice, T0)
    sweep(T0 + timedelta(days=76))
    sweep(T0 + timedelta(days=83))
    sweep(T0 + timedelta(days=87))
    assert [e["data"]["days"] for e in reminder_emails()] == [14, 3]


def test_a_new_stack_catches_up_from_its_first_day(api, alice):
    storage_sweep.start_history(T0.date())
    item = stored(alice, T0)
    result = sweep(T0 + timedelta(days=150))  # the very first run, long after the deadline
    assert status(item) == "abandoned" and result["items_abandoned"] == 1
    assert reminder_emails() == []


def test_the_scheduled_handler_passes_lambdas_time_budget_to_the_sweep(api, app_module, alice):
    from infra.local.job import scheduled_event

    stored(alice, T0)

    class AlmostOutOfTime:
        def get_remaining_time_in_millis(self):
            return 5_000

    clock.set_now(T0 + timedelta(days=95))
    result = app_module.storage_sweep(scheduled_event(clock.now_iso()), AlmostOutOfTime())
    assert result["finished"] is False
    assert app_module.storage_sweep(scheduled_event(clock.now_iso()), None)["finished"] is True


@pytest.mark.usefixtures("shop")
def test_a_deadline_restored_onto_a_day_already_read_still_gets_its_7_day_reminder_late(api, alice):
    """Issue 21, item 7: a package cancelled after the sweep read the restored deadline's day for the
    7-day window; the reminder is sent at the next run (late), then the 1-day one, never only the last."""
    from tests.integration.test_packages import paid_package

    clock.set_now(T0)
    package = paid_package(api)  # its item went into storage at T0: deadline T0 + 90 days, then packed
    [item_id] = package["item_ids"]
    sweep(T0 + timedelta(days=84))  # reads day 91 for the 7-day window: nothing there yet
    clock.set_now(T0 + timedelta(days=84, hours=3))
    cancelled = api.post(f"/packages/{package['package_id']}/cancel", user=ALICE)
    assert cancelled.status == 200, cancelled.body
    restored = Item.get(item_id, consistent_read=True)
    assert restored.storage_expires_at.startswith((T0 + timedelta(days=91)).date().isoformat())  # the grace
    assert reminder_emails(ALICE) == []
    result = sweep(T0 + timedelta(days=85))
    [late] = reminder_emails(ALICE)
    assert late["data"]["days"] == 7 and [i["item_id"] for i in late["data"]["items"]] == [item_id]
    assert result["reminder_days_reread"] == 1
    sweep(T0 + timedelta(days=86))  # the day was read again once: nothing twice
    assert len(reminder_emails(ALICE)) == 1
    sweep(T0 + timedelta(days=90))
    assert [e["data"]["days"] for e in reminder_emails(ALICE)] == [7, 1]


def test_a_run_without_restored_deadlines_reads_no_day_twice(api, alice):
    item = stored(alice, T0)
    result = sweep(T0 + timedelta(days=83))
    assert "reminder_days_reread" not in result
    assert [i["item_id"] for e in reminder_emails(ALICE) for i in e["data"]["items"]] == [item]


def test_a_run_ahead_of_the_wall_clock_leaves_later_deadlines_to_be_swept(api, alice):
    """`make job JOB=storage_sweep NOW=<future>` on a local stack, then parcels and items stored at the real
    time with deadlines inside the days that run walked: a later run still reminds and abandons them."""
    wall = datetime.now(UTC).replace(microsecond=0)
    travel(wall + timedelta(days=85))  # nothing stored yet
    state = storage_sweep.JobState.get(storage_sweep.JOB).state.as_dict()
    assert state["abandon_done_through"] <= (wall - timedelta(days=1)).date().isoformat()
    assert state["reminded_through_7"] <= (wall + timedelta(days=7)).date().isoformat()

    clock.set_now(wall)
    scan = api.post("/staff/inbound", {"tracking_no": "SF0000778"}, user=WAREHOUSE).body
    assert scan["status"] == "exceptional"  # its 30 days end inside the days the first run walked
    item_id = stored(alice, wall)  # its deadline, wall + 90 days, is inside that run's 7-day window
    result = travel(wall + timedelta(days=85))
    assert result["parcels_abandoned"] == 1
    assert result["items_reminded_7d"] == 1
    assert len(reminder_emails()) == 1

    again = travel(wall + timedelta(days=85))  # rerun at the same NOW: re-reads, redoes nothing
    assert again.get("parcels_abandoned", 0) == again.get("reminder_emails", 0) == 0
    travel(wall + timedelta(days=90, minutes=1))
    assert status(item_id) == "abandoned"
    assert len(reminder_emails()) == 1
