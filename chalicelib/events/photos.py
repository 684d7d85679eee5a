"""Photo ingestion: the S3-triggered handler behind app.photo_events."""

from __future__ import annotations

from chalicelib.events.s3_records import S3Object
from chalicelib.logs import get_logger

log = get_logger("events.photos")


def ingest(obj: S3Object) -> str:
    """Handle one uploaded object; returns what happened (for logs and tests)."""
    log.info("photo object received", extra={"bucket": obj.bucket, "key": obj.key, "size": obj.size})
    return "received"
