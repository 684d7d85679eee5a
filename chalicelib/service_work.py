"""Paid value-added services as the packer's work items (issue 24, part 3).

Every service of a package whose rule says the warehouse performs it (`rules.shipping.Service.work`:
reinforcement, vacuum sealing, removing packaging, extra photos; not insurance) is a work item: `to_do`
until the packer ticks it off (`perform`, optionally naming a photo uploaded like any warehouse photo) or
marks it impossible (`refund`: its price back to the wallet through the ledger, and it is no longer
charged at packing). `pack` is refused (409 `services_not_done`) while any is `to_do`.

The items live in the package's `service_work` map (service -> record); a service absent from the map is
`to_do`. Pure reads of a package already loaded (no I/O): the packer's two actions, each one conditional
transaction, are in chalicelib/packing_checklist.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.errors import Conflict
from chalicelib.items import plain
from chalicelib.lifecycle import ServiceWork
from chalicelib.models.packages import Package
from chalicelib.rules import shipping as rules

REFUND_KIND = "package_service_refund"


@dataclass(frozen=True)
class WorkItem:
    """One paid service of a package as the packer sees it and the customer is shown it."""

    service: str
    name: str
    price_fen: int  # what the customer paid for it (the package's services breakdown)
    status: ServiceWork
    at: str | None = None
    by: str | None = None
    photo_id: str | None = None
    note: str | None = None
    refund_fen: int = 0


def _catalog(package: Package) -> dict[str, rules.Service]:
    """The services as agreed at submission (the package's rates snapshot)."""
    snapshot = (plain(package.rates) or {}).get("services") or {}
    return {name: rules.Service.from_json(data) for name, data in snapshot.items()}


def work_items(package: Package) -> list[WorkItem]:
    """The package's paid services the warehouse performs, in the order the customer chose them."""
    catalog = _catalog(package)
    records = plain(package.service_work) or {}
    breakdown = plain(package.services_breakdown) or {}
    found = []
    for name in package.services or []:
        service = catalog.get(name)
        if service is None or not service.work:
            continue
        record = records.get(name) or {}
        found.append(
            WorkItem(
                service=name,
                name=service.name,
                price_fen=int(record.get("price_fen", breakdown.get(name, 0))),
                status=ServiceWork(record.get("status", ServiceWork.TO_DO)),
                at=record.get("at"),
                by=record.get("by"),
                photo_id=record.get("photo_id"),
                note=record.get("note"),
                refund_fen=int(record.get("refund_fen", 0)),
            )
        )
    return found


def outstanding(package: Package) -> list[str]:
    """The work services still to do (what `pack` refuses to pack over)."""
    return [w.service for w in work_items(package) if w.status == ServiceWork.TO_DO]


def require_done(package: Package) -> None:
    """409 naming every paid service the packer has neither performed nor refunded."""
    missing = outstanding(package)
    if missing:
        raise Conflict(
            f"Paid services not done yet: {', '.join(missing)}. Tick each off "
            "(POST .../services/{service}/perform) or refund it before packing.",
            code="services_not_done",
            details=[{"service": name} for name in missing],
        )


def charged_services(package: Package) -> list[str]:
    """The services the final charge includes: every chosen one but those refunded as not done."""
    refunded = {w.service for w in work_items(package) if w.status == ServiceWork.REFUNDED}
    return [s for s in package.services or [] if s not in refunded]
