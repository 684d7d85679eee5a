"""Receiving, forwarding, inspection and storage (seed step 4)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING

from pynamodb.exceptions import PutError

# feedback, photos and photos_ready are imported by the functions that use them (inspect, own_item):
# a scan, the warehouse's first request of a shift, does not load them
from chalicelib import clock, config, db, ids, lifecycle, metrics, uow
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.lifecycle import DeclarationStatus, ItemStatus, ParcelStatus
from chalicelib.logs import get_logger
from chalicelib.models.commerce import Item
from chalicelib.models.warehouse import ForwardingDeclaration, Parcel
from chalicelib.rules import inspection as inspection_rules
from chalicelib.rules import storage as storage_rules
from chalicelib.tracking import normalise_tracking

if TYPE_CHECKING:
    from pynamodb.transactions import TransactWrite

log = get_logger("warehouse")

AWAITING_ARRIVAL = lifecycle.AWAITING_ARRIVAL
PHYSICALLY_HERE = lifecycle.PHYSICALLY_HERE


def parcel_id_for(tracking_no: str) -> str:
    """Derived from the tracking number: concurrent scans of one parcel race for one key."""
    return "pcl_" + hashlib.sha256(tracking_no.encode()).hexdigest()[:26]


def _item(item_id: str) -> Item:
    try:
        return Item.get(item_id, consistent_read=True)
    except Item.DoesNotExist:
        raise NotFound("No such item.") from None


def _receive(item: Item, parcel_id: str, now: str, when=None) -> lifecycle.Move:
    """An expected item scanned in with its parcel: received, on the inspection queue."""
    return lifecycle.ITEM.move(item, "receive", now=now, also=[Item.parcel_id.set(parcel_id)], when=when)


def _new_stored_item(
    user_id: str, title: str, source: str, parcel_id: str, now: str, weight_g: int | None = None
) -> Item:
    item_id = ids.new_id("itm")
    item = Item(
        item_id,
        user_id=user_id,
        source=source,
        title=title,
        quantity=1,
        unit_price_fen=0,
        parcel_id=parcel_id,
        received_at=now,
        weight_g=weight_g,
        created_at=now,
        updated_at=now,
    )
    return lifecycle.ITEM.start(item, ItemStatus.RECEIVED, now=now)  # what arrives unannounced


def _declarations(tracking: str) -> list[ForwardingDeclaration]:
    """The open declarations of a tracking number, one per customer (one Query)."""
    return [
        d
        for d in ForwardingDeclaration.query(tracking, consistent_read=True)
        if lifecycle.DECLARATION.allows("match", d.status)
    ]


def _close_declaration(
    tx: TransactWrite, declaration: ForwardingDeclaration, action: str, parcel_id: str, item_id: str | None
) -> None:
    """Within `tx`: an open (or contested) declaration leaves the customer's open count by `action`
    (match, contest, assign or assign_elsewhere)."""
    also = [ForwardingDeclaration.parcel_id.set(parcel_id), ForwardingDeclaration.open_by.remove()]
    if item_id:
        also.append(ForwardingDeclaration.item_id.set(item_id))
    move = lifecycle.DECLARATION.move(declaration, action, now=clock.now_iso(), also=also)
    tx.update(declaration, actions=move.actions, condition=move.condition)


# a scan's transaction holds the parcel, the matched items and the declarations it closes (limit 100)
MAX_DECLARATIONS_IN_SCAN = 90


def receive(
    tracking_no: str, carrier: str | None, weight_g: int | None, staff_id: str
) -> tuple[Parcel, bool]:
    """Scan a domestic parcel in. Returns (parcel, created); a second scan returns the same parcel.

    Expected items and open forwarding declarations of the number all of one customer: matched to that
    customer (a declaration by the owner of expected items just matches them; a declaration alone becomes
    a stored item of the declarant). Claims of different customers: the parcel is exceptional, no owner
    is chosen, the declarations are marked `exceptional`, and staff resolve it with assign. Nothing: an
    unknown (exceptional) parcel.
    """
    tracking = normalise_tracking(tracking_no)
    parcel_id = parcel_id_for(tracking)
    try:
        return Parcel.get(parcel_id, consistent_read=True), False
    except Parcel.DoesNotExist:
        pass
    now_dt = clock.now()
    now = clock.iso(now_dt)
    keys = [i.item_id for i in Item.by_tracking.query(tracking)]
    expected = [i for i in Item.batch_get(keys) if i.status in AWAITING_ARRIVAL] if keys else []
    declarations = _declarations(tracking)
    owners = {i.user_id for i in expected} | {d.user_id for d in declarations}
    parcel = Parcel(
        parcel_id,
        tracking_no=tracking,
        carrier=carrier,
        weight_g=weight_g,
        received_at=now,
        received_by=staff_id,
    )
    overflow: list[ForwardingDeclaration] = []

    def write(tx: TransactWrite) -> None:
        nonlocal overflow
        if len(owners) == 1:
            [owner] = owners
            new_item = None
            if not expected:  # a declaration alone: the declarant's goods become a stored item
                [declaration] = declarations
                new_item = _new_stored_item(
                    owner,
                    declaration.description,
                    lifecycle.ItemSource.FORWARDING,
                    parcel_id,
                    now,
                    weight_g,
                )
                tx.save(new_item, condition=Item.item_id.does_not_exist())
            for declaration in declarations:  # at most one: one per (tracking number, customer)
                matched = new_item.item_id if new_item else expected[0].item_id
                _close_declaration(tx, declaration, "match", parcel_id, matched)
            for item in expected:
                received = _receive(item, parcel_id, now, when=Item.user_id == owner)
                tx.update(item, actions=received.actions, condition=received.condition)
            lifecycle.PARCEL.start(parcel, ParcelStatus.MATCHED, now=now)
            parcel.item_ids = [i.item_id for i in expected] + ([new_item.item_id] if new_item else [])
            parcel.user_id = owner
        else:
            expires = storage_rules.exceptional_expires_at(now_dt)
            lifecycle.PARCEL.start(parcel, ParcelStatus.EXCEPTIONAL, now=now)
            parcel.storage_expires_at = clock.iso(expires)
            parcel.deadline_key = storage_rules.deadline_key(expires, parcel_id)
            if owners:  # contested: claims of different customers; staff decide, nobody is told whose
                parcel.contested = {
                    "declared_by": sorted(d.user_id for d in declarations),
                    "expected_item_ids": [i.item_id for i in expected],
                }
                for declaration in declarations[:MAX_DECLARATIONS_IN_SCAN]:
                    _close_declaration(tx, declaration, "contest", parcel_id, None)
                overflow = declarations[MAX_DECLARATIONS_IN_SCAN:]
        tx.save(parcel, condition=Parcel.parcel_id.does_not_exist())

    try:
        uow.run(lambda: uow.Unit(writes=[write]), retry=False)
    except Conflict:
        try:  # another scan of the same parcel won the race: that parcel is the answer
            return Parcel.get(parcel_id, consistent_read=True), False
        except Parcel.DoesNotExist:
            raise Conflict("The expected items changed while scanning; scan again.") from None
    for declaration in overflow:  # more claimants than one transaction holds: each on its own
        with contextlib.suppress(Conflict):  # closed meanwhile
            contest = functools.partial(
                _close_declaration,
                declaration=declaration,
                action="contest",
                parcel_id=parcel_id,
                item_id=None,
            )
            uow.run(lambda c=contest: uow.Unit(writes=[c]), retry=False)
    log.info("parcel received", extra={"parcel_id": parcel_id, "status": parcel.status})
    metrics.count("ParcelsReceived", outcome=parcel.status)  # matched or exceptional
    return parcel, True


def _parcel(parcel_id: str) -> Parcel:
    try:
        return Parcel.get(parcel_id, consistent_read=True)
    except Parcel.DoesNotExist:
        raise NotFound("No such parcel.") from None


def void(parcel_id: str, staff_id: str, reason: str) -> Parcel:
    """Undo a wrong scan: an exceptional parcel with nothing attached (no items, no claims), within
    PARCEL_VOID_MINUTES of its scan, leaves the queue and the storage sweep as `voided`, with who and why.
    One conditional write (the status and the version): a racing assign or second void gets a 409."""
    parcel = _parcel(parcel_id)
    lifecycle.PARCEL.require("void", parcel.status)
    if parcel.item_ids or parcel.contested or parcel.user_id:
        raise Conflict("Something is attached to this parcel (items or claims): it cannot be voided.")
    window = config.get_int("PARCEL_VOID_MINUTES")
    now_dt = clock.now()
    if now_dt - clock.parse_iso(parcel.received_at) > timedelta(minutes=window):
        raise Conflict(f"A parcel can be voided only within {window} minutes of its scan.")
    also = [Parcel.voided_by.set(staff_id), Parcel.void_reason.set(reason), Parcel.deadline_key.remove()]
    move = lifecycle.PARCEL.move(parcel, "void", now=clock.iso(now_dt), source=parcel.status, also=also)
    db.update_or_conflict(parcel, *move, "The parcel changed meanwhile; reload it.")
    return parcel  # as the update committed it (its new image)


def assign(
    parcel_id: str, staff_id: str, item_ids: list[str] | None, user_id: str | None, description: str | None
) -> Parcel:
    """Resolve an exceptional parcel: to items we were expecting, or to a customer who identified it."""
    parcel = _parcel(parcel_id)
    if not lifecycle.PARCEL.allows("assign", parcel.status):
        raise Conflict(f"The parcel is {parcel.status}; only exceptional parcels can be assigned.")
    now = clock.now_iso()
    items: list[Item] = []
    new_item = None
    if item_ids:
        items = [_item(i) for i in item_ids]
        waiting = [i.item_id for i in items if i.status not in AWAITING_ARRIVAL]
        if waiting:
            raise Conflict(f"Items not awaiting arrival: {', '.join(waiting)}.")
        owners = {i.user_id for i in items}
        if len(owners) != 1:
            raise ValidationError("One parcel belongs to one customer: these items have different owners.")
        owner = owners.pop()
    else:
        from chalicelib import users

        if not user_id or not users.email_of(user_id):
            raise ValidationError("Unknown customer.")
        owner = user_id
        new_item = _new_stored_item(
            owner,
            description or f"Parcel {parcel.tracking_no}",
            lifecycle.ItemSource.EXCEPTIONAL,
            parcel_id,
            now,
            int(parcel.weight_g) if parcel.weight_g else None,
        )
    # declarations the scan marked exceptional: the assigned customer's is received, the others rejected
    contested = [
        d
        for d in ForwardingDeclaration.query(parcel.tracking_no, consistent_read=True)
        if lifecycle.DECLARATION.allows("assign", d.status) and d.parcel_id == parcel_id
    ]
    assigned_item = items[0].item_id if items else new_item.item_id
    receipts = [_receive(item, parcel_id, now) for item in items]
    also = [
        Parcel.user_id.set(owner),
        Parcel.item_ids.set([i.item_id for i in items] or [new_item.item_id]),
        Parcel.deadline_key.remove(),
    ]
    assigned = lifecycle.PARCEL.move(parcel, "assign", now=now, also=also)

    def write(tx: TransactWrite) -> None:
        for item, received in zip(items, receipts, strict=True):
            tx.update(item, actions=received.actions, condition=received.condition)
        if new_item:
            tx.save(new_item, condition=Item.item_id.does_not_exist())
        for declaration in contested[:MAX_DECLARATIONS_IN_SCAN]:
            mine = declaration.user_id == owner
            _close_declaration(
                tx,
                declaration,
                "assign" if mine else "assign_elsewhere",
                parcel_id,
                assigned_item if mine else None,
            )
        tx.update(parcel, actions=assigned.actions, condition=assigned.condition)

    uow.run(
        lambda: uow.Unit(writes=[write]),
        retry=False,
        conflict="The parcel or its items changed meanwhile; reload and try again.",
    )
    # the parcel as committed (the move set its status and stamps)
    parcel.user_id, parcel.item_ids = owner, [i.item_id for i in items] or [new_item.item_id]
    return parcel


NOT_DECLARABLE = (
    "This tracking number cannot be declared for forwarding. If the parcel is yours, contact support with "
    "your proof of purchase."
)


def declare_forwarding(
    user_id: str, tracking_no: str, carrier: str | None, description: str
) -> ForwardingDeclaration:
    """One open declaration per (tracking number, customer). A number that is another customer's expected
    shipment (their purchased items awaiting arrival with it) is refused with NOT_DECLARABLE, which says
    neither whose it is nor that it exists; another customer's declaration of the same number does not
    block this one (the scan makes a contested parcel exceptional). 3 requests: Query, Query COUNT, Put."""
    tracking = normalise_tracking(tracking_no)
    others = [
        i for i in Item.by_tracking.query(tracking) if i.status in AWAITING_ARRIVAL and i.user_id != user_id
    ]
    if others:
        raise Conflict(NOT_DECLARABLE, code="not_declarable")
    cap = config.get_int("FORWARDING_MAX_OPEN_PER_CUSTOMER")
    if ForwardingDeclaration.open_by_user.count(user_id, limit=cap) >= cap:
        raise Conflict(
            f"You have {cap} open forwarding declarations, the most one customer may hold; declare more "
            "once some of your parcels have arrived.",
            code="too_many_declarations",
        )
    now = clock.now_iso()
    declaration = ForwardingDeclaration(
        tracking,
        user_id,
        declaration_id=ids.new_id("fwd"),
        carrier=carrier,
        description=description,
        declared_at=now,
        open_by=user_id,
    )
    lifecycle.DECLARATION.start(declaration, DeclarationStatus.DECLARED, now=now)
    try:
        declaration.save(condition=ForwardingDeclaration.tracking_no.does_not_exist())
    except PutError as exc:
        if db.lost_race(exc):
            raise Conflict("You have already declared this tracking number.") from None
        raise
    return declaration


def list_declarations(
    user_id: str, limit: int, cursor: dict | None
) -> tuple[list[ForwardingDeclaration], dict | None]:
    result = ForwardingDeclaration.by_user.query(
        user_id, scan_index_forward=False, limit=limit, last_evaluated_key=cursor
    )
    return list(result), result.last_evaluated_key


# --- inspection and storage --------------------------------------------------------------------------


INSPECTION_SCOPE = (
    "appearance only; colour, size error and performance are recorded, never a reason to fail; apparel is "
    "checked against the latest remark and the size on its label; electronics are never powered on"
)


def inspect(item_id: str, staff_id: str, body: dict) -> Item:
    """The appearance inspection, weight and size of a received item; the answer is the item as the
    transaction committed it. A pass stores it (90 days from now); an issue, or electronics (which pass
    only with an arrival photo), wait on the customer's feedback until a deadline (chalicelib/feedback.py)."""
    from chalicelib import feedback, photos, photos_ready

    item = _item(item_id)
    if not lifecycle.ITEM.allows("inspect_pass", item.status):
        raise Conflict(f"The item is {item.status}; only received items are inspected.")
    try:
        assessed = inspection_rules.assess(
            body["category"],
            body["checks"],
            body["result"],
            label_size=body.get("label_size"),
            hazards=body.get("hazards"),
            notes=body.get("notes"),
            discrepancies=body.get("discrepancies"),
            photo_count=len(photos.attached(item)),
        )
    except inspection_rules.ArrivalPhotoRequired as exc:
        raise Conflict(str(exc), code="arrival_photo_required") from None
    except inspection_rules.InspectionRejected as exc:
        raise ValidationError(str(exc)) from None
    now_dt = clock.now()
    now = clock.iso(now_dt)
    action = {
        "pass": "inspect_for_confirmation" if assessed.customer_confirmation_requested else "inspect_pass",
        "issue": "inspect_issue",
        "not_transportable": "mark_not_transportable",
    }[assessed.result]
    status = lifecycle.ITEM.target(action)
    record = {
        "category": assessed.category,
        "checks": assessed.checks,
        "result": assessed.result,
        "label_size": body.get("label_size"),
        "remark": item.remark,  # the latest remark when inspected: what apparel is checked against
        "notes": body.get("notes"),
        "hazards": list(assessed.hazards),
        "in_scope_issues": list(assessed.in_scope_issues),
        "out_of_scope_discrepancies": list(assessed.out_of_scope_discrepancies),
        "outside_scope": list(assessed.outside_scope),
        "customer_confirmation_requested": assessed.customer_confirmation_requested,
        "scope": INSPECTION_SCOPE,
        "inspected_at": now,
        "inspected_by": staff_id,
    }
    if status in lifecycle.AWAITING_FEEDBACK:  # the storage clock starts when the customer answers
        waiting = feedback.due_actions(item, now_dt)
    else:
        waiting = feedback.stored_actions(item, now_dt)
    also = [
        *waiting,
        Item.inspection.set(record),
        Item.weight_g.set(body["weight_g"]),
        Item.dims_cm.set(body["dims_cm"]),
    ]
    work = uow.Unit()
    work.update(item, *lifecycle.ITEM.move(item, action, now=now, also=also))
    # the issue and not-transportable emails are named after the status
    template = {
        ItemStatus.INSPECTION_ISSUE: ItemStatus.INSPECTION_ISSUE.value,
        ItemStatus.NOT_TRANSPORTABLE: ItemStatus.NOT_TRANSPORTABLE.value,
        ItemStatus.AWAITING_CONFIRMATION: "electronics_confirm",
    }.get(status)
    if template:
        work.notify(
            item.user_id,
            template,
            {
                "item_id": item.item_id,
                "title": item.title,
                "notes": body.get("notes") or "",
                "hazards": ", ".join(assessed.hazards),
                "due_at": item.feedback_due_at or "",
            },
        )
    photos_ready.after_inspection(work, item)  # the parcel's photos-ready check, after the commit
    uow.run(lambda: work, retry=False, conflict="The item was inspected by someone else meanwhile.")
    # the item as committed, in memory (the move and the actions above set its status, stamps, deadlines)
    item.inspection, item.weight_g, item.dims_cm = record, body["weight_g"], body["dims_cm"]
    return item


def own_item(user_id: str, item_id: str) -> Item:
    """One of `user_id`'s items (404 for anyone else's): chalicelib/feedback.py's own_item."""
    from chalicelib import feedback

    return feedback.own_item(user_id, item_id)


def stored_items(user_id: str, limit: int, cursor: dict | None) -> tuple[list[Item], dict | None]:
    """The customer's goods in our warehouse, soonest deadline first: the index's keys (it projects only
    those), then the items in one BatchGetItem that the request's riders share; an item that has left
    storage since the index saw it is left off."""
    result = Item.in_storage.query(user_id, limit=limit, last_evaluated_key=cursor)
    items = [item for item in db.records(Item, result) if item.stored_by == user_id]
    return items, result.last_evaluated_key
