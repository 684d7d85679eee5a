"""Photo ingestion: the S3-triggered handler behind app.photo_events.

S3 notifies the photo queue for every object created under `qc/`; SQS delivers at least once, in any
order, possibly many times. `ingest` reconciles the photo with the object currently under the key, so
any number of deliveries, shuffled, give the same result:

- a key of another shape, a key no Photo record expects, an object over 10 MB, or bytes that are not
  a JPEG/PNG/WebP image: the object is moved to `quarantine/<key>` (the Photo, if any, is `rejected`),
  a warning is logged, and nothing is attached. A bad object never raises: it must not poison its batch.
- a good image: a JPEG thumbnail goes to `thumbs/<item_id>/<photo_id>.jpg` and a view-size JPEG
  (<= 1600 px, <= 400 KB) to `views/<item_id>/<photo_id>.jpg` (both outside `qc/`, so they notify
  nothing; rewriting them on a redelivery gives the same objects), the item (or, for a customer's
  evidence photo, the after-sales case or insurance claim the Photo record names as its `subject`) gets
  `photos[<photo_id>]` (a map keyed by photo id: setting it again changes nothing) and the Photo becomes
  `ready` (conditionally, from pending).
- an object already attached (same ETag) or no longer there (moved to quarantine or deleted by an
  earlier delivery): `duplicate`.

A photo attached (or found attached) runs the photos-ready check of its item (chalicelib/photos_ready.py):
idempotent, so a redelivery re-running it sends nothing twice.

Transient AWS errors (throttling, timeouts, access) do raise out of `ingest`; `handle_batch` turns
them into a partial batch response (the event source mapping has `ReportBatchItemFailures`), so SQS
redelivers only the failed messages, not the nine good ones beside them; after 5 receives a message
goes to the dead-letter queue. Cost: one batch of up to 10 messages per invocation; per photo one GET
and two PUTs (thumbnail, view), and a decode at about the view's size (JPEGs decode reduced).
"""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib import aws, clock, config, db, metrics, observability, photos, photos_ready
from chalicelib.events.s3_records import S3Object, objects_from_bodies
from chalicelib.lifecycle import PHOTO
from chalicelib.logs import get_logger
from chalicelib.models.photos import PENDING, READY, REJECTED, Photo

log = get_logger("events.photos")

ATTACHED = "attached"
DUPLICATE = "duplicate"
QUARANTINED = "quarantined"
IGNORED = "ignored"

_GONE = ("NoSuchKey", "404", "NotFound")
# Without s3:ListBucket (the functions have none) S3 answers 403, not 404, for a missing key: such an
# answer means "gone" only when the quarantine copy proves an earlier delivery moved the object.
_DENIED = ("AccessDenied", "403", "Forbidden")


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _quarantined(obj: S3Object) -> bool:
    """True if quarantine/<key> exists (HeadObject: needs only s3:GetObject)."""
    try:
        aws.client("s3").head_object(Bucket=obj.bucket, Key=photos.quarantine_key(obj.key))
    except Exception as exc:
        if _error_code(exc) in _GONE + _DENIED:
            return False
        raise
    return True


def _is_gone(exc: Exception, obj: S3Object) -> bool:
    """Whether an S3 error on the object means it is no longer under its key (else: re-raise it)."""
    code = _error_code(exc)
    return code in _GONE or (code in _DENIED and _quarantined(obj))


def handle_batch(records: Iterable[dict]) -> dict:
    """Ingest every message of an SQS batch; the answer names only the messages that failed."""
    failures = []
    for record in records:
        try:
            for obj in objects_from_bodies([record["body"]]):
                ingest(obj)
        except Exception:
            log.exception(
                "photo message failed; SQS redelivers it", extra={"message_id": record["messageId"]}
            )
            metrics.count("PhotoMessagesFailed")
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def ingest(obj: S3Object) -> str:
    """Handle one uploaded object; returns what happened (for logs and tests)."""
    if obj.bucket != config.get("PHOTO_BUCKET") or not obj.key.startswith(config.PHOTO_UPLOAD_PREFIX):
        # never touch objects outside qc/ (catalog images, thumbnails, quarantine)
        log.warning("photo event ignored", extra={"bucket": obj.bucket, "key": obj.key})
        return IGNORED
    if obj.event_name and not obj.event_name.startswith("ObjectCreated"):
        log.info("photo event ignored", extra={"key": obj.key, "event_name": obj.event_name})
        return IGNORED

    parsed = photos.parse_key(obj.key)
    if parsed is None:
        return _quarantine(obj, "unknown_key")
    photo = _photo(parsed.photo_id)
    if photo is None:
        return _quarantine(obj, "unknown_photo")
    if photo.item_id != parsed.item_id or photo.key != obj.key:
        return _quarantine(obj, "key_mismatch")  # not this photo's key: its own upload may still come
    item = _item(parsed.item_id, photo.subject)  # the item, or the case or claim of an evidence photo
    if item is None:
        return _quarantine(obj, "unknown_item", photo)
    attached = photos.attached(item).get(photo.photo_id)
    if attached and obj.etag and attached.get("etag") == obj.etag.strip('"'):
        _mark_ready(photo, attached)
        _photos_ready(photo)  # an earlier delivery may have stopped before it
        return DUPLICATE
    if photo.status == REJECTED:
        if obj.etag and photo.etag == obj.etag.strip('"'):
            return DUPLICATE  # the rejected object itself, delivered again
        return _quarantine(obj, "photo_rejected", photo)  # another upload after a rejection: also refused
    if obj.size > photos.MAX_BYTES:
        return _quarantine(obj, "too_large", photo, item)

    try:
        got = aws.client("s3").get_object(Bucket=obj.bucket, Key=obj.key)
    except Exception as exc:
        if _is_gone(exc, obj):
            return _gone(obj, photo)
        raise
    observability.bind_correlation(got.get("Metadata"))  # from the API request that issued the upload
    body = got["Body"]
    try:
        etag = str(got.get("ETag") or "").strip('"')
        size = int(got.get("ContentLength") or 0)
        if attached and attached.get("etag") == etag:
            _mark_ready(photo, attached)
            _photos_ready(photo)
            return DUPLICATE
        if size > photos.MAX_BYTES:
            return _quarantine(obj, "too_large", photo, item)
        data = body.read(photos.MAX_BYTES + 1)
    finally:
        body.close()
    if len(data) > photos.MAX_BYTES:
        return _quarantine(obj, "too_large", photo, item)

    try:
        checked = photos.check_image(data)
    except photos.NotAnImage as exc:
        return _quarantine(obj, exc.reason, photo, item)

    thumb = photos.thumb_key(parsed.item_id, photo.photo_id)
    aws.client("s3").put_object(
        Bucket=obj.bucket, Key=thumb, Body=checked.thumbnail, ContentType="image/jpeg"
    )
    view = photos.view_key(parsed.item_id, photo.photo_id)
    aws.client("s3").put_object(Bucket=obj.bucket, Key=view, Body=checked.view, ContentType="image/jpeg")
    modified = got.get("LastModified")
    entry = {
        "key": obj.key,
        "thumb_key": thumb,
        "view_key": view,
        "view_size": len(checked.view),
        "content_type": checked.info.content_type,
        "declared_type": photo.content_type,
        "size": len(data),
        "width": checked.info.width,
        "height": checked.info.height,
        "etag": etag,
        "uploaded_at": clock.iso(modified) if modified is not None else clock.now_iso(),
    }
    if not _attach(item, photo.photo_id, entry):
        return _quarantine(obj, "unknown_item", photo)
    _mark_ready(photo, entry)
    metrics.count("PhotosIngested")
    _photos_ready(photo)  # the parcel's photos-ready notice, once its last item is ready
    log.info(
        "photo attached",
        extra={"photo_id": photo.photo_id, "item_id": parsed.item_id, "key": obj.key, "size": len(data)},
    )
    return ATTACHED


def _photos_ready(photo: Photo) -> None:
    """The photos-ready check of a QC photo's item; a customer's evidence photo (of a case or a claim)
    has no parcel to notify about."""
    if photo.subject is None:
        photos_ready.check(photo.item_id)


def _gone(obj: S3Object, photo: Photo | None) -> str:
    """The object is no longer under its key: an earlier delivery moved it to quarantine (or it was
    deleted). A photo still pending then had its rejection interrupted: finish it."""
    if photo is not None and photo.status == PENDING and _quarantined(obj):
        _mark_rejected(photo, "quarantined", obj.etag)
    log.info("photo object already gone", extra={"key": obj.key})
    return DUPLICATE


def _photo(photo_id: str) -> Photo | None:
    try:
        return Photo.get(photo_id, consistent_read=True)
    except Photo.DoesNotExist:
        return None


def _item(item_id: str, subject: str | None = None):
    """What the photo attaches to: an item, or (evidence) the case or claim named by `subject`."""
    model = photos.subject_model(subject)
    try:
        return model.get(item_id, consistent_read=True)
    except model.DoesNotExist:
        return None


def _key_of(target) -> tuple:
    """(hash key attribute, its value) of an item, case or claim."""
    attribute = type(target)._hash_key_attribute()
    return getattr(type(target), attribute.attr_name), getattr(target, attribute.attr_name)


def _attach(item, photo_id: str, entry: dict) -> bool:
    """Set `photos[<photo_id>]` on the item; False if the item is gone.

    Only that one map key is written (last write wins: every delivery writes the same value), and the
    version is incremented so that a concurrent full save of the item, made from a copy read before,
    fails its version check instead of dropping the photo.
    """
    model = type(item)  # an item, or the case or claim of an evidence photo
    hash_key, item_id = _key_of(item)
    now = clock.now_iso()
    for _ in range(3):
        if db.update_if(
            item,
            [model.photos[photo_id].set(entry), model.updated_at.set(now)],
            hash_key.exists() & model.photos.exists(),
            add_version_condition=False,
        ):
            return True
        # the item is gone, or was written without a photos map: create the map once
        if db.update_if(
            item,
            [model.photos.set({photo_id: entry}), model.updated_at.set(now)],
            hash_key.exists() & model.photos.does_not_exist(),
            add_version_condition=False,
        ):
            return True
        if _item(item_id, photos_subject(item)) is None:
            return False
    raise RuntimeError(f"could not attach photo {photo_id} to {item_id}")


def photos_subject(target) -> str | None:
    """The `Photo.subject` of what `target` is (None for an item)."""
    return next((s for s in photos.EVIDENCE_SUBJECTS if photos.subject_model(s) is type(target)), None)


def _detach(item, photo_id: str) -> None:
    """Remove `photos[<photo_id>]` (an attached object was replaced by a bad one)."""
    model = type(item)
    hash_key, _ = _key_of(item)
    db.update_if(
        item,
        [model.photos[photo_id].remove(), model.updated_at.set(clock.now_iso())],
        hash_key.exists() & model.photos.exists(),
        add_version_condition=False,
    )


def _mark_ready(photo: Photo, entry: dict) -> None:
    if photo.status == READY and photo.etag == entry.get("etag"):
        return
    also = [
        Photo.etag.set(entry.get("etag")),
        Photo.size.set(entry.get("size")),
        Photo.detected_type.set(entry.get("content_type")),
        Photo.expires_at.remove(),
    ]
    ready = PHOTO.move(photo, "ingest", now=clock.now_iso(), also=also, when=Photo.photo_id.exists())
    if not db.update_if(photo, *ready):
        log.warning("photo attached but its record is not pending", extra={"photo_id": photo.photo_id})


def _mark_rejected(photo: Photo, reason: str, etag: str) -> None:
    also = [Photo.reject_reason.set(reason)]
    if etag.strip('"'):
        also.append(Photo.etag.set(etag.strip('"')))  # its redeliveries are then duplicates
    exists = Photo.photo_id.exists()  # never recreate a record TTL has deleted
    db.update_if(photo, *PHOTO.move(photo, "quarantine", now=clock.now_iso(), also=also, when=exists))


def _quarantine(obj: S3Object, reason: str, photo: Photo | None = None, item=None) -> str:
    """Move the object to quarantine/<key>, reject the photo and detach it if it was attached."""
    s3 = aws.client("s3")
    target = photos.quarantine_key(obj.key)
    try:
        s3.copy_object(Bucket=obj.bucket, Key=target, CopySource={"Bucket": obj.bucket, "Key": obj.key})
    except Exception as exc:
        if not _is_gone(exc, obj):
            raise
        return _gone(obj, photo)  # an earlier delivery moved it already
    s3.delete_object(Bucket=obj.bucket, Key=obj.key)
    metrics.count("PhotosQuarantined", reason=reason)
    if photo is not None:
        if item is not None and photo.photo_id in photos.attached(item):
            _detach(item, photo.photo_id)
            s3.delete_object(Bucket=obj.bucket, Key=photos.thumb_key(photo.item_id, photo.photo_id))
        if photo.status != REJECTED:
            _mark_rejected(photo, reason, obj.etag)
    log.warning(
        "photo quarantined",
        extra={
            "bucket": obj.bucket,
            "key": obj.key,
            "quarantine_key": target,
            "reason": reason,
            "size": obj.size,
            "photo_id": photo.photo_id if photo is not None else None,
            "item_id": photo.item_id if photo is not None else None,
        },
    )
    return QUARANTINED
