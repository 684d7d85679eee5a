"""The outbox: an email is an event committed with its change, sent after the request, at least once and
never twice, whatever SES does meanwhile (chalicelib/events/outbox.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from chalicelib import clock, config, emails, uow, users
from chalicelib.events import outbox as handler
from chalicelib.models.outbox import OutboxEvent
from infra.local.streams import StreamDriver
from tests.integration.conftest import ALICE, BOB, REVIEWER, outbox, sent_emails, top_up

pytestmark = pytest.mark.usefixtures("shop")

TEE = {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2}


def paid_order(api, user=ALICE) -> str:
    top_up(api, user, 50000)
    created = api.post("/orders", {"items": [TEE], "payment_channel": "balance"}, user=user).body
    assert api.post(f"/orders/{created['order_id']}/pay", user=user).status == 200
    return created["order_id"]


def events(template: str | None = None) -> list[OutboxEvent]:
    """Every outbox event (a Scan, for tests only)."""
    return [e for e in OutboxEvent.scan(consistent_read=True) if template in (None, e.template)]


def ses_messages() -> list[dict]:
    """What SES accepted, without driving the outbox first."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID][config.region()]
    return [m for m in backend.sent_messages if hasattr(m, "template")]


def unavailable(*args, **kwargs):
    raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendTemplatedEmail")


def notify_many(api, count: int) -> list[str]:
    """`count` committed units, each with one email to Alice (data `n` tells them apart)."""
    alice = api.user_id(ALICE)
    for n in range(count):
        work = uow.Unit()
        work.notify(alice, "order_approved", {"order_id": f"ord_{n}", "item_count": n})
        uow.run(lambda work=work: work)
    return [e.event_id for e in events()]


def test_the_email_is_committed_with_the_change_and_sent_after_the_request(api):
    order_id = paid_order(api)
    assert api.post(f"/staff/orders/{order_id}/approve", user=REVIEWER).status == 200
    (event,) = events("order_approved")
    assert event.status == "pending" and event.unsent == "unsent"
    assert ses_messages() == []  # the request sent nothing itself
    assert [e["template"] for e in sent_emails(ALICE)] == ["order_approved"]
    sent = OutboxEvent.get(event.event_id, consistent_read=True)
    assert sent.status == "sent" and sent.message_id and sent.unsent is None and sent.expires_at


def test_a_refused_change_writes_no_email(api):
    order_id = paid_order(api)
    assert api.post(f"/staff/orders/{order_id}/approve", user=REVIEWER).status == 200
    assert api.post(f"/staff/orders/{order_id}/approve", user=REVIEWER).status == 409
    assert len(events("order_approved")) == 1
    assert len(sent_emails(ALICE)) == 1


def test_a_request_whose_email_provider_is_down_still_answers_and_the_email_follows(api, monkeypatch):
    order_id = paid_order(api)
    monkeypatch.setattr(emails, "send", unavailable)
    monkeypatch.setattr(users, "email_of", lambda user_id: unavailable())  # Cognito down too
    assert api.post(f"/staff/orders/{order_id}/approve", user=REVIEWER).status == 200
    assert sent_emails(ALICE) == []  # the handler failed: the record is reported, the event kept
    (event,) = events("order_approved")
    assert event.status == "pending" and "ServiceUnavailable" in event.error
    monkeypatch.undo()
    assert [e["template"] for e in sent_emails(ALICE)] == ["order_approved"]  # the retry sends it


def test_ses_failing_mid_batch_loses_no_email_and_sends_none_twice(api, app_module, monkeypatch):
    notify_many(api, 5)
    batches: list[dict] = []

    def invoke(event, context):
        batches.append(event)
        return app_module.outbox_events(event, context)

    driver = StreamDriver(config.table_name("outbox"), invoke)
    real_send = emails.send
    calls = {"n": 0}

    def third_fails(name, to, data):
        calls["n"] += 1
        if calls["n"] == 3:
            unavailable()
        return real_send(name, to, data)

    monkeypatch.setattr(emails, "send", third_fails)
    driver.poll()
    (first,) = batches
    assert len(first["Records"]) == 5
    failed_record = first["Records"][2]
    assert driver.failed_records == 1
    assert len(ses_messages()) == 4  # the other four went out; only the third is owed

    # Lambda retries from the failed record: it and the ones after it come again
    driver.poll()
    retry = batches[1]["Records"]
    assert retry[0]["dynamodb"]["SequenceNumber"] == failed_record["dynamodb"]["SequenceNumber"]
    sent = ses_messages()
    assert sorted(json.loads(m.template_data)["item_count"] for m in sent) == [0, 1, 2, 3, 4]
    assert {e.status for e in events()} == {"sent"}

    # the whole batch delivered again (at least once) sends nothing and fails nothing
    assert app_module.outbox_events(first, None) == {"batchItemFailures": []}
    assert len(ses_messages()) == 5


def test_a_permanent_refusal_is_recorded_and_does_not_hold_back_the_others(api, monkeypatch):
    notify_many(api, 1)
    work = uow.Unit()
    work.notify(api.user_id(BOB), "order_approved", {"order_id": "ord_bob", "item_count": 1})
    uow.run(lambda: work)
    real_send = emails.send

    def reject_alice(name, to, data):
        if to == ALICE:
            raise ClientError({"Error": {"Code": "MessageRejected", "Message": "suppressed"}}, "Send")
        return real_send(name, to, data)

    monkeypatch.setattr(emails, "send", reject_alice)
    assert [e["to"] for e in sent_emails()] == [[BOB]]
    assert outbox().failed_records == 0
    by_user = {e.user_id: e for e in events()}
    refused = by_user[api.user_id(ALICE)]
    assert refused.status == "undeliverable" and "MessageRejected" in refused.error
    assert refused.unsent is None  # not owed any more


def test_a_claimed_event_is_not_sent_twice_and_a_stale_claim_is_taken_over(api):
    (event_id,) = notify_many(api, 1)
    event = OutboxEvent.get(event_id)
    event.update(
        actions=[
            OutboxEvent.status.set("sending"),
            OutboxEvent.claimed_until.set(clock.iso(clock.now() + timedelta(seconds=60))),
        ]
    )
    assert handler.deliver(event_id) == "duplicate"  # another handler is sending it
    assert ses_messages() == []
    clock.set_now(clock.now() + timedelta(seconds=handler.CLAIM_SECONDS + 61))  # that handler died
    assert handler.deliver(event_id) == "sent"
    assert handler.deliver(event_id) == "duplicate"
    assert len(ses_messages()) == 1


def test_a_user_without_an_address_is_undeliverable_not_retried(api):
    work = uow.Unit()
    work.notify("no-such-user", "order_approved", {"order_id": "ord_x", "item_count": 1})
    uow.run(lambda: work)
    assert sent_emails() == []
    (event,) = events()
    assert event.status == "undeliverable" and outbox().failed_records == 0


def test_events_the_stream_gave_up_on_are_sent_by_the_redrive_once(api, monkeypatch):
    from infra import outbox as redrive

    notify_many(api, 2)
    monkeypatch.setattr(emails, "send", unavailable)
    assert sent_emails() == []  # the stream keeps failing...
    monkeypatch.undo()
    assert redrive.redrive(timedelta(hours=1)) == {}  # too recent: still the stream's
    clock.set_now(clock.now() + timedelta(days=2))  # ...until its records expired
    assert redrive.redrive(timedelta(hours=1)) == {"sent": 2}
    assert redrive.redrive(timedelta(hours=1)) == {}
    assert len(ses_messages()) == 2


def test_an_event_that_fails_the_same_way_every_time_does_not_hold_back_the_shard(api, monkeypatch):
    """A retried stream record holds back every record after it in its shard: the local stack stopped
    sending mail for good after one bad event. A failure no retry can mend is recorded instead."""
    alice = api.user_id(ALICE)
    for n in range(30):  # more than one stream batch (25) behind the bad event
        work = uow.Unit()
        work.notify(
            alice, "order_approved", {"order_id": "ord_bad" if n == 0 else f"ord_{n}", "item_count": n}
        )
        uow.run(lambda work=work: work)
    real_send = emails.send

    def template_bug(name, to, data):
        if data["order_id"] == "ord_bad":
            raise KeyError("shipping_line")  # a template's data without a field it needs
        return real_send(name, to, data)

    monkeypatch.setattr(emails, "send", template_bug)
    assert len(sent_emails()) == 29
    assert outbox().failed_records == 0
    (bad,) = [e for e in events() if e.status != "sent"]
    assert bad.status == "undeliverable" and "KeyError" in bad.error and bad.unsent is None


def test_a_task_that_raises_a_bug_is_recorded_and_a_lost_race_is_retried(api, monkeypatch):
    calls = []

    def task(data):
        calls.append(data["n"])
        if data["n"] == 1:
            raise ValueError("no such parcel")
        if data["n"] == 2 and calls.count(2) == 1:
            raise ClientError({"Error": {"Code": "TransactionConflictException", "Message": "race"}}, "Tx")

    monkeypatch.setattr(handler, "_tasks", lambda: {"probe": task})
    for n in (1, 2):
        work = uow.Unit()
        work.task("probe", api.user_id(ALICE), {"n": n})
        uow.run(lambda work=work: work)
    sent_emails()  # the lost race is reported as a batch item failure...
    sent_emails()  # ...and the stream's retry runs it again
    by_n = {int(e.data["n"]): e for e in events()}
    assert by_n[1].status == "undeliverable" and "ValueError" in by_n[1].error
    assert by_n[2].status == "sent" and calls.count(2) == 2  # the lost race ran again


def test_only_failures_a_retry_may_mend_are_transient():
    assert handler.transient(unavailable_error())
    assert handler.transient(
        ClientError({"Error": {"Code": "Anything"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "X")
    )
    assert not handler.transient(
        ClientError({"Error": {"Code": "TemplateDoesNotExist"}}, "SendTemplatedEmail")
    )
    assert not handler.transient(KeyError("x"))
    try:
        try:
            raise unavailable_error()
        except ClientError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert handler.transient(wrapped)


def unavailable_error() -> ClientError:
    return ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendTemplatedEmail")
