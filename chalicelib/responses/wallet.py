"""Responses of the wallet routes: balance and ledger, payment channels, payments and the webhook."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import ConfigDict, Field

from chalicelib.lifecycle import PaymentStatus
from chalicelib.models import commerce
from chalicelib.responses.base import Fen, Out, Timestamp, absent
from chalicelib.responses.currencies import FxSnapshot


class PaymentChannel(Out):
    """A way to pay and the bank fee it adds: `percent` of the amount plus `fixed_fen`."""

    channel: str = Field(description="The id to send as payment_channel / channel.")
    name: str
    percent: str = Field(description='A decimal string, e.g. "3.0" for 3 %.', pattern=r"^[0-9]+(\.[0-9]+)?$")
    fixed_fen: Fen
    external: bool = Field(description="Collected by a payment provider (false: the wallet balance).")


class PaymentChannelPage(Out):
    """Every payment channel (one page: `next_cursor` is null)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "channel": "balance",
                            "name": "Wallet balance",
                            "percent": "0",
                            "fixed_fen": 0,
                            "external": False,
                        },
                        {
                            "channel": "card",
                            "name": "Visa / Mastercard",
                            "percent": "3.0",
                            "fixed_fen": 150,
                            "external": True,
                        },
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[PaymentChannel]
    next_cursor: str | None


class WalletEntry(Out):
    """One ledger entry: money into (positive) or out of (negative) the wallet."""

    entry_id: str
    kind: str = Field(
        description="Why the money moved: top_up, order_payment, payment_received, payment_channel_fee, "
        "order_refund, item_refund, price_difference_charge, price_difference_refund, after_sales_refund, "
        "package_payment, package_refund, package_difference_charge, package_difference_refund, "
        "storage_extension, claim_compensation."
    )
    amount_fen: Fen = Field(description="Signed: credits are positive, debits negative.")
    balance_after_fen: Fen
    created_at: Timestamp
    ref: str = Field(description="The order, item, package, case, claim or payment the money moved for.")
    fx_snapshot: FxSnapshot | None = Field(
        default=None, description="The customer's currency at the time (null: paid in CNY only)."
    )

    @classmethod
    def of(cls, entry: commerce.LedgerEntry) -> Self:
        return cls.build(
            entry_id=entry.entry_id,
            kind=entry.kind,
            amount_fen=int(entry.amount_fen),
            balance_after_fen=int(entry.balance_after_fen),
            created_at=entry.created_at,
            ref=entry.ref,
            # the rate of the order, package payment or top-up it belongs to: the amount in the customer's
            # currency at THAT rate (a refund goes back at the rate paid, not today's)
            fx_snapshot=FxSnapshot.of(entry.fx, amount_fen=int(entry.amount_fen)),
        )


class Wallet(Out):
    """The wallet balance and a page of its ledger, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "balance_fen": 41200,
                    "entries": [
                        {
                            "entry_id": "ent_01JDX3R1M6Q7Y8ZK2W4V5T6S7F",
                            "kind": "order_payment",
                            "amount_fen": -8800,
                            "balance_after_fen": 41200,
                            "created_at": "2026-11-29T02:15:00Z",
                            "ref": "ord_01JDX3R1M6Q7Y8ZK2W4V5T6S7B",
                        },
                        {
                            "entry_id": "ent_01JDX3R1M6Q7Y8ZK2W4V5T6S7E",
                            "kind": "top_up",
                            "amount_fen": 50000,
                            "balance_after_fen": 50000,
                            "created_at": "2026-11-29T02:10:00Z",
                            "ref": "pay_01JDX3R1M6Q7Y8ZK2W4V5T6S7G",
                        },
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    balance_fen: Fen
    entries: list[WalletEntry]
    next_cursor: str | None = Field(
        description="Pass back as `cursor` for older entries (null: the last page)."
    )

    @classmethod
    def of(cls, balance_fen: int, entries: list[commerce.LedgerEntry], next_cursor: str | None) -> Self:
        return cls.build(
            balance_fen=balance_fen, entries=[WalletEntry.of(e) for e in entries], next_cursor=next_cursor
        )


class Payment(Out):
    """Money a payment provider collects: a wallet top-up or an order paid by card, PayPal or Alipay."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
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
            ]
        }
    )

    payment_id: str
    purpose: Literal["top_up", "order"]
    order_id: str | None = Field(description="The order paid (purpose order); null for top-ups.")
    amount_fen: Fen = Field(
        description="What the wallet is credited (top-up) or the order's goods and shipping."
    )
    fee_fen: Fen = Field(description="The channel's bank fee.")
    charge_fen: Fen = Field(description="What the provider collects: amount_fen + fee_fen.")
    channel: str
    status: Literal[PaymentStatus.REQUIRES_ACTION.value, PaymentStatus.SUCCEEDED.value]
    created_at: Timestamp
    succeeded_at: Timestamp | None
    fx_snapshot: FxSnapshot | None = Field(
        default=None, description="The customer's currency at the time (null: paid in CNY only)."
    )

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
        )

    @classmethod
    def of_result(cls, result: commerce.Payment) -> Self:
        return cls.of(result)


class WebhookAck(Out):
    """The webhook was received: `duplicate` when the payment was already credited, `ignored` (the event
    type) for events other than payment.succeeded."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"received": True, "duplicate": False, "payment_id": "pay_01JDX3R1M6Q7Y8ZK2W4V5T6S7G"}
            ]
        }
    )

    received: Literal[True]
    duplicate: bool = absent("Whether the payment had already been credited (absent when ignored).")
    payment_id: str = absent("The payment credited (absent when ignored).")
    ignored: str = absent("The event type that was acknowledged and ignored.")
