"""Paid extra photos: the customer asks (and pays), the warehouse's queue delivers (issue 23)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import photo_requests
from chalicelib.responses.photo_requests import PhotoRequest, StaffPhotoRequest, StaffPhotoRequestPage
from chalicelib.schemas import Body, Text, example
from chalicelib.web import Req, decode_cursor, encode_cursor, page_limit, performs, route

bp = Blueprint(__name__)

WAREHOUSE = ("warehouse",)


class PhotoRequestBody(Body):
    """What the customer wants to see in the extra photos."""

    model_config = example({"note": "Please photograph the collar label and the seams up close."})

    note: Text | None = None


@route(
    bp,
    "/items/{item_id}/photo-requests",
    "POST",
    body=PhotoRequestBody,
    money=True,
    status=201,
    response=PhotoRequest,
)
def request_photos(req: Req, item_id: str) -> PhotoRequest:
    """Pay for more photos of an inspected item (the `extra_photos` fee, from the wallet): the item goes
    on the warehouse's photo-request queue and the customer is emailed when the photos are up. 409 when
    the item can no longer be photographed (its package is sealed, or it left us) or a request is open."""
    return PhotoRequest.of(photo_requests.request(req.user.user_id, item_id, req.body.note))


@route(
    bp, "/staff/photo-requests", groups=WAREHOUSE, query=("limit", "cursor"), response=StaffPhotoRequestPage
)
def photo_request_queue(req: Req) -> StaffPhotoRequestPage:
    """Paid photo requests waiting for the warehouse, oldest first."""
    rows, next_cursor = photo_requests.queue(page_limit(req), decode_cursor(req))
    return StaffPhotoRequestPage.of(rows, encode_cursor(next_cursor))


@route(
    bp, "/staff/photo-requests/{request_id}/complete", "POST", groups=WAREHOUSE, response=StaffPhotoRequest
)
@performs("photo_request.complete")
def complete_photo_request(req: Req, request_id: str) -> StaffPhotoRequest:
    """The extra photos are uploaded (at least one since the request): done, and the customer emailed."""
    request, item = photo_requests.complete(request_id, req.user.user_id)
    return StaffPhotoRequest.of(request, item)
