"""The whole lifecycle as a Hypothesis state machine over HTTP, with the design's invariants after every step.

Customers (fresh ones per example) top up, order on the balance and on external channels (settled by the
provider's signed webhook), pay, cancel; top up through Stripe and through PayPal, whose events (captures,
refunds and reversals, disputes opened and decided) arrive twice, late and out of order; staff approve,
reject, purchase at a higher or lower price, record the merchant's shipment; parcels are scanned in (known
numbers, unknown numbers, forwarding declarations, including a declaration of another customer's number) and
exceptional ones assigned; items are inspected (pass / issue / not_transportable; electronics with an
arrival photo), issues accepted and electronics confirmed (or taken as accepted by the sweep at their
feedback deadline), after-sales cases opened and resolved every way (exchanges too), storage extended;
packages are quoted, created, paid, cancelled, packed heavier or lighter, topped up, shipped and confirmed;
withdrawals are asked, rejected or approved (a provider may refuse a part for good); time jumps forward and
the scheduled jobs run as app handlers. A money call may meet a fault in its transaction (tests/faults.py):
an ambiguous commit, the function killed right after the commit, or a commit that never applied; the client
retries with the same Idempotency-Key, and the retry must answer what was committed while the books below
prove the money moved once.

After every step the named checks in INVARIANTS read the tables by key (GetItem, and the Query of a
wallet partition, straight from moto's in-process store; no Scan: a Scan through PynamoDB fails the test)
and compare them with the test's own book of what each successful call should have moved. Every response
must be < 500. To add a check, write `check_<rule>(world: World) -> None` that asserts, and list it in
INVARIANTS.

Knobs (environment): LIFECYCLE_EXAMPLES / LIFECYCLE_STEPS scale the run (default 12 x 100);
LIFECYCLE_ONLY=<check,...> runs only those checks (to shrink one failure at a time); LIFECYCLE_COLLECT=1
records every violated check instead of failing, skips shrinking and prints the routes the run exercised
(to survey a branch). The run prints its steps, API calls and time.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import TransactWriteError

from chalicelib import clock, config, idempotency, ids, payments
from chalicelib.items import plain
from chalicelib.models.commerce import Item, LedgerEntry, Order, WalletAccount
from chalicelib.models.jobs import JobState
from chalicelib.models.packages import Package
from chalicelib.models.photos import PhotoRequest
from chalicelib.models.warehouse import Parcel
from chalicelib.models.withdrawals import Withdrawal
from infra.local.job import scheduled_event
from tests import contract, faults
from tests.integration.conftest import REVIEWER, WAREHOUSE, attach_photo
from tests.integration.test_currencies import fresh_rates
from tests.paypal_fake import FakePayPal
from tests.stripe_fake import FakeStripe

# a refund refused for good: Stripe's error object (docs.stripe.com/api/errors, invalid_request_error) and
# PayPal's error schema with Payments v2's CAPTURE_FULLY_REFUNDED (tests/fixtures/payments/SOURCES.md)
STRIPE_REFUSED = (
    '{"error": {"type": "invalid_request_error", "code": "charge_already_refunded", "message": "no"}}'
)
PAYPAL_REFUSED = json.dumps(
    {"name": "UNPROCESSABLE_ENTITY", "details": [{"issue": "CAPTURE_FULLY_REFUNDED"}]}
)


def stripe_refund(amount: int, code: str) -> str:
    from tests.stripe_fake import fixture

    refund = fixture("refund")
    refund.update(id="re_" + ids.new_id("x")[-24:], amount=amount, currency=code.lower(), status="succeeded")
    return json.dumps(refund)


pytestmark = pytest.mark.usefixtures("shop", "no_scans", "one_dynamodb_connection", "one_deadline_shard")

EXAMPLES = int(os.environ.get("LIFECYCLE_EXAMPLES", "12"))
STEPS = int(os.environ.get("LIFECYCLE_STEPS", "100"))
T0 = datetime(2027, 1, 4, 2, 0, tzinfo=UTC)  # each example starts EPOCH_GAP days after the previous one
EPOCH_GAP = timedelta(days=1500)
CUSTOMERS = 3

# --- the lifecycle's vocabulary as the API documents it ---------------------------------------------------

STORED = ("in_warehouse", "not_transportable", "in_package")  # clock running or packed
CLOCK_RUNNING = ("in_warehouse", "not_transportable")
AWAITING_FEEDBACK = ("inspection_issue", "awaiting_confirmation")  # a feedback deadline runs instead
FINAL_ITEM = ("cancelled", "rejected", "returned", "abandoned", "destroyed", "shipped", "delivered")
OPEN_PACKAGE = ("pending_payment", "paid", "packed", "awaiting_difference", "rehearsed")
PAID_PACKAGE = ("paid", "packed", "shipped", "delivered", "awaiting_difference", "rehearsed")
# packed and waiting for the customer's answer until a deadline the storage sweep reads (issue 24)
WAITING_PACKAGE = ("awaiting_difference", "rehearsed")
FINAL_PACKAGE = ("cancelled", "delivered")
REHEARSAL_FEN = 1800  # the rehearsal service's default price, kept when a rehearsed parcel goes back
# ledger kinds by what they mean for the books (a new kind must be placed here)
LEDGER_KINDS = {
    "top_up": "topups",
    "payment_received": "provider",
    "order_payment": "paid",
    "price_difference_charge": "paid",
    "storage_extension": "paid",
    "package_payment": "paid",
    "package_difference_charge": "paid",
    "order_refund": "refunds",
    "price_difference_refund": "refunds",
    "after_sales_refund": "refunds",
    "package_refund": "refunds",
    "package_difference_refund": "refunds",
    "package_service_refund": "refunds",  # a paid service the packer could not do
    "item_refund": "refunds",  # a declined price difference, an unavailable item: the item's goods back
    "domestic_shipping_refund": "refunds",  # a shop's shipping, with its last item cancelled (issue 22)
    "domestic_shipping_charge": "paid",  # a shop's actual freight above what was paid (issue 22)
    "payment_channel_fee": "paid",  # kept by the provider from a payment for an order cancelled meanwhile
    "photo_request": "paid",  # paid extra photos of an item (issue 23)
    "photo_request_refund": "refunds",  # their fee back when the item left before they were taken
    # a real provider's refunds and disputes take money back (issue 25); a fee below the quote comes back
    "provider_refund": "paid",
    "dispute_hold": "paid",
    "dispute_release": "refunds",  # a dispute won: what its opening held comes back
    "bank_fee_adjustment": "topups",
    "withdrawal": "paid",
    "withdrawal_reversal": "refunds",
    "claim_compensation": "refunds",  # an approved insurance claim on a package (issue 22)
}

SKUS = [
    {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2},
    {"product_id": "prd_tee", "sku_id": "sku_tee_white_l", "quantity": 1},
    {"product_id": "prd_socks", "sku_id": "sku_socks", "quantity": 2},
    {"product_id": "prd_bank", "sku_id": "sku_bank", "quantity": 1},
]
ADDRESS = {
    "name": "Test Customer",
    "phone": "+1 415 555 0100",
    "country": "US",
    "state": "CA",
    "city": "San Francisco",
    "postal_code": "94105",
    "line1": "1 Market St",
}
PASS_CHECKS = {"color": "ok", "damage": "ok", "stains": "ok", "size": "ok", "model": "n/a", "version": "n/a"}
ISSUE_CHECKS = dict(PASS_CHECKS, damage="issue")

STATS = {"steps": 0, "examples": 0, "calls": 0, "read_s": 0.0, "sweep_s": 0.0}
FAULTS_HIT: Counter = Counter()  # fault kind -> money calls whose transaction met it
ROUTES_HIT: Counter = Counter()  # (method, route, status) -> calls, printed in LIFECYCLE_COLLECT mode


@pytest.fixture
def one_dynamodb_connection(stack, monkeypatch):
    """Transactions share one PynamoDB connection here. chalicelib.db.connection() builds a new one, with a
    new botocore session that reloads the service model, for every transaction (about 100 ms of CPU
    each); that cost is the app's, not the lifecycle's, and would otherwise dominate this test's time."""
    from chalicelib import db

    shared = db.connection()
    monkeypatch.setattr(db, "connection", lambda: shared)


@pytest.fixture
def one_deadline_shard(monkeypatch):
    """Storage deadlines and ship days in one index shard a day instead of eight and four. The jobs Query
    every shard of every day they catch up, and moto answers each Query by reading the whole table: with
    the real shard counts a month's jump costs over 800 Queries. Sharding is a scale concern; the
    lifecycle is the same."""
    from chalicelib import packages
    from chalicelib.jobs import auto_confirm
    from chalicelib.rules import storage as storage_rules

    monkeypatch.setattr(storage_rules, "DEADLINE_SHARDS", 1)
    monkeypatch.setattr(packages, "CONFIRM_DAY_SHARDS", 1)
    monkeypatch.setattr(auto_confirm, "CONFIRM_DAY_SHARDS", 1)


@pytest.fixture
def no_scans(monkeypatch):
    """Neither the app nor these checks may Scan: any scan through PynamoDB fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a Scan was issued (docs/data-model.md: no Scan)")

    monkeypatch.setattr(Connection, "scan", refuse)
    monkeypatch.setattr(TableConnection, "scan", refuse)


# --- the test's own model and book ----------------------------------------------------------------------


@dataclass
class Book:
    """What the calls that succeeded should have moved for one customer, by meaning."""

    topups: int = 0  # credited from provider top-ups
    provider: int = 0  # collected by the provider for orders on external channels
    paid: int = 0  # goods, domestic shipping, bank fees, price differences, storage, packages
    refunds: int = 0

    @property
    def balance(self) -> int:
        return self.topups + self.provider - self.paid + self.refunds


@dataclass
class Tracking:
    """A domestic tracking number: who may claim the parcel, and what the scan did with it."""

    number: str
    # user_ids of accepted forwarding declarations (one per customer; several customers may declare one
    # number: no "already declared" oracle, and the scan makes a parcel claimed by two exceptional)
    declarers: set[str] = field(default_factory=set)
    parcel_id: str | None = None
    claims_at_scan: frozenset[str] | None = None  # owners by purchase or declaration when first scanned


@dataclass
class Model:
    users: list[dict] = field(default_factory=list)  # {"name", "id"}
    books: dict[str, Book] = field(default_factory=dict)
    orders: dict[str, dict] = field(default_factory=dict)  # id -> {user, channel, total, paid, refunded, ...}
    items: dict[str, dict] = field(default_factory=dict)  # id -> {user, order_id, goods_fen, tracking}
    packages: dict[str, dict] = field(default_factory=dict)  # id -> {user, paid, refunded, due}
    cases: dict[str, dict] = field(default_factory=dict)  # id -> {user, item_id}
    claims: dict[str, dict] = field(default_factory=dict)  # id -> {user, package_id}
    trackings: dict[str, Tracking] = field(default_factory=dict)
    payment_ids: list[str] = field(default_factory=list)  # top-ups and external order payments
    # paid photo requests: id -> {user, item_id, fee, refund_booked}
    photo_requests: dict[str, dict] = field(default_factory=dict)
    # top-ups collected by Stripe (wechat_pay): {ref, payment, user, amount, succeeded, declined, refunded,
    # disputes: {dispute_id: {"status": open|won|lost, "hold"}}, last}
    stripe: list[dict] = field(default_factory=list)
    # top-ups collected by PayPal (USD at the rate in force): {order_id, payment, user, amount, succeeded,
    # declined, captured (PayPal captured it), refunded_minor/_fen (applied or booked), issued_minor (refunded
    # at PayPal), disputes, last}
    paypal: list[dict] = field(default_factory=list)
    # withdrawals asked: id -> {user, amount, status: requested|refunded|partly_refunded|rejected, refunds,
    # returned, echoes}
    withdrawals: dict[str, dict] = field(default_factory=dict)


@dataclass
class World:
    """One consistent read of the tables after a step, next to the model."""

    model: Model
    accounts: dict[str, int]  # user_id -> balance_fen (0 when no account yet)
    ledgers: dict[str, list[LedgerEntry]]
    items: dict[str, Item]
    orders: dict[str, Order]
    packages: dict[str, Package]  # every package of every customer (Query by user)
    parcels: dict[str, Parcel]
    abandon_done_through: date | None  # the storage sweep's checkpoint: it reads only later days
    feedback_done_through: date | None  # its feedback walk's checkpoint (chalicelib/feedback.py)
    photo_requests: dict[str, PhotoRequest] = field(default_factory=dict)
    withdrawals: dict[str, Withdrawal] = field(default_factory=dict)


# --- the invariants -------------------------------------------------------------------------------------


def check_wallet_equals_its_ledger_and_is_never_negative(world: World) -> None:
    for user_id, balance in world.accounts.items():
        entries = world.ledgers[user_id]
        assert balance >= 0, f"{user_id}: balance {balance} is negative"
        assert balance == sum(int(e.amount_fen) for e in entries), (
            f"{user_id}: balance {balance} != ledger sum {sum(int(e.amount_fen) for e in entries)}"
        )
        assert all(int(e.balance_after_fen) >= 0 for e in entries), f"{user_id}: a ledger step went negative"


def _ledger_totals(entries: list[LedgerEntry]) -> Counter:
    totals: Counter = Counter()
    for entry in entries:
        meaning = LEDGER_KINDS.get(entry.kind)
        assert meaning is not None, f"ledger kind {entry.kind!r} is not classified in LEDGER_KINDS"
        sign = -1 if meaning == "paid" else 1
        totals[meaning] += sign * int(entry.amount_fen)
    return totals


def check_money_is_conserved(world: World) -> None:
    """top-ups + provider payments = balances + paid for goods, shipping and services - refunds, and each
    term is what the test's own book says the successful calls should have moved."""
    for user_id, balance in world.accounts.items():
        ledger = _ledger_totals(world.ledgers[user_id])
        book = world.model.books[user_id]
        assert ledger["topups"] + ledger["provider"] == balance + ledger["paid"] - ledger["refunds"], (
            f"{user_id}: money not conserved: {dict(ledger)} vs balance {balance}"
        )
        expected = {
            "topups": book.topups,
            "provider": book.provider,
            "paid": book.paid,
            "refunds": book.refunds,
        }
        actual = {k: ledger[k] for k in expected}
        assert actual == expected, f"{user_id}: ledger {actual} != book {expected}"
        assert balance == book.balance, f"{user_id}: balance {balance} != book {book.balance}"


def _items_of(world: World, order_id: str) -> list[str]:
    return [item_id for item_id, item in world.model.items.items() if item["order_id"] == order_id]


def check_nothing_is_refunded_beyond_what_was_paid_for_it(world: World) -> None:
    """No item, order or package gets back more than was paid for it, whatever the path (purchasing
    exceptions, price differences, cancellations, services not done, after-sales, insurance claims).

    Per item: every refund of it (unavailable, short, cheaper, declined, after-sales) <= its goods paid plus
    what was charged on it; stored, refunded_fen <= paid_fen and every after-sales refund is recorded on it.
    Per order: everything refunded of it and its items (goods, domestic shipping) <= everything paid for it
    (a dearer replacement and a shop's freight above its shipping paid included); per shop, shipping
    refunded <= shipping paid. Per package: refunds <= payments, and claim compensation <= the insured value
    (goods declared plus shipping), recorded on the package, and <= what was paid for it and its items."""
    by_ref: dict[tuple[str, str], int] = defaultdict(int)
    for entries in world.ledgers.values():
        for e in entries:
            by_ref[(e.kind, e.ref)] += abs(int(e.amount_fen))
    case_refunds: dict[str, int] = defaultdict(int)
    for case_id, case in world.model.cases.items():
        case_refunds[case["item_id"]] += by_ref[("after_sales_refund", case_id)]

    for item_id, mine in world.model.items.items():
        order_paid = mine["order_id"] and by_ref[("order_payment", mine["order_id"])] > 0
        paid = (mine["goods_fen"] if order_paid else 0) + by_ref[("price_difference_charge", item_id)]
        refunded = by_ref[("item_refund", item_id)] + by_ref[("price_difference_refund", item_id)]
        refunded += case_refunds[item_id]
        assert refunded <= paid, f"item {item_id}: refunded {refunded} fen of {paid} paid for it"
    for item_id, item in world.items.items():
        paid, refunded = int(item.paid_fen or 0), int(item.refunded_fen or 0)
        assert refunded <= paid, f"item {item_id}: {refunded} fen refunded of {paid} paid (stored)"
        assert case_refunds[item_id] <= refunded, f"item {item_id}: a refund is not recorded on it"

    for order_id in world.model.orders:
        items = _items_of(world, order_id)
        paid = by_ref[("order_payment", order_id)] + sum(
            by_ref[("price_difference_charge", i)] for i in items
        )
        # a shop's freight above its shipping paid is charged on the order, refunded with its last item
        paid += by_ref[("domestic_shipping_charge", order_id)]
        refunded = by_ref[("order_refund", order_id)] + by_ref[("domestic_shipping_refund", order_id)]
        refunded += sum(by_ref[("item_refund", i)] + by_ref[("price_difference_refund", i)] for i in items)
        assert refunded <= paid, f"order {order_id}: refunded {refunded} fen of {paid} paid with its items"
        order = world.orders.get(order_id)
        for shop_id, shipping in (
            order.shipping_by_shop.as_dict() if order and order.shipping_by_shop else {}
        ).items():
            assert int(shipping["refunded_fen"]) <= int(shipping["paid_fen"]), (
                f"order {order_id}: shop {shop_id}'s shipping refunded {shipping} more than paid"
            )

    compensated: dict[str, int] = defaultdict(int)
    for claim_id, claim in world.model.claims.items():
        compensated[claim["package_id"]] += by_ref[("claim_compensation", claim_id)]
    for package_id in world.model.packages:
        paid = by_ref[("package_payment", package_id)] + by_ref[("package_difference_charge", package_id)]
        refunded = by_ref[("package_refund", package_id)] + by_ref[("package_difference_refund", package_id)]
        refunded += by_ref[("package_service_refund", package_id)]  # a paid service not done
        assert refunded <= paid, f"package {package_id}: refunded {refunded} fen of {paid} paid"
        if package_id not in compensated:  # no claim filed on it
            continue
        amount, package = compensated[package_id], world.packages.get(package_id)
        assert package is not None, f"package {package_id} of a paid claim is gone"
        insured = int(package.declared_value_fen or 0) + int(package.shipping_fen or 0)
        assert amount <= insured, f"package {package_id}: {amount} fen compensated, insured {insured}"
        assert amount == int(package.compensated_fen or 0), f"package {package_id}: compensation not recorded"
        kept = (
            paid
            - refunded
            + sum(int(world.items[i].paid_fen or 0) for i in package.item_ids if i in world.items)
        )
        assert amount <= kept, f"package {package_id}: {amount} fen compensated of {kept} paid"


def _sweep_reads(key: str | None, expires_at: str | None, checkpoint: date | None) -> bool:
    """True when the storage sweep will still read this deadline: the index day is the deadline's day
    (an earlier day is read before the item is due, then never again) and after the checkpoint."""
    if not key or not expires_at:
        return False
    day = date.fromisoformat(key.split("#", 1)[0])
    return day == clock.parse_iso(expires_at).date() and (checkpoint is None or day > checkpoint)


def check_every_stored_item_is_paid_for_or_swept_or_final(world: World) -> None:
    """A stored item is in a paid package, or has a deadline the sweep will still read, or is final.

    Received items have no storage deadline yet (storage starts at inspection): they must be on the
    inspection queue instead. Items with an open after-sales case are held for staff (the sweep skips
    them); the check applies again once the case is resolved."""
    for item_id, item in world.items.items():
        if item.status == "received":
            assert (item.queue_key or "").startswith("received#"), f"{item_id}: received but on no queue"
            continue
        if item.status not in STORED or item.open_case_id:
            continue
        package = world.packages.get(item.package_id or "")
        if item.status == "in_package":
            assert package is not None, f"{item_id}: in_package without a package"
            if package.status in PAID_PACKAGE:
                continue
            package_deadline = getattr(package, "deadline_key", None)  # an unpaid package that expires
            assert _sweep_reads(item.deadline_key, item.storage_expires_at, world.abandon_done_through) or (
                package_deadline
                and _sweep_reads(package_deadline, package.payment_due_at, world.abandon_done_through)
            ), (
                f"{item_id}: in unpaid package {package.package_id} ({package.status}), "
                "no deadline the sweep reads"
            )
            continue
        assert _sweep_reads(item.deadline_key, item.storage_expires_at, world.abandon_done_through), (
            f"{item_id} ({item.status}): deadline {item.storage_expires_at} key {item.deadline_key} "
            f"is not read by the sweep (done through {world.abandon_done_through})"
        )


def check_every_item_waiting_on_feedback_has_a_deadline_the_sweep_reads(world: World) -> None:
    """An item waiting on the customer (an inspection issue, an electronics confirmation) has a feedback
    deadline on a day of the feedback index the sweep will still read, so it is reminded and, with no
    answer, taken as accepted; an open after-sales case is the customer's answer (staff hold it). An open
    replacement offer has its answer deadline on the same index (with no answer it is declined)."""
    for item_id, item in world.items.items():
        if item.status == "purchasing" and (plain(item.replacement) or {}).get("state") == "offered":
            assert _sweep_reads(item.feedback_key, item.feedback_due_at, world.feedback_done_through), (
                f"{item_id}: replacement offer due {item.feedback_due_at} key {item.feedback_key} is not read"
            )
            continue
        if item.status not in AWAITING_FEEDBACK or item.open_case_id:
            continue
        assert _sweep_reads(item.feedback_key, item.feedback_due_at, world.feedback_done_through), (
            f"{item_id} ({item.status}): feedback due {item.feedback_due_at} key {item.feedback_key} is not "
            f"read by the sweep (done through {world.feedback_done_through})"
        )
        assert not item.deadline_key, f"{item_id}: its storage clock runs before it is In Warehouse"
        assert item.awaiting_by == item.user_id, f"{item_id}: not on its owner's awaiting-decision list"


def check_no_item_in_two_open_packages(world: World) -> None:
    """Each item is in at most one open package, and an open package holds only its own packed items."""
    holders: dict[str, list[str]] = defaultdict(list)
    for package in world.packages.values():
        if package.status in OPEN_PACKAGE:
            for item_id in package.item_ids:
                holders[item_id].append(package.package_id)
    for item_id, packages in holders.items():
        assert len(packages) == 1, f"{item_id} is in open packages {packages}"
        item = world.items.get(item_id)
        assert item is not None and item.status == "in_package" and item.package_id == packages[0], (
            f"open package {packages[0]} holds {item_id} which is "
            f"{item.status if item else 'missing'} (package_id {item.package_id if item else None})"
        )


def check_parcels_belong_to_whom_they_match(world: World) -> None:
    """A parcel matched at the scan belongs to the one customer whose purchase or declaration it matches;
    when those disagree it belongs to no one (exceptional, for staff to resolve)."""
    for tracking in world.model.trackings.values():
        if not tracking.parcel_id or tracking.claims_at_scan is None:
            continue
        parcel = world.parcels[tracking.parcel_id]
        claims = tracking.claims_at_scan
        if parcel.status == "matched":
            assert len(claims) == 1 and parcel.user_id in claims, (
                f"parcel {tracking.number} matched to {parcel.user_id}; purchases/declarations: {set(claims)}"
            )
        if len(claims) > 1:
            assert parcel.status != "matched", (
                f"parcel {tracking.number} claimed by {set(claims)} was matched"
            )


def check_every_open_package_has_a_deadline_or_a_staff_action(world: World) -> None:
    """No package, in any status, is without a way forward (issue 24): one waiting on the customer has a
    deadline the storage sweep still reads; one waiting on the warehouse is on a staff queue; a shipped
    one is on the auto-confirm job's index."""
    for package_id, package in world.packages.items():
        status = package.status
        if status in FINAL_PACKAGE:
            continue
        if status in ("pending_payment", *WAITING_PACKAGE):
            assert _sweep_reads(package.deadline_key, package.payment_due_at, world.abandon_done_through), (
                f"package {package_id} ({status}) waits on the customer with no deadline the sweep reads: "
                f"{package.deadline_key} / {package.payment_due_at}"
            )
        elif status == "shipped":
            assert package.confirm_key, f"package {package_id} shipped but not on the auto-confirm index"
        else:
            assert package.queue_key, f"package {package_id} ({status}) is on no staff queue"
        if status in ("packed", "shipped"):
            assert int(package.due_fen or 0) == 0, f"package {package_id} is {status} with money due"


UNSEALED_PACKAGE = ("pending_payment", "paid")  # not packed yet: its items can still be photographed
# inspected and on our shelf: a paid photo request can be delivered (also while the customer decides)
PHOTOGRAPHABLE = tuple(dict.fromkeys((*CLOCK_RUNNING, "inspection_issue", "awaiting_confirmation")))


def check_every_photo_request_paid_for_is_delivered_or_refunded(world: World) -> None:
    """Issue 23: a paid photo request is completed, refunded (its fee back, once), or still open on an
    item the warehouse can photograph (stored, or in a package not sealed yet), which it holds."""
    by_ref: dict[tuple[str, str], int] = defaultdict(int)
    for entries in world.ledgers.values():
        for e in entries:
            by_ref[(e.kind, e.ref)] += int(e.amount_fen)
    for request_id, mine in world.model.photo_requests.items():
        row = world.photo_requests.get(request_id)
        assert row is not None, f"photo request {request_id} was paid for but is not recorded"
        assert by_ref[("photo_request", request_id)] == -mine["fee"], f"{request_id}: not charged once"
        refunded = by_ref[("photo_request_refund", request_id)]
        item = world.items[mine["item_id"]]
        if row.status == "refunded":
            assert refunded == mine["fee"], f"{request_id}: refunded {refunded} of {mine['fee']}"
        else:
            assert refunded == 0, f"{request_id} ({row.status}) was refunded {refunded}"
        if row.status != "requested":
            assert item.photo_request_id != request_id, f"{request_id} is {row.status} but holds the item"
            continue
        assert item.photo_request_id == request_id, f"{request_id} is open but the item does not carry it"
        package = world.packages.get(item.package_id or "")
        deliverable = item.status in PHOTOGRAPHABLE or (
            item.status == "in_package" and package is not None and package.status in UNSEALED_PACKAGE
        )
        assert deliverable, f"{request_id} is paid and open, but its item is {item.status}" + (
            f" in a {package.status} package" if package is not None else ""
        )


def check_provider_refunds_and_disputes_take_back_each_fen_once(world: World) -> None:
    """Per Stripe or PayPal payment: what the wallet lost for it plus what is owed equals what the provider
    took back (refunds other than withdrawals', open or lost disputes), never more than it collected,
    however its events arrived; a dispute won gives back exactly what its opening held."""
    from chalicelib.models.commerce import Payment

    for mine in (*world.model.stripe, *world.model.paypal):
        payment = Payment.get(mine["payment"]["payment_id"], consistent_read=True)
        taken = (
            int(payment.refunded_fen or 0) - int(payment.withdrawal_fen or 0) + int(payment.disputed_fen or 0)
        )
        debited = -sum(
            int(e.amount_fen)
            for e in world.ledgers.get(mine["user"], [])
            if e.ref == payment.payment_id
            and e.kind in ("provider_refund", "dispute_hold", "dispute_release")
        )
        assert int(payment.owed_fen or 0) >= 0 and int(payment.refunded_fen or 0) <= int(payment.charge_fen)
        assert debited + int(payment.owed_fen or 0) == taken, (
            f"{payment.payment_id}: debited {debited} + owed {payment.owed_fen} != taken back {taken}"
        )
        assert (payment.status == "succeeded") == mine["succeeded"], (payment.status, mine)


def check_disputes_follow_their_lifecycle(world: World) -> None:
    """Every provider dispute is stored in the state its events lead to in the lifecycle table (open, won,
    lost; decided is final), once per dispute id however its events came; its hold is what the wallet
    gave plus what it owed; a payment's disputed_fen is what its open and lost disputes took."""
    from chalicelib.lifecycle import DISPUTE, DisputeStatus
    from chalicelib.models.commerce import Payment
    from chalicelib.payments import disputes_of

    for mine in (*world.model.stripe, *world.model.paypal):
        payment = Payment.get(mine["payment"]["payment_id"], consistent_read=True)
        stored = disputes_of(payment)
        assert sorted(stored) == sorted(mine["disputes"]), (payment.payment_id, stored, mine["disputes"])
        for dispute_id, known in mine["disputes"].items():
            entry = stored[dispute_id]
            assert entry["state"] == known["status"], (dispute_id, entry, known)
            assert int(entry["held_fen"]) == known["hold"], (dispute_id, entry, known)
            assert int(entry["held_fen"]) + int(entry["owed_fen"]) == int(entry["amount_fen"]), entry
            if entry["state"] in DISPUTE.final():
                assert entry.get("decided_at"), entry
        taken = sum(int(d["amount_fen"]) for d in stored.values() if d["state"] != DisputeStatus.WON)
        assert int(payment.disputed_fen or 0) == taken, (payment.payment_id, payment.disputed_fen, stored)


def check_withdrawals_pay_out_what_was_asked_once(world: World) -> None:
    """A withdrawal holds its amount once (one `withdrawal` entry), a rejection returns it once, an
    approval refunds exactly the amount asked through the customer's own payments and moves nothing
    more on the wallet, less a part a provider refused for good, which comes back once (partly_refunded,
    `returned_fen`); no payment gives back more than it collected, nor withdrawals more than that."""
    from chalicelib.models.commerce import Payment

    parts: Counter = Counter()
    for withdrawal_id, mine in world.model.withdrawals.items():
        stored = world.withdrawals[withdrawal_id]
        assert stored.status == mine["status"], (withdrawal_id, stored.status, mine)
        moved = sorted(
            (e.kind, int(e.amount_fen)) for e in world.ledgers[mine["user"]] if e.ref == withdrawal_id
        )
        expected = [("withdrawal", -mine["amount"])]
        if mine["status"] == "rejected":
            expected.append(("withdrawal_reversal", mine["amount"]))
        returned = mine.get("returned", 0)
        if mine["status"] == "partly_refunded":
            expected.append(("withdrawal_reversal", returned))
            assert int(stored.returned_fen or 0) == returned > 0, (withdrawal_id, stored.returned_fen)
        assert moved == sorted(expected), (withdrawal_id, moved, expected)
        refunds = [r.as_dict() if hasattr(r, "as_dict") else dict(r) for r in stored.refunds or []]
        if mine["status"] in ("refunded", "partly_refunded"):
            paid_out = sum(int(r["amount_fen"]) for r in refunds)
            assert paid_out + returned == mine["amount"], (withdrawal_id, refunds, returned)
        else:
            assert not refunds, (withdrawal_id, refunds)
        for refund in refunds:
            parts[refund["payment_id"]] += int(refund["amount_fen"])
            owner = Payment.get(refund["payment_id"], consistent_read=True).user_id
            assert owner == mine["user"], f"{withdrawal_id} refunded through {owner}'s payment"
    for payment_id in world.model.payment_ids:
        payment = Payment.get(payment_id, consistent_read=True)
        assert int(payment.withdrawal_fen or 0) == parts[payment_id], (payment_id, payment.withdrawal_fen)
        assert int(payment.withdrawal_fen or 0) <= int(payment.refunded_fen or 0) <= int(payment.charge_fen)


INVARIANTS: list[Callable[[World], None]] = [
    check_wallet_equals_its_ledger_and_is_never_negative,
    check_money_is_conserved,
    check_nothing_is_refunded_beyond_what_was_paid_for_it,
    check_every_stored_item_is_paid_for_or_swept_or_final,
    check_no_item_in_two_open_packages,
    check_parcels_belong_to_whom_they_match,
    check_every_open_package_has_a_deadline_or_a_staff_action,
    check_every_item_waiting_on_feedback_has_a_deadline_the_sweep_reads,
    check_every_photo_request_paid_for_is_delivered_or_refunded,
    check_provider_refunds_and_disputes_take_back_each_fen_once,
    check_disputes_follow_their_lifecycle,
    check_withdrawals_pay_out_what_was_asked_once,
]
COLLECT = os.environ.get("LIFECYCLE_COLLECT") == "1"  # record violations instead of failing (to survey)
VIOLATIONS: dict[str, str] = {}
_only = {n.strip() for n in os.environ.get("LIFECYCLE_ONLY", "").split(",") if n.strip()}
ACTIVE = [
    c for c in INVARIANTS if not _only or c.__name__ in _only or c.__name__.removeprefix("check_") in _only
]


# --- the state machine ----------------------------------------------------------------------------------

_example_no = itertools.count()
pick = st.integers(0, 1 << 16)


def _one(candidates: list, index: int):
    return candidates[index % len(candidates)] if candidates else None


class Lifecycle(RuleBasedStateMachine):
    api = None  # set by the test
    app = None
    faults: faults.Faults | None = None

    def __init__(self):
        super().__init__()
        self.k = next(_example_no)
        STATS["examples"] += 1
        self.m = Model()
        self.world: World | None = None
        self.now = T0 + self.k * EPOCH_GAP
        self.serial = itertools.count()
        self.last_money: dict | None = None
        self.fault: str | None = None  # what the next money call's transaction meets
        clock.set_now(self.now)
        self._reset_jobs()

    # --- plumbing ---

    def _reset_jobs(self) -> None:
        """Job checkpoints start at this example's first day, so a sweep reads only this example's days."""
        from chalicelib.jobs import auto_confirm, storage_sweep

        for job in ("storage_sweep", "auto_confirm_receipt"):
            with contextlib.suppress(JobState.DoesNotExist):
                JobState.get(job, consistent_read=True).delete()
        storage_sweep.start_history(self.now.date())
        # nothing of this example is due before today (a package is due days after its shipping)
        yesterday = (self.now - timedelta(days=1)).date().isoformat()
        JobState("auto_confirm_receipt", state={auto_confirm.CHECKPOINT: yesterday}).save()

    def call(self, method: str, path: str, user: str | None = None, body=None, money: bool = False):
        headers = {"Idempotency-Key": str(uuid.uuid4())} if money else None
        if money and self.fault:
            kind, self.fault = self.fault, None
            result = self._call_through_fault(kind, method, path, user, body, headers)
        else:
            result = self.api.call(method, path, user=user, body=body, headers=headers)
        STATS["calls"] += 1
        ROUTES_HIT[(method, re.sub(r"/[a-z]{3}_[0-9A-Za-z]+", "/{id}", path), result.status)] += 1
        assert result.status < 500, f"{method} {path} answered {result.status}: {result.body}"
        if money:
            self.last_money = {
                "method": method,
                "path": path,
                "user": user,
                "body": body,
                "headers": headers,
                "status": result.status,
                "response": result.body,
                "at": self.now,
            }
        return result

    def _call_through_fault(self, kind: str, method: str, path: str, user, body, headers):
        """The call meets `kind` in its money transaction; the client retries with the same key. The
        answer the caller books is the retry's: it must be what was committed (the books then show
        whether the money moved once)."""
        injected = self.faults
        fired = injected.fired
        injected.arm(
            faults.FunctionKilled if kind == "killed" else faults.ambiguous, apply=kind != "not_applied"
        )
        first = None
        try:
            with contract.exempt(faults.OUTAGE):
                first = self.api.call(method, path, user=user, body=body, headers=headers)
        except faults.FunctionKilled:
            pass
        finally:
            injected.disarm()
        if (
            injected.fired == fired
        ):  # no money transaction (a refusal, a top-up): the next money call meets it
            self.fault = kind
            return first
        FAULTS_HIT[kind] += 1
        STATS["calls"] += 1
        if kind == "killed":  # the client retries after its own timeout; the claim's lease has run out
            self.now += timedelta(seconds=idempotency.lease_seconds() + 1)
            clock.set_now(self.now)
        retry = self.api.call(method, path, user=user, body=body, headers=headers)
        assert retry.status < 500, f"retry of {method} {path} after {kind}: {retry.status} {retry.body}"
        if kind == "not_applied":
            assert first is not None and first.status == 500, first
            late = injected.pending.pop()
            with pytest.raises(TransactWriteError):
                late()  # the first attempt's transaction arriving after the retry: fenced, moves nothing
            return retry
        assert retry.status in (200, 201), (
            f"{method} {path}: the money moved ({kind}) but the retry answered {retry.status} {retry.body}"
        )
        assert retry.headers.get("Idempotent-Replayed") == "true", f"{method} {path} ran again after {kind}"
        if first is not None:
            assert (first.status, first.body) == (retry.status, retry.body), (
                f"{method} {path} after {kind}: first {first.status} {first.body} != retry {retry.status}"
            )
        return retry

    def _webhook(self, payment_id: str, amount_fen: int, event_id: str | None = None):
        body = json.dumps(
            {
                "id": event_id or ids.new_id("evt"),
                "type": "payment.succeeded",
                "data": {"payment_id": payment_id, "amount_fen": amount_fen},
            }
        )
        signature = payments.sign(
            body.encode(), os.environ["PAYMENT_WEBHOOK_SECRET"], int(clock.now().timestamp())
        )
        result = self.api.call("POST", "/payments/webhook", raw=body, headers={"X-Signature": signature})
        STATS["calls"] += 1
        assert result.status < 500, f"webhook answered {result.status}: {result.body}"
        return result

    def _name(self, user_id: str) -> str:
        return next(u["name"] for u in self.m.users if u["id"] == user_id)

    def _user(self, index: int) -> dict:
        return self.m.users[index % len(self.m.users)]

    def _tracking(self, prefix: str) -> str:
        return f"{prefix}{self.k:04d}X{next(self.serial):05d}"

    def _items(self, *statuses: str, user: str | None = None) -> list[Item]:
        w = self.world
        return [
            i
            for i in (w.items.values() if w else [])
            if i.status in statuses and (user is None or i.user_id == user)
        ]

    def _orders(self, *statuses: str) -> list[Order]:
        return [o for o in (self.world.orders.values() if self.world else []) if o.status in statuses]

    def _packages(self, *statuses: str) -> list[Package]:
        return [p for p in (self.world.packages.values() if self.world else []) if p.status in statuses]

    # --- what each rule can act on now (its precondition: something to act on) ---

    def _pay_order_candidates(self) -> list:
        return self._orders("pending_payment")

    def _cancel_order_candidates(self) -> list:
        return self._orders("pending_payment", "pending_review", "approved")

    def _staff_decide_candidates(self) -> list:
        return self._orders("pending_review")

    def _purchase_candidates(self) -> list:  # not while a replacement offer waits for the customer
        return [
            i
            for i in self._items("purchasing")
            if i.order_id and not i.purchase and i not in self._offered_candidates()
        ]

    def _pay_price_difference_candidates(self) -> list:
        return [i for i in self.world.items.values() if int(i.price_difference_due_fen or 0) > 0]

    def _domestic_shipment_candidates(self) -> list:
        return self._items("purchased")

    def _inspect_candidates(self) -> list:
        return self._items("received")

    def _accept_issue_candidates(self) -> list:
        return self._items("inspection_issue")

    def _confirm_candidates(self) -> list:
        return self._items("awaiting_confirmation")

    def _open_case_candidates(self) -> list:
        candidates = self._items("received", *AWAITING_FEEDBACK, *STORED, "delivered")
        return [i for i in candidates if not i.open_case_id]

    def _resolve_case_candidates(self) -> list:
        return [i for i in self.world.items.values() if i.open_case_id]

    def _extend_storage_candidates(self) -> list:
        return self._items(*CLOCK_RUNNING)

    def _pay_package_candidates(self) -> list:
        return self._packages("pending_payment")

    def _cancel_package_candidates(self) -> list:
        return self._packages(*OPEN_PACKAGE)

    def _pack_candidates(self) -> list:
        return self._packages("paid")

    def _pay_package_difference_candidates(self) -> list:
        return [p for p in self._packages("awaiting_difference") if int(p.due_fen or 0) > 0]

    def _waiting_package_candidates(self) -> list:
        return self._packages(*WAITING_PACKAGE)

    def _rehearsed_candidates(self) -> list:
        return self._packages("rehearsed")

    def _ship_package_candidates(self) -> list:
        return self._packages("packed")

    def _confirm_receipt_candidates(self) -> list:
        return self._packages("shipped")

    def _file_claim_candidates(self) -> list:
        return [p for p in self._packages("shipped", "delivered") if not p.open_claim_id]

    def _resolve_claim_candidates(self) -> list:
        return [p for p in self._packages("shipped", "delivered") if p.open_claim_id]

    # --- setup ---

    @initialize()
    def customers(self):
        for n in range(CUSTOMERS):
            name = f"c{self.k}n{n}-{uuid.uuid4().hex[:6]}@example.com"
            user_id = self.api.add_user(name)
            self.m.users.append({"name": name, "id": user_id})
            self.m.books[user_id] = Book()
        price = self.call("GET", "/storage/extension-price", user=self.m.users[0]["name"])
        self.extension_fen = price.body["price_fen"]
        # the schedule runs from the day the stack is deployed, so its first run (the checkpoints' start,
        # FIRST_RUN_LOOKBACK_DAYS back) comes before any item: a first sweep 45 days in is not a real case
        assert self.app.storage_sweep(scheduled_event(clock.now_iso()), None)["finished"]

    # --- money in ---

    @rule(who=pick, amount=st.sampled_from([500, 3000, 20000, 100000]))
    def top_up(self, who, amount):
        user = self._user(who)
        created = self.call(
            "POST",
            "/wallet/top-ups",
            user=user["name"],
            body={"amount_fen": amount, "channel": "alipay"},
            money=True,
        )
        assert created.status == 201, created.body
        self.m.payment_ids.append(created.body["payment_id"])
        settled = self._webhook(created.body["payment_id"], created.body["charge_fen"])
        assert settled.status == 200, settled.body
        self.m.books[user["id"]].topups += amount

    # --- orders ---

    @rule(
        who=pick,
        lines=st.lists(st.sampled_from(SKUS), min_size=1, max_size=2),
        channel=st.sampled_from(["balance", "balance", "alipay", "card"]),
        via_cart=st.booleans(),
    )
    def create_order(self, who, lines, channel, via_cart):
        user = self._user(who)
        if via_cart:
            cart_ids = []
            for line in lines:
                added = self.call("POST", "/cart/items", user=user["name"], body=line)
                assert added.status == 201, added.body
                if added.body["cart_item_id"] not in cart_ids:  # the same SKU again merges into its line
                    cart_ids.append(added.body["cart_item_id"])
            body = {"cart_item_ids": cart_ids, "payment_channel": channel}
        else:
            body = {"items": lines, "payment_channel": channel}
        created = self.call("POST", "/orders", user=user["name"], body=body)
        assert created.status == 201, created.body
        order = created.body
        self.m.orders[order["order_id"]] = {
            "user": user["id"],
            "channel": channel,
            "total": order["charges"]["total_fen"],
            "bank_fee": order["charges"]["bank_fee_fen"],
            "paid": 0,
            "refunded": 0,
            "payment_id": None,
            "charge": None,
        }
        for item in order["items"]:
            self.m.items[item["item_id"]] = {
                "user": user["id"],
                "order_id": order["order_id"],
                "goods_fen": item["unit_price_fen"] * item["quantity"],
                "tracking": None,
            }

    @precondition(lambda self: bool(self._pay_order_candidates()))
    @rule(index=pick)
    def pay_order(self, index):
        order = _one(self._pay_order_candidates(), index)
        self._pay_order(order)

    def _pay_order(self, order: Order, top_up_first: bool = False) -> None:
        mine = self.m.orders[order.order_id]
        if top_up_first and mine["channel"] == "balance":
            self._afford(mine["user"], mine["total"])
        result = self.call("POST", f"/orders/{order.order_id}/pay", user=self._name(mine["user"]), money=True)
        if mine["channel"] == "balance":
            if result.status == 200:
                self.m.books[mine["user"]].paid += mine["total"]
                mine["paid"] = mine["total"]
            else:
                assert result.status == 409, result.body
        elif result.status == 200:
            payment = result.body["payment"]
            assert payment["charge_fen"] == mine["total"], (payment, mine)
            mine["payment_id"], mine["charge"] = payment["payment_id"], payment["charge_fen"]
            self.m.payment_ids.append(payment["payment_id"])

    def _unsettled_payments(self) -> list:
        return [(oid, o) for oid, o in self.m.orders.items() if o["payment_id"] and not o.get("settled")]

    @precondition(lambda self: bool(self._unsettled_payments()))
    @rule(index=pick, retry=st.booleans())
    def provider_settles(self, index, retry):
        """The provider's webhook for an order paid on an external channel (maybe after a cancel)."""
        order_id, mine = _one(self._unsettled_payments(), index)
        self._settle(order_id, mine, retry)

    def _settle(self, order_id: str, mine: dict, retry: bool = False) -> None:
        before = self.world.orders[order_id].status
        event_id = ids.new_id("evt")
        result = self._webhook(mine["payment_id"], mine["charge"], event_id)
        assert result.status == 200, result.body
        assert not result.body.get("duplicate"), result.body
        mine["settled"] = True
        book = self.m.books[mine["user"]]
        book.provider += mine["charge"]
        if before == "pending_payment":  # the money pays the order; otherwise it stays in the wallet
            book.paid += mine["total"]
            mine["paid"] = mine["total"]
        else:  # ... less the channel's bank fee, which the provider kept (the refund policy)
            book.paid += mine["bank_fee"]
        if retry:  # the provider delivers the same event again, then a new event for the same payment
            again = self._webhook(mine["payment_id"], mine["charge"], event_id)
            assert again.status == 200, again.body
            other = self._webhook(mine["payment_id"], mine["charge"])
            assert other.status == 200 and other.body.get("duplicate"), other.body

    @precondition(lambda self: bool(self._cancel_order_candidates()))
    @rule(index=pick)
    def cancel_order(self, index):
        order = _one(self._cancel_order_candidates(), index)
        mine = self.m.orders[order.order_id]
        result = self.call(
            "POST", f"/orders/{order.order_id}/cancel", user=self._name(mine["user"]), money=True
        )
        if result.status == 200:
            self._refund_order(mine)
        else:
            assert result.status == 409, result.body

    def _refund_order(self, mine: dict) -> None:
        """Cancel and reject refund what was paid less the channel's bank fee the provider kept."""
        refund = max(0, mine["paid"] - mine["bank_fee"] - mine["refunded"]) if mine["paid"] else 0
        self.m.books[mine["user"]].refunds += refund
        mine["refunded"] += refund

    @precondition(lambda self: bool(self._staff_decide_candidates()))
    @rule(index=pick, approve=st.booleans())
    def staff_decide(self, index, approve):
        order = _one(self._staff_decide_candidates(), index)
        self._decide(order, approve)

    def _decide(self, order: Order, approve: bool) -> None:
        if approve:
            result = self.call("POST", f"/staff/orders/{order.order_id}/approve", user=REVIEWER)
        else:
            result = self.call(
                "POST",
                f"/staff/orders/{order.order_id}/reject",
                user=REVIEWER,
                body={"reason": "out of stock"},
            )
        assert result.status == 200, result.body
        if not approve:
            self._refund_order(self.m.orders[order.order_id])

    # --- purchasing ---

    @precondition(lambda self: bool(self._purchase_candidates()))
    @rule(
        index=pick,
        delta=st.sampled_from([0, -1000, -100, 300, 5000, 20000]),
        short=st.sampled_from([False, False, True]),
        freight=st.sampled_from([None, None, 0, -300, 200, 3000]),
    )
    def purchase(self, index, delta, short, freight):
        item = _one(self._purchase_candidates(), index)
        self._purchase(item, delta, short, freight)

    def _purchase(self, item: Item, delta: int, short: bool = False, freight: int | None = None) -> None:
        """At `delta` from the listed unit price; `short`: the shop sells one unit less (when it can);
        `freight`: the shop's actual freight is what is left paid for its shipping plus this."""
        unit = int(item.unit_price_fen)
        if item.exchange is not None:  # a replacement: counted from the exchanged goods' actual price
            unit = int(plain(item.exchange)["baseline_unit_price_fen"])
        actual = max(0, unit + delta)
        ordered = int(item.quantity)
        bought = ordered - 1 if short and ordered > 1 else ordered
        body = {"merchant_order_no": f"M{next(self.serial)}", "actual_unit_price_fen": actual}
        if bought < ordered:
            body["quantity_purchased"] = bought
        shipping = 0
        if freight is not None and item.order_id:  # an exchange of a forwarded item has no order's freight
            shops = self.world.orders[item.order_id].shipping_by_shop
            entry = shops.as_dict()[item.shop_id]
            left = int(entry["paid_fen"]) - int(entry["refunded_fen"])
            body["actual_domestic_shipping_fen"] = max(0, left + freight)
            shipping = body["actual_domestic_shipping_fen"] - left
        result = self.call("POST", f"/staff/items/{item.item_id}/purchase", user=REVIEWER, body=body)
        assert result.status == 200, result.body
        difference = (actual - unit) * bought
        purchase = result.body["purchase"]
        assert purchase["price_difference_fen"] == difference, purchase
        assert purchase.get("shipping_difference_fen", 0) == shipping, purchase
        book = self.m.books[item.user_id]
        # the order's totals follow (what cancelling it later refunds)
        mine = self.m.orders.get(item.order_id, {"paid": 0, "refunded": 0})
        refund = unit * (ordered - bought)  # the units not sold come back at once
        assert purchase.get("short_refund_fen", 0) == refund, purchase
        book.refunds += refund
        mine["refunded"] += refund
        if purchase["settlement"] in ("refunded", "charged", "none"):  # settled now, each part on its own
            for part in (difference, shipping):
                if part > 0:
                    book.paid += part
                    mine["paid"] += part
                else:
                    book.refunds += -part
                    mine["refunded"] += -part
        # awaiting the customer's confirmation or payment: no money moves now

    @precondition(lambda self: bool(self._pay_price_difference_candidates()))
    @rule(index=pick)
    def pay_price_difference(self, index):
        item = _one(self._pay_price_difference_candidates(), index)
        self._pay_item_difference(item)

    def _pay_item_difference(self, item: Item) -> None:
        due = int(item.price_difference_due_fen)
        shipping = int((plain(item.purchase) or {}).get("shipping_difference_fen") or 0)
        result = self.call(
            "POST", f"/items/{item.item_id}/pay-difference", user=self._name(item.user_id), money=True
        )
        if result.status == 200:
            # with a freight part, the goods' and the freight's parts settle each on its own (a cheaper
            # price refunded beside a higher freight charged), as at purchase
            book, mine = self.m.books[item.user_id], self.m.orders[item.order_id]
            for part in (due - shipping, shipping) if shipping else (due,):
                if part > 0:
                    book.paid += part
                    mine["paid"] += part
                else:
                    book.refunds += -part
                    mine["refunded"] += -part
        else:
            assert result.status == 409, result.body

    # --- purchasing exceptions (issue 22, part 1) ---

    def _unavailable_candidates(self) -> list:
        # only an order's item is cancelled and refunded through its order (an orderless item's is a 409)
        return [i for i in self._items("purchasing", "purchased") if i.order_id]

    def _replacement_candidates(self) -> list:
        return [
            i
            for i in self._items("purchasing")
            if i.order_id  # answering an offer settles through the order (an orderless item's is a 409)
            and not i.purchase
            and not i.replacement
            and not int(i.price_difference_due_fen or 0)
        ]

    def _offered_candidates(self) -> list:
        return [
            i
            for i in self._items("purchasing")
            if i.replacement and i.replacement.as_dict().get("state") == "offered"
        ]

    def _expected_cancel_refund(self, item: Item) -> tuple[int, int]:
        """What cancelling `item` now returns: its goods not yet refunded, and its shop's shipping when no
        other live item of that shop is left in the order (the test's own reading of the rule)."""
        goods = int(item.paid_fen or 0) - int(item.refunded_fen or 0)
        order = self.world.orders[item.order_id]
        others = [
            self.world.items[i]
            for i in order.item_ids
            if i != item.item_id and self.world.items[i].status not in ("cancelled", "rejected")
        ]
        shops = order.shipping_by_shop.as_dict() if order.shipping_by_shop else {}
        entry = shops.get(item.shop_id)
        if entry is None or any(o.shop_id == item.shop_id for o in others):
            return goods, 0
        return goods, int(entry["paid_fen"]) - int(entry["refunded_fen"])

    def _book_cancel_refund(self, item: Item, goods: int, shipping: int) -> None:
        self.m.books[item.user_id].refunds += goods + shipping
        self.m.orders[item.order_id]["refunded"] += goods + shipping

    @precondition(lambda self: bool(self._unavailable_candidates()))
    @rule(index=pick, reason=st.sampled_from(["out_of_stock", "delisted", "merchant_refused", "other"]))
    def mark_unavailable(self, index, reason):
        item = _one(self._unavailable_candidates(), index)
        goods, shipping = self._expected_cancel_refund(item)
        result = self.call(
            "POST",
            f"/staff/items/{item.item_id}/unavailable",
            user=REVIEWER,
            body={"reason": reason},
            money=True,
        )
        assert result.status == 200, result.body
        marked = result.body["unavailable"]
        assert (marked["refunded_fen"], marked["shipping_refunded_fen"]) == (goods, shipping), marked
        self._book_cancel_refund(item, goods, shipping)

    @precondition(lambda self: bool(self._replacement_candidates()))
    @rule(index=pick)
    def offer_replacement(self, index):
        item = _one(self._replacement_candidates(), index)
        other = {"sku_tee_black_m": "sku_tee_white_l", "sku_tee_white_l": "sku_tee_black_m"}.get(item.sku_id)
        result = self.call(
            "POST",
            f"/staff/items/{item.item_id}/replacement",
            user=REVIEWER,
            body={"sku_id": other or item.sku_id},
        )
        if other and result.status == 409:  # the other SKU has fewer in stock than the item's quantity
            assert result.body["error"]["code"] == "out_of_stock", result.body
            return
        # a product with one SKU has no replacement (400)
        assert result.status == (200 if other else 400), result.body

    @precondition(lambda self: bool(self._offered_candidates()))
    @rule(index=pick, accept=st.booleans())
    def answer_replacement(self, index, accept):
        item = _one(self._offered_candidates(), index)
        user = self._name(item.user_id)
        if not accept:
            goods, shipping = self._expected_cancel_refund(item)
            path = f"/items/{item.item_id}/replacement/decline"
            result = self.call("POST", path, user=user, money=True)
            assert result.status == 200, result.body
            self._book_cancel_refund(item, goods, shipping)
            return
        difference = int(item.replacement.as_dict()["difference_fen"])
        result = self.call("POST", f"/items/{item.item_id}/replacement/accept", user=user, money=True)
        if result.status == 409:  # the wallet does not cover a dearer SKU: nothing changed
            assert result.body["error"]["code"] == "insufficient_funds", result.body
            return
        assert result.status == 200, result.body
        mine = self.m.orders[item.order_id]
        if difference > 0:
            self.m.books[item.user_id].paid += difference
            mine["paid"] += difference
        else:
            self.m.books[item.user_id].refunds += -difference
            mine["refunded"] += -difference

    @precondition(lambda self: bool(self._domestic_shipment_candidates()))
    @rule(index=pick, share=st.booleans())
    def domestic_shipment(self, index, share):
        item = _one(self._domestic_shipment_candidates(), index)
        self._ship_domestic(item, share)

    def _ship_domestic(self, item: Item, share: bool = False) -> None:
        tracking = None
        if share:  # another item of the same customer already on its way in one parcel
            for other_id, other in self.m.items.items():
                t = self.m.trackings.get(other["tracking"] or "")
                if other["user"] == item.user_id and t and t.parcel_id is None and other_id != item.item_id:
                    tracking = t.number
                    break
        tracking = tracking or self._tracking("YT")
        result = self.call(
            "POST",
            f"/staff/items/{item.item_id}/domestic-shipment",
            user=REVIEWER,
            body={"carrier": "YTO", "tracking_no": tracking},
        )
        assert result.status == 200, result.body
        self.m.items[item.item_id]["tracking"] = tracking
        self.m.trackings.setdefault(tracking, Tracking(tracking))

    # --- inbound and forwarding ---

    def _claims(self, tracking: Tracking) -> frozenset[str]:
        owners = {
            mine["user"]
            for item_id, mine in self.m.items.items()
            if mine["tracking"] == tracking.number
            and self.world.items.get(item_id) is not None
            and self.world.items[item_id].status in ("purchased", "shipped_domestic")
        }
        owners |= tracking.declarers
        return frozenset(owners)

    @rule(kind=st.sampled_from(["known", "known", "unknown", "again"]), index=pick)
    def scan_inbound(self, kind, index):
        unscanned = [t for t in self.m.trackings.values() if t.parcel_id is None]
        scanned = [t for t in self.m.trackings.values() if t.parcel_id is not None]
        if kind == "known" and unscanned:
            tracking = _one(unscanned, index)
        elif kind == "again" and scanned:
            tracking = _one(scanned, index)
        else:
            tracking = Tracking(self._tracking("SF"))
            self.m.trackings[tracking.number] = tracking
        self._scan(tracking)

    def _scan(self, tracking: Tracking) -> None:
        claims = self._claims(tracking) if tracking.parcel_id is None else None
        result = self.call(
            "POST", "/staff/inbound", user=WAREHOUSE, body={"tracking_no": tracking.number, "weight_g": 800}
        )
        assert result.status in (200, 201, 409), result.body
        if result.status == 201:
            tracking.parcel_id = result.body["parcel_id"]
            tracking.claims_at_scan = claims
            self._learn_parcel_items(result.body)
        elif result.status == 200:
            assert result.body.get("already_received"), result.body
            tracking.parcel_id = result.body["parcel_id"]

    def _learn_parcel_items(self, parcel: dict) -> None:
        """Items a scan or an assignment created (forwarded or identified parcels) join the model."""
        for item_id in parcel.get("item_ids") or []:
            if item_id not in self.m.items:
                found = Item.get(item_id, consistent_read=True)
                self.m.items[item_id] = {
                    "user": found.user_id,
                    "order_id": None,
                    "goods_fen": 0,
                    "tracking": None,
                }

    @rule(who=pick, whose=st.sampled_from(["fresh", "fresh", "another_customers"]), index=pick)
    def declare_forwarding(self, who, whose, index):
        user = self._user(who)
        number = None
        if whose == "another_customers":
            theirs = [
                t
                for t in self.m.trackings.values()
                if t.parcel_id is None and self._claims(t) and user["id"] not in self._claims(t)
            ]
            chosen = _one(theirs, index)
            number = chosen.number if chosen else None
        number = number or self._tracking("JD")
        result = self.call(
            "POST",
            "/forwarding",
            user=user["name"],
            body={"tracking_no": number, "description": "Shoes bought on my own"},
        )
        assert result.status in (201, 409, 400), result.body
        tracking = self.m.trackings.setdefault(number, Tracking(number))
        if result.status == 201:
            assert user["id"] not in tracking.declarers, f"{number} declared twice by one customer"
            tracking.declarers.add(user["id"])

    def _exceptional_parcels(self) -> list:
        return [
            t
            for t in self.m.trackings.values()
            if t.parcel_id and self.world.parcels[t.parcel_id].status == "exceptional"
        ]

    @precondition(lambda self: bool(self._exceptional_parcels()))
    @rule(index=pick)
    def assign_parcel(self, index):
        self._assign(_one(self._exceptional_parcels(), index), index)

    def _assign(self, tracking: Tracking, index: int) -> None:
        """Staff resolve it as they should: to the purchase it carries, else the declarer, else whoever
        identifies it."""
        expected = [
            item_id
            for item_id, mine in self.m.items.items()
            if mine["tracking"] == tracking.number
            and getattr(self.world.items.get(item_id), "status", None) in ("purchased", "shipped_domestic")
        ]
        owners = {self.m.items[i]["user"] for i in expected}
        if expected and len(owners) == 1:
            body = {"item_ids": expected}
        elif tracking.declarers:
            body = {"user_id": sorted(tracking.declarers)[0], "description": "Declared parcel"}
        else:
            body = {"customer_email": self._user(index)["name"], "description": "Identified parcel"}
        result = self.call("POST", f"/staff/parcels/{tracking.parcel_id}/assign", user=WAREHOUSE, body=body)
        assert result.status in (200, 409), result.body
        if result.status == 200:
            self._learn_parcel_items(result.body)

    # --- inspection, after-sales, storage ---

    @precondition(lambda self: bool(self._inspect_candidates()))
    @rule(
        index=pick,
        result=st.sampled_from(["pass", "pass", "issue", "not_transportable"]),
        heavy=st.booleans(),
        electronics=st.booleans(),
    )
    def inspect(self, index, result, heavy, electronics):
        item = _one(self._inspect_candidates(), index)
        self._inspect(item, result, heavy, electronics)

    def _inspect(self, item: Item, outcome: str = "pass", heavy: bool = False, electronics=False) -> None:
        if electronics and outcome == "pass":  # electronics pass only with an arrival photo
            attach_photo(item.item_id)
        body = {
            "category": "electronics" if electronics else "general",
            "checks": ISSUE_CHECKS if outcome == "issue" else PASS_CHECKS,
            "weight_g": 2600 if heavy else 400,
            "dims_cm": {"l": 30, "w": 20, "h": 10 if heavy else 5},
            "result": outcome,
        }
        if outcome == "not_transportable":
            body["hazards"] = ["battery"]
        result = self.call("POST", f"/staff/items/{item.item_id}/inspection", user=WAREHOUSE, body=body)
        assert result.status == 200, result.body

    @precondition(lambda self: bool(self._accept_issue_candidates()))
    @rule(index=pick)
    def accept_issue(self, index):
        item = _one(self._accept_issue_candidates(), index)
        result = self.call("POST", f"/items/{item.item_id}/accept", user=self._name(item.user_id))
        assert result.status in (200, 409), result.body

    @precondition(lambda self: bool(self._confirm_candidates()))
    @rule(index=pick)
    def confirm_electronics(self, index):
        item = _one(self._confirm_candidates(), index)
        result = self.call("POST", f"/items/{item.item_id}/confirm", user=self._name(item.user_id))
        assert result.status in (200, 409), result.body

    @precondition(lambda self: bool(self._open_case_candidates()))
    @rule(
        index=pick,
        kind=st.sampled_from(["return", "exchange", "refund"]),
        issue=st.sampled_from(["damage", "stains", "colour"]),
    )
    def open_case(self, index, kind, issue):
        item = _one(self._open_case_candidates(), index)
        result = self.call(
            "POST",
            "/after-sales",
            user=self._name(item.user_id),
            body={"item_id": item.item_id, "type": kind, "reason": "Not as described", "issue": issue},
        )
        assert result.status in (201, 409), result.body
        if result.status == 201:
            self.m.cases[result.body["case_id"]] = {"user": item.user_id, "item_id": item.item_id}

    @precondition(lambda self: bool(self._resolve_case_candidates()))
    @rule(
        index=pick,
        resolution=st.sampled_from(["refund", "refund", "return", "exchange", "reject"]),
        quarters=st.integers(0, 4),
    )
    def resolve_case(self, index, resolution, quarters):
        item = _one(self._resolve_case_candidates(), index)
        goods = self.m.items[item.item_id]["goods_fen"]
        refund = 0 if resolution in ("reject", "exchange") else goods * quarters // 4
        if resolution == "refund":
            refund = max(refund, 1)
        result = self.call(
            "POST",
            f"/staff/after-sales/{item.open_case_id}/resolve",
            user=WAREHOUSE,
            body={"resolution": resolution, "refund_fen": refund},
        )
        assert result.status in (200, 400, 409), result.body
        if result.status == 200:
            self.m.books[item.user_id].refunds += refund
            self._book_photo_refunds()

    @precondition(lambda self: bool(self._extend_storage_candidates()))
    @rule(index=pick, periods=st.integers(1, 2))
    def extend_storage(self, index, periods):
        item = _one(self._extend_storage_candidates(), index)
        result = self.call(
            "POST",
            f"/items/{item.item_id}/extend-storage",
            user=self._name(item.user_id),
            body={"periods": periods},
            money=True,
        )
        assert result.status in (200, 409), result.body
        if result.status == 200:
            self.m.books[item.user_id].paid += self.extension_fen * periods

    # --- paid extra photos (issue 23) ---

    def _photo_request_candidates(self) -> list:
        return self._items(*PHOTOGRAPHABLE, "in_package")

    @precondition(lambda self: bool(self._photo_request_candidates()))
    @rule(index=pick)
    def request_photos(self, index):
        """The customer pays for more photos: refused (409) while one is open, once the package is
        sealed, or when the wallet is short."""
        item = _one(self._photo_request_candidates(), index)
        result = self.call(
            "POST",
            f"/items/{item.item_id}/photo-requests",
            user=self._name(item.user_id),
            body={"note": "the label, close up"},
            money=True,
        )
        assert result.status in (201, 409), result.body
        if result.status == 201:
            fee = int(result.body["fee_fen"])
            self.m.books[item.user_id].paid += fee
            self.m.photo_requests[result.body["request_id"]] = {
                "user": item.user_id,
                "item_id": item.item_id,
                "fee": fee,
                "refund_booked": False,
            }

    def _open_photo_requests(self) -> list[PhotoRequest]:
        rows = _get(PhotoRequest, list(self.m.photo_requests))
        return [r for r in rows.values() if r.status == "requested"]

    @precondition(lambda self: bool(self._open_photo_requests()))
    @rule(index=pick)
    def deliver_photo_request(self, index):
        self._deliver_photos(_one(self._open_photo_requests(), index))

    def _deliver_photos(self, request: PhotoRequest) -> None:
        """The warehouse photographs the item (its upload ingested as the S3 event would) and completes
        the request: 409 when the item left meanwhile (the request was refunded)."""
        from chalicelib import aws
        from chalicelib.events import photos as ingestion
        from chalicelib.events.s3_records import S3Object

        upload = self.call(
            "POST",
            f"/staff/items/{request.item_id}/photos",
            user=WAREHOUSE,
            body={"content_type": "image/jpeg"},
        )
        assert upload.status in (201, 409), upload.body
        if upload.status == 201:
            key = upload.body["upload"]["fields"]["key"]
            bucket = config.get("PHOTO_BUCKET")
            aws.client("s3").put_object(Bucket=bucket, Key=key, Body=_tiny_jpeg(), ContentType="image/jpeg")
            ingestion.ingest(S3Object(bucket, key, len(_tiny_jpeg()), "", "", "ObjectCreated:Post"))
        done = self.call("POST", f"/staff/photo-requests/{request.request_id}/complete", user=WAREHOUSE)
        assert done.status in (200, 409), done.body

    def _book_photo_refunds(self) -> None:
        """Refunds that ride on other changes (a return to the merchant, abandonment) go in the books."""
        rows = _get(PhotoRequest, [r for r, m in self.m.photo_requests.items() if not m["refund_booked"]])
        for request_id, row in rows.items():
            if row.status == "refunded":
                mine = self.m.photo_requests[request_id]
                mine["refund_booked"] = True
                self.m.books[mine["user"]].refunds += mine["fee"]

    # --- packages ---

    def _customers_with_stored_items(self) -> list:
        return [u for u in self.m.users if self._items(*CLOCK_RUNNING, user=u["id"])]

    @precondition(lambda self: bool(self._customers_with_stored_items()))
    @rule(who=pick, count=st.integers(1, 3), careless=st.booleans())
    def create_package(self, who, count, careless):
        """Quote, then submit the cheapest line. `careless` also offers items that may not be packable
        (with an open case, already packaged, not inspected) to see them refused."""
        user = _one(self._customers_with_stored_items(), who)
        statuses = (
            ("in_warehouse", "not_transportable", "inspection_issue", "in_package", "received")
            if careless
            else (
                "in_warehouse",
                "not_transportable",
            )
        )
        candidates = [i.item_id for i in self._items(*statuses, user=user["id"])]
        if not candidates:
            return
        self._package(user, candidates[:count])

    def _package(self, user: dict, item_ids: list[str]) -> None:
        quote = self.call(
            "POST", "/packages/quote", user=user["name"], body={"item_ids": item_ids, "country": "US"}
        )
        assert quote.status in (200, 400, 404, 409), quote.body
        if quote.status != 200 or not quote.body["quotes"]:
            return
        line_id = quote.body["quotes"][0]["line_id"]
        created = self.call(
            "POST",
            "/packages",
            user=user["name"],
            body={
                "item_ids": item_ids,
                "address": ADDRESS,
                "line_id": line_id,
                # insured; every other package with a rehearsal: packing waits for the customer's confirmation
                "services": [
                    "reinforcement",
                    "insurance",
                    *(["rehearsal"] if len(self.m.packages) % 2 else []),
                ],
            },
        )
        assert created.status in (201, 400, 409), created.body
        if created.status == 201:
            self.m.packages[created.body["package_id"]] = {
                "user": user["id"],
                "paid": 0,
                "refunded": 0,
                "due": 0,
            }

    @precondition(lambda self: bool(self._pay_package_candidates()))
    @rule(index=pick)
    def pay_package(self, index):
        package = _one(self._pay_package_candidates(), index)
        self._pay_package(package)

    def _pay_package(self, package: Package, top_up_first: bool = False) -> None:
        mine = self.m.packages[package.package_id]
        if top_up_first:
            self._afford(package.user_id, int(package.total_fen))
        result = self.call(
            "POST", f"/packages/{package.package_id}/pay", user=self._name(package.user_id), money=True
        )
        if result.status == 200:
            total = int(package.total_fen)
            self.m.books[package.user_id].paid += total
            mine["paid"] += total
        else:
            assert result.status == 409, result.body

    @precondition(lambda self: bool(self._cancel_package_candidates()))
    @rule(index=pick)
    def cancel_package(self, index):
        package = _one(self._cancel_package_candidates(), index)
        mine = self.m.packages[package.package_id]
        result = self.call(
            "POST", f"/packages/{package.package_id}/cancel", user=self._name(package.user_id), money=True
        )
        assert result.status in (200, 409), result.body
        if result.status == 200:
            self.m.books[package.user_id].refunds += mine["paid"] - mine["refunded"]
            mine["refunded"] = mine["paid"]

    @precondition(lambda self: bool(self._pack_candidates()))
    @rule(index=pick, factor=st.sampled_from([1.0, 0.5, 1.6, 4.0]))
    def pack(self, index, factor):
        package = _one(self._pack_candidates(), index)
        self._pack(package, factor)

    def _services(self, package: Package, refund: bool) -> None:
        """The packer's checklist before packing: each paid service performed, or refunded as not done."""
        mine = self.m.packages[package.package_id]
        seen = self.call("GET", f"/staff/packages/{package.package_id}", user=WAREHOUSE)
        for work in seen.body["service_work"] if seen.status == 200 else []:
            if work["status"] != "to_do":
                continue
            path = f"/staff/packages/{package.package_id}/services/{work['service']}"
            if not refund:
                assert self.call("POST", f"{path}/perform", user=WAREHOUSE, body={}).status in (200, 409)
                continue
            result = self.call(
                "POST", f"{path}/refund", user=WAREHOUSE, body={"reason": "Not doable"}, money=True
            )
            assert result.status in (200, 409), result.body
            if result.status == 200:
                self.m.books[package.user_id].refunds += work["price_fen"]
                mine["refunded"] += work["price_fen"]

    def _pack(self, package: Package, factor: float = 1.0) -> None:
        self._services(package, refund=factor == 0.5)
        mine = self.m.packages[package.package_id]
        weight = max(1, min(30000, int(int(package.actual_weight_g) * factor)))
        result = self.call(
            "POST",
            f"/staff/packages/{package.package_id}/pack",
            user=WAREHOUSE,
            body={"weight_g": weight, "dims_cm": {"l": 30, "w": 20, "h": 10}},
        )
        assert result.status in (200, 409), result.body
        if result.status != 200:
            return
        packed = result.body["packed"]
        difference = result.body["total_fen"] - (mine["paid"] - mine["refunded"])
        assert packed["difference_fen"] == difference, (packed, mine, result.body["total_fen"])
        book = self.m.books[package.user_id]
        if packed["settlement"] == "charged":
            book.paid += difference
            mine["paid"] += difference
        elif packed["settlement"] == "refunded":
            book.refunds += -difference
            mine["refunded"] += -difference
        else:  # left due for the customer, a rehearsal to confirm, or nothing to settle: no money moves now
            mine["due"] = int(result.body.get("due_fen") or 0)
        if result.body["status"] in WAITING_PACKAGE:
            assert result.body["answer_due_at"], result.body

    @precondition(lambda self: bool(self._rehearsed_candidates()))
    @rule(index=pick, top_up_first=st.booleans())
    def confirm_packing(self, index, top_up_first):
        package = _one(self._rehearsed_candidates(), index)
        self._confirm_packing(package, top_up_first)

    def _confirm_packing(self, package: Package, top_up_first: bool = False) -> None:
        mine = self.m.packages[package.package_id]
        amount = int(package.total_fen) - (mine["paid"] - mine["refunded"])
        if top_up_first and amount > 0:
            self._afford(package.user_id, amount)
        result = self.call(
            "POST",
            f"/packages/{package.package_id}/confirm-packing",
            user=self._name(package.user_id),
            money=True,
        )
        assert result.status in (200, 409), result.body
        if result.status != 200:
            return
        book = self.m.books[package.user_id]
        if amount > 0:
            book.paid += amount
            mine["paid"] += amount
        else:
            book.refunds += -amount
            mine["refunded"] += -amount
        mine["due"] = 0
        assert result.body["status"] == "packed" and result.body["due_fen"] == 0, result.body

    @precondition(lambda self: bool(self._rehearsed_candidates()))
    @rule(index=pick)
    def repack(self, index):
        package = _one(self._rehearsed_candidates(), index)
        result = self.call(
            "POST",
            f"/packages/{package.package_id}/repack",
            user=self._name(package.user_id),
            body={"note": "Remove the shoe box, please."},
        )
        assert result.status in (200, 409), result.body
        if result.status == 200:
            self.m.packages[package.package_id]["due"] = 0
            assert result.body["status"] == "paid" and result.body["repack_note"], result.body

    @precondition(lambda self: bool(self._waiting_package_candidates()))
    @rule(index=pick)
    def return_package_to_storage(self, index):
        package = _one(self._waiting_package_candidates(), index)
        mine = self.m.packages[package.package_id]
        kept = REHEARSAL_FEN if package.status == "rehearsed" else 0
        result = self.call(
            "POST",
            f"/packages/{package.package_id}/return-to-storage",
            user=self._name(package.user_id),
            money=True,
        )
        assert result.status in (200, 409), result.body
        if result.status == 200:
            refund = mine["paid"] - mine["refunded"] - kept
            self.m.books[package.user_id].refunds += refund
            mine["refunded"] += refund
            mine["due"] = 0
            assert result.body["refunded_fen"] == mine["refunded"], (result.body, mine)

    @precondition(lambda self: bool(self._pay_package_difference_candidates()))
    @rule(index=pick)
    def pay_package_difference(self, index):
        package = _one(self._pay_package_difference_candidates(), index)
        self._pay_package_difference(package)

    def _pay_package_difference(self, package: Package) -> None:
        mine = self.m.packages[package.package_id]
        result = self.call(
            "POST",
            f"/packages/{package.package_id}/pay-difference",
            user=self._name(package.user_id),
            money=True,
        )
        if result.status == 200:
            self.m.books[package.user_id].paid += mine["due"]
            mine["paid"] += mine["due"]
            mine["due"] = 0
        else:
            assert result.status == 409, result.body

    @precondition(lambda self: bool(self._ship_package_candidates()))
    @rule(index=pick)
    def ship_package(self, index):
        package = _one(self._ship_package_candidates(), index)
        self._ship(package)

    def _ship(self, package: Package) -> None:
        result = self.call(
            "POST",
            f"/staff/packages/{package.package_id}/ship",
            user=WAREHOUSE,
            body={"carrier": "EMS", "tracking_no": f"EE{next(self.serial):07d}CN"},
        )
        assert result.status in (200, 409), result.body

    @precondition(lambda self: bool(self._confirm_receipt_candidates()))
    @rule(index=pick)
    def confirm_receipt(self, index):
        package = _one(self._confirm_receipt_candidates(), index)
        result = self.call(
            "POST", f"/packages/{package.package_id}/confirm-receipt", user=self._name(package.user_id)
        )
        assert result.status == 200, result.body

    # --- insurance claims (issue 22) ---

    @precondition(lambda self: bool(self._file_claim_candidates()))
    @rule(index=pick, kind=st.sampled_from(["lost", "damaged", "seized"]))
    def file_claim(self, index, kind):
        package = _one(self._file_claim_candidates(), index)
        result = self.call(
            "POST",
            f"/packages/{package.package_id}/claims",
            user=self._name(package.user_id),
            body={"kind": kind, "description": "Not what arrived"},
        )
        assert result.status in (201, 409), result.body  # 409: the window is not open
        if result.status == 201:
            self.m.claims[result.body["claim_id"]] = {
                "user": package.user_id,
                "package_id": package.package_id,
            }

    @precondition(lambda self: bool(self._resolve_claim_candidates()))
    @rule(index=pick, approve=st.booleans(), quarters=st.sampled_from([None, 1, 3, 5]))
    def resolve_claim(self, index, approve, quarters):
        """Approve (the default compensation, a share of the insured value, or more than it) or reject."""
        package = _one(self._resolve_claim_candidates(), index)
        body: dict = {"decision": "approved" if approve else "rejected", "note": "Checked"}
        if approve and quarters is not None:
            insured = int(package.declared_value_fen or 0) + int(package.shipping_fen or 0)
            body["compensation_fen"] = max(1, insured * quarters // 4)
        result = self.call(
            "POST", f"/staff/claims/{package.open_claim_id}/resolve", user=WAREHOUSE, body=body, money=True
        )
        assert result.status in (200, 400, 409), result.body
        if result.status == 200:
            self.m.books[package.user_id].refunds += result.body["compensation_fen"]

    # --- time and jobs ---

    @rule(days=st.sampled_from([1, 4, 15, 30, 45]), hours=st.integers(0, 23))
    def sweep_later(self, days, hours):
        """Time moves on; the scheduled jobs run as Lambda would call them."""
        self.now += timedelta(days=days, hours=hours)
        clock.set_now(self.now)
        started = time.perf_counter()
        waiting = {p.package_id: p.status for p in self._packages(*WAITING_PACKAGE)}
        offered = self._offered_candidates()
        result = self.app.storage_sweep(scheduled_event(clock.now_iso()), None)
        assert result["finished"], result
        self._book_unanswered(waiting)
        self._book_expired_offers(offered)
        self.app.auto_confirm_receipt(scheduled_event(clock.now_iso()), None)
        self._book_photo_refunds()
        STATS["sweep_s"] += time.perf_counter() - started

    def _book_expired_offers(self, offered: list[Item]) -> None:
        """Replacement offers the sweep declined for a customer who did not answer refund as a declined
        offer does: the goods, and the shop's shipping with its last live item."""
        after = _get(Item, [i.item_id for i in offered])
        for item in offered:
            now = after.get(item.item_id)
            if now is None or (plain(now.replacement) or {}).get("state") != "expired":
                continue
            goods, shipping = self._expected_cancel_refund(item)
            self._book_cancel_refund(item, goods, shipping)
            item.status = "cancelled"  # the next expired item of its shop finds it gone

    def _book_unanswered(self, waiting: dict[str, str]) -> None:
        """Packages the sweep returned to storage unanswered refund what they held (less a rehearsal)."""
        for package_id, package in _get(Package, list(waiting)).items():
            if package.status != "cancelled":
                continue
            assert package.cancel_reason == "answer_expired", package.cancel_reason
            mine = self.m.packages[package_id]
            refund = (
                mine["paid"] - mine["refunded"] - (REHEARSAL_FEN if waiting[package_id] == "rehearsed" else 0)
            )
            self.m.books[package.user_id].refunds += refund
            mine["refunded"] += refund
            mine["due"] = 0

    # --- retries ---

    @rule(kind=st.sampled_from(["ambiguous", "killed", "not_applied"]))
    def fail_the_next_money_commit(self, kind):
        """The next money call's transaction is applied but the caller sees an error (`ambiguous`), or
        the function is killed right after it (`killed`), or it never applies (`not_applied`)."""
        self.fault = kind

    @precondition(lambda self: self.last_money is not None and self.last_money["at"] == self.now)
    @rule()
    def retry_last_money_call(self):
        """A client retries its last money call with the same Idempotency-Key: the same answer, no money."""
        last = self.last_money
        again = self.api.call(
            last["method"], last["path"], user=last["user"], body=last["body"], headers=last["headers"]
        )
        STATS["calls"] += 1
        assert again.status < 500, again.body
        assert (again.status, again.body) == (last["status"], last["response"]), (
            f"replay of {last['method']} {last['path']}: {again.status} {again.body} "
            f"!= {last['status']} {last['response']}"
        )

    # --- the happy path, one step for something (so lifecycles get deep within an example) ---

    @rule(index=pick)
    def advance_something(self, index):
        self._advance(index)

    @rule(index=pick)
    def advance_something_else(self, index):
        self._advance(index)

    @rule(index=pick)
    def advance_yet_another(self, index):
        self._advance(index)

    def _advance(self, index: int) -> None:
        """One happy-path step for something: a lifecycle stage is picked first, then something in it, so
        a flood of early-stage work (say, declared parcels) does not starve the later stages."""
        stages: list[list[Callable[[], None]]] = []
        paying = []
        for order in self._orders("pending_payment"):
            mine = self.m.orders[order.order_id]
            if mine["payment_id"] and not mine.get("settled"):
                paying.append(lambda o=order, m=mine: self._settle(o.order_id, m))
            else:
                paying.append(lambda o=order: self._pay_order(o, top_up_first=True))
        stages.append(paying)
        stages.append([lambda o=o: self._decide(o, True) for o in self._orders("pending_review")])
        stages.append([lambda i=i: self._purchase(i, 0) for i in self._purchase_candidates()])
        stages.append(
            [lambda i=i: self._pay_item_difference(i) for i in self._pay_price_difference_candidates()]
        )
        stages.append([lambda i=i: self._ship_domestic(i, True) for i in self._items("purchased")])
        stages.append(
            [
                lambda t=t: self._scan(t)
                for t in self.m.trackings.values()
                if t.parcel_id is None and self._claims(t)
            ]
        )
        stages.append([lambda i=i: self._inspect(i) for i in self._items("received")])
        packing = []
        for user in self.m.users:
            stored = [i.item_id for i in self._items("in_warehouse", user=user["id"]) if not i.open_case_id]
            if stored:
                packing.append(lambda u=user, s=stored: self._package(u, s[:2]))
        stages.append(packing)
        stages.append(
            [lambda p=p: self._pay_package(p, top_up_first=True) for p in self._packages("pending_payment")]
        )
        stages.append([lambda r=r: self._deliver_photos(r) for r in self._open_photo_requests()])
        stages.append([lambda p=p: self._pack(p) for p in self._packages("paid")])
        stages.append(
            [lambda p=p: self._pay_package_difference(p) for p in self._pay_package_difference_candidates()]
        )
        stages.append([lambda p=p: self._confirm_packing(p, True) for p in self._rehearsed_candidates()])
        stages.append(
            [lambda p=p: self._ship(p) for p in self._packages("packed") if not int(p.due_fen or 0)]
        )
        stages = [stage for stage in stages if stage]
        if not stages:
            self.top_up(index, 20000)
            return
        stage = stages[index % len(stages)]
        stage[(index // len(stages)) % len(stage)]()

    def _afford(self, user_id: str, amount_fen: int) -> None:
        """The customer tops up what the wallet lacks for a payment."""
        short = amount_fen - self.world.accounts.get(user_id, 0)
        if short > 0:
            user_index = next(n for n, u in enumerate(self.m.users) if u["id"] == user_id)
            self.top_up(user_index, max(500, short))

    # --- a real provider: Stripe collects wechat_pay, its events arrive twice, late, out of order ---

    stripe = None  # tests.stripe_fake.FakeStripe, set by the test

    @rule(who=pick, amount=st.sampled_from([3000, 20000]))
    def stripe_top_up(self, who, amount):
        user = self._user(who)
        ref = self.stripe.next_intent()
        body = {"amount_fen": amount, "channel": "wechat_pay"}
        created = self.call("POST", "/wallet/top-ups", user=user["name"], body=body, money=True)
        assert created.status == 201, created.body
        assert created.body["client_secret"].startswith(ref), created.body
        self.m.payment_ids.append(created.body["payment_id"])
        mine = {"ref": ref, "payment": created.body, "user": user["id"], "amount": amount}
        self.m.stripe.append({**mine, "succeeded": False, "declined": False, "refunded": 0, "disputes": {}})

    @precondition(lambda self: bool(self.m.stripe))
    @rule(
        index=pick,
        kind=st.sampled_from(
            ["succeeded", "succeeded", "failed", "refund", "dispute", "won", "lost", "again"]
        ),
        part=st.sampled_from([1, 2, 3]),
    )
    def stripe_event(self, index, kind, part):
        succeeded = [p for p in self.m.stripe if p["succeeded"]]
        # refunds and disputes mostly on collected payments; sometimes one overtakes its success
        mine = _one(
            succeeded
            if kind in ("refund", "dispute", "won", "lost") and succeeded and part < 3
            else self.m.stripe,
            index,
        )
        if kind == "again":  # the last event of this payment, delivered again (maybe after a 409)
            if "last" not in mine:
                return
            kind, part, event_id = mine["last"]
        else:
            event_id = ids.new_id("evt")
        mine["last"] = (kind, part, event_id)
        book = self.m.books[mine["user"]]
        balance = self.world.accounts.get(mine["user"], 0)
        charge = mine["payment"]["charge_fen"]
        if kind == "succeeded":
            result = self._stripe(
                "payment_intent.succeeded", self.stripe.succeeded(mine["ref"], mine["payment"]), event_id
            )
            assert result.status == 200 and result.body["duplicate"] == mine["succeeded"], (result.body, mine)
            if not mine["succeeded"]:
                mine["succeeded"] = True
                book.topups += mine["amount"]
        elif kind == "failed":
            obj = self.stripe.intent_event(mine["ref"], mine["payment"], "requires_payment_method")
            result = self._stripe("payment_intent.payment_failed", obj, event_id)
            expected_duplicate = mine["succeeded"] or mine["declined"]
            assert result.status == 200 and result.body["duplicate"] == expected_duplicate, (
                result.body,
                mine,
            )
            mine["declined"] = mine["declined"] or not mine["succeeded"]
        elif kind == "refund":
            refunded = charge * part // 3  # Stripe sends the charge's cumulative amount_refunded
            result = self._stripe(
                "charge.refunded", self.stripe.refunded(mine["ref"], mine["payment"], refunded), event_id
            )
            if not mine["succeeded"]:
                assert result.status == 409, result.body  # overtook the success: Stripe delivers it later
                return
            new = max(0, refunded - mine["refunded"])
            assert result.status == 200 and result.body["duplicate"] == (new == 0), (result.body, mine)
            if new:
                debit = min(new, balance)
                assert (result.body["debited_fen"], result.body["owed_fen"]) == (debit, new - debit), (
                    result.body
                )
                mine["refunded"] = refunded
                book.paid += debit
        else:
            self._dispute_event(mine, kind, part, event_id, book, balance)

    def _dispute_event(self, mine: dict, kind: str, part: int, event_id: str, book: Book, balance: int):
        """A dispute opens (created, or funds_withdrawn), is won (closed won, or funds_reinstated) or lost
        (closed lost)."""
        dispute_id = f"dp_{mine['ref'][3:]}_{part}"
        amount = mine["payment"]["charge_fen"] * part // 3
        event_type, status = {
            ("dispute", False): ("charge.dispute.created", "needs_response"),
            ("dispute", True): ("charge.dispute.funds_withdrawn", "needs_response"),
            ("won", False): ("charge.dispute.closed", "won"),
            ("won", True): ("charge.dispute.funds_reinstated", "won"),
            ("lost", False): ("charge.dispute.closed", "lost"),
            ("lost", True): ("charge.dispute.closed", "lost"),
        }[(kind, part == 2)]
        obj = self.stripe.dispute(mine["ref"], mine["payment"], amount, dispute_id, status=status)
        result = self._stripe(event_type, obj, event_id)
        self._book_dispute(mine, dispute_id, kind, amount, result, book, balance)

    def _book_dispute(self, mine: dict, dispute_id: str, kind: str, amount: int, result, book, balance):
        """Either provider's dispute event, as the lifecycle table has it: each dispute's money moves once,
        in whatever order and number its events come; a decision before the opening is applied at once
        (lost: the disputed amount taken then; won: nothing ever held), and the late opening changes
        nothing. Before the payment's success it is refused (409) for the provider to deliver later."""
        if not mine["succeeded"]:
            assert result.status == 409, result.body  # overtook the success: the provider delivers it later
            return
        known = mine["disputes"].get(dispute_id)
        decided = known is not None and known["status"] != "open"
        applies = not decided and (known is None or kind != "dispute")
        assert result.status == 200 and result.body["duplicate"] == (not applies), (result.body, kind, known)
        if not applies:
            return
        if known is None and kind != "won":  # opened now (or lost before it opened): held once
            hold = min(amount, balance)
            assert (result.body["debited_fen"], result.body["owed_fen"]) == (hold, amount - hold), result.body
            book.paid += hold
            known = {"hold": hold}
        elif known is None:  # won before it opened: nothing ever held
            assert "debited_fen" not in result.body, result.body
            known = {"hold": 0}
        elif kind == "won":  # the opening's hold comes back
            assert result.body["released_fen"] == known["hold"], (result.body, known)
            book.refunds += known["hold"]
        known["status"] = {"dispute": "open", "won": "won", "lost": "lost"}[kind]
        assert result.body["dispute_status"] in (known["status"], "needs_response", "OPEN"), result.body
        mine["disputes"][dispute_id] = known

    # --- PayPal collects the paypal channel: captured by the storefront or its webhooks, in any order ---

    paypal = None  # tests.paypal_fake.FakePayPal, set by the test

    @rule(who=pick, amount=st.sampled_from([3000, 20000]))
    def paypal_top_up(self, who, amount):
        user = self._user(who)
        fresh_rates(USD="0.14")  # charged in USD at the rate in force (the clock moves years per example)
        order_id = self.paypal.next_order()
        body = {"amount_fen": amount, "channel": "paypal"}
        created = self.call("POST", "/wallet/top-ups", user=user["name"], body=body, money=True)
        assert created.status == 201, created.body
        assert created.body["provider_ref"] == order_id and created.body["charged_currency"] == "USD"
        self.m.payment_ids.append(created.body["payment_id"])
        self.m.paypal.append(
            {
                "order_id": order_id,
                "payment": created.body,
                "user": user["id"],
                "amount": amount,
                "succeeded": False,
                "declined": False,
                "captured": False,
                "refunded_minor": 0,
                "refunded_fen": 0,
                "issued_minor": 0,
                "disputes": {},
            }
        )

    @precondition(lambda self: bool(self.m.paypal))
    @rule(
        index=pick,
        kind=st.sampled_from(
            [
                *("capture", "completed", "approved", "denied", "refund", "reversed", "dispute", "won"),
                *("lost", "again", "again"),
            ]
        ),
        part=st.sampled_from([1, 2, 3]),
    )
    def paypal_event(self, index, kind, part):
        """The storefront's capture, or one of PayPal's events: delivered twice (`again`: the same event
        id), late (a completion after the capture route credited), out of order (a refund or a dispute's
        decision before the completion is applied, a resolution before its creation)."""
        captured = [p for p in self.m.paypal if p["captured"]]
        if kind in ("refund", "reversed", "dispute", "won", "lost"):  # about a capture PayPal made
            mine = _one(captured, index)
        else:
            mine = _one(self.m.paypal, index)
        if mine is None:
            return
        if kind == "again":  # the last event of this payment, delivered again (maybe after a 409)
            if "last" not in mine:
                return
            kind, event_type, resource, event_id = mine["last"]
            result = self._paypal(event_type, resource, event_id)
            self._book_paypal(mine, kind, resource, result, again=True)
            return
        book = self.m.books[mine["user"]]
        if kind in ("capture", "approved"):  # the app captures at PayPal, unless it no longer waits
            waiting = not mine["succeeded"] and not mine["declined"]
            self.paypal.answer_capture(mine["order_id"], mine["payment"])
            if kind == "capture":
                path = f"/payments/{mine['payment']['payment_id']}/capture"
                result = self.call("POST", path, user=self._name(mine["user"]))
                assert result.status == 200, result.body
                expected = "succeeded" if waiting or mine["succeeded"] else "declined"
                assert result.body["status"] == expected, (result.body, mine)
            else:
                approved = self.paypal.approved(mine["order_id"], mine["payment"])
                result = self._paypal("CHECKOUT.ORDER.APPROVED", approved, "WH-" + ids.new_id("x")[-17:])
                assert result.status == 200 and result.body["duplicate"] == (not waiting), (result.body, mine)
            if waiting:
                mine["succeeded"] = mine["captured"] = True
                book.topups += mine["amount"]
            return
        event_id = "WH-" + ids.new_id("x")[-17:]
        if kind in ("completed", "denied"):
            if kind == "denied" and mine["captured"]:
                return  # PayPal denies a capture it has not completed
            status = "COMPLETED" if kind == "completed" else "DECLINED"
            resource = self.paypal.capture(mine["order_id"], mine["payment"], status=status)
            event_type = "PAYMENT.CAPTURE.COMPLETED" if kind == "completed" else "PAYMENT.CAPTURE.DENIED"
        elif kind in ("refund", "reversed"):
            left = mine["payment"]["charged_amount"] - mine["issued_minor"]
            amount = min(left, mine["payment"]["charged_amount"] * part // 6)
            if amount <= 0:
                return  # PayPal refunds no more than it captured
            mine["issued_minor"] += amount
            resource = self.paypal.refunded(self.paypal.captures[mine["order_id"]], amount, "USD")
            event_type = "PAYMENT.CAPTURE.REFUNDED" if kind == "refund" else "PAYMENT.CAPTURE.REVERSED"
        else:
            dispute_id = f"PP-D-{mine['order_id']}-{part}"
            amount = mine["payment"]["charged_amount"] * part // 3
            outcome = {"dispute": None, "won": "RESOLVED_SELLER_FAVOUR", "lost": "RESOLVED_BUYER_FAVOUR"}[
                kind
            ]
            capture = self.paypal.captures[mine["order_id"]]
            resource = self.paypal.dispute(capture, amount, "USD", dispute_id, outcome=outcome)
            event_type = "CUSTOMER.DISPUTE.CREATED" if outcome is None else "CUSTOMER.DISPUTE.RESOLVED"
        mine["last"] = (kind, event_type, resource, event_id)
        result = self._paypal(event_type, resource, event_id)
        self._book_paypal(mine, kind, resource, result)

    def _book_paypal(self, mine: dict, kind: str, resource: dict, result, again: bool = False) -> None:
        from chalicelib.providers import Amount, to_fen

        book = self.m.books[mine["user"]]
        balance = self.world.accounts.get(mine["user"], 0)
        payment = mine["payment"]
        asked = Amount(payment["charged_currency"], payment["charged_amount"])
        if kind in ("completed", "denied"):
            if kind == "completed":
                mine["captured"] = True
            waiting = not mine["succeeded"] and not mine["declined"]
            # a completion credits unless credited already (a denial before it does not stop it); a denial
            # declines a payment still waiting, and changes nothing after
            applies = not mine["succeeded"] if kind == "completed" else waiting
            assert result.status == 200 and result.body["duplicate"] == (not applies), (
                result.body,
                kind,
                mine,
            )
            if applies and kind == "completed":
                mine["succeeded"] = True
                book.topups += mine["amount"]
            elif applies:
                mine["declined"] = True
            return
        if kind in ("refund", "reversed"):
            if not mine["succeeded"]:
                assert result.status == 409, result.body  # overtook the completion: PayPal delivers it later
                return
            minor = int(Decimal(resource["amount"]["value"]).scaleb(2))
            applied = mine.setdefault("applied_refunds", set())
            if resource["id"] in applied:  # delivered again (any event id): applied once per refund
                assert result.status == 200 and result.body["duplicate"], result.body
                return
            total_minor = mine["refunded_minor"] + minor
            total_fen = min(
                payment["charge_fen"], to_fen(Amount("USD", total_minor), asked, payment["charge_fen"])
            )
            new = max(0, total_fen - mine["refunded_fen"])
            debit = min(new, balance)
            assert result.status == 200 and not result.body["duplicate"], result.body
            assert (result.body["debited_fen"], result.body["owed_fen"]) == (debit, new - debit), (
                result.body,
                mine,
            )
            applied.add(resource["id"])
            mine["refunded_minor"], mine["refunded_fen"] = total_minor, total_fen
            book.paid += debit
            return
        minor = int(Decimal(resource["dispute_amount"]["value"]).scaleb(2))
        amount = min(payment["charge_fen"], to_fen(Amount("USD", minor), asked, payment["charge_fen"]))
        self._book_dispute(mine, resource["dispute_id"], kind, amount, result, book, balance)

    def _paypal(self, event_type: str, resource: dict, event_id: str):
        result = self.paypal.deliver(self.api, event_type, resource, event_id=event_id)
        STATS["calls"] += 1
        ROUTES_HIT[("POST", f"/payments/webhooks/paypal {event_type}", result.status)] += 1
        assert result.status < 500, f"paypal webhook answered {result.status}: {result.body}"
        return result

    # --- withdrawals: wallet money back through the payments it came from ---

    @rule(who=pick, share=st.sampled_from(["quarter", "half", "all", "more"]))
    def ask_withdrawal(self, who, share):
        user = self._user(who)
        balance = self.world.accounts.get(user["id"], 0)
        amount = max(
            100, {"quarter": balance // 4, "half": balance // 2, "all": balance, "more": balance + 1}[share]
        )
        result = self.call(
            "POST", "/wallet/withdrawals", user=user["name"], body={"amount_fen": amount}, money=True
        )
        if amount > balance:  # never more than the balance
            assert result.status == 409 and result.body["error"]["code"] == "insufficient_funds", result.body
            return
        # 400: more than the customer's provider payments can take back (e.g. credited refunds)
        assert result.status in (201, 400), result.body
        if result.status == 201:
            assert result.body["status"] == "requested" and result.body["amount_fen"] == amount
            self.m.withdrawals[result.body["withdrawal_id"]] = {
                "user": user["id"],
                "amount": amount,
                "status": "requested",
                "echoes": [],
            }
            self.m.books[user["id"]].paid += amount

    @precondition(lambda self: any(w["status"] == "requested" for w in self.m.withdrawals.values()))
    @rule(
        index=pick, approve=st.sampled_from([True, True, False]), refuse=st.sampled_from([False, False, True])
    )
    def staff_decide_withdrawal(self, index, approve, refuse):
        withdrawal_id, mine = _one(
            [(k, w) for k, w in self.m.withdrawals.items() if w["status"] == "requested"], index
        )
        if not approve:
            body = {"reason": "Please contact support first."}
            result = self.call(
                "POST", f"/staff/withdrawals/{withdrawal_id}/reject", user=REVIEWER, body=body, money=True
            )
            assert result.status == 200 and result.body["status"] == "rejected", result.body
            mine["status"] = "rejected"
            self.m.books[mine["user"]].refunds += mine["amount"]
            return
        refused = self._providers_answer_refunds(mine, refuse)
        result = self.call("POST", f"/staff/withdrawals/{withdrawal_id}/approve", user=REVIEWER, money=True)
        # 400: a refund or dispute since the request left the payments less to give back
        assert result.status in (200, 400), result.body
        if result.status == 400:
            return
        refunds = result.body["refunds"]
        returned = refused[1] if refused else 0
        if refused:  # refused for good: that part is back in the wallet at once, the rest refunded
            assert result.body["status"] == "partly_refunded", result.body
            assert result.body["returned_fen"] == returned, (result.body, refused)
            assert refused[0] not in [r["payment_id"] for r in refunds], (refunds, refused)
            self.m.books[mine["user"]].refunds += returned
        else:
            assert result.body["status"] == "refunded", result.body
        # never more than asked
        assert sum(r["amount_fen"] for r in refunds) + returned == mine["amount"], (refunds, returned)
        mine["status"], mine["refunds"], mine["returned"] = result.body["status"], refunds, returned
        for refund in refunds:
            paid = next(
                (p for p in self.m.stripe if p["payment"]["payment_id"] == refund["payment_id"]), None
            )
            if paid is not None:  # Stripe will tell us of this refund too: charge.refunded, cumulative
                paid["refunded"] += refund["amount_minor"]
                mine["echoes"].append((paid, paid["refunded"]))
            paid = next(
                (p for p in self.m.paypal if p["payment"]["payment_id"] == refund["payment_id"]), None
            )
            if paid is not None:  # booked on the payment as refunded; PayPal refunded it at the capture
                paid["refunded_minor"] += refund["amount_minor"]
                paid["refunded_fen"] += refund["amount_fen"]
                paid["issued_minor"] += refund["amount_minor"]

    def _providers_answer_refunds(self, mine: dict, refuse: bool) -> tuple[str, int] | None:
        """Stripe and PayPal answer each refund the approval asks for with that refund (the fakes replay
        answers: queued in the order the withdrawal's plan asks, and again for a retry after a fault);
        with `refuse`, the plan's first Stripe or PayPal part is refused for good (Stripe's
        invalid_request_error, PayPal's 422): (its payment id, its fen), or None."""
        from chalicelib import withdrawals
        from chalicelib.errors import ValidationError

        try:
            parts = withdrawals.plan(mine["user"], mine["amount"])
        except ValidationError:
            return None
        real = [p for p in parts if p.payment.provider in ("stripe", "paypal")]
        refused = real[0] if refuse and real else None
        stripe_answers = []
        for part in parts:
            amount = part.amount
            if part.payment.provider == "stripe":
                refund = json.loads(stripe_refund(amount.minor, amount.currency))
                stripe_answers.append((400, STRIPE_REFUSED) if part is refused else (200, json.dumps(refund)))
            elif part.payment.provider == "paypal":
                path = f"/v2/payments/captures/{part.payment.capture_id}/refund"
                if part is refused:
                    self.paypal.server.add("POST", path, 422, PAYPAL_REFUSED)
                else:
                    self.paypal.answer_refunds((part.payment.capture_id, amount.minor, amount.currency))
        if stripe_answers:
            answers = stripe_answers * 3
            self.stripe.server.add("POST", "/v1/refunds", [a[0] for a in answers], [a[1] for a in answers])
        return (refused.payment.payment_id, refused.amount_fen) if refused else None

    @precondition(lambda self: any(w["echoes"] for w in self.m.withdrawals.values()))
    @rule(index=pick)
    def stripe_echoes_a_withdrawal_refund(self, index):
        """Stripe's charge.refunded for a withdrawal's refund, delivered any number of times, late (after
        later refunds): it was recorded at the approval, so it moves nothing."""
        echoes = [e for w in self.m.withdrawals.values() for e in w["echoes"]]
        paid, cumulative = _one(echoes, index)
        obj = self.stripe.refunded(paid["ref"], paid["payment"], cumulative)
        result = self._stripe("charge.refunded", obj, ids.new_id("evt"))
        assert result.status == 200 and result.body["duplicate"], result.body

    @precondition(
        lambda self: any(
            w.get("status") in ("refunded", "partly_refunded") for w in self.m.withdrawals.values()
        )
    )
    @rule(index=pick)
    def paypal_echoes_a_withdrawal_refund(self, index):
        """PayPal's PAYMENT.CAPTURE.REFUNDED for a withdrawal's own refund (its custom_id is the
        withdrawal's id), any number of times: the approval recorded it, so it moves nothing."""
        parts = [
            (withdrawal_id, refund, paid)
            for withdrawal_id, w in self.m.withdrawals.items()
            for refund in w.get("refunds") or []
            for paid in self.m.paypal
            if paid["payment"]["payment_id"] == refund["payment_id"]
        ]
        found = _one(parts, index)
        if found is None:
            return
        withdrawal_id, refund, paid = found
        capture = self.paypal.captures[paid["order_id"]]
        resource = self.paypal.refunded(capture, refund["amount_minor"], refund["currency"], withdrawal_id)
        result = self._paypal("PAYMENT.CAPTURE.REFUNDED", resource, "WH-" + ids.new_id("x")[-17:])
        assert result.status == 200 and result.body == {
            "received": True,
            "ignored": "PAYMENT.CAPTURE.REFUNDED",
        }, result.body

    def _stripe(self, event_type: str, obj: dict, event_id: str):
        result = self.stripe.deliver(self.api, event_type, obj, event_id=event_id)
        STATS["calls"] += 1
        ROUTES_HIT[("POST", f"/payments/stripe/webhook {event_type}", result.status)] += 1
        assert result.status < 500, f"stripe webhook answered {result.status}: {result.body}"
        return result

    # --- after every step ---

    def teardown(self):
        """Delete this example's rows (by key; no Scan): moto answers a Query by reading its whole table,
        so rows left over from earlier examples would make every later step slower."""
        if not self.m.users:
            return
        from chalicelib.models.claims import Claim
        from chalicelib.models.commerce import Payment
        from chalicelib.models.warehouse import AfterSalesCase, ForwardingDeclaration

        wallet_rows = [
            {"user_id": u["id"], "sk": sk} for u in self.m.users for sk in _partition(WalletAccount, u["id"])
        ]
        _batch_delete(
            {
                WalletAccount: wallet_rows,
                Item: [{"item_id": i} for i in self.m.items],
                Order: [{"order_id": o} for o in self.m.orders],
                Package: [{"package_id": p} for p in self.m.packages],
                Parcel: [{"parcel_id": t.parcel_id} for t in self.m.trackings.values() if t.parcel_id],
                # keyed by (tracking number, customer): one per customer may declare a number
                ForwardingDeclaration: [
                    {"tracking_no": t, "user_id": u["id"]} for t in self.m.trackings for u in self.m.users
                ],
                AfterSalesCase: [{"case_id": c} for c in self.m.cases],
                Claim: [{"claim_id": c} for c in self.m.claims],
                Payment: [{"payment_id": p} for p in self.m.payment_ids],
                PhotoRequest: [{"request_id": r} for r in self.m.photo_requests],
                Withdrawal: [{"withdrawal_id": w} for w in self.m.withdrawals],
            }
        )

    @invariant()
    def invariants_hold(self):
        STATS["steps"] += 1
        started = time.perf_counter()
        self.world = self._read_world()
        STATS["read_s"] += time.perf_counter() - started
        for check in ACTIVE:
            if not COLLECT:
                check(self.world)
                continue
            try:
                check(self.world)
            except AssertionError as exc:
                VIOLATIONS.setdefault(check.__name__, str(exc).splitlines()[0])

    def _read_world(self) -> World:
        """The model's rows by key, and each customer's ledger (the Query of its wallet partition)."""
        wallets = {u["id"]: _partition(WalletAccount, u["id"]) for u in self.m.users}
        accounts = {
            user_id: int(rows["account"]["balance_fen"]["N"]) if "account" in rows else 0
            for user_id, rows in wallets.items()
        }
        ledgers = {
            user_id: [
                LedgerEntry.from_raw_data(raw) for sk, raw in sorted(rows.items()) if sk.startswith("entry#")
            ]
            for user_id, rows in wallets.items()
        }
        jobs = _get(JobState, ["storage_sweep"])
        state = jobs["storage_sweep"].state.as_dict() if jobs else {}
        done, feedback_done = state.get("abandon_done_through"), state.get("feedback_done_through")
        return World(
            model=self.m,
            accounts=accounts,
            ledgers=ledgers,
            items=_get(Item, list(self.m.items)),
            orders=_get(Order, list(self.m.orders)),
            packages=_get(Package, list(self.m.packages)),
            parcels=_get(Parcel, [t.parcel_id for t in self.m.trackings.values() if t.parcel_id]),
            abandon_done_through=date.fromisoformat(done) if done else None,
            feedback_done_through=date.fromisoformat(feedback_done) if feedback_done else None,
            photo_requests=_get(PhotoRequest, list(self.m.photo_requests)),
            withdrawals=_get(Withdrawal, list(self.m.withdrawals)),
        )


# --- reading and clearing the tables -------------------------------------------------------------------
# The checks read moto's in-process store by key: the GetItem / Query of a partition, without the HTTP
# round trip (moto 5 spends about 20 ms serialising one item row, and this test reads thousands).


_TINY_JPEG: list[bytes] = []


def _tiny_jpeg() -> bytes:
    """A small real JPEG for the warehouse's extra photos (ingestion checks the bytes)."""
    if not _TINY_JPEG:
        import io

        from PIL import Image

        out = io.BytesIO()
        Image.new("RGB", (64, 48), (30, 60, 120)).save(out, "JPEG")
        _TINY_JPEG.append(out.getvalue())
    return _TINY_JPEG[0]


def _moto_table(model):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]].get_table(
        model.Meta.table_name
    )


def _get(model, keys: list[str]) -> dict:
    """GetItem of each hash key (tables without a range key), as the model; missing keys are left out."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = _moto_table(model)
    found = {}
    for key in keys:
        row = table.get_item(DynamoType({"S": key}))
        if row is not None:
            found[key] = model.from_raw_data(row.to_json()["Attributes"])
    return found


def _partition(model, hash_key: str) -> dict[str, dict]:
    """Query of one partition (a table with a range key): range key -> the raw row."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    rows = _moto_table(model).items.get(DynamoType({"S": hash_key}), {})
    return {range_key.value: row.to_json()["Attributes"] for range_key, row in rows.items()}


def _batch_delete(doomed: dict[type, list[dict]]) -> None:
    from chalicelib import aws

    dynamodb = aws.client("dynamodb")
    requests = [
        (model.Meta.table_name, {"DeleteRequest": {"Key": {k: {"S": v} for k, v in key.items()}}})
        for model, keys in doomed.items()
        for key in {json.dumps(k, sort_keys=True): k for k in keys}.values()  # each key once
    ]
    for start in range(0, len(requests), 25):
        batch: dict[str, list] = defaultdict(list)
        for table, request in requests[start : start + 25]:
            batch[table].append(request)
        while batch:
            batch = dynamodb.batch_write_item(RequestItems=dict(batch)).get("UnprocessedItems") or {}


def test_the_lifecycle_keeps_its_invariants_after_every_step(api, app_module, monkeypatch):
    Lifecycle.api, Lifecycle.app = api, app_module
    Lifecycle.faults = faults.install(monkeypatch)
    stripe = FakeStripe(monkeypatch, channels=("wechat_pay",)).__enter__()  # Stripe collects wechat_pay
    Lifecycle.stripe = stripe
    # PayPal collects paypal (and Stripe still wechat_pay)
    paypal = FakePayPal(monkeypatch, others={"wechat_pay": "stripe"}).__enter__()
    Lifecycle.paypal = paypal
    STATS.update(steps=0, examples=0, calls=0, read_s=0.0, sweep_s=0.0)
    FAULTS_HIT.clear()
    started = time.monotonic()
    try:
        run_state_machine_as_test(
            Lifecycle,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                derandomize=True,
                database=None,
                deadline=None,
                print_blob=False,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate] if COLLECT else list(Phase),
            ),
        )
    finally:
        paypal.__exit__(None, None, None)
        stripe.__exit__(None, None, None)
        print(
            f"\nlifecycle: {STATS['examples']} examples, {STATS['steps']} checked steps, "
            f"{STATS['calls']} API calls in {time.monotonic() - started:.1f} s "
            f"(checks' reads {STATS['read_s']:.1f} s, scheduled jobs {STATS['sweep_s']:.1f} s); "
            f"faults in money commits: {dict(FAULTS_HIT)}"
        )
        for name, message in VIOLATIONS.items():
            print(f"violated {name}: {message}")
        if COLLECT:
            for (method, route, status), n in sorted(ROUTES_HIT.items()):
                print(f"{n:5d} {method} {route} -> {status}")


def test_a_shops_freight_charge_counts_as_paid_when_all_its_items_are_refunded(api, app_module, monkeypatch):
    """The survey's "order refunded 8000 of 7878", replayed step by step through the machine's own rules:
    goods 7000 + shop_a's shipping 800 + alipay's bank fee 78 paid, shop_a's actual freight 200 higher
    charged on purchase, then both items unavailable: 7000 + 1000 comes back, the fee stays kept."""
    Lifecycle.api, Lifecycle.app = api, app_module
    Lifecycle.faults = faults.install(monkeypatch)
    machine = Lifecycle()
    tee, socks = SKUS[0], SKUS[2]  # 2 x 2500 and 2 x 1000, both from shop_a (800 shipping)
    try:
        machine.customers()
        machine.invariants_hold()
        machine.top_up(who=0, amount=500)  # the wallet pays the freight charge within the threshold
        machine.invariants_hold()
        machine.create_order(who=0, lines=[tee, socks], channel="alipay", via_cart=False)
        machine.invariants_hold()
        machine.pay_order(index=0)
        machine.invariants_hold()
        machine.provider_settles(index=0, retry=False)
        machine.invariants_hold()
        machine.staff_decide(index=0, approve=True)
        machine.invariants_hold()
        [order] = machine.world.orders.values()
        assert (int(order.paid_fen), int(order.bank_fee_fen)) == (7878, 78)
        first, second = order.item_ids
        machine._purchase(machine.world.items[first], delta=0, freight=200)
        machine.invariants_hold()
        for item_id in (first, second):
            machine.mark_unavailable(
                index=[i.item_id for i in machine._unavailable_candidates()].index(item_id),
                reason="out_of_stock",
            )
            machine.invariants_hold()
        world = machine._read_world()
        kinds = Counter()
        for entry in world.ledgers[order.user_id]:
            kinds[entry.kind] += int(entry.amount_fen)
        assert kinds["domestic_shipping_charge"] == -200 and kinds["order_payment"] == -7878
        assert kinds["item_refund"] + kinds["domestic_shipping_refund"] == 8000
        for check in INVARIANTS:
            check(world)
    finally:
        machine.teardown()


def test_paypal_events_out_of_order_and_a_refused_withdrawal_part_keep_the_invariants(
    api, app_module, monkeypatch
):
    """The PayPal and refusal rules replayed step by step: a PayPal top-up captured by the storefront and
    then its late completion, a dispute lost before it opened (taken at once; its late opening and a
    redelivery change nothing), a Stripe top-up, then a withdrawal of half the wallet whose first part its
    provider refuses for good: partly_refunded, that part back in the wallet once."""
    Lifecycle.api, Lifecycle.app = api, app_module
    Lifecycle.faults = faults.install(monkeypatch)
    stripe = FakeStripe(monkeypatch, channels=("wechat_pay",)).__enter__()
    paypal = FakePayPal(monkeypatch, others={"wechat_pay": "stripe"}).__enter__()
    Lifecycle.stripe, Lifecycle.paypal = stripe, paypal
    machine = Lifecycle()
    try:
        machine.customers()
        machine.invariants_hold()
        steps = [
            lambda: machine.stripe_top_up(who=0, amount=20000),
            lambda: machine.stripe_event(index=0, kind="succeeded", part=1),
            lambda: machine.paypal_top_up(who=0, amount=20000),
            lambda: machine.paypal_event(index=0, kind="lost", part=1),  # not captured at PayPal: nothing
            lambda: machine.paypal_event(index=0, kind="capture", part=1),
            lambda: machine.paypal_event(index=0, kind="completed", part=1),  # late: a duplicate
            lambda: machine.paypal_event(index=0, kind="lost", part=1),  # before its creation: at once
            lambda: machine.paypal_event(index=0, kind="again", part=1),
            lambda: machine.paypal_event(index=0, kind="dispute", part=1),  # late opening: nothing
            lambda: machine.paypal_event(index=0, kind="refund", part=1),
            lambda: machine.paypal_event(index=0, kind="again", part=1),
            lambda: machine.ask_withdrawal(who=0, share="half"),
            lambda: machine.staff_decide_withdrawal(index=0, approve=True, refuse=True),
        ]
        for step in steps:
            step()
            machine.invariants_hold()
        [mine] = machine.m.paypal
        assert mine["succeeded"] and [d["status"] for d in mine["disputes"].values()] == ["lost"]
        [withdrawal] = machine.m.withdrawals.values()
        assert withdrawal["status"] == "partly_refunded" and withdrawal["returned"] > 0, withdrawal
        stored = machine.world.withdrawals
        assert [w.status for w in stored.values()] == ["partly_refunded"]
        # the refused part was asked once, of Stripe or PayPal, whichever payment the plan took first
        assert len(paypal.refunds_asked()) + len(stripe.refunds_asked()) >= 1
    finally:
        machine.teardown()
        paypal.__exit__(None, None, None)
        stripe.__exit__(None, None, None)
