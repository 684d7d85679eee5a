"""The packer's work items: each paid value-added service of a package performed or refunded before
packing (staff group `warehouse`; chalicelib/packing_checklist.py)."""

from __future__ import annotations

from typing import Annotated

from chalice import Blueprint

from chalicelib import packing_checklist
from chalicelib.responses.packages import StaffPackage
from chalicelib.schemas import Body, example
from chalicelib.typed import Field
from chalicelib.web import Req, performs, route

bp = Blueprint(__name__)

WAREHOUSE = ("warehouse",)
PhotoId = Annotated[str, Field(pattern=r"^pho_[0-9A-Z]{26}$")]


class PerformBody(Body):
    """The service was done; optionally a photo of the work (uploaded like any warehouse photo, for one
    of the package's items: POST /staff/items/{item_id}/photos) and a note."""

    model_config = example({"photo_id": "pho_01JDX9ZQ3R4S5T6V7W8X9Y0Z1A", "note": "Corner guards on all 8"})

    photo_id: PhotoId | None = Field(None, description="A photo of the work, once uploaded.")
    note: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class RefundBody(Body):
    """The service could not be done: why (the customer sees it)."""

    model_config = example({"reason": "The goods do not fit a vacuum bag (rigid box)."})

    reason: Annotated[str, Field(min_length=3, max_length=500)]


@route(
    bp,
    "/staff/packages/{package_id}/services/{service}/perform",
    "POST",
    groups=WAREHOUSE,
    body=PerformBody,
    response=StaffPackage,
)
@performs("service.perform")
def perform_service(req: Req, package_id: str, service: str) -> StaffPackage:
    """Tick a paid service off the packing checklist (packing waits for every one)."""
    b = req.body
    done = packing_checklist.perform(package_id, service, req.user.user_id, b.photo_id, b.note)
    return StaffPackage.of_result(done)


@route(
    bp,
    "/staff/packages/{package_id}/services/{service}/refund",
    "POST",
    groups=WAREHOUSE,
    body=RefundBody,
    money=True,
    response=StaffPackage,
)
@performs("service.refund")
def refund_service(req: Req, package_id: str, service: str):
    """A paid service that could not be done: its price back to the wallet; packing does not charge it."""
    return packing_checklist.refund(package_id, service, req.user.user_id, req.body.reason)
