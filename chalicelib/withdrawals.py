"""Withdrawals: wallet money back to the payment methods it came from, refunded through their providers.

Asking (`request`) holds the amount off the wallet (a `withdrawal` ledger entry) in the transaction that
records the request, so it cannot be spent twice; it is refused when the customer's provider payments
cannot take that much back. Staff approve (`approve`): the amount is spread over the customer's
succeeded payments, newest first, each up to what it brought into the wallet less what was already given
back or disputed; each part is refunded through the payment's provider in the payment's currency (at the
rate the payment was made at), with an idempotency key of the withdrawal and the payment, so an approval
retried after a failure part-way asks the provider for the same refunds again and gets the same answers
(the plan is the same: nothing is written until every refund was accepted). Then one transaction marks
the withdrawal refunded and adds the parts to the payments' `refunded_*` figures, which is what makes the
provider's later `charge.refunded` events change nothing. The provider keeps its fee of the original
payment; refunds cost nothing more at Stripe. A PayPal part is refunded on the payment's capture, with the
withdrawal id as the refund's custom_id, so PayPal's PAYMENT.CAPTURE.REFUNDED event about it changes
nothing. Rejecting returns the held amount to the wallet.
Cost: asking reads the wallet account once, queries the customer's payments (GSI) and commits one
transaction on that account read (re-read only after a lost race); approving, the same query, one
provider call per payment refunded, one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from chalicelib import clock, db, ids, payments, providers, uow, wallet
from chalicelib.errors import InsufficientFunds, NotFound, ValidationError
from chalicelib.lifecycle import WITHDRAWAL, PaymentStatus, Queue, WithdrawalStatus
from chalicelib.logs import get_logger
from chalicelib.models.commerce import Payment, WalletAccount
from chalicelib.models.withdrawals import Withdrawal
from chalicelib.providers import Amount
from chalicelib.queues import queue_page

log = get_logger("withdrawals")


@dataclass(frozen=True)
class Part:
    payment: Payment
    amount_fen: int

    @property
    def amount(self) -> Amount:
        """The part in the payment's currency, at the payment's own rate (what it charged per fen)."""
        asked = payments.asked(self.payment)
        if asked.currency == "CNY":
            return Amount("CNY", self.amount_fen)
        exact = Decimal(self.amount_fen) * Decimal(asked.minor) / Decimal(int(self.payment.charge_fen))
        return Amount(asked.currency, int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def refundable_fen(payment: Payment) -> int:
    """What a payment may still give back: what it brought into the wallet (a top-up's amount; an order's
    or package's goods, returned to the wallet only by refunds) less refunds and disputes so far."""
    if payment.status != PaymentStatus.SUCCEEDED:
        return 0
    brought = (
        int(payment.amount_fen)
        if payment.purpose != "order"
        else int(payment.charge_fen) - int(payment.fee_fen)
    )
    taken = int(payment.refunded_fen or 0) + int(payment.disputed_fen or 0)
    return max(0, brought - taken)


def plan(user_id: str, amount_fen: int) -> list[Part]:
    """The parts of `amount_fen` over the customer's payments, newest first; 400 if they cannot take it."""
    parts, left = [], amount_fen
    for payment in Payment.by_user.query(user_id, scan_index_forward=False):
        if left <= 0:
            break
        take = min(left, refundable_fen(payment))
        if take > 0:
            parts.append(Part(payment, take))
            left -= take
    if left > 0:
        raise ValidationError(
            f"At most {amount_fen - left} fen can go back to the payment methods it came from; "
            "the rest of the balance was not paid in through a provider."
        )
    return parts


def request(user_id: str, amount_fen: int) -> Withdrawal:
    key = (WalletAccount, wallet.account_key(user_id))
    read = db.batch_read([key]).get(key) or wallet.new_account(user_id)  # none yet: balance 0
    if int(read.balance_fen or 0) < amount_fen:  # the unit checks it again, atomically
        raise InsufficientFunds("The wallet balance is less than the amount to withdraw.")
    plan(user_id, amount_fen)  # 400 early when the payments cannot take it back
    first = [read]

    def unit() -> uow.Unit:
        work = uow.Unit()
        if first:  # the first build commits on the account read above: its version guards the balance
            work.accounts[user_id] = first.pop()
        now = clock.now_iso()
        withdrawal = Withdrawal(
            ids.new_id("wdr"), user_id=user_id, amount_fen=amount_fen, created_at=now, refunds=[]
        )
        WITHDRAWAL.start(withdrawal, WithdrawalStatus.REQUESTED, now=now)
        work.move(user_id, -amount_fen, "withdrawal", withdrawal.withdrawal_id)  # 409 when short
        work.save(withdrawal, Withdrawal.withdrawal_id.does_not_exist())
        work.result = withdrawal
        return work

    withdrawal = uow.run(unit)
    log.info(
        "withdrawal requested", extra={"withdrawal_id": withdrawal.withdrawal_id, "amount_fen": amount_fen}
    )
    return withdrawal


def _get(withdrawal_id: str) -> Withdrawal:
    try:
        return Withdrawal.get(withdrawal_id, consistent_read=True)
    except Withdrawal.DoesNotExist:
        raise NotFound("No such withdrawal.") from None


def list_own(user_id: str, limit: int, cursor: dict | None) -> tuple[list[Withdrawal], dict | None]:
    result = Withdrawal.by_user.query(
        user_id, scan_index_forward=False, limit=limit, last_evaluated_key=cursor
    )
    return list(result), result.last_evaluated_key


def waiting(limit: int, cursor: dict | None) -> tuple[list[Withdrawal], dict | None]:
    return queue_page(Withdrawal, Queue.WITHDRAWALS.value, limit, cursor)


def approve(withdrawal_id: str, staff_id: str) -> Withdrawal:
    withdrawal = _get(withdrawal_id)
    WITHDRAWAL.require("approve", withdrawal.status)
    parts = plan(withdrawal.user_id, int(withdrawal.amount_fen))
    refunds = []
    for part in parts:  # the provider first: a failure here leaves the request as it was (503)
        provider = providers.get(part.payment.provider or "simulated")
        key = f"withdrawal-{withdrawal_id}-{part.payment.payment_id}"
        done = provider.refund(part.payment, part.amount, key)
        refunds.append(
            {
                "payment_id": part.payment.payment_id,
                "provider": provider.name,
                "refund_id": done.refund_id,
                "amount_fen": part.amount_fen,
                "currency": done.amount.currency,
                "amount_minor": done.amount.minor,
            }
        )

    def unit() -> uow.Unit:
        work = uow.Unit()
        current = _get(withdrawal_id)
        now = clock.now_iso()
        also = [Withdrawal.refunds.set(refunds), Withdrawal.decided_by.set(staff_id)]
        work.update(current, *WITHDRAWAL.move(current, "approve", now=now, source=current.status, also=also))
        for refund in refunds:
            payment = Payment.get(refund["payment_id"], consistent_read=True)
            work.update(
                payment,
                [
                    Payment.refunded_minor.set(int(payment.refunded_minor or 0) + refund["amount_minor"]),
                    Payment.refunded_fen.set(int(payment.refunded_fen or 0) + refund["amount_fen"]),
                    Payment.withdrawal_fen.set(int(payment.withdrawal_fen or 0) + refund["amount_fen"]),
                ],
            )
        current.refunds, current.decided_by = refunds, staff_id
        work.result = current
        return work

    approved = uow.run(unit)
    log.info("withdrawal refunded", extra={"withdrawal_id": withdrawal_id, "parts": len(refunds)})
    return approved


def reject(withdrawal_id: str, staff_id: str, reason: str) -> Withdrawal:
    def unit() -> uow.Unit:
        work = uow.Unit()
        current = _get(withdrawal_id)
        WITHDRAWAL.require("reject", current.status)
        now = clock.now_iso()
        also = [Withdrawal.decided_by.set(staff_id), Withdrawal.reject_reason.set(reason)]
        work.update(current, *WITHDRAWAL.move(current, "reject", now=now, source=current.status, also=also))
        work.move(current.user_id, int(current.amount_fen), "withdrawal_reversal", withdrawal_id)
        current.decided_by, current.reject_reason = staff_id, reason
        work.result = current
        return work

    return uow.run(unit)
