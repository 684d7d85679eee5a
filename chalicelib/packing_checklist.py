"""The packer's checklist (issue 24, part 3): a paid service performed, or refunded as not done.

The rules of the work items are in chalicelib/service_work.py (which `packages.pack` also reads); this
module holds the two staff actions. Each is one conditional transaction on the package (its status is
still one `pack` starts from, and its version the one read), so two packers never both refund one
service; a refund's ledger leg is in the same transaction and its route takes an Idempotency-Key.
Costs: a perform is a read of the package and its items and one write (one more read with a photo); a
refund adds the wallet account to the transaction.
"""

from __future__ import annotations

from chalicelib import clock, currency, packages, uow
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.items import plain
from chalicelib.lifecycle import PACKAGE, SERVICE_WORK, PhotoStatus
from chalicelib.logs import get_logger
from chalicelib.models.packages import Package
from chalicelib.service_work import REFUND_KIND, WorkItem, work_items

log = get_logger("packing_checklist")


def _work_item(package: Package, service: str) -> WorkItem:
    found = {w.service: w for w in work_items(package)}
    if service not in found:
        raise NotFound(f"The package has no paid service {service!r} for the warehouse to do.")
    return found[service]


def _load(package_id: str) -> Package:
    try:
        package = Package.get(package_id, consistent_read=True)
    except Package.DoesNotExist:
        raise NotFound("No such package.") from None
    if not PACKAGE.allows("pack", package.status):
        raise Conflict(f"The package is {package.status}; services are done while it is being packed.")
    return package


def _check_photo(package: Package, photo_id: str) -> None:
    """The photo was uploaded for one of the package's items and not rejected."""
    from chalicelib.models.photos import Photo

    try:
        photo = Photo.get(photo_id, consistent_read=True)
    except Photo.DoesNotExist:
        raise ValidationError(f"No such photo {photo_id}.") from None
    if photo.item_id not in package.item_ids:
        raise ValidationError(f"Photo {photo_id} is not of an item of this package.")
    if photo.status == PhotoStatus.REJECTED:
        raise ValidationError(f"Photo {photo_id} was rejected ({photo.reject_reason}); take another.")


def _record(package: Package, service: str, action: str, **fields) -> tuple[list, object, dict]:
    """The package update recording `action` on `service` (a move of its work-item word)."""
    item = _work_item(package, service)
    SERVICE_WORK.require(action, item.status, what=f"service {service}")
    records = plain(package.service_work) or {}
    records[service] = {
        "status": SERVICE_WORK.target(action).value,
        "price_fen": item.price_fen,
        **{k: v for k, v in fields.items() if v is not None},
    }
    now = clock.now_iso()
    actions = [Package.service_work.set(records), Package.updated_at.set(now)]
    return actions, PACKAGE.condition(Package.status, "pack"), records


def perform(package_id: str, service: str, staff_id: str, photo_id: str | None, note: str | None):
    """The packer did `service`: ticked off, with an optional photo of the work."""

    def unit() -> uow.Unit:
        package = _load(package_id)
        if photo_id:
            _check_photo(package, photo_id)
        actions, condition, records = _record(
            package, service, "perform", at=clock.now_iso(), by=staff_id, photo_id=photo_id, note=note
        )
        work = uow.Unit()
        work.update(package, actions, condition)
        package.service_work = records
        work.result = packages.PackageResult(package, packages.package_items(package))
        return work

    done = uow.run(unit)
    log.info("package service performed", extra={"package_id": package_id, "service": service})
    return done


def refund(package_id: str, service: str, staff_id: str, reason: str):
    """`service` could not be done: its price goes back to the wallet (ledger), and packing will not
    charge it."""

    def unit() -> uow.Unit:
        package = _load(package_id)
        item = _work_item(package, service)
        amount = item.price_fen
        actions, condition, records = _record(
            package, service, "refund", at=clock.now_iso(), by=staff_id, note=reason, refund_fen=amount
        )
        refunded = int(package.refunded_fen or 0) + amount
        actions.append(Package.refunded_fen.set(refunded))
        work = uow.Unit()
        work.move(package.user_id, amount, REFUND_KIND, package.package_id, currency.stored(package.fx))
        work.update(package, actions, condition)
        package.service_work, package.refunded_fen = records, refunded
        work.result = packages.PackageResult(package, packages.package_items(package))
        return work

    done = uow.run(unit)
    log.info("package service refunded", extra={"package_id": package_id, "service": service})
    return done
