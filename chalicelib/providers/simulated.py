"""The simulated provider: the local stack's and the test suite's stand-in, with a signed webhook of our own.

`X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(PAYMENT_WEBHOOK_SECRET, "<t>.<raw body>")>` over
`{"id", "type": "payment.succeeded", "data": {"payment_id", "amount_fen"}}`. It charges CNY only and
collects nothing: `create` answers no client secret (a test or `make topup` delivers the webhook), and
`refund` is accepted at once. No network call; no state of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

from chalicelib import clock, config, ids
from chalicelib.errors import ValidationError
from chalicelib.logs import get_logger
from chalicelib.providers.port import Amount, Checkout, Event, Refunded

log = get_logger("providers.simulated")

SIGNATURE_TOLERANCE_SECONDS = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def sign(raw_body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The X-Signature header the simulated provider sends (used by `make topup` and tests)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


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


class SimulatedProvider:
    name = "simulated"

    def currencies(self, channel: str) -> frozenset[str]:
        return frozenset()

    def create(self, payment, amount: Amount) -> Checkout:
        return Checkout(ref=payment.payment_id)

    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> Event:
        verify_signature(headers.get("x-signature"), raw_body)
        try:
            event = json.loads(raw_body)
            event_id, event_type = str(event["id"]), str(event["type"])
            data = event["data"] if isinstance(event.get("data"), dict) else {}  # a non-object: 400 below
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValidationError("Webhook body must be {id, type, data}.") from None
        if event_type != "payment.succeeded":
            return Event(event_id, "ignored", event_type)
        payment_id, amount = data.get("payment_id") or None, data.get("amount_fen")  # "": not a key
        if not isinstance(payment_id, str) or not isinstance(amount, int) or isinstance(amount, bool):
            raise ValidationError("data.payment_id (string) and data.amount_fen (integer) are required.")
        return Event(
            event_id,
            "collected",
            event_type,
            ref=payment_id,
            payment_id=payment_id,
            amount=Amount("CNY", amount),
        )

    def refund(self, payment, amount: Amount, key: str) -> Refunded:
        return Refunded(ids.new_id("sre"), "done", amount)
