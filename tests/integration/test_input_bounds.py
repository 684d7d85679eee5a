"""Malformed input on public routes is a 400 that changes nothing, never a 500 (issue 11, hole 8).

Untrusted input is bounded before it is decoded (a design rule): JSON bodies by size and nesting depth on
every route that takes a body (the webhook included), header values by length, the webhook's signature
fields by shape before any arithmetic or comparison.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from chalicelib import clock, payments, web
from chalicelib.web import ROUTES
from tests.integration.conftest import ADMIN, ALICE, send_webhook, top_up

pytestmark = pytest.mark.usefixtures("shop")

DEEPEST = b"[" * 100_000 + b"]" * 100_000  # the review's body: 200 KB
DEEP = b'{"a":' * 5_000 + b"1" + b"}" * 5_000  # within the size bound, past Python's recursion limit


def _body_routes():
    return sorted(
        {(s.method, s.path, s.public, bool(s.groups)) for s in ROUTES if s.method in ("POST", "PATCH")}
    )


def _as(public: bool, staff: bool) -> str | None:
    return None if public else (ADMIN if staff else ALICE)


def _state(api) -> tuple:
    wallet = api.get("/wallet", user=ALICE).body
    return wallet["balance_fen"], len(wallet["entries"]), api.get("/orders", user=ALICE).body["items"]


def _bad_request(result, code: str = "validation_error") -> None:
    assert result.status == 400, (result.status, result.body)
    assert result.body["error"]["code"] == code


def test_deeply_nested_json_is_400_on_every_route_with_a_body(api):
    top_up(api, ALICE, 5_000)
    before = _state(api)
    for method, path, public, staff in _body_routes():
        concrete = re.sub(r"\{(\w+)\}", r"\1_x", path)
        for body in (DEEPEST, DEEP):
            result = api.call(method, concrete, user=_as(public, staff), raw=body.decode())
            assert result.status == 400, (method, path, len(body), result.status, result.body)
            assert result.body["error"]["code"] == "validation_error"
    assert _state(api) == before


def test_a_signed_webhook_nested_too_deep_is_400_and_credits_nothing(api):
    before = _state(api)
    for body in (DEEP, b'{"id": "evt_1", "type": "payment.succeeded", "data": ' + DEEP + b"}"):
        _bad_request(send_webhook(api, "pay_x", 1, raw=body))
    assert _state(api) == before


def _webhook(api, signature: str, body: bytes = b'{"id": "evt_1", "type": "payment.succeeded", "data": {}}'):
    return api.call("POST", "/payments/webhook", raw=body.decode(), headers={"X-Signature": signature})


def test_malformed_webhook_signatures_are_400_invalid_signature(api):
    created = api.post("/wallet/top-ups", {"amount_fen": 1000, "channel": "alipay"}, user=ALICE).body
    body = json.dumps(
        {
            "id": "evt_x",
            "type": "payment.succeeded",
            "data": {"payment_id": created["payment_id"], "amount_fen": created["charge_fen"]},
        }
    ).encode()
    now = int(clock.now().timestamp())
    good = payments.sign(body, os.environ["PAYMENT_WEBHOOK_SECRET"], now)
    digest = good.split("v1=")[1]
    before = _state(api)
    for signature in (
        f"t={now},v1={'ü' * 64}",  # non-ASCII v1: compare_digest raised TypeError
        f"t={now},v1=ü",
        f"t={'9' * 400},v1={digest}",  # 400 digits: the float subtraction overflowed
        f"t=１２３,v1={digest}",  # non-ASCII digits pass str.isdigit()
        f"t={now},v1={digest[:-1]}",
        f"t={now},v1={digest}0",
        f"t={now},v1={'z' * 64}",
        f"t=,v1={digest}",
        "t=,v1=",
        ",,,===",
    ):
        _bad_request(_webhook(api, signature, body), "invalid_signature")
    assert _state(api) == before
    assert (
        _webhook(api, good.upper().replace("T=", "t=").replace("V1=", "v1="), body).status == 200
    )  # hex case


def test_over_long_header_values_are_400_before_they_are_read(api):
    now = int(clock.now().timestamp())
    _bad_request(_webhook(api, f"t={now},v1={'a' * 64}" + "," * 1000))
    _bad_request(_webhook(api, f"t={'1' * 5000},v1={'a' * 64}"))  # past Python's int-from-string limit
    _bad_request(
        api.call("GET", "/me", headers={"Authorization": "Bearer " + "a" * (web.MAX_HEADER_CHARS + 1)})
    )
    assert api.get("/me", user=ALICE).status == 200


def test_bodies_over_the_size_bound_are_400(api):
    big = json.dumps({"product_id": "prd_tee", "sku_id": "x" * web.MAX_BODY_BYTES, "quantity": 1})
    _bad_request(api.call("POST", "/cart/items", user=ALICE, raw=big))
    assert api.get("/cart", user=ALICE).body["items"] == []
    padded = json.dumps({"id": "evt_1", "type": "other", "pad": "x" * web.MAX_BODY_BYTES}).encode()
    _bad_request(send_webhook(api, "pay_x", 1, raw=padded))
