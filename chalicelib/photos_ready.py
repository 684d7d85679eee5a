"""The photos-ready notice: one email per inbound parcel once every item in it is inspected and has its QC
photos, listing each item with its inspection result and links to its photos.

Triggers, each delivered at least once, in any order, any number of times:
- photo ingestion (chalicelib/events/photos.py), after it attached a photo or found it attached;
- an inspection: its unit of work adds a `photos_ready_check` task to the outbox (`after_inspection`),
  which the outbox handler runs after the commit (chalicelib/events/outbox.py); the request reads and
  sends nothing more.

`check(item_id)` reads the item: it is ready once inspected with at least one ingested photo. A ready
item is ADDed to its parcel's `ready_item_ids` (a string set: DynamoDB applies the ADDs one at a time,
and each returns the set it made), conditional on no notice yet. Whoever sees the set cover the parcel's
items claims the notice: one transaction sets `photos_notice_at` on the parcel, conditional on it being
unset, with the email's outbox event. Two last items at once may both see the set complete; the claim's
condition lets one through, so the email exists exactly once. No readiness is missed: of "photo
attached" and "inspection committed", the check after the later one reads the earlier one.

Cost per trigger: one GetItem (the item); once it is ready, one GetItem and one UpdateItem (the parcel);
the claim adds one BatchGetItem (the parcel's items) and one TransactWriteItems. After the claim, a
further trigger (a re-delivery, an extra photo) costs one failed conditional UpdateItem.
"""

from __future__ import annotations

from chalicelib import clock, db, photos, uow
from chalicelib.errors import Conflict
from chalicelib.lifecycle import ItemStatus
from chalicelib.logs import get_logger
from chalicelib.models.commerce import Item
from chalicelib.models.warehouse import Parcel

log = get_logger("photos_ready")

TASK = "photos_ready_check"  # the outbox task an inspection leaves behind
TEMPLATE = "photos_ready"  # chalicelib/emails.py
MAX_LINKS_PER_ITEM = 6  # keeps the outbox event (one DynamoDB item, 400 KB at most) small

WAITING = "waiting"  # the item is not inspected yet, or has no photo yet
COUNTED = "counted"  # ready; other items of the parcel are not
CLAIMED = "claimed"  # this call wrote the notice
ALREADY = "already_notified"
NO_PARCEL = "no_parcel"

RESULT_WORDS = {
    "pass": "passed inspection",
    "issue": "inspection found an issue",
    "not_transportable": "does not meet transport conditions",
}
# electronics pass on appearance only once the customer confirms them (chalicelib/feedback.py)
CONFIRM_WORDS = (
    "checked by appearance only (electronics are never powered on): please confirm it from these photos, "
    "or open an after-sales case, by {due_at}; with no answer by then we take it that you accept it"
)


def after_inspection(work: uow.Unit, item: Item) -> None:
    """Within an inspection's unit of work: check the item's parcel once the inspection has committed."""
    work.task(TASK, item.user_id, {"item_id": item.item_id})


def ready(item: Item) -> bool:
    """Inspected, with at least one ingested photo."""
    return item.inspection is not None and bool(photos.attached(item))


def check(item_id: str) -> str:
    """Count the item towards its parcel's notice, and claim the notice when the parcel is complete."""
    try:
        item = Item.get(item_id, consistent_read=True)
    except Item.DoesNotExist:
        return NO_PARCEL
    if not item.parcel_id:
        return NO_PARCEL
    if not ready(item):
        return WAITING
    try:
        parcel = Parcel.get(item.parcel_id, consistent_read=True)
    except Parcel.DoesNotExist:
        return NO_PARCEL
    if parcel.photos_notice_at:
        return ALREADY
    counted = db.update_if(
        parcel,
        [Parcel.ready_item_ids.add({item_id})],
        Parcel.parcel_id.exists() & Parcel.photos_notice_at.does_not_exist(),
        add_version_condition=False,
    )
    if not counted:
        return ALREADY
    # the update answered with the parcel as it committed it (ALL_NEW)
    if not parcel.user_id or not set(parcel.item_ids) <= set(parcel.ready_item_ids or ()):
        return COUNTED
    return _claim(parcel)


def _claim(parcel: Parcel) -> str:
    items = Item.batch_get(list(parcel.item_ids), consistent_read=True)
    by_id = {i.item_id: i for i in items}
    listed = [by_id[i] for i in parcel.item_ids if i in by_id]
    now = clock.now_iso()
    work = uow.Unit()
    claim = [Parcel.photos_notice_at.set(now)]
    when = Parcel.photos_notice_at.does_not_exist()
    work.write(lambda tx: tx.update(parcel, actions=claim, condition=when, add_version_condition=False))
    work.notify(parcel.user_id, TEMPLATE, email_data(parcel, listed))
    try:
        uow.run(lambda: work, retry=False)
    except Conflict:  # another trigger claimed it first
        return ALREADY
    log.info("photos-ready notice written", extra={"parcel_id": parcel.parcel_id, "items": len(listed)})
    return CLAIMED


def _oldest_first(pair: tuple[str, dict]) -> tuple[str, str]:
    return str(pair[1].get("uploaded_at", "")), pair[0]


def email_data(parcel: Parcel, items: list[Item]) -> dict:
    """The template's data: the parcel and, per item, its result and links to its photos' view copies
    (photos.email_links: in AWS, CloudFront signed URLs that work for the 7 days the email promises)."""
    rows = []
    for item in items:
        entries = sorted(photos.attached(item).items(), key=_oldest_first)
        links = photos.email_links([entry for _, entry in entries[:MAX_LINKS_PER_ITEM]])
        more = len(entries) - len(links)
        inspection = photos._map(item.inspection)
        result = str(inspection.get("result", ""))
        notes = str(inspection.get("notes") or "")
        outcome = RESULT_WORDS.get(result, result) + (f": {notes}" if notes and result != "pass" else "")
        if item.status == ItemStatus.AWAITING_CONFIRMATION:  # not passed yet: the customer's answer decides
            outcome = CONFIRM_WORDS.format(due_at=item.feedback_due_at)
        rows.append(
            {
                "item_id": item.item_id,
                "title": item.title,
                "result": result,
                "outcome": outcome,
                "photo_count": len(entries),
                "photo_urls": links,
                "links": "\n".join(f"  {url}" for url in links)
                + (f"\n  and {more} more photo(s) in your account" if more > 0 else ""),
            }
        )
    return {
        "parcel_id": parcel.parcel_id,
        "tracking_no": parcel.tracking_no,
        "item_count": len(rows),
        "items": rows,
    }
