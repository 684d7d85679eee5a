"""Wallet, top-ups, the payment provider's webhook, and the payment channels."""

from __future__ import annotations

from typing import Annotated

from chalice import Blueprint

from chalicelib import metrics, payments, wallet
from chalicelib.errors import ValidationError
from chalicelib.responses.wallet import Payment, PaymentChannelPage, Wallet, WebhookAck
from chalicelib.rules.charges import channels
from chalicelib.schemas import Body, example
from chalicelib.typed import Field
from chalicelib.web import Req, decode_cursor, encode_cursor, page_limit, performs, route

bp = Blueprint(__name__)

MAX_TOP_UP_FEN = 10_000_000  # ¥100,000


class TopUpBody(Body):
    """Money to add to the wallet through an external payment channel."""

    model_config = example({"amount_fen": 50000, "channel": "alipay"})

    amount_fen: Annotated[int, Field(ge=100, le=MAX_TOP_UP_FEN, description="What the wallet is credited.")]
    channel: Annotated[
        str,
        Field(
            min_length=1,
            max_length=32,
            description="An external channel of `GET /payment-channels` (not `balance`); the provider "
            "collects `charge_fen` = amount + the channel's fee.",
        ),
    ]


@route(bp, "/payment-channels", public=True, response=PaymentChannelPage)
def list_payment_channels(req: Req) -> dict:
    """Payment channels and their bank fee rules (percent + fixed part)."""
    return {"items": [c.as_json() for c in channels().values()], "next_cursor": None}


@route(bp, "/wallet", query=("limit", "cursor"), currency=True, response=Wallet)
def get_wallet(req: Req) -> Wallet:
    """Balance and ledger entries, newest first."""
    entries, last = wallet.entries(req.user.user_id, page_limit(req), decode_cursor(req))
    return Wallet.of(wallet.balance_fen(req.user.user_id), entries, encode_cursor(last))


@route(bp, "/wallet/top-ups", "POST", body=TopUpBody, status=201, money=True, currency=True, response=Payment)
def create_top_up(req: Req) -> payments.Payment:
    """Start a top-up: the provider collects charge_fen, the wallet is credited amount_fen."""
    channel = channels().get(req.body.channel)
    if channel is None or not channel.external:
        external = ", ".join(c for c, v in channels().items() if v.external)
        raise ValidationError(f"channel must be an external payment channel: {external}.")
    return payments.create_top_up(req.user.user_id, req.body.amount_fen, channel)  # what committed


@route(bp, "/payments/{payment_id}", currency=True, response=Payment)
def get_payment(req: Req, payment_id: str) -> Payment:
    """One of the caller's payments (top-up or order payment) and its status."""
    return Payment.of(payments.get_own(req.user.user_id, payment_id))


@route(bp, "/payments/webhook", "POST", public=True, response=WebhookAck)
@performs("payment.succeed", "order.pay", "item.pay", "package.pay")
def payment_webhook(req: Req) -> dict:
    """Deprecated: the simulated provider's own `X-Signature` callback; credits the wallet once per
    payment. Its events now come in Stripe's format to `POST /payments/stripe/webhook`."""
    from chalicelib import orders  # only the webhook needs orders: wallet reads start without it
    from chalicelib.api.payments import pay_package_from_wallet

    with metrics.on_error("WebhooksRejected"):  # by reason: the error code (invalid_signature, ...)
        return payments.handle_webhook(
            req.header("x-signature"),
            req.raw_body,
            settle_order=orders.settle_external_payment,
            after_package=pay_package_from_wallet,
        )
