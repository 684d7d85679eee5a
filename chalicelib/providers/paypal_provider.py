"""PayPal Orders v2, through the official `paypal-server-sdk`: one order (intent CAPTURE) per payment.

`create` makes the order and answers its `approve` link (the storefront sends the customer there); once
the customer approved it, `capture` captures it, from the storefront's `POST /payments/{id}/capture` on
return or from the `CHECKOUT.ORDER.APPROVED` webhook (whichever comes first; both use the same
`PayPal-Request-Id`, so PayPal captures once and answers a repeat with the same capture). The capture's
`seller_receivable_breakdown.paypal_fee` is PayPal's actual fee.

Webhooks are verified with PayPal's verify-webhook-signature call (`POST
/v1/notifications/verify-webhook-signature`: the five PAYPAL-* transmission headers, our webhook id and
the event): PayPal checks its certificate chain, the CRC32 of the event and the webhook id itself, so we
fetch, cache and validate no certificates. Cost: one HTTPS call per delivery, and one GET of the capture
for a refund or dispute event (they name the capture, not our payment).

Currencies: PayPal's currency codes (developer.paypal.com/api/rest/reference/currency-codes/) include
CNY "for in-country PayPal accounts only", so a cross-border merchant cannot charge CNY; a customer
whose currency PayPal does not take (CNY, KRW) is charged in PAYPAL_SETTLEMENT_CURRENCY (USD) at the
rate in force when the payment is created (kept on the payment as charged_currency/charged_amount).

Secrets: PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET and PAYPAL_WEBHOOK_ID from the environment, else the
stack's Secrets Manager secret (the same JSON object as Stripe's keys); never logged nor returned.
PAYPAL_API_BASE points the SDK at another base URL (the tests' replay server); PAYPAL_ENVIRONMENT picks
sandbox (default) or production. Idempotency: every POST carries a PayPal-Request-Id derived from our ids.
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal, InvalidOperation

import requests
from paypalserversdk.configuration import Configuration, Environment
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.models.amount_with_breakdown import AmountWithBreakdown
from paypalserversdk.models.checkout_payment_intent import CheckoutPaymentIntent
from paypalserversdk.models.money import Money
from paypalserversdk.models.order_application_context import OrderApplicationContext
from paypalserversdk.models.order_request import OrderRequest
from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest
from paypalserversdk.models.refund_request import RefundRequest
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from chalicelib import config, currency, xray
from chalicelib.errors import Conflict, ValidationError
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

log = get_logger("providers.paypal")

TIMEOUT_SECONDS = 10
# of our currencies, those PayPal's currency codes list for cross-border merchants (not KRW, not CNY)
CURRENCIES = frozenset({"USD", "EUR", "GBP", "AUD", "CAD", "JPY", "SGD"})
HEADERS = ("transmission-id", "transmission-time", "transmission-sig", "cert-url", "auth-algo")
# a dispute closed in the merchant's favour gives the held money back; any other outcome keeps it
SELLER_WINS = frozenset({"RESOLVED_SELLER_FAVOUR", "CANCELED_BY_BUYER", "DENIED"})
CAPTURE_KINDS = {
    "PAYMENT.CAPTURE.COMPLETED": "collected",
    "PAYMENT.CAPTURE.DENIED": "refused",
    "PAYMENT.CAPTURE.DECLINED": "refused",
}
REFUND_TYPES = ("PAYMENT.CAPTURE.REFUNDED", "PAYMENT.CAPTURE.REVERSED")
# a refund's 422 issues that pass (payments_payment_v2.json, `captures.refund-422`): our PayPal balance
# short of it, the capture still pending, an open case on the transaction, our account restricted. Every
# other issue refuses the refund for good (CAPTURE_FULLY_REFUNDED, REFUND_AMOUNT_EXCEEDED,
# REFUND_TIME_LIMIT_EXCEEDED, REFUND_NOT_ALLOWED, REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK...)
REFUND_LATER = frozenset(
    {
        "REFUND_FAILED_INSUFFICIENT_FUNDS",
        "PENDING_CAPTURE",
        "TRANSACTION_DISPUTED",
        "PAYEE_ACCOUNT_RESTRICTED",
    }
)
WITHDRAWAL_PREFIX = "wdr"  # our withdrawals' ids: the custom_id of the refunds they ask for

_clients: dict[tuple, PaypalServersdkClient] = {}
_lock = threading.Lock()


class _Configuration(Configuration):
    """The SDK's configuration with another base URL (PAYPAL_API_BASE): the tests' replay server."""

    base = ""

    def get_base_uri(self, server=None):
        return self.base or super().get_base_uri()


def client() -> PaypalServersdkClient:
    """One client per credentials and base URL: the SDK keeps its OAuth token until it expires."""
    client_id, client_secret = secret("PAYPAL_CLIENT_ID"), secret("PAYPAL_CLIENT_SECRET")
    if not client_id or not client_secret:
        raise ProviderUnavailable("PayPal payments are not configured; try later.")
    base = config.get("PAYPAL_API_BASE")
    live = config.get("PAYPAL_ENVIRONMENT") == "production"
    key = (client_id, client_secret, base, live)
    with _lock:
        found = _clients.get(key)
        if found is None:
            settings = _Configuration(
                timeout=TIMEOUT_SECONDS,
                environment=Environment.PRODUCTION if live else Environment.SANDBOX,
                client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
                    o_auth_client_id=client_id, o_auth_client_secret=client_secret
                ),
            )
            settings.base = base
            found = _clients[key] = PaypalServersdkClient(config=settings)
        return found


def _unavailable(exc: Exception, doing: str) -> ProviderUnavailable:
    # the error's type and HTTP status only: PayPal's messages may echo request data
    status = getattr(exc, "response_code", None)
    log.error("paypal call failed", extra={"doing": doing, "error": type(exc).__name__, "status": status})
    return ProviderUnavailable("The payment provider did not accept the request; try again later.")


def _issue(exc: Exception) -> str | None:
    """The first `details[].issue` of PayPal's error answer (the SDK's ErrorException), e.g.
    CAPTURE_FULLY_REFUNDED; None when the answer names none."""
    for detail in getattr(exc, "details", None) or []:
        issue = getattr(detail, "issue", None)
        if isinstance(issue, str) and issue:
            return issue
    return None


def _value(amount: Amount) -> str:
    """Minor units as PayPal's decimal string ("104.50"; "1045" for JPY)."""
    places = currency.minor_units(amount.currency)
    return str(Decimal(amount.minor).scaleb(-places).quantize(Decimal(1).scaleb(-places)))


def _amount(money) -> Amount | None:
    """PayPal's money object ({currency_code, value}) in minor units; None if it is not one."""
    if not isinstance(money, dict):
        return None
    code = str(money.get("currency_code") or "").upper()
    try:
        minor = Decimal(str(money.get("value"))).scaleb(currency.minor_units(code))
    except (InvalidOperation, KeyError, ValueError):
        return None
    return Amount(code, int(minor)) if minor == minor.to_integral_value() else None


def _answer(response) -> dict:
    try:
        body = json.loads(response.text or "{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderUnavailable("The payment provider answered something unreadable; try again later.")
    return body


def _link(resource: dict, *rels: str) -> str | None:
    for link in resource.get("links") or []:
        if isinstance(link, dict) and link.get("rel") in rels and isinstance(link.get("href"), str):
            return link["href"]
    return None


def _capture_event(event_id: str, event_type: str, kind: str, capture: dict) -> Event:
    """A capture resource (of an event, or of the capture call's answer) as the port's event."""
    related = ((capture.get("supplementary_data") or {}).get("related_ids")) or {}
    breakdown = capture.get("seller_receivable_breakdown") or {}
    fee = _amount(breakdown.get("paypal_fee")) if kind == "collected" else None
    custom = capture.get("custom_id")
    return Event(
        event_id,
        kind,
        event_type,
        ref=related.get("order_id") if isinstance(related.get("order_id"), str) else None,
        payment_id=custom if isinstance(custom, str) and custom else None,
        amount=_amount(capture.get("amount")) if kind == "collected" else None,
        fee=fee,
        fee_base=_amount(breakdown.get("gross_amount")) if fee is not None else None,
        capture_id=capture.get("id") if isinstance(capture.get("id"), str) else None,
    )


class PayPalProvider:
    name = "paypal"

    def currencies(self, channel: str) -> frozenset[str]:
        return CURRENCIES

    def fallback_currency(self) -> str:
        """What a customer whose currency PayPal does not take is charged in (not CNY: see above)."""
        return config.get("PAYPAL_SETTLEMENT_CURRENCY") or "USD"

    def create(self, payment, amount: Amount) -> Checkout:
        if payment.channel != "paypal":
            raise ProviderUnavailable(f"PayPal does not collect the {payment.channel} channel.")
        unit = PurchaseUnitRequest(
            amount=AmountWithBreakdown(currency_code=amount.currency, value=_value(amount)),
            reference_id=payment.payment_id,
            custom_id=payment.payment_id,  # echoed on the capture: how its events find the payment
            invoice_id=payment.payment_id,  # PayPal refuses a second order paid with the same invoice
            description=f"Procure {payment.purpose.replace('_', ' ')}",
        )
        body = OrderRequest(intent=CheckoutPaymentIntent.CAPTURE, purchase_units=[unit])
        if config.get("PAYPAL_RETURN_URL"):
            body.application_context = OrderApplicationContext(
                return_url=config.get("PAYPAL_RETURN_URL"),
                cancel_url=config.get("PAYPAL_CANCEL_URL") or config.get("PAYPAL_RETURN_URL"),
                shipping_preference="NO_SHIPPING",
                user_action="PAY_NOW",
            )
        try:
            answer = _answer(
                client().orders.create_order(
                    {"body": body, "paypal_request_id": f"create-{payment.payment_id}"}
                )
            )
        except ProviderUnavailable:
            raise
        except Exception as exc:  # the SDK's ErrorException/ApiException, or a connection error
            raise _unavailable(exc, "create") from None
        approve = _link(answer, "approve", "payer-action")
        if not isinstance(answer.get("id"), str) or not approve:
            raise ProviderUnavailable("The payment provider answered no approval link; try again later.")
        return Checkout(ref=answer["id"], checkout_url=approve)

    def capture(self, payment) -> Event:
        """Capture the approved order once (PayPal-Request-Id of our payment): its capture as an event
        (`collected` with the fee when COMPLETED, `refused` when DECLINED/FAILED, else `ignored`)."""
        try:
            order = _answer(
                client().orders.capture_order(
                    {
                        "id": payment.provider_ref,
                        "paypal_request_id": f"capture-{payment.payment_id}",
                        "prefer": "return=representation",
                    }
                )
            )
        except ProviderUnavailable:
            raise
        except Exception as exc:
            if getattr(exc, "response_code", None) == 422:  # e.g. ORDER_NOT_APPROVED: nothing captured
                log.info("paypal refused the capture", extra={"payment_id": payment.payment_id})
                raise Conflict(
                    "PayPal has not captured this order: the customer has not approved it."
                ) from None
            raise _unavailable(exc, "capture") from None
        units = order.get("purchase_units") or [{}]
        captures = ((units[0] or {}).get("payments") or {}).get("captures") or []
        if not captures or not isinstance(captures[0], dict):
            return Event(f"capture-{payment.payment_id}", "ignored", f"order {order.get('status')}")
        capture = dict(captures[0])
        # the order's own id: a capture inside the order's answer carries no supplementary_data
        capture.setdefault("supplementary_data", {"related_ids": {"order_id": order.get("id")}})
        status = str(capture.get("status") or "")
        kind = {"COMPLETED": "collected", "DECLINED": "refused", "FAILED": "refused"}.get(status, "ignored")
        return _capture_event(f"capture-{capture.get('id')}", f"capture {status}", kind, capture)

    def verify(self, headers: dict[str, str], raw_body: bytes) -> None:
        """PayPal's verify-webhook-signature call; anything but SUCCESS is a 400 that changes nothing."""
        webhook_id = secret("PAYPAL_WEBHOOK_ID")
        if not webhook_id:
            log.error("PAYPAL_WEBHOOK_ID is not configured; rejecting the webhook")
            raise ValidationError("Webhook verification is not configured.", code="invalid_signature")
        sent = {name: headers.get(f"paypal-{name}") or "" for name in HEADERS}
        if not all(sent.values()):
            raise ValidationError("PayPal's transmission headers are missing.", code="invalid_signature")
        paypal = client()
        auth: dict[str, str] = {}
        try:
            if not paypal.oauth_2.is_valid():
                raise ProviderUnavailable("PayPal refused our credentials; try again later.")
            paypal.oauth_2.apply(_Headers(auth))
            fields = {
                "auth_algo": sent["auth-algo"],
                "cert_url": sent["cert-url"],
                "transmission_id": sent["transmission-id"],
                "transmission_sig": sent["transmission-sig"],
                "transmission_time": sent["transmission-time"],
                "webhook_id": webhook_id,
            }
            # the event's own bytes, not a re-serialization: PayPal checks the CRC32 of what it sent
            body = json.dumps(fields)[:-1].encode() + b', "webhook_event": ' + raw_body + b"}"
            url = paypal.config.get_base_uri() + "/v1/notifications/verify-webhook-signature"
            with xray.http_call("POST", url) as traced:
                headers = {**auth, "Content-Type": "application/json"}
                answer = requests.post(url, data=body, headers=headers, timeout=TIMEOUT_SECONDS)
                traced.set_status(answer.status_code)
        except ProviderUnavailable:
            raise
        except Exception as exc:  # 503: PayPal delivers the event again later
            raise _unavailable(exc, "verify") from None
        if answer.status_code >= 500:
            raise _unavailable(RuntimeError(answer.status_code), "verify")
        try:
            status = answer.json().get("verification_status")
        except (ValueError, AttributeError):
            status = None
        if answer.status_code != 200 or status != "SUCCESS":
            raise ValidationError("PayPal did not verify the webhook's signature.", code="invalid_signature")

    def _capture(self, capture_id: str) -> dict:
        """GET /v2/payments/captures/{id}: its custom_id and order id name our payment."""
        try:
            return _answer(client().payments.get_captured_payment({"capture_id": capture_id}))
        except ProviderUnavailable:
            raise
        except Exception as exc:  # 503: PayPal delivers the event again later
            raise _unavailable(exc, "capture lookup") from None

    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> Event:
        try:
            event = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError):
            raise ValidationError("The event is not JSON.") from None
        if not isinstance(event, dict):
            raise ValidationError("A PayPal event is a JSON object.")
        self.verify(headers, raw_body)
        event_id, event_type = str(event.get("id") or ""), str(event.get("event_type") or "")
        resource = event.get("resource")
        if not event_id or not isinstance(resource, dict):
            raise ValidationError("A PayPal event has an id and a resource.")
        if event_type == "CHECKOUT.ORDER.APPROVED":
            units = resource.get("purchase_units") or [{}]
            custom = (units[0] or {}).get("custom_id") if isinstance(units[0], dict) else None
            return Event(
                event_id,
                "to_capture",
                event_type,
                ref=resource.get("id") if isinstance(resource.get("id"), str) else None,
                payment_id=custom if isinstance(custom, str) and custom else None,
            )
        if event_type in CAPTURE_KINDS:
            return _capture_event(event_id, event_type, CAPTURE_KINDS[event_type], resource)
        if event_type in REFUND_TYPES:
            return self._refund_event(event_id, event_type, resource)
        if event_type in ("CUSTOMER.DISPUTE.CREATED", "CUSTOMER.DISPUTE.RESOLVED"):
            return self._dispute_event(event_id, event_type, resource)
        return Event(event_id, "ignored", event_type)

    def _refund_event(self, event_id: str, event_type: str, refund: dict) -> Event:
        custom = refund.get("custom_id")
        if isinstance(custom, str) and custom.startswith(WITHDRAWAL_PREFIX):
            # a withdrawal's own refund: its approval took the money off the wallet and recorded it
            return Event(event_id, "ignored", event_type)
        capture_id = (_link(refund, "up") or "").rstrip("/").rsplit("/", 1)[-1]
        if not capture_id:
            raise ValidationError("A refund event links up to its capture.")
        capture = self._capture(capture_id)
        named = _capture_event(event_id, event_type, "refund", capture)
        return Event(
            event_id,
            "refund",
            event_type,
            ref=named.ref,
            payment_id=named.payment_id,
            amount=_amount(refund.get("amount")),
            refund_id=refund.get("id") if isinstance(refund.get("id"), str) else event_id,
        )

    def _dispute_event(self, event_id: str, event_type: str, dispute: dict) -> Event:
        transactions = dispute.get("disputed_transactions") or [{}]
        capture_id = (transactions[0] or {}).get("seller_transaction_id") if transactions else None
        if not isinstance(capture_id, str) or not capture_id:
            return Event(event_id, "ignored", event_type)  # not about a capture of ours
        named = _capture_event(event_id, event_type, "dispute", self._capture(capture_id))
        dispute_id = dispute.get("dispute_id") if isinstance(dispute.get("dispute_id"), str) else event_id
        status = dispute.get("status") if isinstance(dispute.get("status"), str) else None
        outcome = None
        if event_type == "CUSTOMER.DISPUTE.RESOLVED":
            code = str((dispute.get("dispute_outcome") or {}).get("outcome_code") or "")
            outcome = (DisputeStatus.WON if code in SELLER_WINS else DisputeStatus.LOST).value
        return Event(
            event_id,
            "dispute" if outcome is None else "dispute_decided",
            event_type,
            ref=named.ref,
            payment_id=named.payment_id,
            # the disputed amount on both: a resolution that overtook its creation is applied at once
            amount=_amount(dispute.get("dispute_amount")),
            dispute_id=dispute_id,
            dispute_status=status,
            outcome=outcome,
        )

    def refund(self, payment, amount: Amount, key: str) -> Refunded:
        if not payment.capture_id:
            raise ProviderUnavailable("The PayPal payment has no capture to refund.")
        withdrawal_id = key.split("-")[1] if key.startswith("withdrawal-") else key
        body = RefundRequest(
            amount=Money(currency_code=amount.currency, value=_value(amount)),
            custom_id=withdrawal_id,  # its webhook event is then known as ours
            note_to_payer="Wallet withdrawal",
        )
        try:
            answer = _answer(
                client().payments.refund_captured_payment(
                    {"capture_id": payment.capture_id, "body": body, "paypal_request_id": key}
                )
            )
        except ProviderUnavailable:
            raise
        except Exception as exc:
            if getattr(exc, "response_code", None) == 422:  # a refusal: for now, or for good
                _unavailable(exc, "refund")  # logged the same way
                issue = _issue(exc)
                if issue in REFUND_LATER:
                    raise ProviderDeferred("PayPal cannot make the refund now.", issue=issue) from None
                raise ProviderRefused("PayPal refused the refund.", issue=issue) from None
            raise _unavailable(exc, "refund") from None
        got = _amount(answer.get("amount")) or amount
        return Refunded(str(answer.get("id") or ""), str(answer.get("status") or "").lower(), got)


class _Headers:
    """What the SDK's auth manager writes the Authorization header into."""

    def __init__(self, into: dict[str, str]):
        self.into = into

    def add_header(self, name: str, value: str) -> None:
        self.into[name] = value
