"""The payment a provider collects, as every answer that shows one has it: a top-up, an order awaiting an
external payment (`OrderDetail.payment`), a package's. In a module of its own so that an order answer
does not import the wallet's other responses (responses/wallet.py re-exports it)."""

from __future__ import annotations

from typing import Literal, Self

from chalicelib.lifecycle import PaymentStatus
from chalicelib.models import commerce
from chalicelib.responses.base import Fen, Out, Timestamp, absent
from chalicelib.responses.fx import FxSnapshot
from chalicelib.typed import ConfigDict, Field

# a card top-up waiting for the customer (the staff view's example is this one, settled: responses/wallet.py)
PAYMENT_EXAMPLE = {
    "payment_id": "pay_01JDX3R1M6Q7Y8ZK2W4V5T6S7G",
    "purpose": "top_up",
    "order_id": None,
    "amount_fen": 50000,
    "fee_fen": 1650,
    "charge_fen": 51650,
    "channel": "card",
    "status": PaymentStatus.REQUIRES_ACTION.value,
    "created_at": "2026-11-29T02:09:00Z",
    "succeeded_at": None,
}


class Payment(Out):
    """Money a payment provider collects: a wallet top-up or an order paid by card, PayPal or Alipay."""

    model_config = ConfigDict(json_schema_extra={"examples": [PAYMENT_EXAMPLE]})

    payment_id: str
    purpose: Literal["top_up", "order", "package"]
    order_id: str | None = Field(description="The order paid (purpose order); null for top-ups.")
    package_id: str | None = absent("The package paid (purpose package).")
    amount_fen: Fen = Field(
        description="What the wallet is credited (top-up) or the order's goods and shipping."
    )
    fee_fen: Fen = Field(description="The channel's bank fee.")
    charge_fen: Fen = Field(description="What the provider collects: amount_fen + fee_fen.")
    channel: str
    status: Literal[
        PaymentStatus.REQUIRES_ACTION.value,
        PaymentStatus.SUCCEEDED.value,
        PaymentStatus.FAILED.value,
        PaymentStatus.CANCELED.value,
    ]
    created_at: Timestamp
    succeeded_at: Timestamp | None
    fx_snapshot: FxSnapshot | None = Field(
        default=None, description="The customer's currency at the time (null: paid in CNY only)."
    )
    provider: str = absent("Who collects it: stripe, paypal, or simulated (the local stack and tests).")
    provider_ref: str = absent(
        "The provider's own reference: Stripe's PaymentIntent id (`pi_sim_...` for the simulated provider, "
        "whose Stripe-format events name it), or the PayPal order id."
    )
    currency: str = absent(
        "A provider's payment: the currency it charges (the customer's where the channel takes it, else "
        "CNY; PayPal charges CNY and KRW customers in PAYPAL_SETTLEMENT_CURRENCY). The contract's name for "
        "charged_currency."
    )
    amount_minor: int = absent(
        "A provider's payment: what it charges, in minor units of `currency` (charge_fen, the fee included, "
        "at the rate snapshotted when the payment was created), whatever display currency was asked for. "
        "The contract's name for charged_amount. A wallet payment has none unless a display currency was "
        "asked for, and then it is amount_fen in that currency, as everywhere else."
    )
    charged_currency: str = absent(
        "The currency the provider charges (the customer's where the channel takes it, else CNY)."
    )
    charged_amount: int = absent(
        "What the provider charges, in minor units of charged_currency: charge_fen at the rate snapshotted "
        "when the payment was created."
    )
    client_secret: str = absent(
        "Stripe: the PaymentIntent's client secret, to confirm it with Stripe.js (while it requires "
        "action; shown to its owner only)."
    )
    checkout_url: str = absent("Where to send the customer to approve it (PayPal), while it requires action.")
    approve_url: str = absent(
        "PayPal: the order's approve link (the same as checkout_url), while it requires action."
    )
    provider_fee_fen: Fen = absent("The provider's actual fee, once it reported it.")
    refunded_fen: Fen = absent("Given back through the provider so far (withdrawals and provider refunds).")

    @classmethod
    def of(cls, payment: commerce.Payment) -> Self:
        return cls.build(
            payment_id=payment.payment_id,
            purpose=payment.purpose,
            order_id=payment.order_id,
            amount_fen=int(payment.amount_fen),
            fee_fen=int(payment.fee_fen),
            charge_fen=int(payment.charge_fen),
            channel=payment.channel,
            status=payment.status,
            created_at=payment.created_at,
            succeeded_at=payment.succeeded_at,
            fx_snapshot=FxSnapshot.of(
                payment.fx, amount_fen=int(payment.amount_fen), charge_fen=int(payment.charge_fen)
            ),
            **_provider_fields(payment),
        )

    @classmethod
    def of_result(cls, result: commerce.Payment) -> Self:
        return cls.of(result)


def _provider_fields(payment: commerce.Payment) -> dict:
    """The provider's side of a payment; what completes it only while it waits for the customer."""
    fields: dict = {"provider": payment.provider or "simulated"}
    if payment.provider_ref:
        fields["provider_ref"] = payment.provider_ref
    if payment.package_id:
        fields["package_id"] = payment.package_id
    if payment.currency and payment.amount_minor is not None:
        fields["charged_currency"], fields["charged_amount"] = payment.currency, int(payment.amount_minor)
        fields["currency"], fields["amount_minor"] = payment.currency, int(payment.amount_minor)
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        if payment.client_secret:
            fields["client_secret"] = payment.client_secret
        if payment.checkout_url:
            fields["checkout_url"] = payment.checkout_url
            if payment.provider == "paypal":
                fields["approve_url"] = payment.checkout_url
    if payment.provider_fee_fen is not None:
        fields["provider_fee_fen"] = int(payment.provider_fee_fen)
    if int(payment.refunded_fen or 0):
        fields["refunded_fen"] = int(payment.refunded_fen)
    return fields
