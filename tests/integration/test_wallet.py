"""Wallet, top-ups and the signed payment webhook."""

from __future__ import annotations

import json
from datetime import timedelta

from chalicelib import clock
from tests.integration.conftest import ALICE, BOB, send_webhook, top_up


def wallet(api, user):
    result = api.get("/wallet", user=user)
    assert result.status == 200
    return result.body


def test_payment_channels_are_public_and_configured(api):
    result = api.get("/payment-channels")
    assert result.status == 200
    channels = {c["channel"]: c for c in result.body["items"]}
    assert channels["balance"]["percent"] == "0" and channels["paypal"]["fixed_fen"] == 230


def test_new_wallet_is_empty(api):
    assert wallet(api, ALICE) == {"balance_fen": 0, "entries": [], "next_cursor": None}


def test_top_up_is_credited_by_the_signed_webhook(api):
    created = api.post("/wallet/top-ups", {"amount_fen": 10000, "channel": "paypal"}, user=ALICE)
    assert created.status == 201
    assert created.body["status"] == "requires_action"
    assert created.body["fee_fen"] == 440 + 230  # PayPal 4.4% + ¥2.30
    assert created.body["charge_fen"] == 10000 + 670
    assert wallet(api, ALICE)["balance_fen"] == 0  # nothing until the provider confirms
    assert send_webhook(api, created.body["payment_id"], created.body["charge_fen"]).status == 200
    state = wallet(api, ALICE)
    assert state["balance_fen"] == 10000
    [entry] = state["entries"]
    assert entry["kind"] == "top_up" and entry["amount_fen"] == 10000 and entry["balance_after_fen"] == 10000
    assert entry["ref"] == created.body["payment_id"]
    assert api.get(f"/payments/{created.body['payment_id']}", user=ALICE).body["status"] == "succeeded"


def test_the_same_event_twice_credits_once(api):
    created = api.post("/wallet/top-ups", {"amount_fen": 5000, "channel": "alipay"}, user=ALICE).body
    first = send_webhook(api, created["payment_id"], created["charge_fen"], event_id="evt_1")
    again = send_webhook(api, created["payment_id"], created["charge_fen"], event_id="evt_1")
    other_event = send_webhook(api, created["payment_id"], created["charge_fen"], event_id="evt_2")
    assert (first.status, again.status, other_event.status) == (200, 200, 200)
    assert again.body["duplicate"] and other_event.body["duplicate"]
    assert wallet(api, ALICE)["balance_fen"] == 5000


def test_bad_webhooks_are_rejected_and_change_nothing(api):
    created = api.post("/wallet/top-ups", {"amount_fen": 5000, "channel": "alipay"}, user=ALICE).body
    pid, charge = created["payment_id"], created["charge_fen"]
    bad = [
        send_webhook(api, pid, charge, secret="not-the-secret"),
        send_webhook(api, pid, charge, timestamp=int(clock.now().timestamp()) - 301),
        send_webhook(api, pid, charge, timestamp=int(clock.now().timestamp()) + 301),
        send_webhook(api, pid, charge - 1),
        send_webhook(api, pid, charge + 1),
        send_webhook(api, "pay_unknown", charge),
        send_webhook(api, pid, charge, raw=b"{not json"),
        send_webhook(api, pid, charge, raw=json.dumps({"id": "e", "type": "payment.succeeded"}).encode()),
        api.call("POST", "/payments/webhook", raw=json.dumps({"id": "x"})),
        api.call("POST", "/payments/webhook", raw="{}", headers={"X-Signature": "garbage"}),
    ]
    assert [r.status for r in bad] == [400] * len(bad)
    assert all(r.body["error"]["code"] in ("invalid_signature", "validation_error") for r in bad)
    assert wallet(api, ALICE)["balance_fen"] == 0
    assert api.get(f"/payments/{pid}", user=ALICE).body["status"] == "requires_action"


def test_signature_within_five_minutes_is_accepted(api):
    created = api.post("/wallet/top-ups", {"amount_fen": 5000, "channel": "alipay"}, user=ALICE).body
    old = int((clock.now() - timedelta(seconds=290)).timestamp())
    assert send_webhook(api, created["payment_id"], created["charge_fen"], timestamp=old).status == 200


def test_top_up_validation(api):
    for body in (
        {"amount_fen": 0, "channel": "alipay"},
        {"amount_fen": 99, "channel": "alipay"},
        {"amount_fen": 10.5, "channel": "alipay"},
        {"amount_fen": "100", "channel": "alipay"},
        {"amount_fen": 1000, "channel": "balance"},
        {"amount_fen": 1000, "channel": "bitcoin"},
        {"amount_fen": 1000, "channel": "alipay", "status": "succeeded"},
        {"amount_fen": 1000},
    ):
        result = api.post("/wallet/top-ups", body, user=ALICE)
        assert result.status == 400, (body, result.body)
        assert result.body["error"]["code"] == "validation_error"


def test_another_customers_payment_is_404(api):
    created = api.post("/wallet/top-ups", {"amount_fen": 5000, "channel": "alipay"}, user=ALICE).body
    assert api.get(f"/payments/{created['payment_id']}", user=BOB).status == 404


def test_top_up_idempotency_key(api):
    headers = {"Idempotency-Key": "topup-1"}
    first = api.post(
        "/wallet/top-ups", {"amount_fen": 5000, "channel": "alipay"}, user=ALICE, headers=headers
    )
    again = api.post(
        "/wallet/top-ups", {"amount_fen": 5000, "channel": "alipay"}, user=ALICE, headers=headers
    )
    assert first.status == again.status == 201
    assert first.body == again.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    different = api.post(
        "/wallet/top-ups", {"amount_fen": 6000, "channel": "alipay"}, user=ALICE, headers=headers
    )
    assert different.status == 409 and different.body["error"]["code"] == "conflict"
    # the key is per caller: Bob's identical key is his own request
    bobs = api.post("/wallet/top-ups", {"amount_fen": 5000, "channel": "alipay"}, user=BOB, headers=headers)
    assert bobs.status == 201 and bobs.body["payment_id"] != first.body["payment_id"]


def test_ledger_pages_newest_first(api):
    for amount in (1000, 2000, 3000):
        top_up(api, ALICE, amount)
    first = api.get("/wallet?limit=2", user=ALICE).body
    assert [e["amount_fen"] for e in first["entries"]] == [3000, 2000]
    second = api.get(f"/wallet?limit=2&cursor={first['next_cursor']}", user=ALICE).body
    assert [e["amount_fen"] for e in second["entries"]] == [1000]
    assert first["balance_fen"] == 6000
