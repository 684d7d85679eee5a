"""Payments collected by a provider (top-ups, orders and packages paid by card, Alipay, WeChat Pay, PayPal)
and the provider's events, applied exactly once.

Which provider collects a channel is configuration (chalicelib/providers). Creating a payment asks the
provider first (one HTTPS call, idempotent by our payment id) and then writes the payment; a write that
fails leaves only an unconfirmed provider payment nobody can complete. Within a request holding an
Idempotency-Key the payment's id is derived from the key (`idempotency.derived_id`), so every attempt of
the request asks the provider under the same provider key (one provider payment, however many
duplicates), and the payment is written in one transaction with the key's record: a duplicate writes
nothing and answers the payment that was committed.

Events (`apply_event`): every event that changes anything writes `event#<provider>:<event id>` in the
same DynamoDB transaction as its money, so a redelivered event changes nothing; statuses move through the
lifecycle table, so a late `failed` after `succeeded` changes nothing either; refunds are accounted
against the provider's cumulative refunded total kept on the payment (`account_refunds`: what it refunded
outside our withdrawals is its total less what withdrawals booked, never less than accounted before), so
refund events in any order and number, and withdrawal parts booked and taken off between them, take back
each fen once. A refund or dispute never makes a balance negative: what the wallet does
not hold is recorded as owed and the payment waits on the staff attention list. A dispute is a word of
the lifecycle table (DISPUTE: open, then won or lost) kept on its payment (`disputes`, written under the
payment's version and the dispute's stored state): its opening holds once, a win gives the hold back
once, a loss is final, whichever of its events comes first, for Stripe and PayPal alike (a decision
before its opening is applied at once). Stripe's endpoint also settles the
simulated provider's payments (it speaks Stripe's format locally). An event about a payment
that has not succeeded yet (a refund overtaking its success) answers 409, which makes the provider
deliver it again later. A PayPal order is captured (`capture`) from the storefront's capture route or the
approval webhook, whichever comes first: the provider captures once, and the capture is applied as its
success event. PayPal reports each refund alone: those are applied once per refund id and added up.
Cost: one consistent read of the payment (a GSI query when the event names only
the provider's reference), the wallet account when money moves, one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pynamodb.exceptions import PutError
from pynamodb.transactions import TransactWrite

from chalicelib import clock, currency, db, idempotency, ids, lifecycle, metrics, providers, uow, wallet
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.lifecycle import DISPUTE, PAYMENT, DisputeStatus, PaymentStatus
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
    payment_id: str | None = None,
) -> Payment:
    """A payment not stored yet, already created at its provider (what the storefront completes).
    `fx`: the rate to charge at when the request asked for no currency (a package's snapshot).
    `payment_id`: its id when the caller derives it; otherwise the running keyed request's, or a new one."""
    payment = Payment(
        payment_id or idempotency.derived_id("pay"),
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


def _store(payment: Payment, answer: Callable[[Payment], Any]) -> Any:
    """Write a payment just created at its provider; answers `answer(payment)`. Within a request holding
    an Idempotency-Key, in one transaction with the key's record (chalicelib/uow.py): a duplicate
    request's transaction then writes nothing, and it answers this one's payment. A payment of the same
    (derived) id stored meanwhile by another request is the answer instead: the same provider payment."""
    if idempotency.current() is None:
        try:
            payment.save(condition=Payment.payment_id.does_not_exist())
            return answer(payment)
        except PutError as exc:
            if not db.lost_race(exc):
                raise
        return answer(_read(payment.payment_id))
    first = [payment]

    def unit() -> uow.Unit:
        if not first:  # lost to another request storing the same payment: nothing to write but the answer
            return uow.Unit(result=answer(_read(payment.payment_id)))
        work = uow.Unit(result=answer(first.pop()))
        work.save(payment, Payment.payment_id.does_not_exist())
        return work

    return uow.run(unit)


def create_top_up(user_id: str, amount_fen: int, channel: Channel) -> Payment:
    payment = new_payment(user_id, "top_up", channel, amount_fen, channel.fee_fen(amount_fen))
    stored = _store(payment, lambda p: p)
    log.info("top-up created", extra={"payment_id": stored.payment_id, "charge_fen": int(stored.charge_fen)})
    return stored


def _package_payment_id(package: Package, channel: Channel) -> str:
    """The id of the payment paying `package` through `channel` at its total: the same for every ask
    while the package waits, so asking again finds it by key (no query of the customer's payments), and
    the provider is asked under the same idempotency key by every duplicate, keyed or not."""
    name = f"package#{package.package_id}#{channel.channel}#{int(package.total_fen)}"
    return ids.from_digest("pay", hashlib.sha256(name.encode()).digest())


def _waiting(user_id: str, package: Package, channel: Channel) -> Payment | None:
    """A payment of the package on `channel` still waiting for the customer, found among the
    customer's payments (one GSI query): only after the package's own payment failed or was called off."""
    for p in Payment.by_user.query(user_id, scan_index_forward=False):
        if (
            p.package_id == package.package_id
            and p.status == PaymentStatus.REQUIRES_ACTION
            and p.channel == channel.channel
            and int(p.amount_fen) == int(package.total_fen)
        ):
            return _read(p.payment_id)
    return None


PackageAnswer = Callable[[Package, list | None, Payment], Any]


def checkout_package(
    user_id: str,
    package_id: str,
    channel: Channel,
    answer: PackageAnswer | None = None,
    *,
    with_items: bool = False,
) -> Any:
    """The provider payment for the caller's package awaiting payment: its total plus the channel's fee;
    answers `answer(package, items, payment)` (default: the payment), what the route answers and records
    with the payment's commit. While one waits for the customer, asking again answers it.

    Reads: the package in a batch (the caller's currency rides along), then its payment by its derived
    id in one batch with the package's items when the answer shows them (`with_items`); then one write
    (with the Idempotency-Key's record, a transaction). Three requests."""
    from chalicelib import packages
    from chalicelib.models.commerce import Item

    respond = answer or (lambda package, items, payment: payment)
    package = packages.own_package(user_id, package_id, batch=True)
    lifecycle.PACKAGE.require("pay", package.status)
    own_key = (Payment, (_package_payment_id(package, channel),))
    item_keys = [(Item, (i,)) for i in package.item_ids] if with_items else []
    if len(item_keys) < db.MAX_BATCH_KEYS:
        found = db.batch_read([own_key, *item_keys])
        items = [found[k] for k in item_keys if k in found] if with_items else None
    else:
        found = db.batch_read([own_key])
        items = packages.package_items(package)
    existing = found.get(own_key)
    if existing is not None and existing.status == PaymentStatus.REQUIRES_ACTION:
        return respond(package, items, existing)
    payment_id = own_key[1][0]
    if existing is not None:  # its own payment failed or was called off: another one, unless one waits
        waiting = _waiting(user_id, package, channel)
        if waiting is not None:
            return respond(package, items, waiting)
        payment_id = None
    total = int(package.total_fen)
    payment = new_payment(
        user_id,
        "package",
        channel,
        total,
        channel.fee_fen(total),
        package_id=package.package_id,
        fx=currency.stored(package.fx),
        payment_id=payment_id,
    )
    result = _store(payment, lambda stored: respond(package, items, stored))
    log.info("package payment created", extra={"payment_id": payment.payment_id})
    return result


def external_channel(name: str) -> Channel | None:
    """The external channel of `GET /payment-channels` called `name` (None: unknown, or the wallet)."""
    channel = channels().get(name)
    return channel if channel is not None and channel.external else None


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
            "dispute_decided": _disputed,
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
    """Debit up to `amount_fen` from the wallet, never below zero: (debited, owed). The balance counts
    the unit's own earlier legs (a withdrawal's reversal credited in the same transaction)."""
    account = work.accounts.get(payment.user_id) or wallet.account(payment.user_id)
    work.accounts[payment.user_id] = account  # its version guards the balance read here
    moving = sum(leg.amount_fen for leg in work.legs.get(payment.user_id, []))
    debit = min(amount_fen, max(0, int(account.balance_fen or 0) + moving))
    work.move(payment.user_id, -debit, kind, payment.payment_id, currency.stored(payment.fx))
    return debit, amount_fen - debit


def minor_of(payment: Payment, amount_fen: int) -> int:
    """`amount_fen` in the payment's own currency, at the rate it was paid at (what it charged per fen)."""
    charged = asked(payment)
    if charged.currency == "CNY":
        return int(amount_fen)
    exact = Decimal(amount_fen) * Decimal(charged.minor) / Decimal(int(payment.charge_fen))
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def withdrawal_minor(payment: Payment) -> int:
    """Of `refunded_minor`, what withdrawals booked (a payment booked before the field: its fen converted)."""
    if payment.withdrawal_minor is not None:
        return int(payment.withdrawal_minor)
    return minor_of(payment, int(payment.withdrawal_fen or 0))


def account_refunds(
    work: uow.Unit,
    payment: Payment,
    now: str,
    *,
    provider_total: int | None = None,
    one_refund: int | None = None,
    booked_fen: int = 0,
    booked_minor: int = 0,
) -> dict | None:
    """The payment's refund figures after a provider's report or a withdrawal part booked (positive
    `booked_*`) or taken off again (negative), in `work`; what the provider refunded outside our
    withdrawals is taken from the wallet exactly once, whatever the order of events. None: nothing changes.

    `refunded_*` = what withdrawals booked (`withdrawal_*`) + what the provider refunded outside them
    (the external part). A booked part counts as refunded at the provider before it is asked (so the
    provider's report about it finds it known); the external part is then at least the provider's total
    less what withdrawals booked, never less than accounted before. That bound never exceeds the truth
    (each of our refunds at the provider is booked), and it reaches it once every part has its answer:
    a part refused for good is taken off, which lowers the bound's subtrahend, so a refund made on the
    provider's dashboard while that part was booked is taken then (or at the next report) and not lost.
    `provider_total`: the provider's cumulative refunded amount (Stripe's charge `amount_refunded`);
    `one_refund`: one refund outside our withdrawals, reported alone and applied once by the caller
    (PayPal's, known by the refund's custom_id)."""
    charged = asked(payment)
    charge_fen = int(payment.charge_fen)
    w_minor, w_fen = withdrawal_minor(payment), int(payment.withdrawal_fen or 0)
    outside_minor = max(0, int(payment.refunded_minor or 0) - w_minor)
    outside_fen = max(0, int(payment.refunded_fen or 0) - w_fen)
    seen = int(payment.provider_refunded_minor or 0)
    total = max(seen, provider_total or 0)
    new_w_minor, new_w_fen = w_minor + booked_minor, w_fen + booked_fen
    target = max(outside_minor, total - new_w_minor)
    if one_refund:
        target = max(target, outside_minor + one_refund)
    room = max(0, charge_fen - new_w_fen)
    worth = providers.to_fen(Amount(charged.currency, target), charged, charge_fen)
    target_fen = max(outside_fen, min(room, worth))
    new_fen = target_fen - outside_fen
    if not (booked_minor or booked_fen) and target == outside_minor and total == seen and not new_fen:
        return None  # known already: ours, or a report the provider sent again
    actions = [
        Payment.refunded_minor.set(new_w_minor + target),
        Payment.refunded_fen.set(new_w_fen + target_fen),
    ]
    if booked_minor or booked_fen or (payment.withdrawal_minor is None and w_fen):
        actions += [Payment.withdrawal_minor.set(new_w_minor), Payment.withdrawal_fen.set(new_w_fen)]
    if total != seen:
        actions.append(Payment.provider_refunded_minor.set(total))
    debited, owed = _take_back(work, payment, new_fen, "provider_refund") if new_fen else (0, 0)
    if owed:
        actions += [
            Payment.owed_fen.set(int(payment.owed_fen or 0) + owed),
            *_flag(payment, "refund_exceeds_balance", now),
        ]
    work.update(payment, actions)
    payment.refunded_minor, payment.refunded_fen = new_w_minor + target, new_w_fen + target_fen
    payment.withdrawal_minor, payment.withdrawal_fen = new_w_minor, new_w_fen
    payment.provider_refunded_minor = total if total != seen else payment.provider_refunded_minor
    return {"debited_fen": debited, "owed_fen": owed}


def _refunded(work, payment, event, now, settle_order, strict) -> dict | None:
    """A refund the provider reports: Stripe's cumulative total, or PayPal's one refund (once per id)."""
    if payment.status != PaymentStatus.SUCCEEDED:
        raise Conflict("The payment has not succeeded here yet; deliver the event again later.")
    if event.amount is None or event.amount.currency != asked(payment).currency:
        return None
    if event.refund_id:  # a provider reporting each refund alone (PayPal): once per refund, added up
        once = _once("refund", payment, event.refund_id, now)
        if _seen(once):
            return None
        work.save(once, RequestRecord.key.does_not_exist())
        return account_refunds(work, payment, now, one_refund=event.amount.minor) or {
            "debited_fen": 0,
            "owed_fen": 0,
        }
    return account_refunds(work, payment, now, provider_total=event.amount.minor)


# --- disputes: opened, then won or lost (lifecycle.DISPUTE) ----------------------------------------------


def disputes_of(payment: Payment) -> dict[str, dict]:
    """The payment's disputes by dispute id (see Payment.disputes), each with its `state` in the lifecycle
    table (no stored dispute predates it: disputes were never collected before the table had them)."""
    raw = payment.disputes.as_dict() if payment.disputes is not None else {}
    return {str(k): dict(v) for k, v in raw.items()}


def _disputed(work, payment, event, now, settle_order, strict) -> dict | None:
    """A dispute event, both providers alike, in any order and number, each dispute's money once: its
    opening (Stripe's created or funds_withdrawn, PayPal's CREATED) holds the disputed amount from the
    wallet (never below zero: the rest is owed); a win (Stripe's closed won / warning_closed / prevented
    or funds_reinstated, PayPal's RESOLVED in the seller's favour) gives back what was held and forgives
    what was owed; a loss keeps the debit, final. A decision that arrives before its opening is applied
    at once (the dispute is created decided; lost: the debit is taken then), so nothing waits on the
    provider's retries; an opening after a decision, or a second one, changes nothing. Each move is the
    table's (DISPUTE), written on the payment under its version and the dispute's stored state."""
    if payment.status != PaymentStatus.SUCCEEDED:
        raise Conflict("The payment has not succeeded here yet; deliver the event again later.")
    if event.amount is None or event.amount.currency != asked(payment).currency:
        return None
    decision = DisputeStatus(event.outcome) if event.outcome else None
    key = event.dispute_id or event.event_id
    disputes = disputes_of(payment)
    known = disputes.get(key)
    fx = currency.stored(payment.fx)
    result: dict = {"dispute_id": key}
    held_now = False
    if known is None:  # opening now, or a decision that overtook its opening
        status = decision.value if decision else event.dispute_status or "opened"  # the provider's
        fields = {"status": status, "amount_fen": 0, "held_fen": 0, "owed_fen": 0}
        if decision != DisputeStatus.WON:  # held (lost: taken for good) now; a win holds nothing ever
            disputed = min(
                int(payment.charge_fen),
                providers.to_fen(event.amount, asked(payment), int(payment.charge_fen)),
            )
            debited, owed = _take_back(work, payment, disputed, "dispute_hold")
            fields.update(amount_fen=disputed, held_fen=debited, owed_fen=owed)
            held_now = True
            result.update(debited_fen=debited, owed_fen=owed)
        move = DISPUTE.start_entry(
            Payment.disputes, disputes, key, decision or DisputeStatus.OPEN, now=now, **fields
        )
        actions = list(move.actions)
        if held_now:
            actions += [
                Payment.disputed_fen.set(int(payment.disputed_fen or 0) + fields["amount_fen"]),
                Payment.owed_fen.set(int(payment.owed_fen or 0) + fields["owed_fen"]),
            ]
    else:
        action = {DisputeStatus.WON: "win", DisputeStatus.LOST: "lose"}.get(decision)
        if action is None or not DISPUTE.allows(action, known["state"]):
            return None  # opened already (created and funds_withdrawn both open it), or decided already
        move = DISPUTE.move_entry(Payment.disputes, disputes, key, action, now=now, status=decision.value)
        actions = list(move.actions)
        if decision == DisputeStatus.WON:  # give back what was held, forgive what was owed
            held, owed = int(known["held_fen"]), int(known["owed_fen"])
            work.move(payment.user_id, held, "dispute_release", payment.payment_id, fx)
            actions += [
                Payment.disputed_fen.set(max(0, int(payment.disputed_fen or 0) - int(known["amount_fen"]))),
                Payment.owed_fen.set(max(0, int(payment.owed_fen or 0) - owed)),
            ]
            result.update(released_fen=held)
    # staff see the dispute on their list: disputed while any of the payment's disputes is open, then how
    # the last one ended; a reason of another kind (an amount mismatch...) stays unless money is held now
    still_open = any(d["state"] == DisputeStatus.OPEN for d in disputes.values())
    reason = "disputed" if still_open else f"dispute_{disputes[key]['state']}"
    if held_now or payment.attention is None:
        actions += _flag(payment, reason, now)
    elif payment.attention.startswith("dispute") and payment.attention != reason:
        actions.append(Payment.attention.set(reason))
    work.update(payment, actions, move.condition)
    payment.disputes = disputes
    return {**result, "dispute_status": disputes[key]["status"]}


def _once(what: str, payment: Payment, key: str, now: str) -> RequestRecord:
    return RequestRecord(f"{what}#{payment.provider}:{key}", request_hash="", state="done", created_at=now)
