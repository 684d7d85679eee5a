"""Stripe, through the official `stripe` SDK: cards, and Alipay and WeChat Pay as Stripe payment methods.

One PaymentIntent per payment (a top-up, an order's or a package's), not a Checkout Session: the
storefront keeps its own checkout page and confirms the intent with Stripe.js and the `client_secret`
we answer (the Payment Element shows card, Alipay or WeChat Pay), the amount and currency are exactly
the ones we set (no line items, prices or success/cancel URLs of ours to keep in Stripe), and the
`payment_intent.*` webhook events name the one object we store (`provider_ref`).

Webhooks are verified with Stripe's scheme (`Stripe-Signature: t=...,v1=HMAC-SHA256("t.payload")`,
`stripe.Webhook.construct_event`, five minutes' tolerance). A success's fee is Stripe's actual fee: the
charge's balance transaction, read once per succeeded event (one GET). Calls carry idempotency keys
derived from our ids, so a retried create or refund is the same PaymentIntent or Refund at Stripe.

Secrets: STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET from the environment (local runs, tests), or else
from the stack's Secrets Manager secret (SOURCE_CREDENTIALS_SECRET, its JSON object); never logged nor
returned. STRIPE_API_BASE points the SDK at another base URL (the tests' replay server).
"""

from __future__ import annotations

import dataclasses

import stripe

from chalicelib import config
from chalicelib.errors import ValidationError
from chalicelib.lifecycle import DisputeStatus
from chalicelib.logs import get_logger
from chalicelib.providers.port import (
    Amount,
    Checkout,
    Event,
    ProviderDeferred,
    ProviderRefused,
    ProviderUnavailable,
    Refunded,
)
from chalicelib.providers.secrets import secret

log = get_logger("providers.stripe")

TIMEOUT_SECONDS = 10
TOLERANCE_SECONDS = 300
# the Stripe payment method type of each of our channels
METHODS = {"card": "card", "alipay": "alipay", "wechat_pay": "wechat_pay"}
# presentment currencies per method among ours (docs.stripe.com/payments/alipay/accept-a-payment and
# .../wechat-pay/accept-a-payment, "Presentment currencies"; cards take all of ours)
CURRENCIES = {
    "card": frozenset({"USD", "EUR", "GBP", "AUD", "CAD", "JPY", "KRW", "SGD"}),
    "alipay": frozenset({"USD", "EUR", "GBP", "AUD", "CAD", "JPY", "SGD"}),
    "wechat_pay": frozenset({"USD", "EUR", "GBP", "AUD", "CAD", "JPY", "SGD"}),
}
EVENT_KINDS = {
    "payment_intent.succeeded": "collected",
    "payment_intent.payment_failed": "refused",
    "payment_intent.canceled": "called_off",
    "charge.refunded": "refund",
    "charge.dispute.created": "dispute",
    # disputes decided (docs.stripe.com/disputes/how-disputes-work): funds_withdrawn is sent with the
    # debit of a (non-inquiry) dispute, funds_reinstated when a won dispute gives them back, closed with
    # the final status (won, lost, warning_closed for an inquiry, prevented)
    "charge.dispute.funds_withdrawn": "dispute",
    "charge.dispute.closed": "dispute_decided",
    "charge.dispute.funds_reinstated": "dispute_decided",
}
DISPUTE_KINDS = ("dispute", "dispute_decided")
# what a closed dispute's status means for the money held: won gives it back (an inquiry closed without
# a chargeback, warning_closed, and one the network prevented, likewise); lost leaves the debit, final
CLOSED = {
    "won": DisputeStatus.WON,
    "warning_closed": DisputeStatus.WON,
    "prevented": DisputeStatus.WON,
    "lost": DisputeStatus.LOST,
}
# a refund's errors that pass (docs.stripe.com/error-codes): our Stripe balance short of it, and the
# object locked by another request; every other invalid_request_error about a refund is for good
# (charge_already_refunded, charge_disputed, amount_too_large, payment_intent_unexpected_state...)
REFUND_LATER = frozenset({"balance_insufficient", "lock_timeout"})


def client() -> stripe.StripeClient:
    key = secret("STRIPE_SECRET_KEY")
    if not key:
        raise ProviderUnavailable("Card, Alipay and WeChat Pay payments are not configured; try later.")
    base = config.get("STRIPE_API_BASE")
    return stripe.StripeClient(
        key,
        base_addresses={"api": base} if base else None,
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        max_network_retries=2,  # the SDK retries connection errors and 409/5xx with the idempotency key
    )


def _unavailable(exc: Exception, doing: str) -> ProviderUnavailable:
    # the error's type and Stripe's code only: messages may echo request data
    code = getattr(exc, "code", None)
    log.error("stripe call failed", extra={"doing": doing, "error": type(exc).__name__, "code": code})
    return ProviderUnavailable("The payment provider did not accept the request; try again later.")


def _withdrawal(key: str) -> dict:
    """The withdrawal a refund's idempotency key names (`withdrawal-<id>-<payment id>`), as metadata:
    a log aid on Stripe's dashboard."""
    return {"withdrawal_id": key.split("-")[1]} if key.startswith("withdrawal-") else {}


def _amount(obj: dict, field: str) -> Amount:
    return Amount(str(obj.get("currency") or "").upper(), int(obj.get(field) or 0))


def verify(headers: dict[str, str], raw_body: bytes) -> dict:
    """A delivery checked with Stripe's scheme and the endpoint's signing secret: the event as a dict."""
    signing = secret("STRIPE_WEBHOOK_SECRET")
    if not signing:
        log.error("STRIPE_WEBHOOK_SECRET is not configured; rejecting the webhook")
        raise ValidationError("Webhook signing is not configured.", code="invalid_signature")
    try:
        verified = stripe.Webhook.construct_event(
            raw_body, headers.get("stripe-signature"), signing, tolerance=TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError:
        raise ValidationError("Stripe-Signature does not verify.", code="invalid_signature") from None
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("The event is not JSON.") from None
    return verified.to_dict()


def normalize(event: dict) -> Event:
    """A verified Stripe event as the port's Event (no fee: that needs a call, StripeProvider's)."""
    kind = EVENT_KINDS.get(str(event.get("type")), "ignored")
    event_id, event_type = str(event.get("id") or ""), str(event.get("type") or "")
    obj = (event.get("data") or {}).get("object") or {}
    if not event_id or not isinstance(obj, dict):
        raise ValidationError("A Stripe event has an id and data.object.")
    if kind == "ignored":
        return Event(event_id, kind, event_type)
    metadata = obj.get("metadata") or {}
    payment_id = metadata.get("payment_id") if isinstance(metadata, dict) else None
    if kind in ("collected", "refused", "called_off"):
        ref = obj.get("id")
        amount = _amount(obj, "amount_received") if kind == "collected" else None
    elif kind == "refund":
        ref, amount = obj.get("payment_intent"), _amount(obj, "amount_refunded")
    else:
        ref, amount = obj.get("payment_intent"), _amount(obj, "amount")
    charge = obj.get("latest_charge") if kind == "collected" else None
    if isinstance(charge, dict):  # expanded
        charge = charge.get("id")
    disputed = kind in DISPUTE_KINDS
    status = obj.get("status") if disputed and isinstance(obj.get("status"), str) else None
    outcome = None
    if event_type == "charge.dispute.funds_reinstated":  # the funds came back: a win
        outcome = DisputeStatus.WON.value
    elif kind == "dispute_decided":
        outcome = CLOSED.get(status or "")
        if outcome is None:
            log.warning("dispute closed with an unknown status", extra={"event_id": event_id})
            return Event(event_id, "ignored", event_type)
        outcome = outcome.value
    return Event(
        event_id,
        kind,
        event_type,
        ref=ref if isinstance(ref, str) else None,
        payment_id=payment_id if isinstance(payment_id, str) else None,
        amount=amount,
        dispute_id=obj.get("id") if disputed and isinstance(obj.get("id"), str) else None,
        dispute_status=status,
        charge=charge if isinstance(charge, str) else None,
        outcome=outcome,
    )


class StripeProvider:
    name = "stripe"

    def currencies(self, channel: str) -> frozenset[str]:
        return CURRENCIES.get(channel, frozenset())

    def create(self, payment, amount: Amount) -> Checkout:
        method = METHODS.get(payment.channel)
        if method is None:
            raise ProviderUnavailable(f"Stripe does not collect the {payment.channel} channel.")
        params: dict = {
            "amount": amount.minor,
            "currency": amount.currency.lower(),
            "payment_method_types": [method],
            "metadata": {"payment_id": payment.payment_id, "purpose": payment.purpose},
        }
        if method == "wechat_pay":  # required by Stripe for WeChat Pay: the QR code is shown on the web
            params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
        try:
            intent = client().v1.payment_intents.create(
                params, options={"idempotency_key": f"create-{payment.payment_id}"}
            )
        except Exception as exc:  # a StripeError, or an answer the SDK could not read
            raise _unavailable(exc, "create") from None
        return Checkout(ref=intent.id, client_secret=intent.client_secret)

    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> Event:
        event = normalize(verify(headers, raw_body))
        if event.kind == "collected" and event.charge:
            fee, base = self._fee(event.charge)
            return dataclasses.replace(event, fee=fee, fee_base=base)
        return event

    def _fee(self, charge_id: str) -> tuple[Amount | None, Amount | None]:
        """Stripe's actual fee on the charge: its balance transaction's `fee` (and `amount`, to convert)."""
        try:
            charge = client().v1.charges.retrieve(charge_id, params={"expand": ["balance_transaction"]})
        except Exception as exc:  # a StripeError, or an answer the SDK could not read
            raise _unavailable(exc, "fee") from None  # 503: Stripe delivers the event again later
        txn = charge.to_dict().get("balance_transaction")
        if not isinstance(txn, dict):  # not settled yet (some wallets): the configured estimate stands
            return None, None
        return _amount(txn, "fee"), _amount(txn, "amount")

    def refund(self, payment, amount: Amount, key: str) -> Refunded:
        try:
            refund = client().v1.refunds.create(
                {
                    "payment_intent": payment.provider_ref,
                    "amount": amount.minor,
                    "metadata": {"payment_id": payment.payment_id, **_withdrawal(key)},
                },
                options={"idempotency_key": key},
            )
        except stripe.InvalidRequestError as exc:  # a 4xx about this refund: the same key gets the same no
            _unavailable(exc, "refund")  # logged the same way
            code = getattr(exc, "code", None)
            if code in REFUND_LATER:
                raise ProviderDeferred("Stripe cannot make the refund now.", issue=code) from None
            raise ProviderRefused("Stripe refused the refund.", issue=code) from None
        except Exception as exc:  # a StripeError, or an answer the SDK could not read
            raise _unavailable(exc, "refund") from None
        return Refunded(
            refund.id, str(refund.status), Amount(str(refund.currency).upper(), int(refund.amount))
        )
