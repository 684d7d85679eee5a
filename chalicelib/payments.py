"""Payments collected by an external provider (top-ups and externally paid orders) and its webhook.

Webhook signing: `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable

from pynamodb.transactions import TransactWrite

from chalicelib import clock, config, currency, ids, metrics, uow
from chalicelib.errors import NotFound, ValidationError
from chalicelib.lifecycle import PAYMENT, PaymentStatus
from chalicelib.logs import get_logger
from chalicelib.models.commerce import Payment, RequestRecord
from chalicelib.rules.charges import Channel

log = get_logger("payments")

SIGNATURE_TOLERANCE_SECONDS = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def new_payment(
    user_id: str, purpose: str, channel: Channel, amount_fen: int, fee_fen: int, order_id: str | None = None
) -> Payment:
    payment = Payment(
        ids.new_id("pay"),
        user_id=user_id,
        purpose=purpose,
        order_id=order_id,
        channel=channel.channel,
        amount_fen=amount_fen,
        fee_fen=fee_fen,
        charge_fen=amount_fen + fee_fen,
        created_at=clock.now_iso(),
        fx=currency.snapshot(),
    )
    return PAYMENT.start(payment, PaymentStatus.REQUIRES_ACTION, now=payment.created_at)


def create_top_up(user_id: str, amount_fen: int, channel: Channel) -> Payment:
    payment = new_payment(user_id, "top_up", channel, amount_fen, channel.fee_fen(amount_fen))
    payment.save(condition=Payment.payment_id.does_not_exist())
    log.info(
        "top-up created", extra={"payment_id": payment.payment_id, "charge_fen": int(payment.charge_fen)}
    )
    return payment


def get_own(user_id: str, payment_id: str) -> Payment:
    try:
        payment = Payment.get(payment_id)
    except Payment.DoesNotExist:
        raise NotFound("No such payment.") from None
    if payment.user_id != user_id:
        raise NotFound("No such payment.")
    return payment


# --- the provider's webhook ----------------------------------------------------------------


def sign(raw_body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The X-Signature header a provider sends (used by `make topup` and tests)."""
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


def handle_webhook(
    signature: str | None, raw_body: bytes, settle_order: Callable[[uow.Unit, Payment], None]
) -> dict:
    """Credit a succeeded payment exactly once, however often the provider delivers the event.

    `settle_order` (orders.settle_external_payment) pays the order an order payment was for, in the
    same unit: passed in by the caller, as orders builds on payments and not the other way round."""
    verify_signature(signature, raw_body)
    try:
        event = json.loads(raw_body)
        event_id, event_type = str(event["id"]), str(event["type"])
        data = event["data"] if isinstance(event.get("data"), dict) else {}  # a non-object: 400 below
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValidationError("Webhook body must be {id, type, data}.") from None
    if event_type != "payment.succeeded":
        return {"received": True, "ignored": event_type}
    payment_id, amount = data.get("payment_id") or None, data.get("amount_fen")  # "": not a key
    if not isinstance(payment_id, str) or not isinstance(amount, int) or isinstance(amount, bool):
        raise ValidationError("data.payment_id (string) and data.amount_fen (integer) are required.")

    def unit() -> uow.Unit:
        result = uow.Unit()
        try:
            payment = Payment.get(payment_id, consistent_read=True)
        except Payment.DoesNotExist:
            raise ValidationError("Unknown payment.") from None
        if amount != int(payment.charge_fen):
            raise ValidationError(
                f"amount_fen {amount} does not match the payment's charge_fen {int(payment.charge_fen)}."
            )
        if not PAYMENT.allows("succeed", payment.status):  # succeeded already: a redelivery
            result.result = {"received": True, "duplicate": True, "payment_id": payment_id}
            return result
        now = clock.now_iso()
        if payment.purpose == "top_up":  # the channel's fee is the provider's; the wallet gets the amount
            fx = currency.stored(payment.fx)
            result.move(payment.user_id, int(payment.amount_fen), "top_up", payment.payment_id, fx)
        else:  # an order's total already includes its bank fee; all of it pays the order
            fx = currency.stored(payment.fx)
            result.move(payment.user_id, int(payment.charge_fen), "payment_received", payment.payment_id, fx)

        def mark_paid(tx: TransactWrite) -> None:
            succeed = PAYMENT.move(payment, "succeed", now=now, also=[Payment.event_id.set(event_id)])
            tx.update(payment, actions=succeed.actions, condition=succeed.condition)
            tx.save(
                RequestRecord(f"event#payment:{event_id}", request_hash="", state="done", created_at=now),
                condition=RequestRecord.key.does_not_exist(),
            )

        result.write(mark_paid)
        if payment.purpose == "order" and payment.order_id:
            settle_order(result, payment)
        result.result = {"received": True, "duplicate": False, "payment_id": payment_id}
        return result

    outcome = uow.run(unit)
    metrics.count("PaymentsSettled", 0 if outcome.get("duplicate") else 1)
    log.info("webhook handled", extra={"event_id": event_id, **outcome})
    return outcome
