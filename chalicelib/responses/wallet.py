"""Responses of the wallet routes: balance and ledger, payment channels, payments and the webhook."""

from __future__ import annotations

from typing import Literal, Self

from chalicelib.lifecycle import DisputeStatus, PaymentStatus, WithdrawalStatus
from chalicelib.models import commerce
from chalicelib.models import withdrawals as stored_withdrawals
from chalicelib.responses.base import Fen, Out, Timestamp, absent
from chalicelib.responses.fx import FxSnapshot
from chalicelib.responses.payments import PAYMENT_EXAMPLE, Payment
from chalicelib.typed import ConfigDict, Field


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
        "package_service_refund, "
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


STAFF_PAYMENT_EXAMPLE = {
    **PAYMENT_EXAMPLE,
    "status": PaymentStatus.SUCCEEDED.value,
    "succeeded_at": "2026-11-29T02:11:00Z",
    "provider": "stripe",
    "currency": "USD",
    "amount_minor": 7182,
    "charged_currency": "USD",
    "charged_amount": 7182,
    "user_id": "u-alice",
    "attention": "disputed",
    "disputed_fen": 51650,
    "owed_fen": 1650,
}


class PaymentDispute(Out):
    """A provider's dispute of a payment and where it stands."""

    dispute_id: str
    status: str = Field(
        description="The provider's status while open (Stripe's needs_response, under_review, "
        "warning_needs_response...; PayPal's OPEN, WAITING_FOR_SELLER_RESPONSE...; `opened` where the "
        "provider names none), then won (held money given back, the owed part forgiven) or lost (the debit "
        "stands, final)."
    )
    state: Literal[DisputeStatus.OPEN.value, DisputeStatus.WON.value, DisputeStatus.LOST.value] = Field(
        description="Where the dispute stands in our books (the lifecycle table's dispute): open (the "
        "disputed amount held), won or lost (decided, final)."
    )
    amount_fen: Fen = Field(
        description="Disputed, in fen at the payment's rate (0: decided before it opened)."
    )
    held_fen: Fen = Field(description="Taken from the wallet when it opened.")
    owed_fen: Fen = Field(description="What the wallet did not hold when it opened.")
    updated_at: Timestamp
    decided_at: str = absent("When it was decided, won or lost.", format="date-time")


class StaffPayment(Payment):
    """A payment staff must look at, and why."""

    model_config = ConfigDict(json_schema_extra={"examples": [STAFF_PAYMENT_EXAMPLE]})

    user_id: str
    attention: str | None = Field(
        description="amount_mismatch (collected differs from what was asked: not credited), disputed "
        "(the disputed amount is held from the wallet), dispute_won (given back), dispute_lost (the debit "
        "stands), refund_exceeds_balance (the provider refunded more "
        "than the wallet held: the rest is owed)."
    )
    disputed_fen: Fen
    owed_fen: Fen = Field(description="Taken back by the provider but not in the wallet to debit.")
    disputes: list[PaymentDispute] = absent(
        "The provider's disputes of the payment, least recently changed first."
    )

    @classmethod
    def of(cls, payment: commerce.Payment) -> Self:
        base = Payment.of(payment).model_dump(exclude_unset=True)
        base.pop("client_secret", None)  # the customer's, not staff's
        return cls.build(
            **base,
            user_id=payment.user_id,
            attention=payment.attention,
            disputed_fen=int(payment.disputed_fen or 0),
            owed_fen=int(payment.owed_fen or 0),
            **_disputes(payment),
        )


def _disputes(payment: commerce.Payment) -> dict:
    from chalicelib.payments import disputes_of

    found = sorted(disputes_of(payment).items(), key=lambda kv: kv[1]["updated_at"])
    if not found:
        return {}
    return {
        "disputes": [
            PaymentDispute.build(
                dispute_id=key,
                status=d["status"],
                state=d["state"],
                amount_fen=int(d["amount_fen"]),
                held_fen=int(d["held_fen"]),
                owed_fen=int(d["owed_fen"]),
                updated_at=d["updated_at"],
                **({"decided_at": d["decided_at"]} if d.get("decided_at") else {}),
            )
            for key, d in found
        ]
    }


class StaffPaymentPage(Out):
    """Payments waiting for staff attention, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [STAFF_PAYMENT_EXAMPLE], "next_cursor": None}]}
    )

    items: list[StaffPayment]
    next_cursor: str | None


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
    flagged: str = absent("Not credited and put on the staff attention list (amount_mismatch).")
    debited_fen: Fen = absent("A refund or dispute: what was taken from the wallet.")
    owed_fen: Fen = absent("A refund or dispute: what the wallet did not hold (staff follow it up).")
    dispute_id: str = absent("A dispute event: the provider's dispute.")
    dispute_status: str = absent(
        "A dispute event: the dispute's state after it (the provider's open status, won or lost)."
    )
    released_fen: Fen = absent("A dispute won or resolved: what its hold gave back to the wallet (0: lost).")


WITHDRAWAL_EXAMPLE = {
    "withdrawal_id": "wdr_01JDX3R1M6Q7Y8ZK2W4V5T6S7H",
    "amount_fen": 20000,
    "status": WithdrawalStatus.REFUNDED.value,
    "created_at": "2026-11-30T02:00:00Z",
    "decided_at": "2026-11-30T05:00:00Z",
    "refunds": [
        {
            "payment_id": "pay_01JDX3R1M6Q7Y8ZK2W4V5T6S7G",
            "provider": "stripe",
            "refund_id": "re_1Pgc72B7WZ01zgkWqPvrRrPE",
            "amount_fen": 20000,
            "currency": "USD",
            "amount_minor": 2873,
        }
    ],
}


class WithdrawalRefund(Out):
    """One refund a withdrawal made: to one payment, through its provider, in its currency."""

    payment_id: str
    provider: str
    refund_id: str = Field(description="The provider's refund id.")
    amount_fen: Fen
    currency: str = Field(description="The payment's currency (ISO 4217).")
    amount_minor: int = Field(description="The refund in minor units of `currency`.")


class Withdrawal(Out):
    """Wallet money asked back to the payment methods it came from: held off the wallet while
    `requested`, refunded through the providers once staff approve, back in the wallet if rejected."""

    model_config = ConfigDict(json_schema_extra={"examples": [WITHDRAWAL_EXAMPLE]})

    withdrawal_id: str
    amount_fen: Fen
    status: Literal[
        WithdrawalStatus.REQUESTED.value,
        WithdrawalStatus.REFUNDING.value,
        WithdrawalStatus.REFUNDED.value,
        WithdrawalStatus.PARTLY_REFUNDED.value,
        WithdrawalStatus.REJECTED.value,
    ] = Field(
        description="requested (held off the wallet), refunding (approved; staff approve again after a "
        "provider outage), refunded, partly_refunded (a provider refused a part for good: `returned_fen` "
        "is back in the wallet), rejected."
    )
    created_at: Timestamp
    decided_at: str = absent("When staff approved or rejected it.", format="date-time")
    reject_reason: str = absent("Why staff rejected it.")
    refunds: list[WithdrawalRefund] = Field(description="The refunds made (empty until approved).")
    returned_fen: int = absent("partly_refunded: what providers refused, credited back to the wallet.")

    @classmethod
    def of(cls, withdrawal: stored_withdrawals.Withdrawal) -> Self:
        fields: dict = {}
        if withdrawal.decided_at:
            fields["decided_at"] = withdrawal.decided_at
        if withdrawal.reject_reason:
            fields["reject_reason"] = withdrawal.reject_reason
        if withdrawal.returned_fen:
            fields["returned_fen"] = int(withdrawal.returned_fen)
        refunds = stored_withdrawals.plain_maps(withdrawal.refunds)
        return cls.build(
            withdrawal_id=withdrawal.withdrawal_id,
            amount_fen=int(withdrawal.amount_fen),
            status=withdrawal.status,
            created_at=withdrawal.created_at,
            refunds=[
                {k: (int(v) if k in ("amount_fen", "amount_minor") else v) for k, v in r.items()}
                for r in refunds
            ],
            **fields,
        )

    @classmethod
    def of_result(cls, result: stored_withdrawals.Withdrawal) -> Self:
        return cls.of(result)


class WaitingRefund(Out):
    """A part of an approved withdrawal its provider could not refund yet ("not now": our balance there
    short, the capture pending, a case open...): the money stays held; approving again asks anew."""

    payment_id: str
    provider: str
    amount_fen: Fen
    reason: str = Field(description="The provider's issue code, e.g. REFUND_FAILED_INSUFFICIENT_FUNDS.")
    tries: int = Field(description="How many approvals the provider has refused it so far.")


class StaffWithdrawal(Withdrawal):
    """A withdrawal with its customer (the staff queue)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**WITHDRAWAL_EXAMPLE, "user_id": "u-alice"}]})

    user_id: str
    waiting: list[WaitingRefund] = absent(
        "refunding: the parts a provider refused for now, and why (staff approve again once it is mended)."
    )

    @classmethod
    def of(cls, withdrawal: stored_withdrawals.Withdrawal) -> Self:
        base = Withdrawal.of(withdrawal).model_dump(exclude_unset=True)
        steps = stored_withdrawals.plain_maps(withdrawal.plan)
        waiting = [
            {
                "payment_id": s["payment_id"],
                "provider": s["provider"],
                "amount_fen": int(s["amount_fen"]),
                "reason": s["waiting"],
                "tries": int(s.get("tries") or 0),
            }
            for s in steps
            if s.get("waiting") and s.get("state") == stored_withdrawals.PLANNED
        ]
        return cls.build(**base, user_id=withdrawal.user_id, **({"waiting": waiting} if waiting else {}))


class WithdrawalPage(Out):
    """A page of the customer's withdrawals, newest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [WITHDRAWAL_EXAMPLE], "next_cursor": None}]}
    )

    items: list[Withdrawal]
    next_cursor: str | None


class StaffWithdrawalPage(Out):
    """Withdrawals waiting for staff, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [{**WITHDRAWAL_EXAMPLE, "user_id": "u-alice"}], "next_cursor": None}]
        }
    )

    items: list[StaffWithdrawal]
    next_cursor: str | None
