"""Set-up over HTTP for the browser tests: what customers (and earlier staff steps) did before the
screen under test. Each call makes fresh objects, so tests do not depend on each other or on order."""

from __future__ import annotations

import uuid

import requests

from chalicelib.providers import simulated

CUSTOMER = "bob@example.com"
REVIEWER = "reviewer@procure.example"
WAREHOUSE = "warehouse@procure.example"
ADMIN = "admin@procure.example"
CHECKS = {"color": "ok", "damage": "ok", "stains": "ok", "size": "ok", "model": "n/a", "version": "n/a"}


def ok(response: requests.Response, status: int = 200):
    assert response.status_code == status, (
        response.request.method,
        response.url,
        response.status_code,
        response.text,
    )
    return response.json() if response.text else None


def top_up(http, amount_fen: int, user: str = CUSTOMER) -> None:
    """Credit the wallet through the provider's signed webhook (what `make topup` does)."""
    payment = ok(
        http.call("POST", "/wallet/top-ups", user=user, json={"amount_fen": amount_fen, "channel": "alipay"}),
        201,
    )
    confirm_payment(http, payment)


def confirm_payment(http, payment: dict) -> None:
    """Stripe's signed `payment_intent.succeeded` for a payment (a top-up or an order's), as the local
    simulated provider's events are delivered."""
    # the local stack's simulated provider speaks Stripe's format: we play Stripe's part
    event = simulated.event("payment_intent.succeeded", simulated.payment_intent(payment))
    signature = simulated.sign_stripe(event, http.stack["stripe_webhook_secret"])
    ok(
        http.call(
            "POST",
            "/payments/stripe/webhook",
            data=event,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
    )


def product(http, query: str = "hoodie") -> tuple[dict, dict]:
    found = ok(http.call("GET", "/products/search", params={"q": query}))["items"]
    detail = ok(http.call("GET", f"/products/{found[0]['product_id']}"))
    sku = next(s for s in detail["skus"] if s["stock"] >= max(1, detail["min_quantity"]))
    return detail, sku


def paid_order(http, remark: str = "Navy, size as on the label", quantity: int | None = None) -> dict:
    """An order paid from the wallet: pending_review with a review deadline."""
    detail, sku = product(http)
    quantity = quantity or max(1, detail["min_quantity"])
    order = ok(
        http.call(
            "POST",
            "/orders",
            user=CUSTOMER,
            json={
                "items": [
                    {
                        "product_id": detail["product_id"],
                        "sku_id": sku["sku_id"],
                        "quantity": quantity,
                        "remark": remark,
                    }
                ],
                "payment_channel": "balance",
            },
        ),
        201,
    )
    top_up(http, order["charges"]["total_fen"] + 50_000)  # room for a higher actual price later
    paid = ok(
        http.call(
            "POST",
            f"/orders/{order['order_id']}/pay",
            user=CUSTOMER,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    )
    assert paid["status"] == "pending_review"
    return dict(order, **paid)


def shipped_to_warehouse(http) -> tuple[dict, str]:
    """An order approved, bought at its price and shipped by the merchant: (item, tracking_no)."""
    order = paid_order(http)
    item = order["items"][0]
    ok(http.call("POST", f"/staff/orders/{order['order_id']}/approve", user=REVIEWER))
    ok(
        http.call(
            "POST",
            f"/staff/items/{item['item_id']}/purchase",
            user=REVIEWER,
            json={
                "merchant_order_no": "TB" + uuid.uuid4().hex[:10],
                "actual_unit_price_fen": item["unit_price_fen"],
            },
        )
    )
    tracking = "YT" + uuid.uuid4().hex[:12].upper()
    ok(
        http.call(
            "POST",
            f"/staff/items/{item['item_id']}/domestic-shipment",
            user=REVIEWER,
            json={"carrier": "YTO", "tracking_no": tracking},
        )
    )
    return item, tracking


def received_item(http) -> dict:
    item, tracking = shipped_to_warehouse(http)
    parcel = ok(http.call("POST", "/staff/inbound", user=WAREHOUSE, json={"tracking_no": tracking}), 201)
    assert parcel["status"] == "matched"
    return item


def stored_item(http) -> dict:
    item = received_item(http)
    stored = ok(
        http.call(
            "POST",
            f"/staff/items/{item['item_id']}/inspection",
            user=WAREHOUSE,
            json={
                "category": "apparel",
                "checks": CHECKS,
                "label_size": "L",
                "weight_g": 650,
                "dims_cm": {"l": 35, "w": 25, "h": 8},
                "result": "pass",
            },
        )
    )
    assert stored["status"] == "in_warehouse"
    return stored


def paid_package(http, services: tuple[str, ...] = ()) -> dict:
    """A package of one stored item (650 g, 35x25x8 cm), quoted to the US, submitted with `services` and
    paid: in the packing queue."""
    item = stored_item(http)
    quotes = ok(
        http.call(
            "POST", "/packages/quote", user=CUSTOMER, json={"item_ids": [item["item_id"]], "country": "US"}
        )
    )
    line = quotes["quotes"][0]
    package = ok(
        http.call(
            "POST",
            "/packages",
            user=CUSTOMER,
            json={
                "item_ids": [item["item_id"]],
                "line_id": line["line_id"],
                "services": list(services),
                "address": {
                    "name": "Bob Example",
                    "phone": "+1 555 0100",
                    "country": "US",
                    "state": "CA",
                    "city": "San Francisco",
                    "postal_code": "94105",
                    "line1": "1 Market St",
                },
            },
        ),
        201,
    )
    top_up(http, package["total_fen"] + 50_000)
    paid = ok(
        http.call(
            "POST",
            f"/packages/{package['package_id']}/pay",
            user=CUSTOMER,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    )
    assert paid["status"] == "paid"
    return paid


def claimed_package(http, photo: bytes | None = None) -> dict:
    """An insured package of one stored item, paid, packed, shipped and delivered, with a damage claim
    (issue 22) and, given `photo` (PNG bytes), one evidence photo uploaded through its presigned POST."""
    item = stored_item(http)
    package = ok(
        http.call(
            "POST",
            "/packages",
            user=CUSTOMER,
            json={
                "item_ids": [item["item_id"]],
                "line_id": "ems",
                "services": ["insurance"],
                "address": {
                    "name": "Bob Example",
                    "phone": "+1 555 0100",
                    "country": "US",
                    "state": "CA",
                    "city": "San Francisco",
                    "postal_code": "94105",
                    "line1": "1 Market St",
                },
            },
        ),
        201,
    )
    package_id = package["package_id"]
    top_up(http, package["total_fen"] + 50_000)
    ok(http.call("POST", f"/packages/{package_id}/pay", user=CUSTOMER))
    measured = {"weight_g": 700, "dims_cm": {"l": 35, "w": 25, "h": 8}}
    ok(http.call("POST", f"/staff/packages/{package_id}/pack", user=WAREHOUSE, json=measured))
    ship = {"carrier": "EMS", "tracking_no": "EE" + uuid.uuid4().hex[:9].upper() + "CN"}
    ok(http.call("POST", f"/staff/packages/{package_id}/ship", user=WAREHOUSE, json=ship))
    ok(http.call("POST", f"/packages/{package_id}/confirm-receipt", user=CUSTOMER))
    body = {"kind": "damaged", "description": "The carton arrived crushed and the hoodie is torn"}
    claim = ok(http.call("POST", f"/packages/{package_id}/claims", user=CUSTOMER, json=body), 201)
    if photo is not None:
        ticket = ok(
            http.call(
                "POST",
                f"/claims/{claim['claim_id']}/photos",
                user=CUSTOMER,
                json={"content_type": "image/png"},
            ),
            201,
        )
        upload = ticket["upload"]
        sent = requests.post(
            upload["url"],
            data=upload["fields"],
            files={"file": ("crushed.png", photo, "image/png")},
            timeout=30,
        )
        assert sent.status_code in (200, 201, 204), sent.text
    return claim
