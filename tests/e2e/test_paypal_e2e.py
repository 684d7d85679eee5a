"""PayPal on the local stack, over HTTP, as a storefront and PayPal meet it: the `paypal` channel is the real
adapter pointed at the stack's loopback PayPal (infra/local/paypal_sim.py, `paypal_url` in stack.json). A
payment is an Orders v2 order whose approve link opens the local PayPal's page; the customer's approval
there makes PayPal deliver CHECKOUT.ORDER.APPROVED (the API captures) and PAYMENT.CAPTURE.COMPLETED to
`POST /payments/webhooks/paypal`, each verified through PayPal's verify-webhook-signature call. A delivery
sent again is credited once; a forged one is a 400 that changes nothing."""

from __future__ import annotations

import json
import re
import uuid

import requests

from infra.local import paypal_sim

ALICE = "alice@example.com"
BOB = "bob@example.com"


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.text else None


def balance(http, user=ALICE) -> int:
    return ok(http.call("GET", "/wallet", user=user))["balance_fen"]


def paypal_token(stack) -> str:
    answer = requests.post(
        stack["paypal_url"] + "/v1/oauth2/token",
        auth=(paypal_sim.CLIENT_ID, paypal_sim.CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    return ok(answer)["access_token"]


def approve_on_the_page(approve_url: str) -> None:
    """What the customer does on PayPal: open the approve link, press its button."""
    page = ok_text(requests.get(approve_url, timeout=10))
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action, page
    ok_text(
        requests.post(
            approve_url.split("/checkoutnow")[0] + action.group(1).replace("&amp;", "&"), timeout=10
        )
    )


def ok_text(response) -> str:
    assert response.status_code == 200, (response.status_code, response.text)
    return response.text


def test_a_paypal_top_up_settles_by_paypals_webhooks_once_and_refuses_forgeries(http, local_stack):
    paypal = paypal_sim.Simulator(local_stack["paypal_url"])
    before = balance(http, BOB)
    payment = ok(
        http.call(
            "POST",
            "/wallet/top-ups",
            user=BOB,
            json={"amount_fen": 20000, "channel": "paypal"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        ),
        201,
    )
    order_id = payment["provider_ref"]
    assert payment["provider"] == "paypal" and re.fullmatch(r"[A-Z0-9]{17}", order_id)
    assert payment["approve_url"] == f"{local_stack['paypal_url']}/checkoutnow?token={order_id}"
    # the storefront's capture before the customer approved: PayPal's ORDER_NOT_APPROVED, a 409
    early = http.call("POST", f"/payments/{payment['payment_id']}/capture", user=BOB)
    assert early.status_code == 409
    assert balance(http, BOB) == before

    approve_on_the_page(payment["approve_url"])
    approved, completed = paypal.wait(order_id, "CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED")
    assert approved["deliveries"][0]["answer"]["duplicate"] is False  # the approval captured and credited
    assert completed["deliveries"][0]["answer"]["duplicate"] is True
    assert completed["deliveries"][0]["headers"]["PAYPAL-AUTH-ALGO"] == "SHA256withRSA"
    paid = ok(http.call("POST", f"/payments/{payment['payment_id']}/capture", user=BOB))
    assert paid["status"] == "succeeded" and paid["provider_fee_fen"] > 0
    credited = paid["amount_fen"] + max(0, paid["fee_fen"] - paid["provider_fee_fen"])
    assert balance(http, BOB) == before + credited

    # PayPal delivers the completion again (its resend API): acknowledged, credited once
    resent = requests.post(
        f"{local_stack['paypal_url']}/v1/notifications/webhooks-events/{completed['id']}/resend",
        json={"webhook_ids": [paypal_sim.WEBHOOK_ID]},
        headers={"Authorization": f"Bearer {paypal_token(local_stack)}"},
        timeout=10,
    )
    assert resent.status_code == 202
    (_, again) = paypal.wait(order_id, "CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED", count=2)
    assert [d["answer"]["duplicate"] for d in again["deliveries"]] == [True, True]
    assert balance(http, BOB) == before + credited

    # forgeries: the completion of an unpaid top-up, under another key, or under a real delivery's headers
    waiting = ok(
        http.call("POST", "/wallet/top-ups", user=BOB, json={"amount_fen": 30000, "channel": "paypal"}), 201
    )
    raw = paypal.event(completed["id"])["raw"]
    event = json.loads(raw)
    event["id"] = "WH-" + uuid.uuid4().hex[:17].upper()
    event["resource"].update(custom_id=waiting["payment_id"], invoice_id=waiting["payment_id"])
    event["resource"]["amount"] = paypal_sim.money(waiting["charged_amount"], waiting["charged_currency"])
    event["resource"]["supplementary_data"]["related_ids"]["order_id"] = waiting["provider_ref"]
    forged = json.dumps(event).encode()
    real_headers = completed["deliveries"][0]["headers"]
    for headers in (
        paypal_sim.Signer(real_headers["PAYPAL-CERT-URL"]).sign(forged, paypal_sim.WEBHOOK_ID),
        real_headers,
        {**real_headers, "PAYPAL-TRANSMISSION-SIG": "Zm9yZ2Vk"},
    ):
        refused = http.call(
            "POST",
            paypal_sim.WEBHOOK_PATH,
            data=forged,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "invalid_signature"
    assert balance(http, BOB) == before + credited
    assert http.call("POST", f"/payments/{waiting['payment_id']}/capture", user=BOB).status_code == 409


def test_an_order_paid_through_paypal_goes_to_review_and_a_refund_at_paypal_debits_once(http, local_stack):
    paypal = paypal_sim.Simulator(local_stack["paypal_url"])
    product = ok(http.call("GET", "/products/search", params={"q": "hoodie"}))["items"][0]
    detail = ok(http.call("GET", f"/products/{product['product_id']}"))
    sku = next(s for s in detail["skus"] if s["stock"] >= detail["min_quantity"])
    cart_item = ok(
        http.call(
            "POST",
            "/cart/items",
            user=ALICE,
            json={
                "product_id": detail["product_id"],
                "sku_id": sku["sku_id"],
                "quantity": detail["min_quantity"],
            },
        ),
        201,
    )
    body = {"cart_item_ids": [cart_item["cart_item_id"]], "payment_channel": "paypal"}
    order = ok(http.call("POST", "/orders", user=ALICE, json=body), 201)
    paid = ok(
        http.call(
            "POST",
            f"/orders/{order['order_id']}/pay",
            user=ALICE,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    )
    payment = paid["payment"]
    paypal.approve(payment["provider_ref"])  # what the approve page's button does
    paypal.wait(payment["provider_ref"], "CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED")
    assert ok(http.call("GET", f"/orders/{order['order_id']}", user=ALICE))["status"] == "pending_review"

    # a refund the merchant makes at PayPal: PAYMENT.CAPTURE.REFUNDED takes it back from the wallet, once
    before = balance(http)
    capture = paypal.order(payment["provider_ref"])["order"]["purchase_units"][0]["payments"]["captures"][0]
    paypal.refund(capture["id"], payment["charged_amount"] // 4)
    (_, refunded) = paypal.wait(
        payment["provider_ref"], "PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.REFUNDED"
    )
    answer = refunded["deliveries"][0]["answer"]
    assert answer["duplicate"] is False and answer["debited_fen"] + answer.get("owed_fen", 0) > 0
    assert balance(http) == before - answer["debited_fen"]
