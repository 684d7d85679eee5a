"""Real payment providers' webhooks, and the payments staff must look at."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import metrics, payments
from chalicelib.responses.wallet import StaffPayment, StaffPaymentPage, WebhookAck
from chalicelib.web import Req, decode_cursor, encode_cursor, page_limit, performs, route

bp = Blueprint(__name__)

FINANCE = ("admin",)


@route(bp, "/payments/stripe/webhook", "POST", public=True, response=WebhookAck)
@performs("payment.succeed", "payment.fail", "payment.cancel", "order.pay", "item.pay")
def stripe_webhook(req: Req) -> dict:
    """Stripe's signed events (`Stripe-Signature`): payment_intent.succeeded credits once;
    payment_failed and canceled free the order to be paid again; charge.refunded and
    charge.dispute.created take the money back from the wallet (never below zero: the rest is owed and
    staff see it). Other event types are acknowledged. A 409 asks Stripe to deliver the event later."""
    from chalicelib import orders  # only the webhook needs orders

    with metrics.on_error("WebhooksRejected"):
        return payments.handle_provider_webhook(
            "stripe", req.headers, req.raw_body, settle_order=orders.settle_external_payment
        )


@route(bp, "/staff/payments", groups=FINANCE, query=("limit", "cursor"), response=StaffPaymentPage)
def list_payments_needing_attention(req: Req) -> StaffPaymentPage:
    """Payments staff must look at, oldest first: amounts that differ from what was asked (not
    credited), disputes (held from the wallet) and provider refunds larger than the wallet held."""
    page, last = payments.needing_attention(page_limit(req), decode_cursor(req))
    return StaffPaymentPage.build(items=[StaffPayment.of(p) for p in page], next_cursor=encode_cursor(last))
