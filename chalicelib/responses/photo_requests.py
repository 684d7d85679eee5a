"""Paid photo requests (chalicelib/photo_requests.py): the customer's receipt and the warehouse's queue."""

from __future__ import annotations

from typing import Any, Self

from chalicelib.lifecycle import ItemStatus, PhotoRequestStatus
from chalicelib.models import commerce
from chalicelib.models import photos as stored
from chalicelib.responses.base import Fen, Out, Timestamp
from chalicelib.typed import ConfigDict, Field

_REQUEST_EXAMPLE = {
    "request_id": "phr_01JDQ3Z8K2M4N6P8R0S2T4V6X8",
    "item_id": "itm_01JDQ3Z8K2M4N6P8R0S2T4V6X8",
    "note": "Please photograph the collar label and the seams up close.",
    "fee_fen": 600,
    "status": PhotoRequestStatus.REQUESTED.value,
    "created_at": "2026-12-06T09:30:00Z",
    "completed_at": None,
    "refunded_at": None,
}


class PhotoRequest(Out):
    """A paid request for more photos of an inspected item: `requested` (on the warehouse's queue),
    `completed` (photos uploaded, the customer emailed) or `refunded` (the item left us first)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_REQUEST_EXAMPLE]})

    request_id: str
    item_id: str
    note: str | None = Field(description="What the customer wants to see.")
    fee_fen: Fen = Field(description="Charged from the wallet (the `extra_photos` service's fee).")
    status: PhotoRequestStatus
    created_at: Timestamp
    completed_at: Timestamp | None
    refunded_at: Timestamp | None

    @classmethod
    def of(cls, request: stored.PhotoRequest, **extra: Any) -> Self:
        return cls.build(
            request_id=request.request_id,
            item_id=request.item_id,
            note=request.note,
            fee_fen=int(request.fee_fen or 0),
            status=request.status,
            created_at=request.created_at,
            completed_at=request.completed_at,
            refunded_at=request.refunded_at,
            **extra,
        )

    @classmethod
    def of_result(cls, result: stored.PhotoRequest) -> Self:
        return cls.of(result)


class StaffPhotoRequest(PhotoRequest):
    """A photo request on the warehouse's queue, with what the packer needs to find the item."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_REQUEST_EXAMPLE,
                    "user_id": "user-alice",
                    "title": "Cotton T-shirt",
                    "item_status": ItemStatus.IN_WAREHOUSE.value,
                    "package_id": None,
                    "photo_count": 2,
                    "new_photo_count": 0,
                }
            ]
        }
    )

    user_id: str = Field(description="The customer's id (Cognito sub).")
    title: str | None = Field(description="The item's title.")
    item_status: str | None = Field(description="Where the item is (`ItemStatus`).")
    package_id: str | None = Field(description="The unsealed package holding the item, if any.")
    photo_count: int = Field(description="The item's QC photos.")
    new_photo_count: int = Field(description="Photos ingested since the request (at least 1 to complete).")

    @classmethod
    def of(cls, request: stored.PhotoRequest, item: commerce.Item | None = None, **extra: Any) -> Self:
        from chalicelib import photo_requests, photos

        return super().of(
            request,
            user_id=request.user_id,
            title=item.title if item else None,
            item_status=item.status if item else None,
            package_id=item.package_id if item else None,
            photo_count=len(photos.attached(item)) if item else 0,
            new_photo_count=len(photo_requests.new_photos(request, item)) if item else 0,
            **extra,
        )


class StaffPhotoRequestPage(Out):
    """The warehouse's photo-request queue, oldest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [], "next_cursor": None}]})

    items: list[StaffPhotoRequest]
    next_cursor: str | None

    @classmethod
    def of(
        cls, rows: list[tuple[stored.PhotoRequest, commerce.Item | None]], next_cursor: str | None
    ) -> Self:
        return cls.build(items=[StaffPhotoRequest.of(r, i) for r, i in rows], next_cursor=next_cursor)
