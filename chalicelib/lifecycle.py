"""The lifecycle of items, orders, packages, parcels and after-sales cases: one home, pure code.

Each entity's statuses are an enum whose values are the API's status strings (docs/data-model.md, glossary).
Its allowed transitions are one table: a business action, the statuses it may start from, the status it
leads to, who may trigger it, and the timestamps it stamps; each entity also declares which statuses put
it on a staff work queue. Every status write goes through one call, `ITEM.move(item, "approve", now=...)`:
it builds the update actions (the status, the stamps, the queue-index keys) and the write condition (the
stored status is one the action may start from) from the table, and updates the object in memory so the
answer needs no re-read (tests/unit/test_lifecycle.py forbids any other status write). Services ask the
table for the refusal when the current status does not allow an action (`ITEM.require("approve",
item.status)`); the named status sets the code needs (what the storage sweep abandons, what may be
packed, what is stored...) are derived from the table, never retyped. Payments, price-difference
settlements and staff queues have their words here too. Nothing here talks to DynamoDB (a move only
builds PynamoDB expressions): the tests of this module run in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from chalicelib.errors import Conflict


class Actor(StrEnum):
    CUSTOMER = "customer"
    REVIEWER = "reviewer"
    WAREHOUSE = "warehouse"
    SYSTEM = "system"  # scheduled jobs and the payment provider's webhook


class ItemStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PENDING_REVIEW = "pending_review"
    PURCHASING = "purchasing"
    PURCHASED = "purchased"
    SHIPPED_DOMESTIC = "shipped_domestic"
    RECEIVED = "received"
    IN_WAREHOUSE = "in_warehouse"
    INSPECTION_ISSUE = "inspection_issue"
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # electronics: arrival photos sent, the customer confirms
    NOT_TRANSPORTABLE = "not_transportable"
    IN_PACKAGE = "in_package"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    RETURNED = "returned"
    ABANDONED = "abandoned"
    DESTROYED = "destroyed"


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class PackageStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    PACKED = "packed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    # packed; the final charge waits for the customer (over the consent threshold, or the wallet short)
    AWAITING_DIFFERENCE = "awaiting_difference"
    # packed, weighed, measured and photographed for a rehearsal: the customer confirms or asks a repack
    REHEARSED = "rehearsed"


class ParcelStatus(StrEnum):
    MATCHED = "matched"
    EXCEPTIONAL = "exceptional"
    ASSIGNED = "assigned"
    ABANDONED = "abandoned"
    DESTROYED = "destroyed"
    VOIDED = "voided"


class CaseStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ClaimStatus(StrEnum):
    """An insurance claim on a shipped package (lost, damaged or seized)."""

    OPEN = "open"
    APPROVED = "approved"  # compensation credited to the wallet
    REJECTED = "rejected"


class ClaimKind(StrEnum):
    """What an insurance claim is about (its `kind`, not a status; a word here so that a dispute's `lost`
    and a package's are not typed twice)."""

    LOST = "lost"
    DAMAGED = "damaged"
    SEIZED = "seized"


class DeclarationStatus(StrEnum):
    """A customer's forwarding declaration: open until its parcel is scanned in."""

    DECLARED = "declared"
    RECEIVED = "received"  # matched to the declarer at the scan, or assigned to them by staff
    EXCEPTIONAL = "exceptional"  # the parcel was claimed by someone else too: staff decide
    REJECTED = "rejected"  # staff gave the contested parcel to someone else


class ItemSource(StrEnum):
    """How an item came to us: bought for an order, a declared forwarded parcel, or an unidentified
    (exceptional) parcel that staff assigned to a customer."""

    ORDER = "order"
    FORWARDING = "forwarding"
    EXCEPTIONAL = "exceptional"


class PhotoStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    REJECTED = "rejected"


class PhotoRequestStatus(StrEnum):
    """A customer's paid request for more photos of an inspected item (chalicelib/photo_requests.py)."""

    REQUESTED = "requested"  # paid, on the warehouse's photo-request queue
    COMPLETED = "completed"  # the extra photos are uploaded and the customer told
    REFUNDED = "refunded"  # could not be delivered (the item left us): the fee went back to the wallet


class OutboxStatus(StrEnum):
    """An email event of the outbox (chalicelib/models/outbox.py)."""

    PENDING = "pending"  # written with its change; not sent yet, or its last attempt failed
    SENDING = "sending"  # claimed by a handler until its claim expires
    SENT = "sent"
    UNDELIVERABLE = "undeliverable"  # no address, or SES refused it for good: never retried


class PaymentStatus(StrEnum):
    """A payment an external provider collects (a top-up or an externally paid order)."""

    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "declined"  # the provider refused the attempt; a later attempt on it may still succeed
    CANCELED = "canceled"


class DisputeStatus(StrEnum):
    """A provider's dispute of a collected payment (Stripe's charge.dispute.*, PayPal's CUSTOMER.DISPUTE.*),
    as our books see it: a word in the payment's `disputes` map (the provider's own status is kept beside
    it, chalicelib/payments.py)."""

    OPEN = "open"  # opened: the disputed amount is held from the wallet (what it did not hold is owed)
    WON = "won"  # decided for us: what the opening held given back, what was owed forgiven
    LOST = "lost"  # decided for the payer: the debit stands, final


class WithdrawalStatus(StrEnum):
    """A customer's request for wallet money back to the payment methods it came from."""

    REQUESTED = "requested"  # the money is held off the wallet; staff approve or reject
    REFUNDED = "refunded"
    REJECTED = "rejected"
    # approved: its refunds are booked on the payments and being asked of the providers (approve again
    # after a provider outage); partly refunded: a provider refused a part for good, which is back in
    # the wallet
    REFUNDING = "refunding"
    PARTLY_REFUNDED = "partly_refunded"


class Settlement(StrEnum):
    """How a price difference (an item's purchase, a package's packing) was settled."""

    NONE = "none"  # no difference
    CHARGED = "charged"
    REFUNDED = "refunded"
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # over the threshold: the customer confirms or declines
    AWAITING_PAYMENT = "awaiting_payment"  # the wallet was short: the customer pays it
    DECLINED = "declined"


class ReplacementState(StrEnum):
    """A replacement SKU staff offered for an item the shop cannot supply (a word in the item's record)."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"  # staff marked the item unavailable while the offer was open
    EXPIRED = "expired"  # no answer by its deadline: declined for the customer (purchase_exceptions.py)


class ServiceWork(StrEnum):
    """A paid value-added service of a package as the packer's work item (issue 24, part 3)."""

    TO_DO = "to_do"  # paid for, not done yet: the package cannot be packed
    PERFORMED = "performed"  # ticked off by the packer (with a photo where it makes sense)
    REFUNDED = "refunded"  # could not be done: its price went back to the wallet


class Queue(StrEnum):
    """Staff work queues (`queue_key = "<queue>#<shard>"`, chalicelib/queues.py)."""

    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    PURCHASING = "purchasing"
    AWAITING_PAYMENT = "awaiting_payment"  # a price difference waits for the customer
    PURCHASED = "purchased"
    SHIPPED_DOMESTIC = "shipped_domestic"
    RECEIVED = "received"
    PAID = "paid"
    PACKED = "packed"
    REHEARSED = "rehearsed"  # rehearsed packages waiting for the customer's answer
    EXCEPTIONAL = "exceptional"
    DESTRUCTION = "destruction"  # abandoned goods awaiting confirmed destruction
    OPEN = "open"
    PHOTO_REQUESTS = "photos_owed"  # paid extra photos the warehouse owes a customer
    AWAITING_REPLACEMENT = "awaiting_replacement"  # a replacement SKU offered, the customer decides
    UNANSWERED = "unanswered"  # a message thread whose last message is the customer's
    WITHDRAWALS = "withdrawal_requested"  # withdrawals waiting for staff


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[StrEnum, ...]
    target: StrEnum
    actors: tuple[Actor, ...]
    stamps: tuple[str, ...] = ()  # timestamp attributes the move sets to its `now`
    queue: Queue | None = None  # the staff queue the move puts the entity on, instead of its target's


class Move(NamedTuple):
    """What a status move writes: `work.update(obj, *move)`, or `tx.update(obj, actions=, condition=)`."""

    actions: list
    condition: Any


_KEEP = object()


class Lifecycle:
    """One entity's statuses, its transition table and the statuses that are staff work queues."""

    def __init__(
        self,
        entity: str,
        statuses: type[StrEnum],
        transitions: Iterable[Transition],
        *,
        stamps: tuple[str, ...] = (),
        queues: Mapping[StrEnum, Queue] | None = None,
        starts: tuple[StrEnum, ...] = (),
    ):
        self.entity = entity
        self.statuses = statuses
        self.transitions: tuple[Transition, ...] = tuple(transitions)
        self.stamps = stamps  # stamped by every move (e.g. updated_at)
        # None: the entity has no queue index; otherwise a status not listed takes it off its queue
        self.queues = dict(queues) if queues is not None else None
        # what a new record may be created in: every status no transition reaches, and `starts`
        reached = {t.target for t in self.transitions}
        self.starts = tuple(s for s in statuses if s not in reached or s in starts)
        for t in self.transitions:
            for status in (*t.sources, t.target):
                if not isinstance(status, statuses):
                    raise TypeError(f"{entity} transition {t.action!r} uses {status!r}")
            if t.queue is not None and self.queues is None:
                raise TypeError(f"{entity} has no queue index for {t.action!r}")
        for status in self.queues or {}:
            if not isinstance(status, statuses):
                raise TypeError(f"{entity} queue of {status!r}")

    # --- reading the table ------------------------------------------------------------------------------

    def _rows(self, action: str) -> list[Transition]:
        rows = [t for t in self.transitions if t.action == action]
        if not rows:
            raise KeyError(f"{self.entity} has no action {action!r}")
        return rows

    def actions(self) -> list[str]:
        return list(dict.fromkeys(t.action for t in self.transitions))

    def sources(self, *actions: str) -> tuple[StrEnum, ...]:
        """Every status any of `actions` may start from, in the enum's order."""
        found = {s for a in actions for t in self._rows(a) for s in t.sources}
        return tuple(s for s in self.statuses if s in found)

    def target(self, action: str, source: str | None = None) -> StrEnum:
        """Where `action` leads (from `source`, when the action's target depends on where it starts)."""
        rows = self._rows(action)
        if source is not None:
            rows = [t for t in rows if source in t.sources] or rows
        targets = {t.target for t in rows}
        if len(targets) != 1:
            raise KeyError(f"{self.entity} action {action!r} has several targets; name the source")
        return rows[0].target

    def targets(self, *actions: str) -> tuple[StrEnum, ...]:
        found = {t.target for a in actions for t in self._rows(a)}
        return tuple(s for s in self.statuses if s in found)

    def actors(self, action: str) -> tuple[Actor, ...]:
        return tuple(dict.fromkeys(a for t in self._rows(action) for a in t.actors))

    def allows(self, action: str, current: str) -> bool:
        return current in self.sources(action)

    def final(self) -> tuple[StrEnum, ...]:
        """Statuses no action leads away from."""
        leaving = {s for t in self.transitions for s in t.sources if t.target != s}
        return tuple(s for s in self.statuses if s not in leaving)

    # --- using it ---------------------------------------------------------------------------------------

    def require(self, action: str, current: str, what: str | None = None) -> None:
        """409 in the business's words when `current` does not allow `action`."""
        if not self.allows(action, current):
            allowed = ", ".join(self.sources(action))
            doing = action.replace("_", " ")
            raise Conflict(f"The {what or self.entity} is {current}; {doing} needs it to be {allowed}.")

    def condition(self, status_attribute, *actions: str):
        """The DynamoDB write condition: the stored status is still one `actions` may start from."""
        sources = [s.value for s in self.sources(*actions)]
        return status_attribute == sources[0] if len(sources) == 1 else status_attribute.is_in(*sources)

    def check(self, model, *statuses: StrEnum):
        """A guard on an entity the write does not move (e.g. the order of an item being bought): its
        stored status is one of `statuses` (name them from the table: `ORDER.target("approve")`)."""
        values = [self.statuses(s).value for s in statuses]  # ValueError for a word not in the table
        return model.status == values[0] if len(values) == 1 else model.status.is_in(*values)

    def queue_names(self) -> tuple[Queue, ...]:
        found = {*(self.queues or {}).values(), *(t.queue for t in self.transitions if t.queue)}
        return tuple(q for q in Queue if q in found)

    def start(self, obj, status: StrEnum, *, now: str, queue_id: str | None = None):
        """A new record (not saved yet) in its first status, on the staff queue of that status if any;
        `queue_id` shards the queue by another id than the record's key. Returns `obj`."""
        if status not in self.starts:
            raise ValueError(f"a new {self.entity} starts {', '.join(self.starts)}, not {status}")
        obj.status = self.statuses(status)
        queue = (self.queues or {}).get(status)
        if queue is not None:
            from chalicelib.queues import shard_key

            entity_id = queue_id or getattr(obj, type(obj)._hash_key_attribute().attr_name)
            obj.queue_key, obj.queue_at = shard_key(queue, entity_id), now
        return obj

    def move(
        self,
        obj,
        action: str,
        *,
        now: str,
        source: StrEnum | str | None = None,
        to: StrEnum | None = None,
        queue: Queue | None = None,
        queue_at: str | None = None,
        also: Iterable = (),
        when=None,
        queue_id: str | None = None,
    ) -> Move:
        """The update of `obj` (a PynamoDB model instance) by `action`, built from the table.

        The condition: the stored status is one `action` may start from (exactly `source` when given: the
        status the caller read and checked), and `when`. The actions: the status, the timestamps the
        entity and the transition stamp (`now`), the queue-index keys (set, with `queue_at` or `now`,
        when the target status or the transition names a queue, or `queue`; removed otherwise), and
        `also`. `obj` is updated in memory to what the write commits. `to` picks the target of an action
        with several (unpackage). 409 when `source` does not allow the action.
        """
        model = type(obj)
        rows = self._rows(action)
        if source is not None:
            self.require(action, source)
            rows = [t for t in rows if source in t.sources]
        if to is not None:
            rows = [t for t in rows if t.target == to]
            if not rows:
                raise KeyError(f"{self.entity} action {action!r} does not lead to {to!r}")
        elif len({t.target for t in rows}) != 1:
            raise KeyError(f"{self.entity} action {action!r} has several targets; name one with to=")
        row = rows[0]
        status = model.status
        condition = status == str(source) if source is not None else self.condition(status, action)
        if when is not None:
            condition = condition & when
        updates: dict[str, Any] = {"status": row.target}
        for stamp in (*self.stamps, *row.stamps):
            updates[stamp] = now
        actions = [getattr(model, name).set(str(value)) for name, value in updates.items()]
        if self.queues is not None:
            chosen = queue or row.queue or self.queues.get(row.target)
            if chosen is not None:
                if chosen not in self.queue_names():
                    raise KeyError(f"{self.entity} has no queue {chosen!r}")
                from chalicelib.queues import shard_key

                entity_id = queue_id or getattr(obj, model._hash_key_attribute().attr_name)
                updates.update(queue_key=shard_key(chosen, entity_id), queue_at=queue_at or now)
                actions += [
                    model.queue_key.set(updates["queue_key"]),
                    model.queue_at.set(updates["queue_at"]),
                ]
            else:
                updates.update(queue_key=None, queue_at=None)
                actions += [model.queue_key.remove(), model.queue_at.remove()]
        for name, value in updates.items():
            setattr(obj, name, value)
        return Move([*actions, *also], condition)

    # --- a word in a record's map (e.g. a payment's disputes): the record's update, not the word's own ---

    def start_entry(
        self, attribute, entries: dict, key: str, first: StrEnum, /, *, now: str, **fields
    ) -> Move:
        """Entry `key` of the map `attribute` (e.g. `Payment.disputes`, whose stored entries are `entries`)
        created in `first`, stamped as a move there would stamp it; condition: no entry `key` yet.
        `entries` is updated in memory to what the write commits."""
        if first not in self.starts:
            raise ValueError(f"a new {self.entity} starts {', '.join(self.starts)}, not {first}")
        if key in entries:
            raise Conflict(f"The {self.entity} {key} exists already.")
        stamps = {x for t in self.transitions if t.target == first for x in t.stamps}
        entries[key] = {
            **fields,
            "state": self.statuses(first).value,
            **dict.fromkeys((*self.stamps, *sorted(stamps)), now),
        }
        return Move([attribute.set(entries)], attribute[key].does_not_exist())

    def move_entry(self, attribute, entries: dict, key: str, action: str, /, *, now: str, **fields) -> Move:
        """Entry `key` of the map `attribute` moved by `action` (its state, the stamps, `fields`); the
        condition: its stored state is still one `action` may start from. 409 when its state does not
        allow the action. `entries` is updated in memory to what the write commits."""
        current = entries[key]
        self.require(action, current["state"], what=f"{self.entity} {key}")
        row = next(t for t in self._rows(action) if current["state"] in t.sources)
        entries[key] = {
            **current,
            **fields,
            "state": row.target.value,
            **dict.fromkeys((*self.stamps, *row.stamps), now),
        }
        return Move([attribute.set(entries)], self.condition(attribute[key]["state"], action))


C, R, W, S = Actor.CUSTOMER, Actor.REVIEWER, Actor.WAREHOUSE, Actor.SYSTEM
I = ItemStatus  # noqa: E741 - the table reads better with one-letter names
O, P, X, K, Q = OrderStatus, PackageStatus, ParcelStatus, CaseStatus, Queue  # noqa: E741
SETTLING = (Settlement.AWAITING_CONFIRMATION, Settlement.AWAITING_PAYMENT)
# packed packages waiting for the customer's answer, with a deadline the storage sweep reads
WAITING_ON_CUSTOMER = (PackageStatus.AWAITING_DIFFERENCE, PackageStatus.REHEARSED)

# inspected and on a shelf with a running storage clock (90 days from the In Warehouse status)
STORED = (I.IN_WAREHOUSE, I.NOT_TRANSPORTABLE)
INSPECTED = ("in_warehouse_at",)
# inspected, waiting on the customer's feedback (chalicelib/feedback.py): a feedback deadline runs, not the
# storage clock; with no answer by then the item is taken as accepted ("assume agreed")
AWAITING_FEEDBACK = (I.INSPECTION_ISSUE, I.AWAITING_CONFIRMATION)
# goods with us that an after-sales case may send back to the merchant or exchange
RETURNABLE = (I.RECEIVED, *AWAITING_FEEDBACK, *STORED)

ITEM = Lifecycle(
    "item",
    ItemStatus,
    [
        Transition("pay", (I.PENDING_PAYMENT,), I.PENDING_REVIEW, (C, S)),
        Transition("approve", (I.PENDING_REVIEW,), I.PURCHASING, (R,)),
        Transition("reject", (I.PENDING_REVIEW,), I.REJECTED, (R,)),
        Transition("cancel", (I.PENDING_PAYMENT, I.PENDING_REVIEW, I.PURCHASING), I.CANCELLED, (C,)),
        Transition("purchase", (I.PURCHASING,), I.PURCHASED, (R,)),
        # bought at a higher price the customer must confirm or pay: the item waits for them
        Transition("await_difference", (I.PURCHASING,), I.PURCHASING, (R,), queue=Q.AWAITING_PAYMENT),
        Transition("pay_difference", (I.PURCHASING,), I.PURCHASED, (C,)),
        Transition("decline_difference", (I.PURCHASING,), I.CANCELLED, (C,)),
        # purchasing exceptions (issue 22): the shop cannot supply the item (out of stock, delisted,
        # refused); before it ships, staff cancel it with a refund, or offer another SKU of the product
        Transition("mark_unavailable", (I.PURCHASING, I.PURCHASED), I.CANCELLED, (R,)),
        Transition("offer_replacement", (I.PURCHASING,), I.PURCHASING, (R,), queue=Q.AWAITING_REPLACEMENT),
        Transition("accept_replacement", (I.PURCHASING,), I.PURCHASING, (C,)),
        Transition("decline_replacement", (I.PURCHASING,), I.CANCELLED, (C,)),
        # a replacement offer not answered by its deadline: declined for the customer (nothing bought
        # without their consent), cancelled and refunded
        Transition("expire_replacement", (I.PURCHASING,), I.CANCELLED, (S,)),
        Transition("ship_domestic", (I.PURCHASED,), I.SHIPPED_DOMESTIC, (R,)),
        Transition("receive", (I.PURCHASED, I.SHIPPED_DOMESTIC), I.RECEIVED, (W,), ("received_at",)),
        Transition("inspect_pass", (I.RECEIVED,), I.IN_WAREHOUSE, (W,), INSPECTED),
        Transition("inspect_issue", (I.RECEIVED,), I.INSPECTION_ISSUE, (W,)),
        # electronics passed on appearance: the arrival photos go to the customer to confirm
        Transition("inspect_for_confirmation", (I.RECEIVED,), I.AWAITING_CONFIRMATION, (W,)),
        Transition("mark_not_transportable", (I.RECEIVED,), I.NOT_TRANSPORTABLE, (W,), INSPECTED),
        Transition("accept_issue", (I.INSPECTION_ISSUE,), I.IN_WAREHOUSE, (C,), INSPECTED),
        Transition("confirm", (I.AWAITING_CONFIRMATION,), I.IN_WAREHOUSE, (C,), INSPECTED),
        # no answer by the feedback deadline: the seed's "we will assume you ... reached an agreement"
        Transition("assume_agreed", AWAITING_FEEDBACK, I.IN_WAREHOUSE, (S,), INSPECTED),
        Transition("package", (I.IN_WAREHOUSE, I.NOT_TRANSPORTABLE), I.IN_PACKAGE, (C,)),
        # a cancelled or expired package gives its items back the status they had before
        Transition("unpackage", (I.IN_PACKAGE,), I.IN_WAREHOUSE, (C, S)),
        Transition("unpackage", (I.IN_PACKAGE,), I.NOT_TRANSPORTABLE, (C, S)),
        Transition("ship", (I.IN_PACKAGE,), I.SHIPPED, (W,)),
        Transition("deliver", (I.SHIPPED,), I.DELIVERED, (C, S)),
        Transition("return", RETURNABLE, I.RETURNED, (R, W)),
        # an after-sales exchange: the goods go back to the merchant and the item to purchasing, where the
        # replacement's price difference is settled like any purchase (rules/settlement.py)
        Transition("exchange", RETURNABLE, I.PURCHASING, (R, W)),
        Transition("abandon", STORED, I.ABANDONED, (S,), ("abandoned_at",)),
        Transition("destroy", (I.ABANDONED,), I.DESTROYED, (W,), ("destroyed_at",)),
    ],
    stamps=("updated_at",),
    starts=(I.RECEIVED,),  # a forwarded or unidentified parcel's goods arrive as a new item
    queues={
        I.PURCHASING: Q.PURCHASING,
        I.PURCHASED: Q.PURCHASED,
        I.SHIPPED_DOMESTIC: Q.SHIPPED_DOMESTIC,
        I.RECEIVED: Q.RECEIVED,
        I.ABANDONED: Q.DESTRUCTION,
    },
)

ORDER = Lifecycle(
    "order",
    OrderStatus,
    [
        Transition("pay", (O.PENDING_PAYMENT,), O.PENDING_REVIEW, (C, S), ("paid_at",)),
        Transition("approve", (O.PENDING_REVIEW,), O.APPROVED, (R,), ("decided_at",)),
        Transition("reject", (O.PENDING_REVIEW,), O.REJECTED, (R,), ("decided_at",)),
        Transition(
            "cancel", (O.PENDING_PAYMENT, O.PENDING_REVIEW, O.APPROVED), O.CANCELLED, (C,), ("cancelled_at",)
        ),
        # its last live item was cancelled after approval (unavailable, a declined replacement or price)
        Transition("close_cancelled", (O.APPROVED,), O.CANCELLED, (R, C, S), ("cancelled_at",)),
    ],
    queues={O.PENDING_REVIEW: Q.PENDING_REVIEW, O.APPROVED: Q.APPROVED},
)

PACKAGE = Lifecycle(
    "package",
    PackageStatus,
    [
        # C: from the wallet; S: a provider payment for it succeeded (chalicelib/api/payments.py)
        Transition("pay", (P.PENDING_PAYMENT,), P.PAID, (C, S), ("paid_at",)),
        Transition("cancel", (P.PENDING_PAYMENT, P.PAID), P.CANCELLED, (C,), ("cancelled_at",)),
        Transition("expire", (P.PENDING_PAYMENT,), P.CANCELLED, (S,), ("cancelled_at",)),
        Transition("pack", (P.PAID,), P.PACKED, (W,)),
        # the final charge is over the consent threshold, or more than the wallet holds: the customer
        # pays the difference or sends the package back to storage before its answer deadline
        Transition("pack_await_difference", (P.PAID,), P.AWAITING_DIFFERENCE, (W,)),
        Transition("pay_difference", (P.AWAITING_DIFFERENCE,), P.PACKED, (C,)),
        # a rehearsal: packed, weighed, measured and photographed; the customer sees it before it ships
        Transition("rehearse", (P.PAID,), P.REHEARSED, (W,)),
        Transition("confirm_packing", (P.REHEARSED,), P.PACKED, (C,)),
        Transition("repack", (P.REHEARSED,), P.PAID, (C,)),
        # unpacked, its items back on the shelf: by the customer, or with no answer by the deadline
        Transition("return_to_storage", WAITING_ON_CUSTOMER, P.CANCELLED, (C,), ("cancelled_at",)),
        Transition("return_unanswered", WAITING_ON_CUSTOMER, P.CANCELLED, (S,), ("cancelled_at",)),
        Transition("ship", (P.PACKED,), P.SHIPPED, (W,), ("shipped_at",)),
        Transition("deliver", (P.SHIPPED,), P.DELIVERED, (C, S), ("delivered_at",)),
        Transition("rate", (P.DELIVERED,), P.DELIVERED, (C,)),
    ],
    stamps=("updated_at",),
    queues={
        P.PAID: Q.PAID,
        P.PACKED: Q.PACKED,
        P.AWAITING_DIFFERENCE: Q.AWAITING_PAYMENT,
        P.REHEARSED: Q.REHEARSED,
    },
)

PARCEL = Lifecycle(
    "parcel",
    ParcelStatus,
    [
        Transition("assign", (X.EXCEPTIONAL,), X.ASSIGNED, (W,), ("assigned_at",)),
        Transition("abandon", (X.EXCEPTIONAL,), X.ABANDONED, (S,), ("abandoned_at",)),
        Transition("destroy", (X.ABANDONED,), X.DESTROYED, (W,), ("destroyed_at",)),
        # a wrong scan undone: nothing attached, within PARCEL_VOID_MINUTES of the scan (warehouse.void)
        Transition("void", (X.EXCEPTIONAL,), X.VOIDED, (W,), ("voided_at",)),
    ],
    queues={X.EXCEPTIONAL: Q.EXCEPTIONAL, X.ABANDONED: Q.DESTRUCTION},
)

CASE = Lifecycle(
    "after-sales case",
    CaseStatus,
    [Transition("resolve", (K.OPEN,), K.RESOLVED, (R, W), ("resolved_at",))],
    queues={K.OPEN: Q.OPEN},
)

CLAIM = Lifecycle(
    "insurance claim",
    ClaimStatus,
    [
        Transition("approve", (ClaimStatus.OPEN,), ClaimStatus.APPROVED, (R, W), ("decided_at",)),
        Transition("reject", (ClaimStatus.OPEN,), ClaimStatus.REJECTED, (R, W), ("decided_at",)),
    ],
    stamps=("updated_at",),
    queues={ClaimStatus.OPEN: Q.OPEN},
)

DECLARATION = Lifecycle(
    "forwarding declaration",
    DeclarationStatus,
    [
        Transition("match", (DeclarationStatus.DECLARED,), DeclarationStatus.RECEIVED, (W,)),
        Transition("contest", (DeclarationStatus.DECLARED,), DeclarationStatus.EXCEPTIONAL, (W,)),
        Transition("assign", (DeclarationStatus.EXCEPTIONAL,), DeclarationStatus.RECEIVED, (W,)),
        Transition("assign_elsewhere", (DeclarationStatus.EXCEPTIONAL,), DeclarationStatus.REJECTED, (W,)),
    ],
)

# a replaced object is ingested again (ready -> ready) or, when bad, rejects an attached photo
PHOTO_LIVE = (PhotoStatus.PENDING, PhotoStatus.READY)
PHOTO = Lifecycle(
    "photo",
    PhotoStatus,
    [
        Transition("ingest", PHOTO_LIVE, PhotoStatus.READY, (S,), ("ready_at",)),
        Transition("quarantine", PHOTO_LIVE, PhotoStatus.REJECTED, (S,), ("rejected_at",)),
    ],
)

# paid extra photos of an inspected item: the warehouse uploads them and completes the request, or the
# fee is refunded by the change that takes the item out of our hands first (a return to the merchant,
# abandonment); packing waits for them
PHOTO_REQUEST = Lifecycle(
    "photo request",
    PhotoRequestStatus,
    [
        Transition(
            "complete", (PhotoRequestStatus.REQUESTED,), PhotoRequestStatus.COMPLETED, (W,), ("completed_at",)
        ),
        Transition(
            "refund",
            (PhotoRequestStatus.REQUESTED,),
            PhotoRequestStatus.REFUNDED,
            (S,),
            ("refunded_at",),
        ),
    ],
    queues={PhotoRequestStatus.REQUESTED: Q.PHOTO_REQUESTS},
)

PAYMENT = Lifecycle(
    "payment",
    PaymentStatus,
    [
        # a failed attempt can be retried on the same provider payment: its success still credits
        Transition(
            "succeed",
            (PaymentStatus.REQUIRES_ACTION, PaymentStatus.FAILED),
            PaymentStatus.SUCCEEDED,
            (C, S),  # the customer: capturing an approved PayPal order (POST /payments/{id}/capture)
            ("succeeded_at",),
        ),
        Transition("fail", (PaymentStatus.REQUIRES_ACTION,), PaymentStatus.FAILED, (C, S), ("failed_at",)),
        Transition(
            "cancel",
            (PaymentStatus.REQUIRES_ACTION, PaymentStatus.FAILED),
            PaymentStatus.CANCELED,
            (S,),
            ("canceled_at",),
        ),
    ],
)

# a provider's dispute of a payment (a word in its `disputes` map, chalicelib/payments.py): opened by the
# provider's event (the disputed amount held once), then decided won (the hold back) or lost (final). A
# decision whose opening has not arrived yet creates it decided (lost: the debit taken then); an opening
# that comes after a decision, or twice, changes nothing
DISPUTE = Lifecycle(
    "dispute",
    DisputeStatus,
    [
        Transition("win", (DisputeStatus.OPEN,), DisputeStatus.WON, (S,), ("decided_at",)),
        Transition("lose", (DisputeStatus.OPEN,), DisputeStatus.LOST, (S,), ("decided_at",)),
    ],
    stamps=("updated_at",),
    starts=(DisputeStatus.WON, DisputeStatus.LOST),  # a decision that overtook its opening
)

# a withdrawal: approving refunds through the providers (chalicelib/withdrawals.py), rejecting returns the
# held money to the wallet
WITHDRAWAL = Lifecycle(
    "withdrawal",
    WithdrawalStatus,
    [
        Transition(
            "approve", (WithdrawalStatus.REQUESTED,), WithdrawalStatus.REFUNDING, (R,), ("decided_at",)
        ),
        Transition("reject", (WithdrawalStatus.REQUESTED,), WithdrawalStatus.REJECTED, (R,), ("decided_at",)),
        # the approval's last step, once every booked refund has the provider's answer
        Transition("finish", (WithdrawalStatus.REFUNDING,), WithdrawalStatus.REFUNDED, (S,)),
        Transition("finish", (WithdrawalStatus.REFUNDING,), WithdrawalStatus.PARTLY_REFUNDED, (S,)),
    ],
    # a refunding withdrawal stays on the staff queue: an approval cut short is approved again
    queues={WithdrawalStatus.REQUESTED: Q.WITHDRAWALS, WithdrawalStatus.REFUNDING: Q.WITHDRAWALS},
)

# the settlement of an item's purchase price or a package's final charge (a word in its purchase/packed
# record, not a status attribute): recorded once, then settled by the customer when it waits for them
SETTLEMENT = Lifecycle(
    "price difference",
    Settlement,
    [
        Transition("pay_difference", SETTLING, Settlement.CHARGED, (C,)),
        Transition("decline_difference", SETTLING, Settlement.DECLINED, (C,)),
    ],
    starts=(Settlement.CHARGED,),  # charged at once when the wallet covers it
)

# a replacement offer (the item's `replacement.state`): made once, then decided by the customer, or
# withdrawn when staff mark the item unavailable meanwhile
REPLACEMENT = Lifecycle(
    "replacement offer",
    ReplacementState,
    [
        Transition("accept", (ReplacementState.OFFERED,), ReplacementState.ACCEPTED, (C,)),
        Transition("decline", (ReplacementState.OFFERED,), ReplacementState.DECLINED, (C,)),
        Transition("withdraw", (ReplacementState.OFFERED,), ReplacementState.WITHDRAWN, (R,)),
        Transition("expire", (ReplacementState.OFFERED,), ReplacementState.EXPIRED, (S,)),
    ],
)

# a paid service's work item (a word in the package's `service_work` map, not a status attribute): ticked
# off or refunded by the packer before the package may be packed (chalicelib/service_work.py)
SERVICE_WORK = Lifecycle(
    "package service",
    ServiceWork,
    [
        Transition("perform", (ServiceWork.TO_DO,), ServiceWork.PERFORMED, (W,)),
        Transition("refund", (ServiceWork.TO_DO,), ServiceWork.REFUNDED, (W,)),
    ],
)

OUTBOX = Lifecycle(
    "outbox event",
    OutboxStatus,
    [
        # from `sending` only once that claim expired (a handler died mid-send): chalicelib/events/outbox.py
        Transition("claim", (OutboxStatus.PENDING, OutboxStatus.SENDING), OutboxStatus.SENDING, (S,)),
        Transition("release", (OutboxStatus.SENDING,), OutboxStatus.PENDING, (S,)),  # a transient failure
        Transition("send", (OutboxStatus.SENDING,), OutboxStatus.SENT, (S,)),
        Transition("refuse", (OutboxStatus.SENDING,), OutboxStatus.UNDELIVERABLE, (S,)),
    ],
    starts=(OutboxStatus.PENDING,),  # written with the change that causes it
)

# --- message threads (chalicelib/messages.py): one per order or package ----------------------------------


class ThreadStatus(StrEnum):
    """A customer-staff message thread on an order or a package."""

    UNANSWERED = "unanswered"  # the last message is the customer's: on the staff queue
    ANSWERED = "answered"  # the last message is staff's


TH = ThreadStatus
THREAD = Lifecycle(
    "message thread",
    ThreadStatus,
    [
        # a customer message (a follow-up keeps the waiting time of the first unanswered one)
        Transition("ask", (TH.ANSWERED, TH.UNANSWERED), TH.UNANSWERED, (C,)),
        # a staff message (a second reply before the customer writes again changes nothing else)
        Transition("answer", (TH.UNANSWERED, TH.ANSWERED), TH.ANSWERED, (R, W)),
    ],
    starts=(TH.UNANSWERED, TH.ANSWERED),  # created by its first message, the customer's or staff's
    queues={TH.UNANSWERED: Q.UNANSWERED},
)

LIFECYCLES = {
    "item": ITEM,
    "order": ORDER,
    "package": PACKAGE,
    "parcel": PARCEL,
    "case": CASE,
    "claim": CLAIM,
    "declaration": DECLARATION,
    "photo": PHOTO,
    "outbox": OUTBOX,
    "payment": PAYMENT,
    "dispute": DISPUTE,
    "withdrawal": WITHDRAWAL,
    "settlement": SETTLEMENT,
    "photo_request": PHOTO_REQUEST,
    "replacement": REPLACEMENT,
    "service": SERVICE_WORK,
    "thread": THREAD,
}

# --- named sets, derived from the table ---------------------------------------------------------------

# the storage clock runs (the sweep abandons what is past its deadline)
CLOCK_RUNNING = ITEM.sources("abandon")
# physically with us and listed in the customer's storage view
IN_STORAGE = (*CLOCK_RUNNING, I.IN_PACKAGE)
# what a customer may put in a package
PACKABLE = ITEM.sources("package")
# what the inbound scan matches
AWAITING_ARRIVAL = ITEM.sources("receive")
# physically in our warehouse (received, inspected, or packed and waiting to leave)
PHYSICALLY_HERE = (I.RECEIVED, *AWAITING_FEEDBACK, *IN_STORAGE)
# shown with a storage deadline to the customer: stored, or past the deadline and (being) destroyed
WITH_DEADLINE = (*IN_STORAGE, I.ABANDONED, I.DESTROYED)
# goods that reached us and have not left (nor been packed): after-sales cases are about these
CASE_OPEN_FOR = ITEM.sources("return")
# items that are someone's expected shipment (purchased, not yet scanned in)
EXPECTED_SHIPMENT = AWAITING_ARRIVAL
# final statuses: nothing happens to these any more
ITEM_FINAL = ITEM.final()
# the customer may change the item's remark (the apparel inspection reads the latest) until it is received
REMARK_EDITABLE = ITEM.sources("pay", "approve", "purchase", "ship_domestic", "receive")


# --- the table as documentation (docs/data-model.md and the OpenAPI document are generated from it) ----


def markdown() -> str:
    """The statuses, the transition table and a state diagram per entity, as Markdown."""
    names = {"item": "item", "order": "order", "package": "package", "parcel": "inbound parcel"}
    lines = [
        MARK_START,
        "## Lifecycle",
        "",
        "Generated from the transition table in `chalicelib/lifecycle.py` (`make docs`; a test fails when",
        "this section is stale). Every status write is built from the same table (`Lifecycle.move`: the",
        "condition, the stamps, the queue keys), and `who` is checked against each route's groups.",
        "",
        "### Statuses",
        "",
    ]
    for key, title in names.items():
        statuses = ", ".join(f"`{s.value}`" for s in LIFECYCLES[key].statuses)
        lines.append(f"- {title}: {statuses}")
    for machine in (
        CASE,
        CLAIM,
        PAYMENT,
        DISPUTE,
        SETTLEMENT,
        SERVICE_WORK,
        THREAD,
        REPLACEMENT,
        PHOTO_REQUEST,
    ):
        lines.append(f"- {machine.entity}: {', '.join(f'`{s.value}`' for s in machine.statuses)}")
    lines += ["", "### Staff queues", ""]
    lines.append("A status on a queue sets the record's `queue_key` (`<queue>#<shard>`) and `queue_at`; any")
    lines.append("other status removes them. A transition may name its own queue (`awaiting_payment`).")
    lines.append("")
    for machine in LIFECYCLES.values():
        if machine.queues is None:
            continue
        queues = [f"`{s.value}` -> `{q.value}`" for s, q in machine.queues.items()]
        queues += [f"{t.action} -> `{t.queue.value}`" for t in machine.transitions if t.queue]
        lines.append(f"- {machine.entity}: {', '.join(queues)}")
    lines += ["", "### Transitions", ""]
    lines.append(
        "`stamps`: the timestamps the move sets, besides the entity's own (item and package: `updated_at`)."
    )
    lines.append("")
    lines += ["| entity | action | from | to | who | stamps |", "|---|---|---|---|---|---|"]
    for machine in LIFECYCLES.values():
        for t in machine.transitions:
            sources = ", ".join(f"`{s.value}`" for s in t.sources)
            who = ", ".join(a.value for a in t.actors)
            stamps = ", ".join(f"`{x}`" for x in t.stamps)
            lines.append(
                f"| {machine.entity} | {t.action} | {sources} | `{t.target.value}` | {who} | {stamps} |"
            )
    for machine in LIFECYCLES.values():
        lines += ["", f"#### {machine.entity}", "", "```mermaid", "stateDiagram-v2"]
        for s in machine.starts:
            lines.append(f"    [*] --> {s.value}")
        for t in machine.transitions:
            for s in t.sources:
                if s != t.target:
                    lines.append(f"    {s.value} --> {t.target.value}: {t.action}")
        for s in machine.final():
            lines.append(f"    {s.value} --> [*]")
        lines.append("```")
    lines.append(MARK_END)
    return "\n".join(lines) + "\n"


MARK_START = "<!-- lifecycle: generated -->"
MARK_END = "<!-- lifecycle: end -->"


def replace_section(document: str, section: str, start: str, end: str) -> str:
    """`document` with the generated `section` (which opens with `start` and closes with `end`) in place
    of the one it holds, or appended."""
    if start in document:
        head, rest = document.split(start, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        return head + section + ("\n" + tail if tail else "")
    return document.rstrip("\n") + "\n\n" + section


def with_section(document: str) -> str:
    """`document` (docs/data-model.md) with its lifecycle section replaced (or appended) by markdown()."""
    return replace_section(document, markdown(), MARK_START, MARK_END)


if __name__ == "__main__":
    from pathlib import Path

    target = Path(__file__).resolve().parents[1] / "docs" / "data-model.md"
    target.write_text(with_section(target.read_text()))
    print(f"wrote the lifecycle section of {target}")


def openapi_schemas() -> dict:
    """Component schemas of the status enums, each describing its transitions."""
    schemas = {}
    for machine, name in (
        (ITEM, "ItemStatus"),
        (ORDER, "OrderStatus"),
        (PACKAGE, "PackageStatus"),
        (PARCEL, "ParcelStatus"),
        (CASE, "CaseStatus"),
        (THREAD, "ThreadStatus"),
        (CLAIM, "ClaimStatus"),
    ):
        moves = "; ".join(
            f"{t.action}: {'/'.join(s.value for s in t.sources)} -> {t.target.value}"
            for t in machine.transitions
        )
        schemas[name] = {
            "type": "string",
            "enum": [s.value for s in machine.statuses],
            "description": f"The {machine.entity}'s status. Transitions: {moves}.",
        }
    return schemas
