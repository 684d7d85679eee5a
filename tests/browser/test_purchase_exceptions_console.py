"""Purchasing exceptions in the console (issue 22, part 1), in Chromium against the local stack: a reviewer
marks an approved item unavailable (reason and note), the order closes and the customer's money comes
back; a reviewer offers another SKU of the product and the item waits for the customer's answer."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.browser import flows
from tests.e2e.test_journey import emails_to


def _balance(http) -> int:
    return flows.ok(http.call("GET", "/wallet", user=flows.CUSTOMER))["balance_fen"]


def _approved(http) -> dict:
    order = flows.paid_order(http)
    flows.ok(http.call("POST", f"/staff/orders/{order['order_id']}/approve", user=flows.REVIEWER))
    return order


def test_a_reviewer_marks_an_item_unavailable_and_the_customer_is_refunded(console, http, local_stack):
    order = _approved(http)
    item = order["items"][0]
    before = _balance(http)
    page = console.page
    console.sign_in(flows.REVIEWER)
    expect(page.locator("main h1")).to_have_text("Review queue")
    console.go(f"#/orders/{order['order_id']}")
    expect(page.locator("main h1")).to_contain_text("Order")
    work = page.locator(f"div.work[data-item-id='{item['item_id']}']")
    work.get_by_text("The shop cannot supply it").click()
    marking = work.get_by_role("form", name=f"Mark {item['title']} unavailable")
    marking.get_by_label("Reason").select_option("delisted")
    note = f"The shop took the listing down today. {uuid.uuid4().hex[:6]}"
    marking.get_by_label("Note to the customer").fill(note)
    console.shot("purchase-exception-form")
    marking.get_by_role("button", name="Mark unavailable and refund").click()

    expect(page.locator("main dl.facts .status")).to_have_text("cancelled")  # its only item: order closed
    row = page.locator(f"tr[data-item-id='{item['item_id']}']")
    expect(row.locator(".status")).to_have_text("cancelled")
    refund = order["charges"]["product_fen"] + order["charges"]["domestic_shipping_fen"]
    expect(page.locator(f"div.work[data-item-id='{item['item_id']}']")).to_contain_text(
        f"Unavailable (delisted): ¥{refund // 100:,}.{refund % 100:02d} refunded."
    )
    console.shot("purchase-exception-done")
    assert _balance(http) == before + refund
    [mail] = [
        e
        for e in emails_to(local_stack, flows.CUSTOMER, "item_unavailable")
        if e["item_id"] == item["item_id"]
    ]
    assert mail["note"] == note and mail["reason"] == "the shop no longer sells it"


def test_a_reviewer_offers_a_replacement_sku_and_the_item_waits_for_the_customer(console, http):
    order = _approved(http)
    item = order["items"][0]
    detail = flows.ok(http.call("GET", f"/products/{item['product_id']}"))
    other = next(
        s for s in detail["skus"] if s["sku_id"] != item["sku_id"] and s["stock"] >= item["quantity"]
    )
    page = console.page
    console.sign_in(flows.REVIEWER)
    expect(page.locator("main h1")).to_have_text("Review queue")
    console.go(f"#/orders/{order['order_id']}")
    work = page.locator(f"div.work[data-item-id='{item['item_id']}']")
    work.get_by_text("The shop cannot supply it").click()
    offering = work.get_by_role("form", name=f"Offer a replacement for {item['title']}")
    offering.get_by_label("Replacement SKU").select_option(other["sku_id"])
    offering.get_by_role("button", name="Offer replacement").click()
    expect(page.locator(f"div.work[data-item-id='{item['item_id']}']")).to_contain_text(
        "Waiting for the customer to accept or decline"
    )
    mine = flows.ok(http.call("GET", f"/items/{item['item_id']}", user=flows.CUSTOMER))
    assert mine["replacement"]["state"] == "offered" and mine["replacement"]["sku_id"] == other["sku_id"]
    console.go("#/purchasing")
    waiting = page.get_by_role("region", name="Waiting for the customer to answer a replacement offer")
    expect(waiting.get_by_role("link", name=f"Open order …{order['order_id'][-8:]}")).to_be_visible()
