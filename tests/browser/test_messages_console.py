"""The console's messages screen in Chromium against the local stack: a customer's question (with HTML in
it) waits on the queue, shown as the text it is; a reviewer answers it; the thread leaves the queue and
the customer gets the reply by email once the batching window is over (the message_emails job)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from playwright.sync_api import expect

from chalicelib import clock
from tests.browser import flows
from tests.e2e.test_journey import emails_to, run_job

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def test_a_reviewer_answers_a_customers_message_and_html_in_it_shows_as_text(console, http, local_stack):
    order = flows.paid_order(http)
    order_id = order["order_id"]
    question = f"Which colour did the shop send? {HOSTILE} ref {uuid.uuid4().hex[:8]}"
    flows.ok(
        http.call(
            "POST",
            f"/orders/{order_id}/messages",
            user=flows.CUSTOMER,
            json={"body": question, "item_id": order["items"][0]["item_id"]},
        ),
        201,
    )
    page = console.page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    console.sign_in(flows.REVIEWER)
    expect(page.locator("main h1")).to_have_text("Review queue")
    console.go("#/messages")
    expect(page.locator("main h1")).to_have_text("Messages")
    row = page.locator("tr", has=page.locator(f"a[href='#/messages/order/{order_id}']"))
    expect(row).to_contain_text(question)  # the markup is text in the cell
    expect(row.locator("img, script")).to_have_count(0)
    console.shot("messages-queue")

    row.get_by_role("link").click()
    expect(page.locator("main h1")).to_contain_text("Messages about order")
    customer = page.locator("li.message.customer")
    expect(customer.locator(".body")).to_have_text(question)
    expect(page.locator("main img, main .thread script")).to_have_count(0)
    reply = f"Navy, as you ordered; photos follow. {uuid.uuid4().hex[:8]}"
    page.get_by_label("Your reply", exact=True).fill(reply)
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("li.message.staff .body")).to_have_text(reply)
    console.shot("messages-thread")
    assert page.evaluate("window.__pwned === undefined") and dialogs == []

    console.go("#/messages")
    expect(page.locator("main h1")).to_have_text("Messages")
    expect(page.locator(f"a[href='#/messages/order/{order_id}']")).to_have_count(0)  # answered: off the queue

    # the reply reaches the customer once the batching window has passed
    ran = run_job("message_emails", clock.now() + timedelta(minutes=6))
    # the stack's outbox poller sends it; on a busy shared stack that can outlast the job's own wait
    deadline = time.monotonic() + 60
    while True:
        mailed = [
            e for e in emails_to(local_stack, flows.CUSTOMER, "staff_replied") if e["subject_id"] == order_id
        ]
        if mailed or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert [[r["body"] for r in e["replies"]] for e in mailed] == [[reply]], ran


def test_a_reviewer_writes_first_from_the_order_and_the_customer_reads_it(console, http):
    order = flows.paid_order(http)
    page = console.page
    console.sign_in(flows.REVIEWER)
    expect(page.locator("main h1")).to_have_text("Review queue")
    console.go(f"#/orders/{order['order_id']}")
    page.get_by_role("link", name="Messages with the customer").click()
    expect(page.locator("main h1")).to_contain_text("Messages about order")
    expect(page.get_by_text("No message yet.")).to_be_visible()
    question = f"Which size do you want, M or L? {uuid.uuid4().hex[:8]}"
    page.get_by_label("Your reply", exact=True).fill(question)
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("li.message.staff .body")).to_have_text(question)
    thread = flows.ok(http.call("GET", f"/orders/{order['order_id']}/messages", user=flows.CUSTOMER))
    assert [(m["author"], m["body"]) for m in thread["items"]] == [("staff", question)]
