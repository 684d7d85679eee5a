"""After-sales: a customer opens a case for an item; staff resolve it with a refund, a return or an
exchange (the goods go back to the merchant and the item to purchasing for the replacement).

Opening a case is the customer's answer to an item waiting on their feedback (chalicelib/feedback.py):
its feedback deadline ends; a case closed without sending the goods back gives it a new one.

Delivered goods (seed: "after receiving the products, if there are any issues caused by the inspection,
you can apply for after-sales service") take a refund case within AFTER_SALES_DAYS_AFTER_DELIVERY of
delivery, about an issue the inspection covers (colour, size error and performance are outside its
scope: refused), with the customer's evidence photos (presigned POST, ingested by the same S3-triggered
path as QC photos); staff refund (capped by refunds.check) or reject. Opening is one conditional
transaction (the item's `open_case_id` must be unset: two concurrent opens give one case and a 409);
resolving moves the case and the money in one transaction, re-run from fresh reads on a lost race."""

from __future__ import annotations

from datetime import timedelta

from chalicelib import (
    auth,
    clock,
    config,
    currency,
    db,
    feedback,
    ids,
    lifecycle,
    money,
    photo_requests,
    photos,
    refunds,
    storage,
    uow,
)
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.lifecycle import CaseStatus
from chalicelib.models.commerce import Item
from chalicelib.models.warehouse import AfterSalesCase
from chalicelib.queues import queue_page
from chalicelib.rules import inspection

# an item is with us (or was received) when a case can be opened about it
CASE_STATUSES = lifecycle.CASE_OPEN_FOR
# delivered to the customer: a refund case within the after-sales window (issue 22)
DELIVERED = lifecycle.ITEM.targets("deliver")
RESOLUTIONS = ("refund", "return", "exchange", "reject")
# the item statuses each resolution may be applied in: a return or an exchange only while the goods are
# still stored with us (never in a package); a refund likewise, or once delivered; a reject changes nothing
RESOLVABLE_IN = {
    "refund": (*CASE_STATUSES, *DELIVERED),
    "return": CASE_STATUSES,
    "exchange": CASE_STATUSES,
    "reject": None,
}
# what a resolution does to the item (a lifecycle action), when it moves it
ITEM_ACTION = {"return": "return", "exchange": "exchange"}


def open_case(
    user_id: str, item_id: str, case_type: str, reason: str, issue: str | None = None
) -> AfterSalesCase:
    try:
        item = Item.get(item_id, consistent_read=True)
    except Item.DoesNotExist:
        raise NotFound("No such item.") from None
    if item.user_id != user_id:
        raise NotFound("No such item.")
    delivered_at = None
    if item.status in DELIVERED:
        delivered_at = _after_delivery(item, case_type, issue)
    elif item.status not in CASE_STATUSES:
        raise Conflict(
            f"The item is {item.status}; after-sales is for goods that reached our warehouse, or were "
            "delivered to you."
        )
    if item.open_case_id:
        raise Conflict(f"Case {item.open_case_id} is already open for this item.")
    now = clock.now_iso()
    case = AfterSalesCase(
        ids.new_id("cas"),
        user_id=user_id,
        item_id=item_id,
        type=case_type,
        reason=reason,
        issue=issue,
        delivered_at=delivered_at,
        created_at=now,
        updated_at=now,
    )
    lifecycle.CASE.start(case, CaseStatus.OPEN, now=now, queue_id=item_id)  # the queue shards by item
    work = uow.Unit(result=case)
    work.save(case, AfterSalesCase.case_id.does_not_exist())
    answered = feedback.clear_actions(item) if item.status in lifecycle.AWAITING_FEEDBACK else []
    work.update(
        item,
        [Item.open_case_id.set(case.case_id), *answered],
        Item.open_case_id.does_not_exist() & lifecycle.ITEM.check(Item, item.status),
    )
    uow.run(lambda: work, retry=False, conflict="A case was opened for this item (or it changed) meanwhile.")
    return case


def _after_delivery(item: Item, case_type: str, issue: str | None) -> str:
    """The delivery a case about delivered goods follows (its time), or the refusal: not a refund, no
    issue named, an issue outside the inspection's scope, or the window after delivery closed."""
    if case_type != "refund":
        raise Conflict("Delivered goods cannot be returned or exchanged through us: ask for a refund.")
    if issue is None:
        kinds = ", ".join(inspection.AFTER_DELIVERY_ISSUES)
        raise ValidationError(f"Say what is wrong with the delivered goods: issue, one of {kinds}.")
    refusal = inspection.after_delivery_refusal(issue)
    if refusal:
        raise Conflict(refusal, code="outside_inspection_scope")
    delivered_at = _delivered_at(item)
    days = config.get_int("AFTER_SALES_DAYS_AFTER_DELIVERY")
    closes = clock.parse_iso(delivered_at) + timedelta(days=days)
    if clock.now() > closes:
        raise Conflict(
            f"After-sales for delivered goods closes {days} days after delivery ({clock.iso(closes)}).",
            code="after_sales_window_closed",
        )
    return delivered_at


def _delivered_at(item: Item) -> str:
    """When the item's package was delivered (confirmed by the customer or taken as delivered)."""
    from chalicelib.models.packages import Package

    try:
        package = Package.get(item.package_id, consistent_read=True) if item.package_id else None
    except Package.DoesNotExist:
        package = None
    if package is None or not package.delivered_at:
        return item.updated_at or item.created_at  # the delivery move stamped the item last
    return package.delivered_at


def own_open_case(user_id: str, case_id: str) -> AfterSalesCase:
    """The caller's case (404 for anyone else's), still open (409 otherwise)."""
    try:
        case = AfterSalesCase.get(case_id, consistent_read=True)
    except AfterSalesCase.DoesNotExist:
        raise NotFound("No such case.") from None
    if case.user_id != user_id:
        raise NotFound("No such case.")
    if not lifecycle.CASE.allows("resolve", case.status):
        raise Conflict("The case is resolved; evidence is taken while it is open.")
    return case


def request_evidence(user_id: str, case_id: str, content_type: str) -> dict:
    """A presigned POST for one of the customer's evidence photos of their open case."""
    return photos.request_evidence_upload("case", own_open_case(user_id, case_id), user_id, content_type)


def list_own(user_id: str, limit: int, cursor: dict | None) -> tuple[list[AfterSalesCase], dict | None]:
    result = AfterSalesCase.by_user.query(
        user_id, scan_index_forward=False, limit=limit, last_evaluated_key=cursor
    )
    return list(result), result.last_evaluated_key


def queue(limit: int, cursor: dict | None) -> tuple[list[AfterSalesCase], dict | None]:
    return queue_page(AfterSalesCase, lifecycle.Queue.OPEN, limit, cursor)


def resolve(
    case_id: str, staff_id: str, resolution: str, refund_fen: int, note: str | None
) -> tuple[AfterSalesCase, Item]:
    """refund: credit the wallet (at most what the item cost); return: the goods go back to the merchant
    (item `returned`, out of storage), with an optional refund; reject: close with no change. Returns the
    case and its item as committed."""
    if resolution not in RESOLUTIONS:
        raise ValidationError(f"resolution must be one of {', '.join(RESOLUTIONS)}.")
    if resolution == "reject" and refund_fen:
        raise ValidationError("A rejected case refunds nothing.")
    if resolution == "exchange" and refund_fen:
        raise ValidationError("An exchange refunds nothing: the replacement's price difference is settled.")
    if resolution == "refund" and refund_fen <= 0:
        raise ValidationError("A refund needs refund_fen > 0.")

    def unit() -> uow.Unit:
        try:
            case = AfterSalesCase.get(case_id, consistent_read=True)
        except AfterSalesCase.DoesNotExist:
            raise NotFound("No such case.") from None
        auth.require_not_own(staff_id, case.user_id, "resolve (or refund) a case on")
        if not lifecycle.CASE.allows("resolve", case.status):
            raise Conflict("The case is already resolved.")
        item = Item.get(case.item_id, consistent_read=True)
        allowed = RESOLVABLE_IN[resolution]
        if allowed is not None and item.status not in allowed:
            raise Conflict(
                f"The item is {item.status}; a {resolution} resolution needs it stored in the warehouse "
                f"({', '.join(allowed)})."
            )
        if case.delivered_at and resolution not in ("refund", "reject"):
            raise Conflict("A case about delivered goods is resolved by a refund or a rejection.")
        if resolution == "exchange" and not item.order_id:
            raise Conflict(
                "The item reached us as an exceptional parcel, not through an order we bought: there is "
                "nothing to buy again. Resolve it as a return or a refund."
            )
        refunds.check(item, refund_fen)  # at most what was paid for the item minus earlier refunds
        now = clock.now_iso()
        work = uow.Unit()
        work.move(case.user_id, refund_fen, "after_sales_refund", case.case_id, currency.stored(item.fx))

        also = db.assign(case, resolution=resolution, refund_fen=refund_fen, note=note, resolved_by=staff_id)
        work.update(case, *lifecycle.CASE.move(case, "resolve", now=now, also=also))
        also = [Item.open_case_id.remove(), *refunds.refund_actions(item, refund_fen)]
        item.open_case_id, item.refunded_fen = None, refunds.refunded_fen(item) + refund_fen  # as committed
        when = Item.open_case_id == case.case_id
        moves_item = resolution in ITEM_ACTION
        if not moves_item and item.status in lifecycle.CLOCK_RUNNING and item.storage_expires_at:
            # the hold ends: the clock resumes on a day the sweep still reads, with a grace period
            grace = config.get_int("STORAGE_RESUME_GRACE_DAYS")
            also += storage.resume_clock_actions(item, clock.now(), grace)
            work.write(storage.reread_reminders([storage.reread_day(item, clock.now())]))
        if resolution == "return":  # a received item also leaves the inspection queue
            also += [Item.stored_by.remove(), Item.deadline_key.remove()]
            # paid extra photos not taken yet can no longer be: their fee goes back in this transaction
            refund, unchanged = photo_requests.refund_on_exit(
                work, item, "the item was returned to the merchant"
            )
            also, when = [*also, *refund], when & unchanged
            work.update(item, *lifecycle.ITEM.move(item, "return", now=now, also=also, when=when))
        elif resolution == "exchange":
            also += exchange_actions(item, case.case_id, now)
            # the goods go back to the merchant: paid extra photos not taken yet are refunded with them
            refund, unchanged = photo_requests.refund_on_exit(
                work, item, "the item went back for an exchange"
            )
            also, when = [*also, *refund], when & unchanged
            work.update(item, *lifecycle.ITEM.move(item, "exchange", now=now, also=also, when=when))
        else:
            if item.status in lifecycle.AWAITING_FEEDBACK:  # the customer decides again, with a new deadline
                also += feedback.due_actions(item, clock.now())
                when = when & lifecycle.ITEM.check(Item, item.status)
            if allowed is not None:
                when = when & lifecycle.ITEM.check(Item, *allowed)
            work.update(item, [*also, Item.updated_at.set(now)], when)
        work.notify(
            case.user_id,
            "after_sales_resolved",
            {
                "case_id": case_id,
                "item_id": case.item_id,
                "resolution": resolution,
                "refund": f"{money.format_cny(refund_fen)} was returned to your wallet."
                if refund_fen
                else "",
                "note": note or "",
            },
        )
        work.result = (case, item)  # as committed: the moves and db.assign set them in memory
        return work

    return uow.run(unit)


def exchange_actions(item: Item, case_id: str, now: str) -> list:
    """The writes that send an item back to purchasing for its replacement (set in memory too): the
    earlier purchase, shipment, inspection and photos are kept in `exchange`; the replacement's price
    difference is counted from the earlier actual price (chalicelib/purchasing.py purchase_difference),
    and it comes in with a new tracking number, inspection and storage clock."""
    from chalicelib.items import plain

    earlier = plain(item.purchase) or {}
    record = {
        "case_id": case_id,
        "exchanged_at": now,
        "baseline_unit_price_fen": int(earlier.get("actual_unit_price_fen", item.unit_price_fen)),
        "purchase": earlier or None,
        "domestic_shipment": plain(item.domestic_shipment),
        "inspection": plain(item.inspection),
        "photo_ids": sorted(plain(item.photos) or {}),
    }
    cleared = (
        "purchase",
        "domestic_shipment",
        "tracking_no",
        "inspection",
        "stored_by",
        "storage_expires_at",
    )
    cleared += ("deadline_key", "in_warehouse_at", "received_at", "parcel_id", "weight_g", "dims_cm")
    actions = [getattr(Item, name).remove() for name in cleared]
    for name in cleared:
        setattr(item, name, None)
    item.exchange, item.photos, item.reminders = record, {}, {}
    return [
        *actions,
        *feedback.clear_actions(item),
        Item.exchange.set(record),
        Item.photos.set({}),
        Item.reminders.set({}),
    ]
