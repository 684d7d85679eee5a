"""The local API server (`make run`'s infra.local.serve: the Chalice app under waitress) as a storefront
meets it: 50 clients at once get answers, never reset or timed-out connections; races on one order end
in exactly one 200 and 409s; every method and path answers the contract's JSON error shape."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from chalicelib.providers import simulated

ALICE = "alice@example.com"
BOB = "bob@example.com"
REVIEWER = "reviewer@procure.example"
CLIENTS = 50


def at_once(count: int, send) -> list:
    """`count` clients, each on its own connection, released together; each answer's status or error."""
    barrier = threading.Barrier(count)

    def one(i: int):
        barrier.wait()
        try:
            return send(i).status_code
        except requests.RequestException as exc:  # a reset or timed-out connection
            return type(exc).__name__

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def order_to_pay(http, user: str) -> str:
    """A new one-item order of `user`, and enough money in the wallet to pay it."""
    product = http.call("GET", "/products/search", params={"q": "hoodie"}).json()["items"][0]
    detail = http.call("GET", f"/products/{product['product_id']}").json()
    sku = next(s for s in detail["skus"] if s["stock"] >= max(1, detail["min_quantity"]))
    cart_item = http.call(
        "POST",
        "/cart/items",
        user=user,
        json={
            "product_id": detail["product_id"],
            "sku_id": sku["sku_id"],
            "quantity": max(1, detail["min_quantity"]),
        },
    )
    assert cart_item.status_code == 201, cart_item.text
    order = http.call(
        "POST",
        "/orders",
        user=user,
        json={"cart_item_ids": [cart_item.json()["cart_item_id"]], "payment_channel": "balance"},
    )
    assert order.status_code == 201, order.text
    top_up = http.call(
        "POST",
        "/wallet/top-ups",
        user=user,
        json={"amount_fen": order.json()["charges"]["total_fen"], "channel": "alipay"},
    ).json()
    # the local stack's simulated provider speaks Stripe's format: we play Stripe's part
    event = simulated.event("payment_intent.succeeded", simulated.payment_intent(top_up))
    signature = simulated.sign_stripe(event, http.stack["stripe_webhook_secret"])
    credited = http.call(
        "POST",
        "/payments/stripe/webhook",
        data=event,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    assert credited.status_code == 200, credited.text
    return order.json()["order_id"]


def test_100_requests_from_50_concurrent_clients_all_answered(http):
    token = http.token(ALICE)
    paths = [("/health", None), ("/products/search?q=hoodie", None), ("/me", token), ("/wallet", token)]

    def send(i: int) -> requests.Response:
        path, bearer = paths[i % len(paths)]
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return requests.get(http.base + path, headers=headers, timeout=60)

    statuses = at_once(CLIENTS, send) + at_once(CLIENTS, lambda i: send(i + 1))
    assert Counter(statuses) == {200: 100}


def test_50_concurrent_pays_of_one_order_one_200_the_rest_409(http):
    order_id = order_to_pay(http, BOB)
    token = http.token(BOB)

    def pay(i: int) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        return requests.post(f"{http.base}/orders/{order_id}/pay", headers=headers, timeout=60)

    statuses = at_once(CLIENTS, pay)
    assert Counter(statuses) == {200: 1, 409: CLIENTS - 1}
    assert http.call("GET", f"/orders/{order_id}", user=BOB).json()["status"] == "pending_review"

    reviewer = http.token(REVIEWER)

    def approve(i: int) -> requests.Response:
        headers = {"Authorization": f"Bearer {reviewer}"}
        return requests.post(f"{http.base}/staff/orders/{order_id}/approve", headers=headers, timeout=60)

    statuses = at_once(CLIENTS, approve)
    assert Counter(statuses) == {200: 1, 409: CLIENTS - 1}
    assert http.call("GET", f"/orders/{order_id}", user=BOB).json()["status"] == "approved"


@pytest.mark.parametrize("method", ["TRACE", "PUT", "PATCH", "DELETE", "HEAD", "CONNECT", "PROPFIND"])
def test_another_method_on_a_known_route_is_405_with_allow(http, method):
    for path, allowed in (
        ("/health", "GET, OPTIONS"),
        ("/orders/ord_x/pay", "OPTIONS, POST"),
        ("/cart/items/cart_x", "DELETE, OPTIONS, PATCH"),
    ):
        if method in allowed:
            continue
        response = requests.request(method, http.base + path, timeout=30)
        assert response.status_code == 405, (method, path, response.text)
        assert response.headers["Allow"] == allowed
        assert response.headers["Content-Type"] == "application/json"
        if method != "HEAD":
            assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("method", ["GET", "POST", "TRACE", "PATCH"])
def test_an_unknown_path_is_404_not_found(http, method):
    for path in ("/nope", "/orders/ord_x/unknown", "/products/x/y/z", "/health/x"):
        response = requests.request(
            method, http.base + path, timeout=30, headers={"Authorization": "Bearer x"}
        )
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == {"error": {"code": "not_found", "message": "No such route."}}


def test_a_json_body_without_a_json_content_type_is_a_415(http):
    for content_type in ("application/x-www-form-urlencoded", "text/plain"):  # curl -d sends the first
        form = http.call(
            "POST",
            "/cart/items",
            user=ALICE,
            data=b'{"product_id": "x"}',
            headers={"Content-Type": content_type},
        )
        assert form.status_code == 415
        error = form.json()["error"]
        assert error["code"] == "unsupported_media_type" and "application/json" in error["message"]
    typed = http.call(
        "POST",
        "/cart/items",
        user=ALICE,
        data=b'{"product_id": "x"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert typed.status_code == 400  # validated, not refused for its type
    no_body = http.call("POST", "/orders/ord_nope/pay", user=ALICE)  # a POST without a body needs no type
    assert no_body.status_code == 404
