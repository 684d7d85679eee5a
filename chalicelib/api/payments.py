"""Real payment providers' webhooks, package payments through a provider, and the payments staff must
look at."""

from __future__ import annotations

from typing import Annotated

from chalice import Blueprint

from chalicelib import metrics, payments, withdrawals
from chalicelib.errors import ApiError, ValidationError
from chalicelib.logs import get_logger
from chalicelib.models.commerce import Payment as StoredPayment
from chalicelib.models.withdrawals import Withdrawal as StoredWithdrawal
from chalicelib.responses.wallet import (
    Payment,
    StaffPayment,
    StaffPaymentPage,
    StaffWithdrawal,
    StaffWithdrawalPage,
    WebhookAck,
    Withdrawal,
    WithdrawalPage,
)
from chalicelib.rules.charges import channels
from chalicelib.schemas import Body, Text, example
from chalicelib.typed import Field
from chalicelib.web import Req, decode_cursor, encode_cursor, page_limit, performs, route

log = get_logger("api.payments")

bp = Blueprint(__name__)

FINANCE = ("admin",)
REVIEWER = ("reviewer",)
MAX_WITHDRAWAL_FEN = 10_000_000


@route(bp, "/payments/stripe/webhook", "POST", public=True, response=WebhookAck)
@performs("payment.succeed", "payment.fail", "payment.cancel", "order.pay", "item.pay", "package.pay")
def stripe_webhook(req: Req) -> dict:
    """Stripe's signed events (`Stripe-Signature`), and the local simulated provider's, which speaks
    Stripe's format: payment_intent.succeeded credits once; payment_failed and canceled free the order
    to be paid again; charge.refunded and charge.dispute.created (or funds_withdrawn) take the money back
    from the wallet (never below zero: the rest is owed and staff see it); charge.dispute.closed won (or
    funds_reinstated) gives a dispute's hold back, lost leaves it. Other event types are acknowledged.
    A 409 asks Stripe to deliver the event later."""
    return _provider_webhook("stripe", req)


def _provider_webhook(provider: str, req: Req) -> dict:
    from chalicelib import orders  # only the webhooks need orders

    with metrics.on_error("WebhooksRejected"):
        return payments.handle_provider_webhook(
            provider,
            req.headers,
            req.raw_body,
            settle_order=orders.settle_external_payment,
            after_package=pay_package_from_wallet,
        )


@route(bp, "/payments/webhooks/stripe", "POST", public=True, response=WebhookAck)
@performs("payment.succeed", "payment.fail", "payment.cancel", "order.pay", "item.pay", "package.pay")
def stripe_webhooks(req: Req) -> dict:
    """Stripe's signed events at the path the API contract names; the same handler as
    `POST /payments/stripe/webhook`, which stays for endpoints registered with it."""
    return _provider_webhook("stripe", req)


@route(bp, "/payments/webhooks/paypal", "POST", public=True, response=WebhookAck)
@performs("payment.succeed", "payment.fail", "payment.cancel", "order.pay", "item.pay", "package.pay")
def paypal_webhooks(req: Req) -> dict:
    """PayPal's events at the path the API contract names; the same handler as
    `POST /payments/paypal/webhook`, which stays for webhooks registered with it."""
    return _provider_webhook("paypal", req)


@route(bp, "/payments/paypal/webhook", "POST", public=True, response=WebhookAck)
@performs("payment.succeed", "payment.fail", "payment.cancel", "order.pay", "item.pay", "package.pay")
def paypal_webhook(req: Req) -> dict:
    """PayPal's events, verified through PayPal's verify-webhook-signature call (the PAYPAL-TRANSMISSION-*
    headers, PAYPAL-CERT-URL, PAYPAL-AUTH-ALGO and our webhook id): CHECKOUT.ORDER.APPROVED captures the
    order once; PAYMENT.CAPTURE.COMPLETED credits once; PAYMENT.CAPTURE.DENIED and DECLINED free the
    order to be paid again; PAYMENT.CAPTURE.REFUNDED and REVERSED take the refund back from the wallet
    (never below zero: the rest is owed); CUSTOMER.DISPUTE.CREATED holds the disputed amount and
    CUSTOMER.DISPUTE.RESOLVED gives it back (won) or keeps it (lost); a resolution before its creation is
    applied at once and the late creation changes nothing. Other event types are acknowledged.
    A 409 or 503 asks PayPal to deliver the event later."""
    return _provider_webhook("paypal", req)


@route(bp, "/payments/{payment_id}/capture", "POST", response=Payment)
@performs("payment.succeed", "payment.fail", "order.pay", "item.pay", "package.pay")
def capture_payment(req: Req, payment_id: str) -> Payment:
    """After the customer approved a PayPal payment (PayPal sends them back to the storefront): capture
    it now and answer the payment, `succeeded` once PayPal completed the capture. Safe to repeat: PayPal
    captures once (the same PayPal-Request-Id), and a payment that no longer waits is answered as it is.
    The CHECKOUT.ORDER.APPROVED webhook captures it too if the customer never comes back."""
    from chalicelib import orders

    payment = payments.get_own(req.user.user_id, payment_id)
    payments.capture(payment, orders.settle_external_payment, pay_package_from_wallet)
    return Payment.of(payments.get_own(req.user.user_id, payment_id))


@route(bp, "/staff/payments", groups=FINANCE, query=("limit", "cursor"), response=StaffPaymentPage)
def list_payments_needing_attention(req: Req) -> StaffPaymentPage:
    """Payments staff must look at, oldest first: amounts that differ from what was asked (not
    credited), disputes (held from the wallet) and provider refunds larger than the wallet held."""
    page, last = payments.needing_attention(page_limit(req), decode_cursor(req))
    return StaffPaymentPage.build(items=[StaffPayment.of(p) for p in page], next_cursor=encode_cursor(last))


class PackageCheckoutBody(Body):
    """The external channel a package is paid through instead of the wallet."""

    model_config = example({"channel": "card"})

    channel: Annotated[
        str,
        Field(
            min_length=1,
            max_length=32,
            description="An external channel of `GET /payment-channels` (not `balance`); the provider "
            "collects the package's total_fen plus the channel's fee.",
        ),
    ]


@route(
    bp,
    "/packages/{package_id}/checkout",
    "POST",
    body=PackageCheckoutBody,
    status=201,
    money=True,
    currency=True,
    response=Payment,
)
def checkout_package(req: Req, package_id: str) -> StoredPayment:
    """Pay a package awaiting payment through a provider: the payment to complete (its `client_secret`
    or `checkout_url`); once the provider confirms it, the package is paid and joins the packing queue."""
    channel = payments.external_channel(req.body.channel)
    if channel is None:
        external = ", ".join(c for c, v in channels().items() if v.external)
        raise ValidationError(f"channel must be an external payment channel: {external}.")
    return payments.checkout_package(req.user.user_id, package_id, channel)  # what committed


def pay_package_from_wallet(payment: StoredPayment) -> None:
    """A collected package payment pays its package (its money was just credited to the wallet). A
    package no longer payable (cancelled or expired meanwhile, or paid already) leaves the money in the
    wallet."""
    from chalicelib import packages

    try:
        packages.pay(payment.user_id, payment.package_id)
    except ApiError as exc:  # 409s: not payable any more, or the money was spent meanwhile
        log.info(
            "package not paid from its payment", extra={"payment_id": payment.payment_id, "code": exc.code}
        )


# --- withdrawals ---------------------------------------------------------------------------------


class WithdrawalBody(Body):
    """Wallet money to send back to the payment methods it came from."""

    model_config = example({"amount_fen": 20000})

    amount_fen: Annotated[
        int,
        Field(
            ge=100, le=MAX_WITHDRAWAL_FEN, description="Held off the wallet at once; refunded once approved."
        ),
    ]


class WithdrawalRejectBody(Body):
    """Why the withdrawal is refused (the held amount returns to the wallet)."""

    model_config = example({"reason": "Please contact support about the disputed payment first."})

    reason: Text


@route(bp, "/wallet/withdrawals", "POST", body=WithdrawalBody, status=201, money=True, response=Withdrawal)
def request_withdrawal(req: Req) -> StoredWithdrawal:
    """Ask for wallet money back to the original payment methods (newest payments first): the amount is
    held off the wallet until staff approve (refunded through the providers) or reject (returned)."""
    return withdrawals.request(req.user.user_id, req.body.amount_fen)


@route(bp, "/wallet/withdrawals", query=("limit", "cursor"), response=WithdrawalPage)
def list_withdrawals(req: Req) -> WithdrawalPage:
    """The caller's withdrawals, newest first."""
    page, last = withdrawals.list_own(req.user.user_id, page_limit(req), decode_cursor(req))
    return WithdrawalPage.build(items=[Withdrawal.of(w) for w in page], next_cursor=encode_cursor(last))


@route(bp, "/staff/withdrawals", groups=REVIEWER, query=("limit", "cursor"), response=StaffWithdrawalPage)
def list_waiting_withdrawals(req: Req) -> StaffWithdrawalPage:
    """Withdrawals waiting for a decision, oldest first."""
    page, last = withdrawals.waiting(page_limit(req), decode_cursor(req))
    return StaffWithdrawalPage.build(
        items=[StaffWithdrawal.of(w) for w in page], next_cursor=encode_cursor(last)
    )


@route(
    bp,
    "/staff/withdrawals/{withdrawal_id}/approve",
    "POST",
    groups=REVIEWER,
    money=True,
    response=Withdrawal,
    claim_first=True,  # books its refunds before the provider calls: a duplicate must wait, not run
)
@performs("withdrawal.approve")
def approve_withdrawal(req: Req, withdrawal_id: str) -> StoredWithdrawal:
    """Refund the withdrawal through the providers of the customer's payments: its refunds are booked
    first (`refunding`); 503 if a provider is down, then approve again (the same refunds, never new ones)."""
    return withdrawals.approve(withdrawal_id, req.user.user_id)


@route(
    bp,
    "/staff/withdrawals/{withdrawal_id}/reject",
    "POST",
    groups=REVIEWER,
    body=WithdrawalRejectBody,
    money=True,
    response=Withdrawal,
)
@performs("withdrawal.reject")
def reject_withdrawal(req: Req, withdrawal_id: str) -> StoredWithdrawal:
    """Refuse the withdrawal: the held amount returns to the wallet."""
    return withdrawals.reject(withdrawal_id, req.user.user_id, req.body.reason)
