"""Withdrawals: wallet money back to the payment methods it came from, refunded through their providers.

Asking (`request`) holds the amount off the wallet (a `withdrawal` ledger entry) in the transaction that
records the request, so it cannot be spent twice; it is refused when the customer's provider payments cannot
take that much back. Staff approve (`approve`) in three steps. 1) One transaction books the plan: the amount
is spread over the customer's succeeded payments, newest first, each up to what it brought into the wallet
less what was already given back or disputed; the withdrawal moves to `refunding` with its parts stored on it
(payment, fen, the payment's currency and minor units at the rate it was paid at, an idempotency key of the
withdrawal and the payment), and each part is added to its payment's `refunded_*` and `withdrawal_*`
figures. So a provider's refund event about it (Stripe's cumulative `charge.refunded`), arriving at any moment
after, finds it known and moves no money: the money left the wallet when the withdrawal was asked. What the
provider refunded outside our withdrawals (its dashboard) is accounted against its own cumulative total
(`payments.account_refunds`), so a part taken off again cannot hide one. 2) Each part not answered yet is
refunded through its payment's provider with its stored key, and the answer is recorded on the withdrawal (one
conditional write per part), so an approval retried after a failure part-way (a 503, a crash) follows the
stored plan, never a new one, and asks only the parts without an answer. A provider that refuses a part
for now (`ProviderDeferred`: PayPal's REFUND_FAILED_INSUFFICIENT_FUNDS when our PayPal balance is short, an
open case; Stripe's balance_insufficient) leaves it waiting like an outage: the money stays held, the
other parts are asked, the approval answers 503 naming the reason, and the next approval asks that part
under a new key (`<key>-<n>`: a provider may replay a key's refusal; no refund exists under the old one).
3) One transaction marks it `refunded`; a part the provider refused for good (a 4xx about it,
`ProviderRefused`: not an outage) is taken off its payment's figures again (a dashboard refund of that
payment its booking hid is then taken from the wallet, `provider_refund`) and credited back to the wallet
(`withdrawal_reversal`) in that transaction, and the withdrawal ends `partly_refunded` with `returned_fen`:
the customer sees the money back at once and can ask again, rather than it waiting on staff. The same
transaction writes the customer's email (outbox): what was refunded where, what came back and why;
rejecting writes one too. The provider keeps its fee of the original payment; refunds
cost nothing more at Stripe. A PayPal part is refunded on the payment's capture, with the withdrawal id as the
refund's custom_id; Stripe refunds carry it as metadata (a log aid). Rejecting returns the held amount to the
wallet.
Cost: asking reads the wallet account once, queries the customer's payments (GSI) and commits one
transaction on that account read (re-read only after a lost race); approving, the same query and one
transaction to book, per part one payment read, one provider call and one write, then one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pynamodb.exceptions import UpdateError

from chalicelib import clock, db, idempotency, ids, money, payments, providers, uow, wallet
from chalicelib import currency as currency_rules
from chalicelib.errors import Conflict, InsufficientFunds, NotFound, ValidationError
from chalicelib.lifecycle import WITHDRAWAL, PaymentStatus, Queue, WithdrawalStatus
from chalicelib.logs import get_logger
from chalicelib.models.commerce import Payment, WalletAccount
from chalicelib.models.withdrawals import PLANNED, REFUNDED, REFUSED, Withdrawal, plain_maps
from chalicelib.providers import Amount, ProviderDeferred, ProviderRefused, ProviderUnavailable
from chalicelib.queues import queue_page
from chalicelib.rules.charges import channels

log = get_logger("withdrawals")


@dataclass(frozen=True)
class Part:
    payment: Payment
    amount_fen: int

    @property
    def amount(self) -> Amount:
        """The part in the payment's currency, at the payment's own rate (what it charged per fen)."""
        return Amount(payments.asked(self.payment).currency, payments.minor_of(self.payment, self.amount_fen))


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
    """Book the plan, ask the providers for its refunds, then finish; approving a `refunding` withdrawal
    again (after a 503) follows its stored plan."""
    withdrawal = _get(withdrawal_id)
    if withdrawal.status != WithdrawalStatus.REFUNDING:
        with idempotency.apart():  # the request's answer is the finished withdrawal, not this step
            withdrawal = _book(withdrawal_id, staff_id)  # 409 once decided
    steps = plain_maps(withdrawal.plan)
    later: list[ProviderUnavailable] = []  # parts left for another approval: the provider down, or "not now"
    for step in steps:
        if step["state"] != PLANNED:
            continue
        payment = Payment.get(step["payment_id"], consistent_read=True)
        amount = Amount(step["currency"], int(step["amount_minor"]))
        try:
            done = providers.get(step["provider"]).refund(payment, amount, step["key"])
        except ProviderRefused as refusal:
            step.update(state=REFUSED, refusal=refusal.issue)
        except ProviderDeferred as deferred:
            # refused for now: nothing was refunded under this key, and the provider may replay a key's
            # refusal, so the next approval asks under a new one
            tries = int(step.get("tries") or 0) + 1
            base = f"withdrawal-{withdrawal_id}-{step['payment_id']}"
            step.update(tries=tries, key=f"{base}-{tries}", waiting=deferred.issue or "deferred")
            later.append(deferred)
        except ProviderUnavailable as down:  # no answer: maybe refunded, so the same key next time
            later.append(down)
            continue
        else:
            step.update(state=REFUNDED, refund_id=done.refund_id)
        withdrawal = _progress(withdrawal, steps)  # a retry skips what has its answer already
    if later:
        reasons = sorted({w.issue for w in later if isinstance(w, ProviderDeferred) and w.issue})
        raise ProviderUnavailable(
            "A payment provider could not make part of the refunds now"
            + (f" ({', '.join(reasons)})" if reasons else "")
            + "; the withdrawal stays refunding, with what was refunded recorded: approve it again later."
        )
    finished = uow.run(lambda: _finish(withdrawal_id, steps))
    log.info(
        "withdrawal refunded",
        extra={"withdrawal_id": withdrawal_id, "parts": len(steps), "status": finished.status},
    )
    return finished


def _refund(step: dict) -> dict:
    return {
        "payment_id": step["payment_id"],
        "provider": step["provider"],
        "refund_id": step["refund_id"],
        "amount_fen": int(step["amount_fen"]),
        "currency": step["currency"],
        "amount_minor": int(step["amount_minor"]),
    }


def _book(withdrawal_id: str, staff_id: str) -> Withdrawal:
    """One transaction: the withdrawal `refunding` with its plan, and the plan's amounts added to the
    payments' refunded figures, before any provider is asked (so its refund events find them known)."""

    def unit() -> uow.Unit:
        work = uow.Unit()
        current = _get(withdrawal_id)
        WITHDRAWAL.require("approve", current.status)
        steps = []
        parts = plan(current.user_id, int(current.amount_fen))
        for part in parts:
            payment, amount = part.payment, part.amount
            steps.append(
                {
                    "payment_id": payment.payment_id,
                    "provider": payment.provider or "simulated",
                    "amount_fen": part.amount_fen,
                    "currency": amount.currency,
                    "amount_minor": amount.minor,
                    "key": f"withdrawal-{withdrawal_id}-{payment.payment_id}",
                    "state": PLANNED,
                    # for the customer's email: how and when the payment was made
                    "channel": payment.channel,
                    "paid_at": payment.succeeded_at or payment.created_at,
                }
            )
        now = clock.now_iso()
        for part, step in zip(parts, steps, strict=True):
            payments.account_refunds(
                work, part.payment, now, booked_fen=step["amount_fen"], booked_minor=step["amount_minor"]
            )
        also = [Withdrawal.plan.set(steps), Withdrawal.decided_by.set(staff_id)]
        move = WITHDRAWAL.move(
            current, "approve", now=now, source=current.status, queue_at=current.queue_at, also=also
        )
        work.update(current, *move)
        current.plan, current.decided_by = steps, staff_id
        work.result = current
        return work

    return uow.run(unit)


def _progress(withdrawal: Withdrawal, steps: list[dict]) -> Withdrawal:
    """Record the providers' answers so far (a conditional write: another approval racing is a 409)."""
    refunds = [_refund(s) for s in steps if s["state"] == REFUNDED]
    try:
        withdrawal.update(
            actions=[Withdrawal.plan.set(steps), Withdrawal.refunds.set(refunds)],
            condition=WITHDRAWAL.check(Withdrawal, WithdrawalStatus.REFUNDING),
        )
    except UpdateError:
        raise Conflict("The withdrawal is being approved by another request; look at it again.") from None
    return withdrawal


def _finish(withdrawal_id: str, steps: list[dict]) -> uow.Unit:
    """`refunded`, or `partly_refunded` with the refused parts taken off their payments' refunded
    figures and credited back to the wallet (one ledger entry), in one transaction."""
    work = uow.Unit()
    current = _get(withdrawal_id)
    work.result = current
    if current.status != WithdrawalStatus.REFUNDING:  # another request finished it meanwhile
        return work
    refused = [s for s in steps if s["state"] == REFUSED]
    returned = sum(int(s["amount_fen"]) for s in refused)
    to = WithdrawalStatus.PARTLY_REFUNDED if refused else WithdrawalStatus.REFUNDED
    also = [Withdrawal.returned_fen.set(returned)] if returned else []
    now = clock.now_iso()
    work.update(
        current, *WITHDRAWAL.move(current, "finish", now=now, source=current.status, to=to, also=also)
    )
    work.move(current.user_id, returned, "withdrawal_reversal", withdrawal_id)
    for step in refused:  # taken off its payment; a dashboard refund it hid is taken from the wallet now
        payment = Payment.get(step["payment_id"], consistent_read=True)
        payments.account_refunds(
            work, payment, now, booked_fen=-int(step["amount_fen"]), booked_minor=-int(step["amount_minor"])
        )
    if returned:
        current.returned_fen = returned
    work.notify(current.user_id, f"withdrawal_{to.value}", finished_email(current, steps))
    return work


# the providers' refusals in the customer's words (their codes: chalicelib/providers); others: REFUSED_WORDS
REFUSAL_WORDS = {
    "CAPTURE_FULLY_REFUNDED": "the payment was already refunded in full",
    "charge_already_refunded": "the payment was already refunded in full",
    "REFUND_AMOUNT_EXCEEDED": "less of the payment is left to refund than this part",
    "amount_too_large": "less of the payment is left to refund than this part",
    "REFUND_TIME_LIMIT_EXCEEDED": "the payment is too old to be refunded",
    "charge_disputed": "the payment is disputed with your bank",
    "REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK": "the payment is disputed with your bank",
    "PAYER_ACCOUNT_LOCKED_OR_CLOSED": "the account the payment came from is locked or closed",
}
REFUSED_WORDS = "the payment provider refused the refund"


def _shown(currency: str, minor: int) -> str:
    """An amount in a payment's currency for an email: `¥57.00` for CNY, else `USD 8.14`."""
    if currency == "CNY":
        return money.format_cny(minor)
    units = currency_rules.minor_units(currency)
    return f"{currency} {Decimal(minor).scaleb(-units):.{units}f}"


def _part_words(step: dict) -> dict:
    channel = channels().get(str(step.get("channel") or ""))
    return {
        "amount": money.format_cny(int(step["amount_fen"])),
        "charged": _shown(step["currency"], int(step["amount_minor"])),
        "method": channel.name if channel is not None else str(step.get("channel") or step["provider"]),
        "paid_on": str(step.get("paid_at") or "")[:10],
    }


def finished_email(withdrawal: Withdrawal, steps: list[dict]) -> dict:
    """The data of the `withdrawal_refunded` / `withdrawal_partly_refunded` email: what went back to
    which payment (in the currency it was paid in), what came back to the wallet and why."""
    done = [s for s in steps if s["state"] == REFUNDED]
    refused = [s for s in steps if s["state"] == REFUSED]
    return {
        "withdrawal_id": withdrawal.withdrawal_id,
        "amount": money.format_cny(int(withdrawal.amount_fen)),
        "refunded": money.format_cny(sum(int(s["amount_fen"]) for s in done)),
        "returned": money.format_cny(sum(int(s["amount_fen"]) for s in refused)),
        "refunds": [_part_words(s) for s in done],
        "returned_parts": [
            {**_part_words(s), "reason": REFUSAL_WORDS.get(str(s.get("refusal") or ""), REFUSED_WORDS)}
            for s in refused
        ],
    }


def reject(withdrawal_id: str, staff_id: str, reason: str) -> Withdrawal:
    def unit() -> uow.Unit:
        work = uow.Unit()
        current = _get(withdrawal_id)
        WITHDRAWAL.require("reject", current.status)
        now = clock.now_iso()
        also = [Withdrawal.decided_by.set(staff_id), Withdrawal.reject_reason.set(reason)]
        work.update(current, *WITHDRAWAL.move(current, "reject", now=now, source=current.status, also=also))
        work.move(current.user_id, int(current.amount_fen), "withdrawal_reversal", withdrawal_id)
        words = {"withdrawal_id": withdrawal_id, "amount": money.format_cny(int(current.amount_fen))}
        work.notify(current.user_id, "withdrawal_rejected", {**words, "reason": reason})
        current.decided_by, current.reject_reason = staff_id, reason
        work.result = current
        return work

    return uow.run(unit)
