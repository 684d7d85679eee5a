"""The lifecycle of items, orders, packages, parcels and after-sales cases: one home, pure code.

Each entity's statuses are an enum whose values are the API's status strings (docs/api.md, "Statuses").
Its allowed transitions are one table: a business action, the statuses it may start from, the status it
leads to, and who may trigger it. Services ask the table for the write condition of an action
(`ITEM.condition(Item.status, "approve")`) and for the refusal when the current status does not allow it
(`ITEM.require("approve", item.status)`); the named status sets the code needs (what the storage sweep
abandons, what may be packed, what is stored...) are derived from the table, never retyped.
Nothing here touches DynamoDB: the tests of this module run in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

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


class ParcelStatus(StrEnum):
    MATCHED = "matched"
    EXCEPTIONAL = "exceptional"
    ASSIGNED = "assigned"
    ABANDONED = "abandoned"
    DESTROYED = "destroyed"


class CaseStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


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


class OutboxStatus(StrEnum):
    """An email event of the outbox (chalicelib/models/outbox.py)."""

    PENDING = "pending"  # written with its change; not sent yet, or its last attempt failed
    SENDING = "sending"  # claimed by a handler until its claim expires
    SENT = "sent"
    UNDELIVERABLE = "undeliverable"  # no address, or SES refused it for good: never retried


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[StrEnum, ...]
    target: StrEnum
    actors: tuple[Actor, ...]


class Lifecycle:
    """One entity's statuses and its transition table."""

    def __init__(self, entity: str, statuses: type[StrEnum], transitions: Iterable[Transition]):
        self.entity = entity
        self.statuses = statuses
        self.transitions: tuple[Transition, ...] = tuple(transitions)
        for t in self.transitions:
            for status in (*t.sources, t.target):
                if not isinstance(status, statuses):
                    raise TypeError(f"{entity} transition {t.action!r} uses {status!r}")

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


C, R, W, S = Actor.CUSTOMER, Actor.REVIEWER, Actor.WAREHOUSE, Actor.SYSTEM
I = ItemStatus  # noqa: E741 - the table reads better with one-letter names
O, P, X, K = OrderStatus, PackageStatus, ParcelStatus, CaseStatus  # noqa: E741

# inspected and on a shelf with a running storage clock
STORED = (I.IN_WAREHOUSE, I.INSPECTION_ISSUE, I.NOT_TRANSPORTABLE)

ITEM = Lifecycle(
    "item",
    ItemStatus,
    [
        Transition("pay", (I.PENDING_PAYMENT,), I.PENDING_REVIEW, (C, S)),
        Transition("approve", (I.PENDING_REVIEW,), I.PURCHASING, (R,)),
        Transition("reject", (I.PENDING_REVIEW,), I.REJECTED, (R,)),
        Transition("cancel", (I.PENDING_PAYMENT, I.PENDING_REVIEW, I.PURCHASING), I.CANCELLED, (C,)),
        Transition("purchase", (I.PURCHASING,), I.PURCHASED, (R,)),
        Transition("pay_difference", (I.PURCHASING,), I.PURCHASED, (C,)),
        Transition("decline_difference", (I.PURCHASING,), I.CANCELLED, (C,)),
        Transition("ship_domestic", (I.PURCHASED,), I.SHIPPED_DOMESTIC, (R,)),
        Transition("receive", (I.PURCHASED, I.SHIPPED_DOMESTIC), I.RECEIVED, (W,)),
        Transition("inspect_pass", (I.RECEIVED,), I.IN_WAREHOUSE, (W,)),
        Transition("inspect_issue", (I.RECEIVED,), I.INSPECTION_ISSUE, (W,)),
        Transition("mark_not_transportable", (I.RECEIVED,), I.NOT_TRANSPORTABLE, (W,)),
        Transition("accept_issue", (I.INSPECTION_ISSUE,), I.IN_WAREHOUSE, (C,)),
        Transition("package", (I.IN_WAREHOUSE, I.NOT_TRANSPORTABLE), I.IN_PACKAGE, (C,)),
        # a cancelled or expired package gives its items back the status they had before
        Transition("unpackage", (I.IN_PACKAGE,), I.IN_WAREHOUSE, (C, S)),
        Transition("unpackage", (I.IN_PACKAGE,), I.NOT_TRANSPORTABLE, (C, S)),
        Transition("ship", (I.IN_PACKAGE,), I.SHIPPED, (W,)),
        Transition("deliver", (I.SHIPPED,), I.DELIVERED, (C, S)),
        Transition("return", (I.RECEIVED, *STORED), I.RETURNED, (R, W)),
        Transition("abandon", STORED, I.ABANDONED, (S,)),
        Transition("destroy", (I.ABANDONED,), I.DESTROYED, (W,)),
    ],
)

ORDER = Lifecycle(
    "order",
    OrderStatus,
    [
        Transition("pay", (O.PENDING_PAYMENT,), O.PENDING_REVIEW, (C, S)),
        Transition("approve", (O.PENDING_REVIEW,), O.APPROVED, (R,)),
        Transition("reject", (O.PENDING_REVIEW,), O.REJECTED, (R,)),
        Transition("cancel", (O.PENDING_PAYMENT, O.PENDING_REVIEW, O.APPROVED), O.CANCELLED, (C,)),
    ],
)

PACKAGE = Lifecycle(
    "package",
    PackageStatus,
    [
        Transition("pay", (P.PENDING_PAYMENT,), P.PAID, (C,)),
        Transition("cancel", (P.PENDING_PAYMENT, P.PAID), P.CANCELLED, (C,)),
        Transition("expire", (P.PENDING_PAYMENT,), P.CANCELLED, (S,)),
        Transition("pack", (P.PAID,), P.PACKED, (W,)),
        Transition("pay_difference", (P.PACKED,), P.PACKED, (C,)),
        Transition("ship", (P.PACKED,), P.SHIPPED, (W,)),
        Transition("deliver", (P.SHIPPED,), P.DELIVERED, (C, S)),
        Transition("rate", (P.DELIVERED,), P.DELIVERED, (C,)),
    ],
)

PARCEL = Lifecycle(
    "parcel",
    ParcelStatus,
    [
        Transition("assign", (X.EXCEPTIONAL,), X.ASSIGNED, (W,)),
        Transition("abandon", (X.EXCEPTIONAL,), X.ABANDONED, (S,)),
        Transition("destroy", (X.ABANDONED,), X.DESTROYED, (W,)),
    ],
)

CASE = Lifecycle(
    "after-sales case",
    CaseStatus,
    [Transition("resolve", (K.OPEN,), K.RESOLVED, (R, W))],
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

PHOTO = Lifecycle(
    "photo",
    PhotoStatus,
    [
        Transition("ingest", (PhotoStatus.PENDING,), PhotoStatus.READY, (S,)),
        Transition("quarantine", (PhotoStatus.PENDING,), PhotoStatus.REJECTED, (S,)),
    ],
)

OUTBOX = Lifecycle(
    "outbox event",
    OutboxStatus,
    [
        Transition("claim", (OutboxStatus.PENDING,), OutboxStatus.SENDING, (S,)),
        Transition("take_over", (OutboxStatus.SENDING,), OutboxStatus.SENDING, (S,)),  # its claim expired
        Transition("release", (OutboxStatus.SENDING,), OutboxStatus.PENDING, (S,)),  # a transient failure
        Transition("send", (OutboxStatus.SENDING,), OutboxStatus.SENT, (S,)),
        Transition("refuse", (OutboxStatus.SENDING,), OutboxStatus.UNDELIVERABLE, (S,)),
    ],
)

LIFECYCLES = {
    "item": ITEM,
    "order": ORDER,
    "package": PACKAGE,
    "parcel": PARCEL,
    "case": CASE,
    "declaration": DECLARATION,
    "photo": PHOTO,
    "outbox": OUTBOX,
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
PHYSICALLY_HERE = (I.RECEIVED, *IN_STORAGE)
# shown with a storage deadline to the customer: stored, or past the deadline and (being) destroyed
WITH_DEADLINE = (*IN_STORAGE, I.ABANDONED, I.DESTROYED)
# goods that reached us and have not left (nor been packed): after-sales cases are about these
CASE_OPEN_FOR = ITEM.sources("return")
# items that are someone's expected shipment (purchased, not yet scanned in)
EXPECTED_SHIPMENT = AWAITING_ARRIVAL
# final statuses: nothing happens to these any more
ITEM_FINAL = ITEM.final()


# --- the table as documentation (docs/data-model.md and the OpenAPI document are generated from it) ----


def markdown() -> str:
    """The statuses, the transition table and a state diagram per entity, as Markdown."""
    names = {"item": "item", "order": "order", "package": "package", "parcel": "inbound parcel"}
    lines = [
        MARK_START,
        "## Lifecycle",
        "",
        "Generated from the transition table in `chalicelib/lifecycle.py` (`make docs`; a test fails when",
        "this section is stale). Services build their write conditions from the same table.",
        "",
        "### Statuses",
        "",
    ]
    for key, title in names.items():
        statuses = ", ".join(f"`{s.value}`" for s in LIFECYCLES[key].statuses)
        lines.append(f"- {title}: {statuses}")
    lines.append(f"- after-sales case: {', '.join(f'`{s.value}`' for s in CASE.statuses)}")
    lines += ["", "### Transitions", ""]
    lines += ["| entity | action | from | to | who |", "|---|---|---|---|---|"]
    for machine in LIFECYCLES.values():
        for t in machine.transitions:
            sources = ", ".join(f"`{s.value}`" for s in t.sources)
            who = ", ".join(a.value for a in t.actors)
            lines.append(f"| {machine.entity} | {t.action} | {sources} | `{t.target.value}` | {who} |")
    for machine in LIFECYCLES.values():
        lines += ["", f"#### {machine.entity}", "", "```mermaid", "stateDiagram-v2"]
        reached = {t.target for t in machine.transitions}
        for s in machine.statuses:
            if s not in reached:  # where the entity starts
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


def with_section(document: str) -> str:
    """`document` (docs/data-model.md) with its lifecycle section replaced (or appended) by markdown()."""
    if MARK_START in document:
        head, rest = document.split(MARK_START, 1)
        tail = rest.split(MARK_END, 1)[1].lstrip("\n")
        return head + markdown() + ("\n" + tail if tail else "")
    return document.rstrip("\n") + "\n\n" + markdown()


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
