"""Messages on orders and packages (chalicelib/messages.py): who may read and write a thread, what a body
may hold, the staff queue of unanswered threads, and the customer's email of staff replies: batched
within MESSAGE_EMAIL_BATCH_MINUTES, sent once however often the job runs or the stream redelivers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import clock
from chalicelib.events import outbox as outbox_handler
from chalicelib.jobs import message_emails
from chalicelib.models.messages import MessageThread
from tests.integration.conftest import ALICE, BOB, REVIEWER, WAREHOUSE, sent_emails, top_up
from tests.integration.test_outbox import events, ses_messages

pytestmark = pytest.mark.usefixtures("shop")

TEE = {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2}
SOCKS = {"product_id": "prd_socks", "sku_id": "sku_socks", "quantity": 2}


def order(api, user=ALICE, items=(TEE,)) -> dict:
    top_up(api, user, 50000)
    created = api.post("/orders", {"items": list(items), "payment_channel": "balance"}, user=user)
    assert created.status == 201, created.body
    return created.body


def say(api, path, body, user=ALICE, **extra):
    return api.post(path, {"body": body, **extra}, user=user)


def thread(api, path, user=ALICE, **query) -> list[dict]:
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    answer = api.get(f"{path}?{suffix}" if suffix else path, user=user)
    assert answer.status == 200, answer.body
    return answer.body["items"]


def queue(api, user=REVIEWER) -> list[dict]:
    answer = api.get("/staff/messages?status=unanswered", user=user)
    assert answer.status == 200, answer.body
    return answer.body["items"]


def at(minutes: float):
    """Freeze the clock `minutes` after the test's start."""
    clock.set_now(START + timedelta(minutes=minutes))


START = clock.now().replace(microsecond=0)


def run_job():
    return message_emails.run()


def replies_mailed(user=ALICE) -> list[dict]:
    return [m for m in sent_emails(user) if m["template"] == "staff_replied"]


# --- who may read and write ------------------------------------------------------------------------------


def test_the_owner_and_staff_share_the_orders_thread_oldest_first(api):
    placed = order(api)
    oid = placed["order_id"]
    assert thread(api, f"/orders/{oid}/messages") == []  # no message yet: an empty thread
    item_id = placed["items"][0]["item_id"]
    first = say(api, f"/orders/{oid}/messages", "Which colour did the shop send?", item_id=item_id)
    assert first.status == 201, first.body
    assert first.body["author"] == "customer" and first.body["item_id"] == item_id
    reply = say(api, f"/staff/orders/{oid}/messages", "Navy, as ordered.", user=REVIEWER)
    assert reply.status == 201 and reply.body["author"] == "staff" and reply.body["item_id"] is None
    mine = thread(api, f"/orders/{oid}/messages")
    assert [m["body"] for m in mine] == ["Which colour did the shop send?", "Navy, as ordered."]
    assert [m["author"] for m in mine] == ["customer", "staff"]
    assert "author_id" not in mine[1]  # a customer never learns which staff member answered
    assert thread(api, f"/staff/orders/{oid}/messages", user=WAREHOUSE) == mine


def test_the_owner_and_staff_share_the_packages_thread(api):
    from tests.integration.test_packages import stored, submit

    item_ids = stored(api, items=(TEE,), tracking="YT5550001")
    package = submit(api, item_ids, services=[])
    assert package.status == 201, package.body
    pid = package.body["package_id"]
    asked = say(api, f"/packages/{pid}/messages", "Please pack the tee flat.", item_id=item_ids[0])
    assert asked.status == 201, asked.body
    answered = say(api, f"/staff/packages/{pid}/messages", "Will do.", user=WAREHOUSE)
    assert answered.status == 201, answered.body
    assert [m["author"] for m in thread(api, f"/packages/{pid}/messages")] == ["customer", "staff"]
    assert queue(api, user=WAREHOUSE) == []


def test_another_customers_order_or_package_thread_is_404_to_read_and_to_write(api):
    from tests.integration.test_packages import stored, submit

    oid = order(api, user=BOB)["order_id"]
    pid = submit(api, stored(api, user=BOB, tracking="YT5550002"), user=BOB, services=[]).body["package_id"]
    for path in (f"/orders/{oid}/messages", f"/packages/{pid}/messages"):
        assert api.get(path, user=ALICE).status == 404
        assert say(api, path, "hello").status == 404
        assert thread(api, path, user=BOB) == []  # nothing was written
    assert say(api, "/orders/ord_NOPE/messages", "hello").status == 404
    assert say(api, "/staff/orders/ord_NOPE/messages", "hello", user=REVIEWER).status == 404
    assert api.get("/staff/messages", user=ALICE).status == 403  # the queue is staff's


def test_a_message_may_name_only_an_item_of_its_own_order(api):
    mine = order(api)
    other = order(api, items=(SOCKS,))
    answer = say(
        api, f"/orders/{mine['order_id']}/messages", "this one", item_id=other["items"][0]["item_id"]
    )
    assert answer.status == 400 and answer.body["error"]["code"] == "validation_error"
    assert thread(api, f"/orders/{mine['order_id']}/messages") == []


# --- bodies ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["", "   \n ", "x" * 2001, "bell\x07", "nul\x00byte", "escape\x1b[31m", "c1\x85"],
    ids=["empty", "blank", "too-long", "bell", "nul", "ansi-escape", "c1-control"],
)
def test_a_body_that_is_empty_too_long_or_holds_control_characters_is_400_and_posts_nothing(api, body):
    oid = order(api)["order_id"]
    answer = say(api, f"/orders/{oid}/messages", body)
    assert answer.status == 400 and answer.body["error"]["code"] == "validation_error", answer.body
    assert thread(api, f"/orders/{oid}/messages") == []
    assert queue(api) == []


def test_a_body_of_the_maximum_length_with_newlines_and_tabs_is_kept_as_written(api):
    oid = order(api)["order_id"]
    body = ("line one\n\tindented\r\n" + "é" * 2000)[:2000]
    answer = say(api, f"/orders/{oid}/messages", body)
    assert answer.status == 201, answer.body
    assert thread(api, f"/orders/{oid}/messages")[0]["body"] == body


def test_the_length_limit_is_configuration(api, monkeypatch):
    monkeypatch.setenv("MESSAGE_MAX_CHARS", "10")
    oid = order(api)["order_id"]
    assert say(api, f"/orders/{oid}/messages", "x" * 11).status == 400
    assert say(api, f"/orders/{oid}/messages", "x" * 10).status == 201


def test_html_in_a_body_is_stored_and_answered_as_the_text_it_is(api):
    oid = order(api)["order_id"]
    body = '<script>alert(1)</script><img src=x onerror="alert(2)"> & &amp;'
    assert say(api, f"/orders/{oid}/messages", body).status == 201
    assert thread(api, f"/orders/{oid}/messages")[0]["body"] == body  # not escaped, not stripped: text
    assert queue(api)[0]["last_preview"] == body


# --- the staff queue -----------------------------------------------------------------------------------


def test_a_customer_message_queues_the_thread_and_a_staff_reply_takes_it_off(api):
    oid = order(api)["order_id"]
    assert queue(api) == []
    say(api, f"/orders/{oid}/messages", "Is it bought yet?")
    (waiting,) = queue(api)
    assert (waiting["kind"], waiting["subject_id"], waiting["status"]) == ("order", oid, "unanswered")
    assert waiting["last_author"] == "customer" and waiting["message_count"] == 1
    say(api, f"/staff/orders/{oid}/messages", "Yes, this morning.", user=REVIEWER)
    assert queue(api) == []
    stored = MessageThread.get(f"order:{oid}", consistent_read=True)
    assert stored.status == "answered" and stored.queue_key is None and stored.message_count == 2
    say(api, f"/orders/{oid}/messages", "Thanks! One more question.")
    assert [t["subject_id"] for t in queue(api)] == [oid]  # back on the queue


def test_the_queue_is_longest_waiting_first_with_the_waiting_time_of_the_first_unanswered_message(api):
    first, second = order(api)["order_id"], order(api, user=BOB)["order_id"]
    at(0)
    say(api, f"/orders/{second}/messages", "Bob waits longest.", user=BOB)
    at(10)
    say(api, f"/orders/{first}/messages", "Alice asks later.")
    at(30)
    say(api, f"/orders/{second}/messages", "Bob again: a follow-up keeps his place.", user=BOB)
    at(45)
    waiting = queue(api)
    assert [t["subject_id"] for t in waiting] == [second, first]
    assert [t["waiting_minutes"] for t in waiting] == [45, 35]
    assert waiting[0]["waiting_since"] == clock.iso(START)
    assert waiting[0]["message_count"] == 2
    assert waiting[0]["last_preview"] == "Bob again: a follow-up keeps his place."


def test_the_queue_and_a_thread_page_with_the_cursor(api):
    oid = order(api)["order_id"]
    for n in range(5):
        say(api, f"/orders/{oid}/messages", f"message {n}")
    first = api.get(f"/orders/{oid}/messages?limit=2", user=ALICE).body
    assert [m["body"] for m in first["items"]] == ["message 0", "message 1"] and first["next_cursor"]
    seen = [m["body"] for m in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.get(f"/orders/{oid}/messages?limit=2&cursor={cursor}", user=ALICE).body
        seen += [m["body"] for m in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [f"message {n}" for n in range(5)]
    for n in range(3):
        say(api, f"/orders/{order(api)['order_id']}/messages", f"thread {n}")
    page = api.get("/staff/messages?status=unanswered&limit=2", user=REVIEWER).body
    rest = api.get(f"/staff/messages?status=unanswered&limit=10&cursor={page['next_cursor']}", user=REVIEWER)
    assert len(page["items"]) == 2 and len(rest.body["items"]) == 2  # 4 threads in all
    assert api.get("/staff/messages?status=answered", user=REVIEWER).status == 400


# --- idempotency ----------------------------------------------------------------------------------------


def test_an_idempotency_key_replay_answers_the_first_post_and_posts_nothing(api):
    oid = order(api)["order_id"]
    key = {"Idempotency-Key": "msg-retry-1"}
    first = api.post(f"/orders/{oid}/messages", {"body": "once"}, user=ALICE, headers=key)
    again = api.post(f"/orders/{oid}/messages", {"body": "once"}, user=ALICE, headers=key)
    assert first.status == again.status == 201
    assert again.body == first.body and again.headers.get("Idempotent-Replayed") == "true"
    other = api.post(f"/orders/{oid}/messages", {"body": "another"}, user=ALICE, headers=key)
    assert other.status == 409  # the same key with another body
    assert [m["body"] for m in thread(api, f"/orders/{oid}/messages")] == ["once"]
    assert queue(api)[0]["message_count"] == 1


# --- the customer's email of staff replies ---------------------------------------------------------------


def test_staff_replies_within_the_window_leave_as_one_email_once_it_ends(api):
    oid = order(api)["order_id"]
    at(0)
    say(api, f"/orders/{oid}/messages", "Which colour?")
    say(api, f"/staff/orders/{oid}/messages", "Navy.", user=REVIEWER)
    at(2)
    say(api, f"/staff/orders/{oid}/messages", "<b>Photos</b> tomorrow.", user=WAREHOUSE)
    at(4)
    assert run_job()["emails"] == 0  # the window (5 minutes from the first reply) is still open
    assert replies_mailed() == []
    at(5)
    assert run_job()["emails"] == 1
    (mail,) = replies_mailed()
    assert mail["data"]["subject_id"] == oid and mail["data"]["count"] == 2
    assert [r["body"] for r in mail["data"]["replies"]] == ["Navy.", "<b>Photos</b> tomorrow."]
    at(6)
    assert run_job()["due"] == 0  # nothing is due any more
    assert len(replies_mailed()) == 1


def test_a_customer_message_alone_emails_nobody(api):
    oid = order(api)["order_id"]
    at(0)
    say(api, f"/orders/{oid}/messages", "Hello?")
    at(60)
    assert run_job()["due"] == 0
    assert replies_mailed() == []


def test_a_reply_after_the_email_starts_a_new_window_and_a_new_email(api):
    oid = order(api)["order_id"]
    at(0)
    say(api, f"/staff/orders/{oid}/messages", "Your item shipped.", user=REVIEWER)
    at(5)
    run_job()
    at(7)
    say(api, f"/staff/orders/{oid}/messages", "It arrived at the warehouse.", user=REVIEWER)
    at(11)
    assert run_job()["emails"] == 0
    at(12)
    assert run_job()["emails"] == 1
    mails = replies_mailed()
    assert [[r["body"] for r in m["data"]["replies"]] for m in mails] == [
        ["Your item shipped."],
        ["It arrived at the warehouse."],
    ]


def test_a_repeated_job_run_and_a_redelivered_stream_record_send_no_second_email(api):
    oid = order(api)["order_id"]
    at(0)
    say(api, f"/staff/orders/{oid}/messages", "Navy.", user=REVIEWER)
    at(5)
    assert run_job()["emails"] == 1
    assert message_emails.mail(f"order:{oid}", clock.now_iso()) is False  # a second run for the same due
    assert len(replies_mailed()) == 1
    (event,) = events("staff_replied")
    sent = len(ses_messages())
    keys = {"event_id": {"S": event.event_id}}
    record = {"eventName": "INSERT", "dynamodb": {"Keys": keys, "SequenceNumber": "9"}}
    assert outbox_handler.handle_batch([record, record]) == {"batchItemFailures": []}
    assert len(ses_messages()) == sent  # the redelivered event was sent already: nothing more
    assert len(replies_mailed()) == 1


def test_a_reply_landing_while_the_job_builds_the_email_is_mailed_by_the_next_run(api, monkeypatch):
    oid = order(api)["order_id"]
    at(0)
    say(api, f"/staff/orders/{oid}/messages", "First.", user=REVIEWER)
    at(5)
    real_query = message_emails.Message.query

    def query_then_reply(*args, **kwargs):
        found = list(real_query(*args, **kwargs))
        monkeypatch.setattr(message_emails.Message, "query", real_query)
        assert say(api, f"/staff/orders/{oid}/messages", "Second, meanwhile.", user=REVIEWER).status == 201
        return found

    monkeypatch.setattr(message_emails.Message, "query", query_then_reply)
    result = run_job()
    assert (result["due"], result["emails"], result["skipped"]) == (1, 0, 1)
    assert replies_mailed() == []  # the job's transaction saw the reply land and wrote nothing
    at(6)
    assert run_job()["emails"] == 1
    (mail,) = replies_mailed()
    assert [r["body"] for r in mail["data"]["replies"]] == ["First.", "Second, meanwhile."]


def test_the_scheduled_handler_mails_what_is_due(api, app_module):
    from infra.local.job import scheduled_event

    oid = order(api)["order_id"]
    at(0)
    say(api, f"/staff/orders/{oid}/messages", "Shipped today.", user=REVIEWER)
    at(5)
    result = app_module.message_emails(scheduled_event(clock.now_iso()), None)
    assert (result["job"], result["emails"]) == ("message_emails", 1)
    assert [m["data"]["subject_id"] for m in replies_mailed()] == [oid]


def test_two_posts_racing_on_one_thread_both_land_and_neither_overwrites_the_other(api, monkeypatch):
    """The first post reads the thread, the second commits meanwhile: the first's write fails its
    condition (the last message it read) and is re-run from fresh reads, so the count, the last message
    and the customer's waiting time are the committed ones."""
    from chalicelib import messages

    oid = order(api)["order_id"]
    at(0)
    say(api, f"/orders/{oid}/messages", "First question.")
    real_get = messages.MessageThread.get
    calls = []

    def read_then_lose(*args, **kwargs):
        found = real_get(*args, **kwargs)
        if not calls:
            calls.append(1)
            at(2)
            answered = say(api, f"/staff/orders/{oid}/messages", "Answer in between.", user=REVIEWER)
            assert answered.status == 201
            at(3)
        return found

    monkeypatch.setattr(messages.MessageThread, "get", read_then_lose)
    assert say(api, f"/orders/{oid}/messages", "Follow-up.").status == 201
    monkeypatch.setattr(messages.MessageThread, "get", real_get)
    bodies = [m["body"] for m in thread(api, f"/orders/{oid}/messages")]
    assert bodies == ["First question.", "Answer in between.", "Follow-up."]
    (waiting,) = queue(api)
    assert waiting["message_count"] == 3 and waiting["last_preview"] == "Follow-up."
    # the staff answer landed in between: the customer waits since the follow-up, not the first question
    assert waiting["waiting_since"] == clock.iso(START + timedelta(minutes=3))
