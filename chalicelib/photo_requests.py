"""Extra photos on demand: a customer pays for more photos of an inspected item (issue 23).

Asking (`POST /items/{item_id}/photo-requests`, `{"note"?}`, an Idempotency-Key): the fee is the
`extra_photos` value-added service's (rules/shipping.py, VALUE_ADDED_SERVICES: one price whether it is
bought on a package or alone), debited from the wallet through the ledger in the transaction that writes
the request onto the warehouse's `photo_requests` queue and marks the item (`Item.photo_request_id`: one
open request per item). It is sold only while it can be delivered: the item is stored with us, or in a
package that is not sealed yet (pending payment or paid, not packed); the transaction holds those as
conditions (the item's status and marker, and a check of the package's status).

Delivering: the warehouse uploads the photos (`POST /staff/items/{item_id}/photos`, which accepts items of
unsealed packages too) and completes the request (`POST /staff/photo-requests/{id}/complete`), which needs
a photo ingested since the request; the customer is emailed (outbox) with links to the new photos.
Packing refuses a package while one of its items has an open request (`guard_packing`, in the packing's
transaction), so a sealed box never owes photos. A change that takes the item out of our hands first
(a return to the merchant, abandonment) refunds the fee in its own transaction (`refund_on_exit`).
Invariant (tests/integration/test_lifecycle_stateful.py): every request paid for is done, refunded, or
open on an item we can still photograph.

Cost: asking: one BatchGetItem (item, wallet account), a GetItem of the package for a packed item, one
TransactWriteItems; the queue: one Query per shard and one BatchGetItem of the page's items; completing:
two GetItem and one TransactWriteItems.
"""

from __future__ import annotations

from chalicelib import clock, ids, lifecycle, photos, uow
from chalicelib.errors import Conflict, NotFound
from chalicelib.items import with_account
from chalicelib.lifecycle import ItemStatus, PhotoRequestStatus
from chalicelib.logs import get_logger
from chalicelib.models.commerce import Item
from chalicelib.models.photos import PhotoRequest
from chalicelib.queues import queue_page

log = get_logger("photo_requests")

SERVICE = "extra_photos"  # the value-added service whose fee a request costs
# inspected items on our shelf: stored with a running clock, or waiting on the customer's decision
STORED = (*lifecycle.CLOCK_RUNNING, *lifecycle.AWAITING_FEEDBACK)
UNSEALED = photos.UNSEALED  # a package not packed yet: its items can still be photographed
MAX_LINKS = 10  # photo links in the email (the event is one DynamoDB item)


def fee_fen() -> int:
    """What one request costs: the `extra_photos` service's per-item fee."""
    from chalicelib.rules import shipping

    found = shipping.services().get(SERVICE)
    return int(found.fee_fen) if found is not None else 0


def deliverable(item: Item) -> bool:
    """Whether the warehouse can still photograph the item: stored, or in a package not sealed yet."""
    return item.status in STORED or photos.in_unsealed_package(item)


def request(user_id: str, item_id: str, note: str | None) -> PhotoRequest:
    """Charge the fee and put the item on the warehouse's photo-request queue."""

    def unit() -> uow.Unit:
        from chalicelib.models.packages import Package

        found, _, work = with_account(user_id, [item_id])
        if not found or found[0].user_id != user_id:
            raise NotFound("No such item.")
        item = found[0]
        if item.photo_request_id:
            raise Conflict(
                f"Photo request {item.photo_request_id} is still open for this item.",
                code="photo_request_open",
            )
        when = Item.photo_request_id.does_not_exist() & lifecycle.ITEM.check(Item, item.status)
        if item.status == ItemStatus.IN_PACKAGE:
            if photos.package_status(item.package_id) not in UNSEALED:
                raise Conflict(
                    "The item is packed in a sealed package: no more photos can be taken of it.",
                    code="package_sealed",
                )
            when = when & (Item.package_id == item.package_id)
            # the package must still be open when the request commits (packing races with it)
            work.check(Package, item.package_id, lifecycle.PACKAGE.check(Package, *UNSEALED))
        elif item.status not in STORED:
            raise Conflict(
                f"The item is {item.status}; extra photos are taken of inspected items in our warehouse.",
                code="not_photographable",
            )
        fee = fee_fen()
        now = clock.now_iso()
        photo_request = PhotoRequest(
            ids.new_id("phr"),
            item_id=item_id,
            user_id=user_id,
            note=note,
            fee_fen=fee,
            photos_before=len(photos.attached(item)),
            created_at=now,
        )
        lifecycle.PHOTO_REQUEST.start(photo_request, PhotoRequestStatus.REQUESTED, now=now, queue_id=item_id)
        work.move(user_id, -fee, "photo_request", photo_request.request_id)
        work.save(photo_request, PhotoRequest.request_id.does_not_exist())
        work.update(
            item, [Item.photo_request_id.set(photo_request.request_id), Item.updated_at.set(now)], when
        )
        work.result = photo_request
        return work

    made = uow.run(unit)
    log.info("photo request paid", extra={"request_id": made.request_id, "item_id": item_id})
    return made


def queue(limit: int, cursor: dict | None) -> tuple[list[tuple[PhotoRequest, Item | None]], dict | None]:
    """The open requests, oldest first, each with its item (one BatchGetItem for the page)."""
    found, next_cursor = queue_page(PhotoRequest, lifecycle.Queue.PHOTO_REQUESTS, limit, cursor)
    item_ids = list(dict.fromkeys(r.item_id for r in found))
    items = {i.item_id: i for i in Item.batch_get(item_ids, consistent_read=True)} if item_ids else {}
    return [(r, items.get(r.item_id)) for r in found], next_cursor


def _request(request_id: str) -> PhotoRequest:
    try:
        return PhotoRequest.get(request_id, consistent_read=True)
    except PhotoRequest.DoesNotExist:
        raise NotFound("No such photo request.") from None


def new_photos(photo_request: PhotoRequest, item: Item) -> list[dict]:
    """The item's photos ingested since the request (their stored entries), oldest first: those beyond
    the count it had when asked (S3's upload times and our clock are not compared)."""
    entries = sorted(photos.attached(item).items(), key=lambda p: (str(p[1].get("uploaded_at") or ""), p[0]))
    return [entry for _, entry in entries[int(photo_request.photos_before or 0) :]]


def _links(entries: list[dict]) -> list[str]:
    """Links for an email: the view copies, valid as long as the photos-ready notice's."""
    return photos.email_links(entries[:MAX_LINKS])


def complete(request_id: str, staff_id: str) -> tuple[PhotoRequest, Item]:
    """The extra photos are uploaded: the request is done, the item free, the customer emailed."""
    photo_request = _request(request_id)
    lifecycle.PHOTO_REQUEST.require("complete", photo_request.status)
    try:
        item = Item.get(photo_request.item_id, consistent_read=True)
    except Item.DoesNotExist:
        raise NotFound("No such item.") from None
    fresh = new_photos(photo_request, item)
    if not fresh:
        raise Conflict(
            "No photo of the item was uploaded since the request: upload the extra photos first.",
            code="photos_missing",
        )
    now = clock.now_iso()
    work = uow.Unit(result=(photo_request, item))
    done = lifecycle.PHOTO_REQUEST.move(
        photo_request, "complete", now=now, also=[PhotoRequest.completed_by.set(staff_id)]
    )
    work.update(photo_request, *done)
    mine = Item.photo_request_id == request_id
    work.update(item, [Item.photo_request_id.remove(), Item.updated_at.set(now)], mine)
    work.notify(
        photo_request.user_id,
        "photo_request_done",
        {
            "item_id": item.item_id,
            "title": item.title,
            "note": photo_request.note or "",
            "photo_count": len(fresh),
            "links": "\n".join(f"  {url}" for url in _links(fresh)),
        },
    )
    uow.run(lambda: work, retry=False, conflict="The photo request changed meanwhile; reload it.")
    item.photo_request_id = None
    return photo_request, item


def refund_on_exit(work: uow.Unit, item: Item, reason: str) -> tuple[list, object]:
    """Within a unit of work that takes `item` out of our hands: refund its open photo request (fee back
    to the wallet, request `refunded`, the customer told). Returns the actions and the condition the
    caller adds to its own update of the item (the condition also refuses a request made meanwhile)."""
    if not item.photo_request_id:
        return [], Item.photo_request_id.does_not_exist()
    photo_request = _request(item.photo_request_id)
    now = clock.now_iso()
    refunded = lifecycle.PHOTO_REQUEST.move(
        photo_request, "refund", now=now, also=[PhotoRequest.refund_reason.set(reason)]
    )
    work.update(photo_request, *refunded)
    work.move(
        photo_request.user_id, int(photo_request.fee_fen), "photo_request_refund", photo_request.request_id
    )
    work.notify(
        photo_request.user_id,
        "photo_request_refunded",
        {
            "item_id": item.item_id,
            "title": item.title,
            "reason": reason,
            "fee_fen": int(photo_request.fee_fen),
        },
    )
    return [Item.photo_request_id.remove()], Item.photo_request_id == photo_request.request_id


def guard_packing(work: uow.Unit, items: list[Item]) -> None:
    """Within the packing's unit of work: refuse while an item still owes paid photos, and hold that as
    a condition of the transaction (a request made meanwhile fails the packing, not the photos)."""
    owed = [i.item_id for i in items if i.photo_request_id]
    if owed:
        raise Conflict(
            f"Paid extra photos are still owed for {', '.join(owed)}: take them (the photo-request queue) "
            "before packing.",
            code="photo_request_open",
        )
    for item in items:
        work.check(Item, item.item_id, Item.photo_request_id.does_not_exist())
