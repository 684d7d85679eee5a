"""The storefront developer's day, over HTTP against `make run`: find, buy, pay, get it reviewed,
bought, shipped to the warehouse, received, inspected and stored; then the storage policy runs via
`make job` and emails, abandons and queues for destruction. Emails are read from moto's own API."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta

import requests

from chalicelib import clock
from chalicelib.providers import simulated
from tests.conftest import ROOT

ALICE = "alice@example.com"
REVIEWER = "reviewer@procure.example"
WAREHOUSE = "warehouse@procure.example"


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.text else None


def emails_to(stack, address, template):
    data = requests.get(stack["aws_endpoint_url"] + "/moto-api/data.json", timeout=30).json()
    found = []
    for message in data.get("ses", {}).get("TemplateMessage", []):
        if address in (message.get("destinations") or {}).get("ToAddresses", []) and message.get(
            "template", ""
        ).endswith(template):
            found.append(json.loads(message["template_data"]))
    return found


def run_job(job, now):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TABLE_", "PHOTO_", "USER_POOL"))}
    done = subprocess.run(
        [sys.executable, "-m", "infra.local.job", job, clock.iso(now)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_find_buy_review_receive_inspect_store_and_expire(http, local_stack):
    # find a product three ways
    found = ok(http.call("GET", "/products/search", params={"q": "hoodie"}))["items"]
    product_id = found[0]["product_id"]
    detail = ok(http.call("GET", f"/products/{product_id}"))
    assert (
        ok(http.call("POST", "/products/resolve", json={"url": detail["source_url"]}))["product_id"]
        == product_id
    )
    picture = requests.get(detail["images"][0], timeout=10).content
    by_image = ok(
        http.call("POST", "/products/image-search", json={"image_base64": base64.b64encode(picture).decode()})
    )["items"]
    assert by_image[0]["product_id"] == product_id

    # cart, exact quote, order
    sku = next(s for s in detail["skus"] if s["stock"] >= detail["min_quantity"])
    quantity = max(1, detail["min_quantity"])
    cart_item = ok(
        http.call(
            "POST",
            "/cart/items",
            user=ALICE,
            json={
                "product_id": product_id,
                "sku_id": sku["sku_id"],
                "quantity": quantity,
                "remark": "Size as on the label, please",
            },
        ),
        201,
    )
    body = {"cart_item_ids": [cart_item["cart_item_id"]], "payment_channel": "balance"}
    quote = ok(http.call("POST", "/orders/quote", user=ALICE, json=body))["charges"]
    assert quote["product_fen"] == sku["price_fen"] * quantity
    assert quote["total_fen"] == quote["product_fen"] + quote["domestic_shipping_fen"] + quote["bank_fee_fen"]
    order = ok(http.call("POST", "/orders", user=ALICE, json=body), 201)
    assert order["charges"] == quote

    # top up through the provider's signed webhook, then pay
    top_up = ok(
        http.call(
            "POST",
            "/wallet/top-ups",
            user=ALICE,
            json={"amount_fen": quote["total_fen"], "channel": "alipay"},
        ),
        201,
    )
    # the local stack's simulated provider speaks Stripe's format: we play Stripe's part
    event = simulated.event("payment_intent.succeeded", simulated.payment_intent(top_up))
    signature = simulated.sign_stripe(event, local_stack["stripe_webhook_secret"])
    ok(
        http.call(
            "POST",
            "/payments/stripe/webhook",
            data=event,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
    )
    paid = ok(
        http.call(
            "POST",
            f"/orders/{order['order_id']}/pay",
            user=ALICE,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    )
    assert paid["status"] == "pending_review" and paid["review_due_at"]

    # review and purchasing
    queue = ok(http.call("GET", "/staff/orders", user=REVIEWER, params={"limit": 100}))["items"]
    assert order["order_id"] in [o["order_id"] for o in queue]
    ok(http.call("POST", f"/staff/orders/{order['order_id']}/approve", user=REVIEWER))
    item_id = order["items"][0]["item_id"]
    ok(
        http.call(
            "POST",
            f"/staff/items/{item_id}/purchase",
            user=REVIEWER,
            json={
                "merchant_order_no": "TB" + uuid.uuid4().hex[:10],
                "actual_unit_price_fen": sku["price_fen"],
            },
        )
    )
    tracking = "YT" + uuid.uuid4().hex[:12].upper()
    ok(
        http.call(
            "POST",
            f"/staff/items/{item_id}/domestic-shipment",
            user=REVIEWER,
            json={"carrier": "YTO", "tracking_no": tracking},
        )
    )

    # the warehouse receives, inspects and stores it
    parcel = ok(http.call("POST", "/staff/inbound", user=WAREHOUSE, json={"tracking_no": tracking}), 201)
    assert parcel["status"] == "matched" and parcel["item_ids"] == [item_id]
    checks = {"color": "ok", "damage": "ok", "stains": "ok", "size": "ok", "model": "n/a", "version": "n/a"}
    inspected = ok(
        http.call(
            "POST",
            f"/staff/items/{item_id}/inspection",
            user=WAREHOUSE,
            json={
                "category": detail.get("category", "apparel"),
                "checks": checks,
                "label_size": "L",
                "weight_g": 650,
                "dims_cm": {"l": 35, "w": 25, "h": 8},
                "result": "pass",
            },
        )
    )
    assert inspected["status"] == "in_warehouse"
    stored = {
        i["item_id"]: i
        for i in ok(http.call("GET", "/warehouse/items", user=ALICE, params={"limit": 100}))["items"]
    }
    assert stored[item_id]["storage"]["days_left"] == 90
    stored_at = clock.parse_iso(stored[item_id]["storage"]["in_warehouse_at"])

    # an unknown parcel: exceptional, 30 days
    unknown = ok(
        http.call(
            "POST", "/staff/inbound", user=WAREHOUSE, json={"tracking_no": "JD" + uuid.uuid4().hex[:12]}
        ),
        201,
    )
    assert unknown["status"] == "exceptional"
    assert clock.parse_iso(unknown["storage_expires_at"]) - clock.parse_iso(
        unknown["received_at"]
    ) == timedelta(days=30)

    # the storage policy, run as `make job JOB=storage_sweep NOW=...`
    def reminders_for_item(days):
        return [
            e
            for e in emails_to(local_stack, ALICE, "storage_reminder")
            if e["days"] == days and item_id in [i["item_id"] for i in e["items"]]
        ]

    run_job("storage_sweep", stored_at + timedelta(days=83))
    assert len(reminders_for_item(7)) == 1
    run_job("storage_sweep", stored_at + timedelta(days=83))
    assert len(reminders_for_item(7)) == 1
    run_job("storage_sweep", stored_at + timedelta(days=89))
    assert len(reminders_for_item(1)) == 1
    before = len(emails_to(local_stack, ALICE, ""))
    run_job("storage_sweep", stored_at + timedelta(days=90, hours=1))
    assert len(emails_to(local_stack, ALICE, "")) == before  # no email about abandonment
    destruction = ok(http.call("GET", "/staff/destruction-queue", user=WAREHOUSE, params={"limit": 100}))[
        "items"
    ]
    kinds = {(d["kind"], d.get("item_id") or d.get("parcel_id")) for d in destruction}
    assert ("item", item_id) in kinds
    assert ("parcel", unknown["parcel_id"]) in kinds
    assert ok(http.call("GET", f"/items/{item_id}", user=ALICE))["status"] == "abandoned"
