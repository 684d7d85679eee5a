"""Responses of the QC photo routes: presigned uploads, upload status and an item's photos."""

from typing import Literal

from chalicelib.responses.base import Out, PhotoStatus, Timestamp
from chalicelib.responses.items import _EXAMPLE_ITEM, ItemPhoto
from chalicelib.typed import ConfigDict, Field

ContentType = Literal["image/jpeg", "image/png", "image/webp"]


class PresignedPost(Out):
    """An S3 presigned POST: send a multipart form with every field, then the file as `file`."""

    url: str
    fields: dict[str, str] = Field(description="Form fields to send as they are (key, policy, signature...).")


class PhotoUpload(Out):
    """Where to upload one QC photo: the key is chosen by the server and pinned in the policy."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "photo_id": "pho_01JDX3R1M6Q7Y8ZK2W4V5T6S7C",
                    "upload": {
                        "url": "https://procure-photos.s3.amazonaws.com/",
                        "fields": {
                            "Content-Type": "image/jpeg",
                            "key": "qc/itm_01JDX3R1M6Q7Y8ZK2W4V5T6S7A/pho_01JDX3R1M6Q7Y8ZK2W4V5T6S7C.jpg",
                            "x-amz-algorithm": "AWS4-HMAC-SHA256",
                            "x-amz-credential": "AKIAEXAMPLE/20261130/us-east-1/s3/aws4_request",
                            "x-amz-date": "20261130T080000Z",
                            "policy": "eyJleHBpcmF0aW9uIjogIjIwMjYtMTEtMzBUMDg6MDU6MDBaIn0=",
                            "x-amz-signature": "3f1c0e8d7a",
                        },
                    },
                    "expires_in": 300,
                    "max_bytes": 10485760,
                }
            ]
        }
    )

    photo_id: str
    upload: PresignedPost
    expires_in: int = Field(description="Seconds the presigned POST may be used.")
    max_bytes: int = Field(description="The largest accepted file.")


class PhotoUploadStatus(Out):
    """Where a requested upload stands: pending, ready (attached to the item) or rejected (quarantined)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "photo_id": "pho_01JDX3R1M6Q7Y8ZK2W4V5T6S7C",
                    "item_id": "itm_01JDX3R1M6Q7Y8ZK2W4V5T6S7A",
                    "status": PhotoStatus.READY.value,
                    "content_type": "image/jpeg",
                    "created_at": "2026-11-30T08:00:00Z",
                    "ready_at": "2026-11-30T08:02:00Z",
                    "rejected_at": None,
                    "reject_reason": None,
                }
            ]
        }
    )

    photo_id: str
    item_id: str
    status: PhotoStatus
    content_type: ContentType = Field(description="The declared type the upload was pinned to.")
    created_at: Timestamp
    ready_at: Timestamp | None
    rejected_at: Timestamp | None
    reject_reason: str | None = Field(description="Why the upload was quarantined (rejected only).")


class ItemPhotoPage(Out):
    """A page of an item's QC photos, oldest first (null `next_cursor`: the last page)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": _EXAMPLE_ITEM["photos"], "next_cursor": None}]}
    )

    items: list[ItemPhoto]
    next_cursor: str | None


class PackagePhotoPage(Out):
    """The photos of a packed parcel (a rehearsal), oldest first, all on one page (`next_cursor` null)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": _EXAMPLE_ITEM["photos"], "next_cursor": None}]}
    )

    items: list[ItemPhoto]
    next_cursor: str | None
