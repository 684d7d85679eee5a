"""Photo upload records (what the server expects under each presigned key).

One record per presigned upload, written when staff ask for it (status `pending`). The ingestion handler
looks the record up by the photo id in the uploaded key (GetItem) and moves it to `ready` or `rejected`.
The item itself carries the ingested photos (`Item.photos`, a map keyed by photo id), so reading an
item's photos never touches this table.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.lifecycle import PhotoRequestStatus, PhotoStatus
from chalicelib.models.base import table_meta

PENDING = PhotoStatus.PENDING
READY = PhotoStatus.READY
REJECTED = PhotoStatus.REJECTED


class Photo(Model):
    Meta = table_meta("photos")

    photo_id = UnicodeAttribute(hash_key=True)
    # the item the photo is of; for a customer's evidence photo, the case or claim it supports (`subject`)
    item_id = UnicodeAttribute()
    subject = UnicodeAttribute(null=True)  # None: an item's QC photo; "case" | "claim": evidence
    user_id = UnicodeAttribute()  # the item's owner when the upload was requested
    key = UnicodeAttribute()  # qc/<item_id or case/claim id>/<photo_id>.<ext>, chosen by the server
    content_type = UnicodeAttribute()  # what staff declared (pinned in the presigned POST)
    status = UnicodeAttribute(default=PENDING)  # pending | ready | rejected
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()  # who asked for the upload (staff; the customer for evidence)
    upload_expires_at = UnicodeAttribute()
    # set by ingestion
    etag = UnicodeAttribute(null=True)
    size = NumberAttribute(null=True)
    detected_type = UnicodeAttribute(null=True)  # the format the bytes really are
    ready_at = UnicodeAttribute(null=True)
    rejected_at = UnicodeAttribute(null=True)
    reject_reason = UnicodeAttribute(null=True)
    # a pending record nobody uploaded to disappears after a week; ingestion clears it on `ready`
    expires_at = TTLAttribute(null=True)


class PhotoRequestQueue(GlobalSecondaryIndex):
    """Paid photo requests the warehouse still owes, oldest first (sparse, sharded `<queue>#<n>`)."""

    class Meta:
        index_name = "queue"
        projection = AllProjection()

    queue_key = UnicodeAttribute(hash_key=True)
    queue_at = UnicodeAttribute(range_key=True)


class PhotoRequest(Model):
    """A customer's paid request for more photos of an inspected item (chalicelib/photo_requests.py).
    While `requested`, the item carries its id (`Item.photo_request_id`): one open request per item."""

    Meta = table_meta("photo_requests")

    request_id = UnicodeAttribute(hash_key=True)
    item_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    fee_fen = NumberAttribute()
    photos_before = NumberAttribute(default=0)  # the item's photos when it was asked for
    status = UnicodeAttribute(default=PhotoRequestStatus.REQUESTED)  # lifecycle.PHOTO_REQUEST
    created_at = UnicodeAttribute()
    completed_at = UnicodeAttribute(null=True)
    completed_by = UnicodeAttribute(null=True)
    refunded_at = UnicodeAttribute(null=True)
    refund_reason = UnicodeAttribute(null=True)
    queue_key = UnicodeAttribute(null=True)
    queue_at = UnicodeAttribute(null=True)
    version = VersionAttribute()

    queue = PhotoRequestQueue()


MODELS: list[type] = [Photo, PhotoRequest]
