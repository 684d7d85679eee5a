"""The simulated provider: the local stack's and the test suite's stand-in, speaking Stripe's webhook format.
(The local stack's `paypal` channel is not simulated here: `make run` points the real PayPal provider at a
loopback PayPal, infra/local/paypal_sim.py, which delivers PayPal's own webhooks.)

Its payments are PaymentIntents nobody collects (`pi_sim_<our id>`, CNY only, no client secret): `make
topup`, `make demo` and the tests play Stripe's part with `payment_intent` and `event` below, the event
JSON Stripe sends (an `event` envelope around a PaymentIntent, Charge or Dispute), signed with `sign_stripe`
as Stripe signs (`Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>`) with
the stack's local endpoint secret (STRIPE_WEBHOOK_SECRET, `stripe_webhook_secret` in .local/stack.json),
and deliver it to `POST /payments/stripe/webhook`, where the SDK's `construct_event` verifies it like any
Stripe delivery. `refund` is accepted at once. No network call; no state of its own.

Deprecated: the older `X-Signature` scheme of our own (`sign`, `parse_legacy_webhook`) over
`{"id", "type": "payment.succeeded", "data": {"payment_id", "amount_fen"}}`, still served at
`POST /payments/webhook` (the shared API document lists it) with PAYMENT_WEBHOOK_SECRET; nothing of
ours sends it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

from chalicelib import clock, config, ids
from chalicelib.errors import ValidationError
from chalicelib.lifecycle import PaymentStatus
from chalicelib.logs import get_logger
from chalicelib.providers.port import Amount, Checkout, Event, Refunded

log = get_logger("providers.simulated")

SUCCEEDED = PaymentStatus.SUCCEEDED.value  # Stripe's PaymentIntent status, the same word as ours
SPEAKS = "stripe"  # the provider whose webhook format (and endpoint) the simulated provider's events use
REF_PREFIX = "pi_sim_"
API_VERSION = "2026-10-28.endive"  # the version our Stripe events are read as (stripe_provider)
SIGNATURE_TOLERANCE_SECONDS = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


# --- Stripe's format, as the local stack's stand-in sends it --------------------------------------


def sign_stripe(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe sends: t=<unix seconds>,v1=<HMAC-SHA256(secret, "t.payload")>."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def payment_intent(payment: dict, status: str = SUCCEEDED, amount_received: int | None = None) -> dict:
    """The PaymentIntent of a simulated payment (the pay answer's `payment` object) as Stripe's
    `payment_intent.*` events carry it; field names and types are Stripe's (tests/fixtures/payments)."""
    amount = int(payment.get("charged_amount", payment["charge_fen"]))
    received = amount if amount_received is None else amount_received
    return {
        "id": payment["provider_ref"],
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": received if status == SUCCEEDED else 0,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": None,
        "confirmation_method": "automatic",
        "created": int(time.time()),
        "currency": str(payment.get("charged_currency") or "CNY").lower(),
        "customer": None,
        "description": None,
        "last_payment_error": None,
        "latest_charge": None,  # no charge to read a fee from: the channel's configured fee stands
        "livemode": False,
        "metadata": {"payment_id": payment["payment_id"], "purpose": payment["purpose"]},
        "next_action": None,
        "payment_method": None,
        "payment_method_types": [payment["channel"]],
        "status": status,
    }


def event(event_type: str, obj: dict, event_id: str | None = None) -> bytes:
    """A Stripe event envelope (docs.stripe.com/api/events/object) around `obj`, as its raw payload."""
    envelope = {
        "id": event_id or "evt_" + ids.new_id("x")[-24:],
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(envelope).encode()


# --- deprecated: our own X-Signature scheme of POST /payments/webhook -----------------------------


def sign(raw_body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The X-Signature header of the deprecated `POST /payments/webhook` (same construction as Stripe's)."""
    return sign_stripe(raw_body, secret, timestamp)


def verify_signature(header: str | None, raw_body: bytes) -> None:
    if not header:
        raise ValidationError("Missing X-Signature header.", code="invalid_signature")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t, v1 = parts.get("t", "").strip(), parts.get("v1", "").strip()
    # ASCII digits of a plausible length and 64 hex digits, checked before int() and the comparison:
    # a 400-digit `t` overflowed the float subtraction, a non-ASCII `v1` broke compare_digest (500s)
    if not _TIMESTAMP.fullmatch(t) or not _HEX_DIGEST.fullmatch(v1):
        raise ValidationError("Malformed X-Signature header.", code="invalid_signature")
    if abs(clock.now().timestamp() - int(t)) > SIGNATURE_TOLERANCE_SECONDS:
        raise ValidationError("Signature timestamp is too old or in the future.", code="invalid_signature")
    secret = config.get("PAYMENT_WEBHOOK_SECRET").encode()
    if not secret:
        log.error("PAYMENT_WEBHOOK_SECRET is not configured; rejecting the webhook")
        raise ValidationError("Webhook signing is not configured.", code="invalid_signature")
    expected = hmac.new(secret, f"{t}.".encode() + raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, v1.lower()):
        raise ValidationError("Signature does not match.", code="invalid_signature")


def parse_legacy_webhook(signature: str | None, raw_body: bytes) -> Event:
    """A delivery of the deprecated X-Signature scheme, verified and normalized (400 when malformed)."""
    verify_signature(signature, raw_body)
    try:
        body = json.loads(raw_body)
        event_id, event_type = str(body["id"]), str(body["type"])
        data = body["data"] if isinstance(body.get("data"), dict) else {}  # a non-object: 400 below
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValidationError("Webhook body must be {id, type, data}.") from None
    if event_type != "payment.succeeded":
        return Event(event_id, "ignored", event_type)
    payment_id, amount = data.get("payment_id") or None, data.get("amount_fen")  # "": not a key
    if not isinstance(payment_id, str) or not isinstance(amount, int) or isinstance(amount, bool):
        raise ValidationError("data.payment_id (string) and data.amount_fen (integer) are required.")
    return Event(event_id, "collected", event_type, payment_id=payment_id, amount=Amount("CNY", amount))


class SimulatedProvider:
    name = "simulated"

    def currencies(self, channel: str) -> frozenset[str]:
        return frozenset()

    def create(self, payment, amount: Amount) -> Checkout:
        return Checkout(ref=REF_PREFIX + payment.payment_id.removeprefix("pay_"))

    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> Event:
        """Stripe's format, verified and read as Stripe's are (never a fee: it has no charges to read)."""
        from chalicelib.providers import stripe_provider

        return stripe_provider.normalize(stripe_provider.verify(headers, raw_body))

    def refund(self, payment, amount: Amount, key: str) -> Refunded:
        return Refunded(ids.new_id("sre"), "done", amount)
