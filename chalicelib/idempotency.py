"""Idempotency records: `Idempotency-Key` on money-moving POSTs, and provider event ids.

A retry with the same key and body gets the first response and moves no money twice; the same key with
a different body is a 409. Records expire after a day (DynamoDB TTL).

What a replay needs must fit in DynamoDB's 400 KB item: the response is stored compressed, and a
response too large even then (a package with many photos) is stored as an object in the photo bucket
(`idempotency/`, expired by a lifecycle rule) with its key in the record. A claim is leased for the
function's timeout: a request that crashed or timed out leaves an `in_progress` record whose lease
runs out, and the client's retry then takes the claim over instead of getting 409s for a day.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import zlib
from dataclasses import dataclass
from datetime import timedelta

from pynamodb.exceptions import DeleteError, PutError

from chalicelib import clock, config, db
from chalicelib.errors import Conflict, ValidationError
from chalicelib.models.commerce import RequestRecord

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
MAX_INLINE_CHARS = 300_000  # well inside DynamoDB's 400 KB item, with the key and the other fields


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: str


def fingerprint(raw_body: bytes) -> str:
    return hashlib.sha256(raw_body or b"").hexdigest()


def begin(scope: str, key: str, request_hash: str) -> Replay | None:
    """Claim (scope, key). Returns the stored response of an earlier identical request, or None to proceed."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters.")
    record_key = f"idem#{scope}#{key}"
    record = RequestRecord(
        record_key,
        request_hash=request_hash,
        state="in_progress",
        lease_until=_lease_until(),
        created_at=clock.now_iso(),
        expires_at=clock.now() + TTL,
    )
    try:
        record.save(condition=RequestRecord.key.does_not_exist())
        return None
    except PutError as exc:
        if not db.lost_race(exc):
            raise
    existing = RequestRecord.get(record_key, consistent_read=True)
    if existing.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was already used with a different request body.")
    if existing.state != "done":
        if _take_over(existing):
            return None
        raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.")
    return Replay(int(existing.status_code), _load_body(existing.response_body or ""))


def lease_seconds() -> int:
    """How long a claim is held: the function's timeout plus a margin (after that it cannot be running)."""
    return config.get_int("FUNCTION_TIMEOUT_SECONDS") + 5


def _lease_until() -> str:
    return clock.iso(clock.now() + timedelta(seconds=lease_seconds()))


def _take_over(existing: RequestRecord) -> bool:
    """Claim a record whose request died without finishing (its lease ran out); one retry wins."""
    if existing.lease_until and existing.lease_until > clock.now_iso():
        return False
    condition = (RequestRecord.state == "in_progress") & (
        RequestRecord.lease_until == existing.lease_until
        if existing.lease_until
        else RequestRecord.lease_until.does_not_exist()
    )
    return db.update_if(existing, [RequestRecord.lease_until.set(_lease_until())], condition)


def finish(scope: str, key: str, status_code: int, body: str) -> None:
    record_key = f"idem#{scope}#{key}"
    RequestRecord(record_key).update(
        actions=[
            RequestRecord.state.set("done"),
            RequestRecord.status_code.set(status_code),
            RequestRecord.response_body.set(_store_body(record_key, body)),
            RequestRecord.lease_until.remove(),
        ]
    )


def _store_body(record_key: str, body: str) -> str:
    packed = "z:" + base64.b64encode(zlib.compress(body.encode(), 6)).decode()
    if len(packed) <= MAX_INLINE_CHARS:
        return packed
    from chalicelib import aws

    object_key = config.IDEMPOTENCY_PREFIX + hashlib.sha256(record_key.encode()).hexdigest() + ".json"
    aws.client("s3").put_object(
        Bucket=config.get("PHOTO_BUCKET"), Key=object_key, Body=body.encode(), ContentType="application/json"
    )
    return "s3:" + object_key


def _load_body(stored: str) -> str:
    if stored.startswith("z:"):
        return zlib.decompress(base64.b64decode(stored[2:])).decode()
    if stored.startswith("s3:"):
        from chalicelib import aws

        answer = aws.client("s3").get_object(Bucket=config.get("PHOTO_BUCKET"), Key=stored[3:])
        return answer["Body"].read().decode()
    return stored


def abort(scope: str, key: str) -> None:
    """Forget a claim whose request failed on our side, so the client's retry runs again."""
    with contextlib.suppress(DeleteError):
        RequestRecord(f"idem#{scope}#{key}").delete()


def claim_event(event_key: str) -> bool:
    """Record a one-off event (e.g. a provider's webhook event id); False if it was seen before."""
    try:
        RequestRecord(
            f"event#{event_key}",
            request_hash="",
            state="done",
            created_at=clock.now_iso(),
            expires_at=clock.now() + timedelta(days=30),
        ).save(condition=RequestRecord.key.does_not_exist())
        return True
    except PutError as exc:
        if db.lost_race(exc):
            return False
        raise
