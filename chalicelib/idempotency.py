"""Idempotency records: `Idempotency-Key` on money-moving POSTs, and provider event ids.

A retry with the same key and body gets the first response and moves no money twice; the same key with
a different body is a 409. Records expire after a day (DynamoDB TTL).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import timedelta

from pynamodb.exceptions import DeleteError, PutError

from chalicelib import clock, db
from chalicelib.errors import Conflict, ValidationError
from chalicelib.models.commerce import RequestRecord

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


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
        raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.")
    return Replay(int(existing.status_code), existing.response_body or "")


def finish(scope: str, key: str, status_code: int, body: str) -> None:
    RequestRecord(f"idem#{scope}#{key}").update(
        actions=[
            RequestRecord.state.set("done"),
            RequestRecord.status_code.set(status_code),
            RequestRecord.response_body.set(body),
        ]
    )


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
