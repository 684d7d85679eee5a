"""Receiving, forwarding, inspection and storage (seed step 4)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import clock, db, ids, metrics
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.items import item_json, shard_key
from chalicelib.logs import get_logger
from chalicelib.models.commerce import Item
from chalicelib.models.warehouse import ForwardingDeclaration, Parcel
from chalicelib.notify import notify
from chalicelib.review import normalise_tracking
from chalicelib.rules import inspection as inspection_rules
from chalicelib.rules import storage as storage_rules

log = get_logger("warehouse")

AWAITING_ARRIVAL = ("purchased", "shipped_domestic")
PHYSICALLY_HERE = ("received", *storage_rules.IN_STORAGE)


def parcel_id_for(tracking_no: str) -> str:
    """Derived from the tracking number: concurrent scans of one parcel race for one key."""
    return "pcl_" + hashlib.sha256(tracking_no.encode()).hexdigest()[:26]


def parcel_json(parcel: Parcel) -> dict:
    body = {
        "parcel_id": parcel.parcel_id,
        "status": parcel.status,
        "tracking_no": parcel.tracking_no,
        "carrier": parcel.carrier,
        "item_ids": list(parcel.item_ids or []),
        "received_at": parcel.received_at,
        "weight_g": int(parcel.weight_g) if parcel.weight_g is not None else None,
    }
    if parcel.storage_expires_at:
        body["storage_expires_at"] = parcel.storage_expires_at
    return body


def _item(item_id: str) -> Item:
    try:
        return Item.get(item_id, consistent_read=True)
    except Item.DoesNotExist:
        raise NotFound("No such item.") from None


def _received_actions(item_id: str, parcel_id: str, now: str) -> list:
    return [
        Item.status.set("received"),
        Item.parcel_id.set(parcel_id),
        Item.received_at.set(now),
        Item.updated_at.set(now),
        Item.queue_key.set(shard_key("received", item_id)),
        Item.queue_at.set(now),
    ]


def _new_stored_item(
    user_id: str, title: str, source: str, parcel_id: str, now: str, weight_g: int | None = None
) -> Item:
    item_id = ids.new_id("itm")
    return Item(
        item_id,
        user_id=user_id,
        status="received",
        source=source,
        title=title,
        quantity=1,
        unit_price_fen=0,
        parcel_id=parcel_id,
        received_at=now,
        weight_g=weight_g,
        created_at=now,
        updated_at=now,
        queue_key=shard_key("received", item_id),
        queue_at=now,
    )


def receive(tracking_no: str, carrier: str | None, weight_g: int | None, staff_id: str) -> tuple[dict, bool]:
    """Scan a domestic parcel in. Returns (parcel, created); a second scan returns the same parcel."""
    tracking = normalise_tracking(tracking_no)
    parcel_id = parcel_id_for(tracking)
    try:
        return parcel_json(Parcel.get(parcel_id, consistent_read=True)), False
    except Parcel.DoesNotExist:
        pass
    now_dt = clock.now()
    now = clock.iso(now_dt)
    keys = [i.item_id for i in Item.by_tracking.query(tracking)]
    expected = [i for i in Item.batch_get(keys) if i.status in AWAITING_ARRIVAL] if keys else []
    try:
        declaration = ForwardingDeclaration.get(tracking, consistent_read=True)
        if declaration.status != "declared":
            declaration = None
    except ForwardingDeclaration.DoesNotExist:
        declaration = None
    parcel = Parcel(
        parcel_id,
        tracking_no=tracking,
        carrier=carrier,
        weight_g=weight_g,
        received_at=now,
        received_by=staff_id,
    )
    try:
        with TransactWrite(connection=db.connection()) as tx:
            if expected or declaration:
                new_item = None
                if declaration:
                    new_item = _new_stored_item(
                        declaration.user_id, declaration.description, "forwarding", parcel_id, now, weight_g
                    )
                    tx.save(new_item, condition=Item.item_id.does_not_exist())
                    tx.update(
                        declaration,
                        actions=[
                            ForwardingDeclaration.status.set("received"),
                            ForwardingDeclaration.item_id.set(new_item.item_id),
                            ForwardingDeclaration.parcel_id.set(parcel_id),
                        ],
                        condition=ForwardingDeclaration.status == "declared",
                    )
                for item in expected:
                    tx.update(
                        item,
                        actions=_received_actions(item.item_id, parcel_id, now),
                        condition=Item.status.is_in(*AWAITING_ARRIVAL),
                    )
                parcel.status = "matched"
                parcel.item_ids = [i.item_id for i in expected] + ([new_item.item_id] if new_item else [])
                parcel.user_id = declaration.user_id if declaration else expected[0].user_id
            else:
                expires = storage_rules.exceptional_expires_at(now_dt)
                parcel.status = "exceptional"
                parcel.storage_expires_at = clock.iso(expires)
                parcel.deadline_key = storage_rules.deadline_key(expires, parcel_id)
                parcel.queue_key = shard_key("exceptional", parcel_id)
                parcel.queue_at = now
            tx.save(parcel, condition=Parcel.parcel_id.does_not_exist())
    except TransactWriteError as exc:
        if not db.lost_race(exc):
            raise
        try:  # another scan of the same parcel won the race: that parcel is the answer
            return parcel_json(Parcel.get(parcel_id, consistent_read=True)), False
        except Parcel.DoesNotExist:
            raise Conflict("The expected items changed while scanning; scan again.") from None
    log.info("parcel received", extra={"parcel_id": parcel_id, "status": parcel.status})
    metrics.count("ParcelsReceived", outcome=parcel.status)  # matched or exceptional
    return parcel_json(parcel), True


def _parcel(parcel_id: str) -> Parcel:
    try:
        return Parcel.get(parcel_id, consistent_read=True)
    except Parcel.DoesNotExist:
        raise NotFound("No such parcel.") from None


def assign(
    parcel_id: str, staff_id: str, item_ids: list[str] | None, user_id: str | None, description: str | None
) -> dict:
    """Resolve an exceptional parcel: to items we were expecting, or to a customer who identified it."""
    parcel = _parcel(parcel_id)
    if parcel.status != "exceptional":
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
            "exceptional",
            parcel_id,
            now,
            int(parcel.weight_g) if parcel.weight_g else None,
        )
    try:
        with TransactWrite(connection=db.connection()) as tx:
            for item in items:
                tx.update(
                    item,
                    actions=_received_actions(item.item_id, parcel_id, now),
                    condition=Item.status.is_in(*AWAITING_ARRIVAL),
                )
            if new_item:
                tx.save(new_item, condition=Item.item_id.does_not_exist())
            tx.update(
                parcel,
                actions=[
                    Parcel.status.set("assigned"),
                    Parcel.user_id.set(owner),
                    Parcel.item_ids.set([i.item_id for i in items] or [new_item.item_id]),
                    Parcel.assigned_at.set(now),
                    Parcel.deadline_key.remove(),
                    Parcel.queue_key.remove(),
                    Parcel.queue_at.remove(),
                ],
                condition=Parcel.status == "exceptional",
            )
    except TransactWriteError as exc:
        if db.lost_race(exc):
            raise Conflict("The parcel or its items changed meanwhile; reload and try again.") from None
        raise
    return parcel_json(_parcel(parcel_id))


def declare_forwarding(user_id: str, tracking_no: str, carrier: str | None, description: str) -> dict:
    tracking = normalise_tracking(tracking_no)
    declaration = ForwardingDeclaration(
        tracking,
        declaration_id=ids.new_id("fwd"),
        user_id=user_id,
        carrier=carrier,
        description=description,
        status="declared",
        declared_at=clock.now_iso(),
    )
    try:
        declaration.save(condition=ForwardingDeclaration.tracking_no.does_not_exist())
    except PutError as exc:
        if db.lost_race(exc):
            raise Conflict("This tracking number is already declared.") from None
        raise
    return declaration_json(declaration)


def declaration_json(d: ForwardingDeclaration) -> dict:
    return {
        "declaration_id": d.declaration_id,
        "tracking_no": d.tracking_no,
        "carrier": d.carrier,
        "description": d.description,
        "status": d.status,
        "declared_at": d.declared_at,
        "item_id": d.item_id,
    }


def list_declarations(user_id: str, limit: int, cursor: dict | None) -> dict:
    result = ForwardingDeclaration.by_user.query(
        user_id, scan_index_forward=False, limit=limit, last_evaluated_key=cursor
    )
    return {"items": [declaration_json(d) for d in result], "next_cursor": result.last_evaluated_key}


# --- inspection and storage --------------------------------------------------------------------------


def storage_actions(item_id: str, status: str, owner: str, expires: datetime, now: str) -> list:
    """The writes that put an item into storage with a running clock (stored_by and deadline indexes)."""
    return [
        Item.status.set(status),
        Item.stored_by.set(owner),
        Item.storage_expires_at.set(clock.iso(expires)),
        Item.deadline_key.set(storage_rules.deadline_key(expires, item_id)),
        Item.updated_at.set(now),
    ]


def inspect(item_id: str, staff_id: str, body: dict) -> dict:
    item = _item(item_id)
    if item.status != "received":
        raise Conflict(f"The item is {item.status}; only received items are inspected.")
    try:
        assessed = inspection_rules.assess(
            body["category"],
            body["checks"],
            body["result"],
            label_size=body.get("label_size"),
            hazards=body.get("hazards"),
            notes=body.get("notes"),
        )
    except inspection_rules.InspectionRejected as exc:
        raise ValidationError(str(exc)) from None
    now_dt = clock.now()
    now = clock.iso(now_dt)
    status = {"pass": "in_warehouse", "issue": "inspection_issue", "not_transportable": "not_transportable"}[
        assessed.result
    ]
    record = {
        "category": assessed.category,
        "checks": assessed.checks,
        "result": assessed.result,
        "label_size": body.get("label_size"),
        "notes": body.get("notes"),
        "hazards": list(assessed.hazards),
        "in_scope_issues": list(assessed.in_scope_issues),
        "out_of_scope_discrepancies": list(assessed.out_of_scope_discrepancies),
        "customer_confirmation_requested": assessed.customer_confirmation_requested,
        "scope": "appearance only; colour and size discrepancies of apparel are recorded, not inspected; "
        "electronics are never powered on",
        "inspected_at": now,
        "inspected_by": staff_id,
    }
    expires = storage_rules.storage_expires_at(now_dt)
    actions = [
        *storage_actions(item.item_id, status, item.user_id, expires, now),
        Item.inspection.set(record),
        Item.weight_g.set(body["weight_g"]),
        Item.dims_cm.set(body["dims_cm"]),
        Item.in_warehouse_at.set(now),
        Item.queue_key.remove(),
        Item.queue_at.remove(),
    ]
    db.update_or_conflict(
        item, actions, Item.status == "received", "The item was inspected by someone else meanwhile."
    )
    template = {
        "inspection_issue": "inspection_issue",
        "not_transportable": "not_transportable",
    }.get(status, "electronics_confirm" if assessed.customer_confirmation_requested else None)
    if template:
        notify(
            item.user_id,
            template,
            {
                "item_id": item.item_id,
                "title": item.title,
                "notes": body.get("notes") or "",
                "hazards": ", ".join(assessed.hazards),
            },
        )
    return item_json(_item(item_id))


def own_item(user_id: str, item_id: str) -> Item:
    item = _item(item_id)
    if item.user_id != user_id:
        raise NotFound("No such item.")
    return item


def accept(user_id: str, item_id: str) -> dict:
    """The customer accepts an item the inspection found an issue with: it is stored as normal."""
    item = own_item(user_id, item_id)
    if item.status != "inspection_issue":
        raise Conflict(f"The item is {item.status}; only inspection_issue items can be accepted.")
    db.update_or_conflict(
        item,
        [Item.status.set("in_warehouse"), Item.updated_at.set(clock.now_iso())],
        Item.status == "inspection_issue",
        "The item changed meanwhile; reload it.",
    )
    return item_json(_item(item_id))


def stored_items(user_id: str, limit: int, cursor: dict | None) -> dict:
    """The customer's goods in our warehouse, soonest deadline first."""
    result = Item.in_storage.query(user_id, limit=limit, last_evaluated_key=cursor)
    return {"items": [item_json(i) for i in result], "next_cursor": result.last_evaluated_key}
