"""Idempotency records: `Idempotency-Key` on money-moving POSTs, and provider event ids.

A retry with the same key and body gets the first response and moves no money twice; the same key with
a different body is a 409. Records expire after a day (DynamoDB TTL).

What a replay needs must fit in DynamoDB's 400 KB item: the response is stored compressed, and a
response too large even then (a package with many photos) is stored as an object in the photo bucket
(`idempotency/`, expired by a lifecycle rule) with its key in the record. A claim is leased for the
function's timeout: a request that crashed or timed out leaves an `in_progress` record whose lease
runs out, and the client's retry then takes the claim over instead of getting 409s for a day.

The answer to replay is written in the same DynamoDB transaction as what the request changes (the unit
of work calls `complete_in`), so money can never have moved without its answer being recorded: a retry
after an ambiguous commit (applied, but the caller saw an error) or after a timeout past the commit
replays the committed answer instead of running again. Every transaction of a claimed request is fenced
by the claim's `attempt` token: once a claim is released or taken over, a transaction of the old
attempt still in flight fails its condition and moves nothing. A claim is released only when no commit
can have happened; after an ambiguous one, `settle` reads the record (one GetItem) and either replays
what was committed or fences the attempt before letting the retry run.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib import clock, config, db
from chalicelib.errors import Conflict, ValidationError
from chalicelib.logs import get_logger
from chalicelib.models.commerce import RequestRecord

log = get_logger("idempotency")

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
MAX_INLINE_CHARS = 300_000  # well inside DynamoDB's 400 KB item, with the key and the other fields


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: str


@dataclass
class Claim:
    """A running request's hold on (scope, key); `attempt` fences every transaction it commits."""

    record_key: str
    attempt: str
    # the view's answer for a unit of work's result: (status code, body); set by web.route
    render: Callable[[Any], tuple[int, str]] | None = None
    in_doubt: bool = False  # a transaction was sent and its outcome is unknown (an ambiguous commit)
    answer: Replay | None = None  # what a committed unit of work recorded: the request's answer


_claim: ContextVar[Claim | None] = ContextVar("procure_idempotency_claim", default=None)


def fingerprint(raw_body: bytes) -> str:
    return hashlib.sha256(raw_body or b"").hexdigest()


def _attempt() -> str:
    return secrets.token_hex(8)


def begin(scope: str, key: str, request_hash: str) -> Replay | Claim:
    """Claim (scope, key). Returns the stored response of an earlier identical request, or the Claim."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters.")
    record_key = f"idem#{scope}#{key}"
    attempt = _attempt()
    record = RequestRecord(
        record_key,
        request_hash=request_hash,
        state="in_progress",
        attempt=attempt,
        lease_until=_lease_until(),
        created_at=clock.now_iso(),
        expires_at=clock.now() + TTL,
    )
    try:
        record.save(condition=RequestRecord.key.does_not_exist())
        return Claim(record_key, attempt)
    except PutError as exc:
        if not db.lost_race(exc):
            raise
    existing = RequestRecord.get(record_key, consistent_read=True)
    if existing.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was already used with a different request body.")
    if existing.state != "done":
        claim = _take_over(existing)
        if claim is not None:
            return claim
        raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.")
    return _replay(existing)


def _replay(record: RequestRecord) -> Replay:
    return Replay(int(record.status_code), _load_body(record.response_body or ""))


@contextmanager
def holding(claim: Claim) -> Iterator[Claim]:
    """Within the block, units of work commit as `claim`'s request (fenced, with its answer)."""
    token = _claim.set(claim)
    try:
        yield claim
    finally:
        _claim.reset(token)


@contextmanager
def apart() -> Iterator[None]:
    """Within the block, units of work commit outside the running request's claim: steps a retry of the
    request resumes from (a withdrawal's booked refunds), which must not become its answer."""
    token = _claim.set(None)
    try:
        yield
    finally:
        _claim.reset(token)


def current() -> Claim | None:
    return _claim.get()


def lease_seconds() -> int:
    """How long a claim is held: the function's timeout plus a margin (after that it cannot be running)."""
    return config.get_int("FUNCTION_TIMEOUT_SECONDS") + 5


def _lease_until() -> str:
    return clock.iso(clock.now() + timedelta(seconds=lease_seconds()))


def _take_over(existing: RequestRecord) -> Claim | None:
    """Claim a record whose request died without finishing (its lease ran out); one retry wins.
    The new attempt token fences the dead request: a transaction of it still in flight now fails."""
    if existing.lease_until and existing.lease_until > clock.now_iso():
        return None
    condition = (RequestRecord.state == "in_progress") & (
        RequestRecord.lease_until == existing.lease_until
        if existing.lease_until
        else RequestRecord.lease_until.does_not_exist()
    )
    attempt = _attempt()
    actions = [RequestRecord.lease_until.set(_lease_until()), RequestRecord.attempt.set(attempt)]
    return Claim(existing.key, attempt) if db.update_if(existing, actions, condition) else None


def _done_actions(record_key: str, status_code: int, body: str) -> list:
    return [
        RequestRecord.state.set("done"),
        RequestRecord.status_code.set(status_code),
        RequestRecord.response_body.set(_store_body(record_key, body)),
        RequestRecord.lease_until.remove(),
    ]


def complete_in(tx: Any, claim: Claim, result: Any) -> Replay:
    """Within a unit of work's transaction: the claim's record done, with the answer `result` makes.
    Conditioned on the claim's attempt, so a released or taken-over claim's transaction moves nothing."""
    if claim.render is None:
        raise RuntimeError("a claimed request must say how its answer is rendered")
    status_code, body = claim.render(result)
    tx.update(
        RequestRecord(claim.record_key),
        actions=_done_actions(claim.record_key, status_code, body),
        condition=RequestRecord.attempt == claim.attempt,
    )
    return Replay(status_code, body)


def cancelled(claim: Claim) -> None:
    """A transaction of `claim` was cancelled (nothing applied). 409 if it was because the claim was lost."""
    claim.in_doubt = False
    record = RequestRecord.get(claim.record_key, consistent_read=True)
    if record.attempt != claim.attempt:
        raise Conflict("Another request with this Idempotency-Key took it over; retry to get its answer.")


def finish(claim: Claim, status_code: int, body: str) -> None:
    """Record the answer of a request that committed no unit of work (a refusal, a read, a payment)."""
    actions = _done_actions(claim.record_key, status_code, body)
    if not db.update_if(RequestRecord(claim.record_key), actions, RequestRecord.attempt == claim.attempt):
        log.warning("idempotency claim lost before its answer was recorded")


def settle(claim: Claim) -> Replay | None:
    """After the request failed: its committed answer if a unit of work committed (or may have, and
    did); otherwise the claim is released so the client's retry runs again. Never released while a
    transaction of it may still apply: an in-doubt attempt is fenced first."""
    if claim.answer is not None:
        return claim.answer
    if not claim.in_doubt:
        abort(claim)
        return None
    record = RequestRecord.get(claim.record_key, consistent_read=True)
    if record.state == "done" and record.attempt == claim.attempt:
        return _replay(record)
    # not applied yet: a new attempt token makes our transaction fail if it is still in flight, and
    # an expired lease lets the client's retry take the claim over at once
    fence = [RequestRecord.attempt.set(_attempt()), RequestRecord.lease_until.set(clock.now_iso())]
    mine = (RequestRecord.attempt == claim.attempt) & (RequestRecord.state == "in_progress")
    if db.update_if(record, fence, mine):
        return None
    record = RequestRecord.get(claim.record_key, consistent_read=True)
    return _replay(record) if record.state == "done" and record.attempt == claim.attempt else None


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


def abort(claim: Claim) -> None:
    """Forget a claim whose request failed before any commit, so the client's retry runs again."""
    try:
        RequestRecord(claim.record_key).delete(
            condition=(RequestRecord.attempt == claim.attempt) & (RequestRecord.state == "in_progress")
        )
    except Exception as exc:
        if not db.lost_race(exc):
            raise


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
