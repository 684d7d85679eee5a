"""Payments collected by a provider (top-ups, orders and packages paid by card, Alipay, WeChat Pay, PayPal)
and the provider's events, applied exactly once.

Which provider collects a channel is configuration (chalicelib/providers). Creating a payment asks the
provider first (one HTTPS call, idempotent by our payment id) and then writes the payment; a write that
fails leaves only an unconfirmed provider payment nobody can complete.

Events (`apply_event`): every event that changes anything writes `event#<provider>:<event id>` in the
same DynamoDB transaction as its money, so a redelivered event changes nothing; statuses move through the
lifecycle table, so a late `failed` after `succeeded` changes nothing either; refunds are applied as the
difference between the provider's cumulative refunded amount and ours, so refund events in any order and
number take back each fen once. A refund or dispute never makes a balance negative: what the wallet does
not hold is recorded as owed and the payment waits on the staff attention list. A dispute's state is kept
on its payment (`disputes`, under the payment's version): its opening holds once, a win gives the hold
back once, a loss is final, whichever of its events comes first. Stripe's endpoint also settles the
simulated provider's payments (it speaks Stripe's format locally). An event about a payment
that has not succeeded yet (a refund overtaking its success) answers 409, which makes the provider
deliver it again later. A PayPal order is captured (`capture`) from the storefront's capture route or the
approval webhook, whichever comes first: the provider captures once, and the capture is applied as its
success event. PayPal reports each refund alone: those are applied once per refund id and added up.
Cost: one consistent read of the payment (a GSI query when the event names only
the provider's reference), the wallet account when money moves, one transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from pynamodb.transactions import TransactWrite

from chalicelib import clock, currency, ids, lifecycle, metrics, providers, uow, wallet
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.lifecycle import PAYMENT, PaymentStatus
from chalicelib.logs import get_logger
from chalicelib.models.commerce import Order, Payment, RequestRecord
from chalicelib.models.packages import Package
from chalicelib.providers import Amount, Event, simulated
from chalicelib.providers.simulated import sign, verify_signature
from chalicelib.rules.charges import Channel, channels

__all__ = ["sign", "verify_signature"]  # the deprecated X-Signature scheme's signing (its tests)

log = get_logger("payments")

ATTENTION_KEY = "payments"  # the one partition of the attention index: rare by nature


def new_payment(
    user_id: str,
    purpose: str,
    channel: Channel,
    amount_fen: int,
    fee_fen: int,
    order_id: str | None = None,
    package_id: str | None = None,
    fx: dict | None = None,
) -> Payment:
    """A payment not stored yet, already created at its provider (what the storefront completes).
    `fx`: the rate to charge at when the request asked for no currency (a package's snapshot)."""
    payment = Payment(
        ids.new_id("pay"),
        user_id=user_id,
        purpose=purpose,
        order_id=order_id,
        package_id=package_id,
        channel=channel.channel,
        amount_fen=amount_fen,
        fee_fen=fee_fen,
        charge_fen=amount_fen + fee_fen,
        created_at=clock.now_iso(),
        fx=currency.snapshot() or fx,
    )
    provider = providers.for_channel(channel.channel)
    asked = providers.charge_amount(
        provider, channel.channel, amount_fen + fee_fen, currency.stored(payment.fx)
    )
    checkout = provider.create(payment, asked)
    payment.provider, payment.provider_ref = provider.name, checkout.ref
    payment.client_secret, payment.checkout_url = checkout.client_secret, checkout.checkout_url
    payment.currency, payment.amount_minor = asked.currency, asked.minor
    return PAYMENT.start(payment, PaymentStatus.REQUIRES_ACTION, now=payment.created_at)


def create_top_up(user_id: str, amount_fen: int, channel: Channel) -> Payment:
    payment = new_payment(user_id, "top_up", channel, amount_fen, channel.fee_fen(amount_fen))
    payment.save(condition=Payment.payment_id.does_not_exist())
    log.info(
        "top-up created", extra={"payment_id": payment.payment_id, "charge_fen": int(payment.charge_fen)}
    )
    return payment


def create_package_payment(user_id: str, package: Package, channel: Channel) -> Payment:
    """A provider payment for a package awaiting payment: the package's total plus the channel's fee.
    While one waits for the customer, asking again answers it (one GSI query of the customer's payments)."""
    lifecycle.PACKAGE.require("pay", package.status)
    waiting = [
        p
        for p in Payment.by_user.query(user_id, scan_index_forward=False)
        if p.package_id == package.package_id
        and p.status == PaymentStatus.REQUIRES_ACTION
        and p.channel == channel.channel
        and int(p.amount_fen) == int(package.total_fen)
    ]
    if waiting:
        return _read(waiting[0].payment_id)
    total = int(package.total_fen)
    payment = new_payment(
        user_id,
        "package",
        channel,
        total,
        channel.fee_fen(total),
        package_id=package.package_id,
        fx=currency.stored(package.fx),
    )
    payment.save(condition=Payment.payment_id.does_not_exist())
    log.info("package payment created", extra={"payment_id": payment.payment_id})
    return payment


def external_channel(name: str) -> Channel | None:
    """The external channel of `GET /payment-channels` called `name` (None: unknown, or the wallet)."""
    channel = channels().get(name)
    return channel if channel is not None and channel.external else None


def checkout_package(user_id: str, package_id: str, channel: Channel) -> tuple[Package, Payment]:
    """The caller's package and the provider payment that pays it (`create_package_payment`); the
    package is read in a batch, so the caller's currency rides along."""
    from chalicelib import packages

    package = packages.own_package(user_id, package_id, batch=True)
    return package, create_package_payment(user_id, package, channel)


def get_own(user_id: str, payment_id: str) -> Payment:
    try:
        payment = Payment.get(payment_id)
    except Payment.DoesNotExist:
        raise NotFound("No such payment.") from None
    if payment.user_id != user_id:
        raise NotFound("No such payment.")
    return payment


def asked(payment: Payment) -> Amount:
    """What the provider was asked to collect (payments older than the port: CNY charge_fen)."""
    if payment.currency and payment.amount_minor is not None:
        return Amount(payment.currency, int(payment.amount_minor))
    return Amount("CNY", int(payment.charge_fen))


def needing_attention(limit: int, cursor: dict | None) -> tuple[list[Payment], dict | None]:
    """Payments staff must look at, oldest first (a sparse GSI: only those are in it)."""
    result = Payment.attention_queue.query(ATTENTION_KEY, limit=limit, last_evaluated_key=cursor)
    return list(result), result.last_evaluated_key


# --- the provider's webhook ----------------------------------------------------------------


def handle_webhook(
    signature: str | None,
    raw_body: bytes,
    settle_order: Callable[[uow.Unit, Payment], None],
    after_package: Callable[[Payment], None] | None = None,
) -> dict:
    """Deprecated: the simulated provider's own X-Signature webhook (it speaks Stripe's format now, at
    Stripe's endpoint): its errors are 400s, as its senders expect."""
    event = simulated.parse_legacy_webhook(signature, raw_body)
    outcome = apply_event("simulated", event, settle_order, strict=True)
    _after(event, outcome, after_package)
    return outcome


def handle_provider_webhook(
    provider_name: str,
    headers: dict[str, str],
    raw_body: bytes,
    settle_order: Callable[[uow.Unit, Payment], None],
    after_package: Callable[[Payment], None] | None = None,
) -> dict:
    """A real provider's webhook: verified with its scheme, then applied once. PayPal's
    CHECKOUT.ORDER.APPROVED captures the order (unless the storefront's capture came first)."""
    event = providers.get(provider_name).parse_webhook(headers, raw_body)
    if event.kind == "to_capture":
        payment = _find(provider_name, event)
        if payment is None:
            log.warning("approval of no payment of ours", extra={"event_id": event.event_id})
            return {"received": True, "ignored": event.type}
        return capture(payment, settle_order, after_package)
    outcome = apply_event(provider_name, event, settle_order)
    _after(event, outcome, after_package)
    return outcome


def capture(
    payment: Payment,
    settle_order: Callable[[uow.Unit, Payment], None],
    after_package: Callable[[Payment], None] | None = None,
) -> dict:
    """Capture an approved provider order (PayPal) and apply its capture once. A payment that no longer
    waits is not captured again (its capture is known); the provider's PayPal-Request-Id makes a retried
    capture (a timeout, the webhook and the storefront racing) the same capture at PayPal."""
    if payment.status != PaymentStatus.REQUIRES_ACTION:
        return {"received": True, "duplicate": True, "payment_id": payment.payment_id}
    provider = providers.get(payment.provider or "simulated")
    if not hasattr(provider, "capture"):
        raise Conflict("This payment is completed by its provider; there is nothing to capture.")
    event = provider.capture(payment)
    if event.kind == "ignored":  # pending at PayPal: PAYMENT.CAPTURE.COMPLETED credits it later
        return {"received": True, "ignored": event.type}
    outcome = apply_event(provider.name, event, settle_order)
    _after(event, outcome, after_package)
    return outcome


def _after(event: Event, outcome: dict, after_package: Callable[[Payment], None] | None) -> None:
    """A collected package payment pays its package from the wallet, in a second transaction: on every
    delivery of the event, so a crash between the two is mended by the provider's redelivery (paying
    is refused, harmlessly, once the package is paid or the money spent)."""
    if after_package is None or event.kind != "collected" or not outcome.get("payment_id"):
        return
    payment = _read(outcome["payment_id"])
    if payment.purpose == "package" and payment.package_id and payment.status == PaymentStatus.SUCCEEDED:
        after_package(payment)


def _read(payment_id: str) -> Payment:
    return Payment.get(payment_id, consistent_read=True)


def _speakers(provider_name: str) -> tuple[str, ...]:
    """The providers whose payments a provider's endpoint settles: its own, and the simulated one's at
    the endpoint whose format it speaks (Stripe's)."""
    return (provider_name, "simulated") if provider_name == simulated.SPEAKS else (provider_name,)


def _find(provider_name: str, event: Event) -> Payment | None:
    if event.payment_id:
        try:
            payment = _read(event.payment_id)
        except Payment.DoesNotExist:
            return None
        # our metadata on another provider's object, or on another of its objects, is not ours
        if (payment.provider or "simulated") not in _speakers(provider_name) or (
            event.ref and payment.provider_ref and event.ref != payment.provider_ref
        ):
            return None
        return payment
    if event.ref:
        found = [
            p
            for p in Payment.by_ref.query(event.ref)
            if (p.provider or "simulated") in _speakers(provider_name)
        ]
        return _read(found[0].payment_id) if found else None
    return None


def _event_record(provider_name: str, event_id: str, now: str) -> RequestRecord:
    # the simulated provider keeps the key its events always had
    prefix = "payment" if provider_name == "simulated" else provider_name
    return RequestRecord(f"event#{prefix}:{event_id}", request_hash="", state="done", created_at=now)


def _seen(record: RequestRecord) -> bool:
    try:
        RequestRecord.get(record.key, consistent_read=True)
        return True
    except RequestRecord.DoesNotExist:
        return False


def _flag(payment: Payment, reason: str, now: str) -> list:
    payment.attention = reason
    return [
        Payment.attention.set(reason),
        Payment.attention_key.set(ATTENTION_KEY),
        Payment.attention_at.set(now),
    ]


def apply_event(
    provider_name: str,
    event: Event,
    settle_order: Callable[[uow.Unit, Payment], None],
    *,
    strict: bool = False,
) -> dict:
    """Apply a verified event once. `strict` (the simulated provider): an unknown payment or a wrong
    amount is a 400; for a real provider they are acknowledged (a retry would not change them) and a
    wrong amount is put on the staff attention list, never credited."""
    if event.kind == "ignored":
        return {"received": True, "ignored": event.type}

    def unit() -> uow.Unit:
        work = uow.Unit()
        payment = _find(provider_name, event)
        if payment is None:
            if strict:
                raise ValidationError("Unknown payment.")
            log.warning(
                "event for no payment of ours", extra={"event_id": event.event_id, "type": event.type}
            )
            work.result = {"received": True, "ignored": event.type}
            return work
        now = clock.now_iso()
        record = _event_record(provider_name, event.event_id, now)
        work.result = {"received": True, "duplicate": True, "payment_id": payment.payment_id}
        if _seen(record):
            return work
        applied = {
            "collected": _succeeded,
            "refused": _released,
            "called_off": _released,
            "refund": _refunded,
            "dispute": _disputed,
            "dispute_closed": _disputed,
            "dispute_reinstated": _disputed,
            "dispute_resolved": _dispute_resolved,
        }[event.kind](work, payment, event, now, settle_order, strict)
        if applied is not None:
            work.save(record, RequestRecord.key.does_not_exist())
            work.result = {**work.result, "duplicate": False, **applied}
        return work

    outcome = uow.run(unit)
    if event.kind == "collected":
        metrics.count("PaymentsSettled", 0 if outcome.get("duplicate", True) else 1)
    log.info("webhook handled", extra={"event_id": event.event_id, "kind": event.kind, **outcome})
    return outcome


def _succeeded(work, payment, event, now, settle_order, strict) -> dict | None:
    if not PAYMENT.allows("succeed", payment.status):  # succeeded already: a redelivery
        return None
    expected = asked(payment)
    if event.amount != expected:
        got = f"{event.amount.minor} {event.amount.currency}" if event.amount else "nothing"
        if strict:
            raise ValidationError(
                f"amount_fen {event.amount.minor if event.amount else None} does not match the payment's "
                f"charge_fen {int(payment.charge_fen)}."
            )
        log.error(
            "collected amount differs from what was asked",
            extra={"payment_id": payment.payment_id, "asked": expected.minor, "got": got},
        )
        work.update(payment, _flag(payment, "amount_mismatch", now))
        return {"flagged": "amount_mismatch"}
    fx = currency.stored(payment.fx)
    # the customer pays the quoted fee; the provider's actual fee is recorded, and what it is below the
    # quote goes back to the wallet (a higher one is ours to bear)
    actual = (
        providers.to_fen(event.fee, event.fee_base, int(payment.charge_fen))
        if event.fee is not None and event.fee_base is not None
        else None
    )
    also = [Payment.event_id.set(event.event_id)]
    if event.capture_id:
        also.append(Payment.capture_id.set(event.capture_id))
    if actual is not None:
        also.append(Payment.provider_fee_fen.set(actual))
    if payment.purpose == "top_up":
        work.move(payment.user_id, int(payment.amount_fen), "top_up", payment.payment_id, fx)
    elif payment.purpose == "package":  # the package's total; it is paid from the wallet just after
        work.move(payment.user_id, int(payment.amount_fen), "payment_received", payment.payment_id, fx)
    else:  # an order's total already includes its bank fee; all of it pays for it
        work.move(payment.user_id, int(payment.charge_fen), "payment_received", payment.payment_id, fx)
    if actual is not None and actual < int(payment.fee_fen):
        work.move(
            payment.user_id, int(payment.fee_fen) - actual, "bank_fee_adjustment", payment.payment_id, fx
        )
    move = PAYMENT.move(payment, "succeed", now=now, also=also)

    def mark_paid(tx: TransactWrite) -> None:
        tx.update(payment, actions=move.actions, condition=move.condition)

    work.write(mark_paid)
    if payment.purpose == "order" and payment.order_id:
        settle_order(work, payment)
    return {}


def _released(work, payment, event, now, settle_order, strict) -> dict | None:
    """A failed or cancelled attempt: the payment says so and its order can be paid afresh."""
    action = "fail" if event.kind == "refused" else "cancel"
    if not PAYMENT.allows(action, payment.status):  # late: it succeeded (or was cancelled) meanwhile
        return None
    work.update(payment, *PAYMENT.move(payment, action, now=now))
    if payment.purpose == "order" and payment.order_id:
        try:
            order = Order.get(payment.order_id, consistent_read=True)
        except Order.DoesNotExist:
            order = None
        if order is not None and order.payment_id == payment.payment_id:
            work.update(
                order,
                [Order.payment_id.remove()],
                Order.payment_id == payment.payment_id,
            )
    return {}


def _take_back(work: uow.Unit, payment: Payment, amount_fen: int, kind: str) -> tuple[int, int]:
    """Debit up to `amount_fen` from the wallet, never below zero: (debited, owed)."""
    account = wallet.account(payment.user_id)
    work.accounts[payment.user_id] = account  # its version guards the balance read here
    debit = min(amount_fen, max(0, int(account.balance_fen or 0)))
    work.move(payment.user_id, -debit, kind, payment.payment_id, currency.stored(payment.fx))
    return debit, amount_fen - debit


def _refunded(work, payment, event, now, settle_order, strict) -> dict | None:
    if payment.status != PaymentStatus.SUCCEEDED:
        raise Conflict("The payment has not succeeded here yet; deliver the event again later.")
    if event.amount is None or event.amount.currency != asked(payment).currency:
        return None
    total_minor = event.amount.minor
    if event.refund_id:  # a provider reporting each refund alone (PayPal): once per refund, added up
        once = _once("refund", payment, event.refund_id, now)
        if _seen(once):
            return None
        work.save(once, RequestRecord.key.does_not_exist())
        total_minor += int(payment.refunded_minor or 0)
    if total_minor <= int(payment.refunded_minor or 0):  # known already (ours, or a redelivery)
        return None
    total = Amount(event.amount.currency, total_minor)
    total_fen = min(int(payment.charge_fen), providers.to_fen(total, asked(payment), int(payment.charge_fen)))
    new_fen = max(0, total_fen - int(payment.refunded_fen or 0))
    debited, owed = _take_back(work, payment, new_fen, "provider_refund")
    actions = [Payment.refunded_minor.set(total_minor), Payment.refunded_fen.set(total_fen)]
    if owed:
        actions += [
            Payment.owed_fen.set(int(payment.owed_fen or 0) + owed),
            *_flag(payment, "refund_exceeds_balance", now),
        ]
    work.update(payment, actions)
    return {"debited_fen": debited, "owed_fen": owed}


# --- disputes: opened, then won or lost ----------------------------------------------------------

# what a closed dispute's status means for the money held: won gives it back (an inquiry closed without
# a chargeback, warning_closed, and one the network prevented, likewise); lost leaves the debit, final
CLOSED = {"won": "won", "warning_closed": "won", "prevented": "won", "lost": "lost"}
DECIDED = ("won", "lost")


def disputes_of(payment: Payment) -> dict[str, dict]:
    """The payment's disputes by dispute id (see Payment.disputes)."""
    raw = payment.disputes.as_dict() if payment.disputes is not None else {}
    return {str(k): dict(v) for k, v in raw.items()}


def _disputed(work, payment, event, now, settle_order, strict) -> dict | None:
    """A dispute event, in any order and number: the disputed amount is held from the wallet once when
    the dispute opens (created or funds_withdrawn); won (closed won, or funds_reinstated) gives back what
    was held and forgives what was owed; lost keeps the debit, final. A decision that arrives before the
    opening decides it at once (lost: the debit is taken then); after a decision nothing changes."""
    if payment.status != PaymentStatus.SUCCEEDED:
        raise Conflict("The payment has not succeeded here yet; deliver the event again later.")
    if event.amount is None or event.amount.currency != asked(payment).currency:
        return None
    outcome = None
    if event.kind == "dispute_closed":
        outcome = CLOSED.get(event.dispute_status or "")
        if outcome is None:
            log.warning("dispute closed with an unknown status", extra={"event_id": event.event_id})
            return None
    elif event.kind == "dispute_reinstated":
        outcome = "won"
    key = event.dispute_id or event.event_id
    disputes = disputes_of(payment)
    known = disputes.get(key)
    if known is not None and (known["status"] in DECIDED or outcome is None):
        return None  # decided already, or opened already (created and funds_withdrawn both open it)
    # a dispute the code before the disputes map held (its key record): opened already
    once = RequestRecord(f"dispute#{payment.provider}:{key}", request_hash="", state="done", created_at=now)
    if known is None and _seen(once):
        return None
    actions: list = []
    result = {"dispute_id": key}
    held_now = False
    if known is None:  # opening now (or a decision that overtook its opening)
        if outcome == "won":  # nothing was ever held: only the record
            known = {"amount_fen": 0, "held_fen": 0, "owed_fen": 0}
        else:
            disputed = min(
                int(payment.charge_fen),
                providers.to_fen(event.amount, asked(payment), int(payment.charge_fen)),
            )
            debited, owed = _take_back(work, payment, disputed, "dispute_hold")
            work.save(once, RequestRecord.key.does_not_exist())
            known = {"amount_fen": disputed, "held_fen": debited, "owed_fen": owed}
            held_now = True
            if event.dispute_id and outcome is None:  # what this hold took, for PayPal's resolution
                holds = _holds(payment)
                holds[event.dispute_id] = {"debited_fen": debited, "owed_fen": owed, "disputed_fen": disputed}
                actions.append(Payment.dispute_holds.set(holds))
            actions += [
                Payment.disputed_fen.set(int(payment.disputed_fen or 0) + disputed),
                Payment.owed_fen.set(int(payment.owed_fen or 0) + owed),
            ]
            result.update(debited_fen=debited, owed_fen=owed)
    elif outcome == "won":  # give back what was held, forgive what was owed
        held, owed = int(known["held_fen"]), int(known["owed_fen"])
        work.move(payment.user_id, held, "dispute_release", payment.payment_id, currency.stored(payment.fx))
        actions += [
            Payment.disputed_fen.set(max(0, int(payment.disputed_fen or 0) - int(known["amount_fen"]))),
            Payment.owed_fen.set(max(0, int(payment.owed_fen or 0) - owed)),
        ]
        result.update(released_fen=held)
    holds = _holds(payment)
    if outcome is not None and key in holds:  # decided here: nothing left for a PayPal resolution
        del holds[key]
        actions.append(Payment.dispute_holds.set(holds) if holds else Payment.dispute_holds.remove())
    status = outcome or event.dispute_status or "opened"  # PayPal's creation names no status
    disputes[key] = {**known, "status": status, "updated_at": now}
    actions.append(Payment.disputes.set(disputes))
    # staff see the dispute on their list: opened (disputed), then how it ended
    reason = "disputed" if outcome is None else f"dispute_{outcome}"
    if held_now or payment.attention is None:  # money held now: listed, whatever was listed before
        actions += _flag(payment, reason, now)
    elif payment.attention == "disputed":
        actions.append(Payment.attention.set(reason))
    work.update(payment, actions)
    return {**result, "dispute_status": status}


def _once(what: str, payment: Payment, key: str, now: str) -> RequestRecord:
    return RequestRecord(f"{what}#{payment.provider}:{key}", request_hash="", state="done", created_at=now)


def _holds(payment: Payment) -> dict:
    raw = currency.stored(payment.dispute_holds) or {}
    return {str(k): {n: int(v) for n, v in dict(h).items()} for k, h in raw.items()}


def _dispute_resolved(work, payment, event, now, settle_order, strict) -> dict | None:
    """A closed dispute: won (`released`), its hold returns to the wallet and what was owed for it is
    forgiven; lost (`final`), the hold stays taken. Either way, once per dispute."""
    if payment.status != PaymentStatus.SUCCEEDED:
        raise Conflict("The payment has not succeeded here yet; deliver the event again later.")
    once = _once("dispute_resolved", payment, event.dispute_id or event.event_id, now)
    if _seen(once):
        return None
    holds = _holds(payment)
    hold = holds.get(event.dispute_id or "")
    if hold is None:  # its creation has not arrived yet: deliver again later
        raise Conflict("The dispute is not known here yet; deliver the event again later.")
    work.save(once, RequestRecord.key.does_not_exist())
    del holds[event.dispute_id]
    actions = [Payment.dispute_holds.set(holds) if holds else Payment.dispute_holds.remove()]
    disputes = disputes_of(payment)
    if event.dispute_id in disputes:  # staff see how it ended (GET /staff/payments)
        won = "won" if event.outcome == "released" else "lost"
        disputes[event.dispute_id] = {**disputes[event.dispute_id], "status": won, "updated_at": now}
        actions.append(Payment.disputes.set(disputes))
    released = 0
    if event.outcome == "released":
        released = hold["debited_fen"]
        if released:
            fx = currency.stored(payment.fx)
            work.move(payment.user_id, released, "dispute_release", payment.payment_id, fx)
        actions += [
            Payment.disputed_fen.set(max(0, int(payment.disputed_fen or 0) - hold["disputed_fen"])),
            Payment.owed_fen.set(max(0, int(payment.owed_fen or 0) - hold["owed_fen"])),
        ]
    if (
        not holds
        and payment.attention == "disputed"
        and not (event.outcome != "released" and int(payment.owed_fen or 0))
    ):  # nothing left for staff to follow up
        actions += [Payment.attention.remove(), Payment.attention_key.remove(), Payment.attention_at.remove()]
    work.update(payment, actions)
    return {"released_fen": released}
