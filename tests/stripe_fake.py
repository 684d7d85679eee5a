"""Stripe for the tests: its HTTP API replayed from its own fixtures (tests/fixtures/payments/SOURCES.md)
by the loopback replay server, and webhook events signed the way Stripe signs them.

    with FakeStripe(monkeypatch) as stripe:
        ref = stripe.next_intent()                       # the PaymentIntent the next create answers
        ...POST /wallet/top-ups {"channel": "card"}...
        stripe.created()                                 # the form fields the SDK sent
        stripe.deliver(api, "payment_intent.succeeded", stripe.succeeded(ref, payment))
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time

from chalicelib import ids
from tests.conftest import ROOT
from tests.replay_server import ReplayServer

FIXTURES = ROOT / "tests" / "fixtures" / "payments" / "stripe"
SECRET_KEY = "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc"  # the key Stripe's docs show in examples
# the test stage's endpoint secret (.chalice/config.json): Chalice's test client sets the stage's
# variables on every call, and the simulated provider's events are signed with it too
WEBHOOK_SECRET = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["test"][
    "environment_variables"
]["STRIPE_WEBHOOK_SECRET"]


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def stripe_signature(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Stripe-Signature as Stripe sends it: t=<unix time>,v1=<HMAC-SHA256(secret, "t.payload")>."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event(event_type: str, obj: dict, event_id: str | None = None) -> bytes:
    envelope = fixture("event")
    envelope.update(id=event_id or ids.new_id("evt"), type=event_type, api_version="2026-10-28.endive")
    envelope["data"] = {"object": obj}
    return json.dumps(envelope).encode()


class FakeStripe:
    def __init__(self, monkeypatch, channels: tuple[str, ...] = ("card", "alipay", "wechat_pay")):
        self.server = ReplayServer()
        self.monkeypatch = monkeypatch
        self.channels = channels

    def __enter__(self) -> FakeStripe:
        self.server.__enter__()
        self.monkeypatch.setenv("PAYMENT_PROVIDERS", json.dumps({c: "stripe" for c in self.channels}))
        self.monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
        self.monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        self.monkeypatch.setenv("STRIPE_API_BASE", self.server.url)
        return self

    def __exit__(self, *exc) -> None:
        self.server.__exit__(*exc)

    # --- the API's answers ---------------------------------------------------------------------

    def next_intent(self) -> str:
        """Queue the answer of the next PaymentIntent create; its id."""
        intent = fixture("payment_intent")
        ref = "pi_" + ids.new_id("x")[-24:]
        intent.update(id=ref, client_secret=f"{ref}_secret_{ids.new_id('s')[-24:]}", latest_charge=None)
        self.server.add("POST", "/v1/payment_intents", 200, json.dumps(intent))
        return ref

    def failing(self, status: int = 500) -> None:
        error = {"error": {"type": "api_error", "message": "An unknown error occurred"}}
        self.server.add("POST", "/v1/payment_intents", status, json.dumps(error))
        self.server.add("POST", "/v1/refunds", status, json.dumps(error))

    def created(self) -> list[dict]:
        """The form fields of every PaymentIntent create the SDK sent, with its Idempotency-Key."""
        return [
            {**r.query, "idempotency-key": r.headers.get("idempotency-key")}
            for r in self.server.requests
            if r.method == "POST" and r.path == "/v1/payment_intents"
        ]

    def refunds_asked(self) -> list[dict]:
        return [
            {**r.query, "idempotency-key": r.headers.get("idempotency-key")}
            for r in self.server.requests
            if r.method == "POST" and r.path == "/v1/refunds"
        ]

    def answer_refunds(self, *amounts_and_currency: tuple[int, str]) -> None:
        bodies = []
        for amount, cur in amounts_and_currency:
            refund = fixture("refund")
            refund.update(
                id="re_" + ids.new_id("x")[-24:], amount=amount, currency=cur.lower(), status="succeeded"
            )
            bodies.append(json.dumps(refund))
        self.server.add("POST", "/v1/refunds", [200] * len(bodies), bodies)

    # --- events ----------------------------------------------------------------------------------

    def succeeded(
        self,
        ref: str,
        payment: dict,
        *,
        amount: int | None = None,
        currency: str | None = None,
        fee: int | None = None,
    ) -> dict:
        """The PaymentIntent of a payment_intent.succeeded event; its charge's balance transaction
        (with `fee`, in the charged currency) is what GET /v1/charges/<id> answers."""
        intent = fixture("payment_intent")
        charge_id = "ch_" + ref[3:]
        cur = (currency or payment.get("charged_currency") or "CNY").lower()
        got = payment.get("charged_amount", payment["charge_fen"]) if amount is None else amount
        intent.update(
            id=ref,
            status="succeeded",
            amount=got,
            amount_received=got,
            currency=cur,
            latest_charge=charge_id if fee is not None else None,
            metadata={"payment_id": payment["payment_id"], "purpose": payment["purpose"]},
            client_secret=None,
            last_payment_error=None,
            next_action=None,
        )
        if fee is not None:
            charge = fixture("charge")
            txn = fixture("balance_transaction")
            txn.update(
                source=charge_id,
                amount=got,
                currency=cur,
                fee=fee,
                net=got - fee,
                fee_details=[
                    {
                        "amount": fee,
                        "application": None,
                        "currency": cur,
                        "description": "Stripe processing fees",
                        "type": "stripe_fee",
                    }
                ],
            )
            charge.update(id=charge_id, payment_intent=ref, amount=got, currency=cur, balance_transaction=txn)
            self.server.add("GET", f"/v1/charges/{charge_id}", 200, json.dumps(charge))
        return intent

    def intent_event(self, ref: str, payment: dict, status: str) -> dict:
        intent = fixture("payment_intent")
        intent.update(id=ref, status=status, metadata={"payment_id": payment["payment_id"]})
        return intent

    def refunded(self, ref: str, payment: dict, amount_refunded: int) -> dict:
        charge = fixture("charge")
        charge.update(
            id="ch_" + ref[3:],
            payment_intent=ref,
            amount=payment.get("charged_amount", payment["charge_fen"]),
            amount_refunded=amount_refunded,
            currency=payment.get("charged_currency", "CNY").lower(),
            refunded=amount_refunded >= payment.get("charged_amount", payment["charge_fen"]),
            metadata={},
        )
        return charge

    def dispute(
        self, ref: str, payment: dict, amount: int, dispute_id: str = "dp_1", status: str = "needs_response"
    ) -> dict:
        """The Dispute of a charge.dispute.* event; `status` one of Stripe's (needs_response, won...)."""
        dispute = copy.deepcopy(fixture("dispute"))
        dispute.update(
            id=dispute_id,
            status=status,
            amount=amount,
            currency=payment.get("charged_currency", "CNY").lower(),
            charge="ch_" + ref[3:],
            payment_intent=ref,
        )
        return dispute

    def deliver(
        self,
        api,
        event_type: str,
        obj: dict,
        *,
        event_id: str | None = None,
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
        raw: bytes | None = None,
        path: str = "/payments/webhooks/stripe",  # the path the storefront contract names
    ):
        body = raw if raw is not None else event(event_type, obj, event_id)
        headers = {"Stripe-Signature": stripe_signature(body, secret, timestamp)}
        return api.call("POST", path, raw=body.decode(), headers=headers)
