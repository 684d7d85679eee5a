"""QC photos: staff upload by presigned POST; customers see their items' photos by short-lived URLs."""

from __future__ import annotations

from typing import Literal

from chalice import Blueprint

from chalicelib import photos
from chalicelib.errors import ValidationError
from chalicelib.responses.photos import ItemPhotoPage, PackagePhotoPage, PhotoUpload, PhotoUploadStatus
from chalicelib.schemas import Body, example
from chalicelib.web import Req, decode_cursor, encode_cursor, page_limit, route

bp = Blueprint(__name__)

WAREHOUSE = ("warehouse",)


class PhotoUploadBody(Body):
    """The kind of QC photo about to be uploaded (the presigned POST only accepts that type)."""

    model_config = example({"content_type": "image/jpeg"})

    content_type: Literal["image/jpeg", "image/png", "image/webp"]


@route(
    bp,
    "/staff/items/{item_id}/photos",
    "POST",
    groups=WAREHOUSE,
    body=PhotoUploadBody,
    status=201,
    response=PhotoUpload,
)
def request_photo_upload(req: Req, item_id: str) -> dict:
    """A presigned POST for one QC photo of an item in the warehouse (JPEG, PNG or WebP, at most 10 MB)."""
    return photos.request_upload(item_id, req.user.user_id, req.body.content_type)


@route(bp, "/staff/photos/{photo_id}", groups=WAREHOUSE, response=PhotoUploadStatus)
def photo_upload_status(req: Req, photo_id: str) -> dict:
    """Where a requested upload stands: pending, ready (attached) or rejected (quarantined)."""
    return photos.photo_status(photo_id)


@route(bp, "/items/{item_id}/photos", query=("limit", "cursor"), response=ItemPhotoPage)
def list_item_photos(req: Req, item_id: str) -> dict:
    """The item's QC photos, oldest first, with URLs valid for 15 minutes (owner or staff only)."""
    limit = page_limit(req)
    cursor = decode_cursor(req)
    after = cursor.get("after") if cursor is not None else None
    if cursor is not None and not (
        isinstance(after, list) and len(after) == 2 and all(isinstance(part, str) for part in after)
    ):
        raise ValidationError("cursor is not one this API returned.")
    found = photos.item_photos(item_id, req.user)
    if after is not None:
        found = [p for p in found if (p["uploaded_at"] or "", p["photo_id"]) > tuple(after)]
    page = found[:limit]
    last = page[-1] if page else None
    more = last is not None and len(found) > limit
    next_cursor = encode_cursor({"after": [last["uploaded_at"] or "", last["photo_id"]]}) if more else None
    return {"items": page, "next_cursor": next_cursor}


# --- photos of a package being packed (issue 24: a rehearsal shows the customer the packed parcel) ------


@route(
    bp,
    "/staff/packages/{package_id}/photos",
    "POST",
    groups=WAREHOUSE,
    body=PhotoUploadBody,
    status=201,
    response=PhotoUpload,
)
def request_package_photo_upload(req: Req, package_id: str) -> dict:
    """A presigned POST for one photo of a package being packed (paid or rehearsed): the rehearsal's
    photos the customer sees before confirming."""
    return photos.request_package_upload(package_id, req.user.user_id, req.body.content_type)


@route(bp, "/packages/{package_id}/photos", response=PackagePhotoPage)
def list_package_photos(req: Req, package_id: str) -> dict:
    """The packed parcel's photos (a rehearsal), oldest first, with URLs valid for 15 minutes (owner or
    staff only); at most 30, on one page."""
    return {"items": photos.package_photos(package_id, req.user), "next_cursor": None}
