"""Idempotency records: `Idempotency-Key` on money-moving POSTs, and provider event ids.

A retry with the same key and body gets the first response and moves no money twice; the same key with
a different body is a 409. Records expire after a day (DynamoDB TTL).

What a replay needs must fit in DynamoDB's 400 KB item: the response is stored compressed, and a
response too large even then (a package with many photos) is stored as an object in the photo bucket
(`idempotency/`, expired by a lifecycle rule) with its key in the record.

The key's record is written by the request's own transaction (`fold`): the unit of work that commits the
request's change also puts the record, done, with the answer its result makes, on the condition that the
key has no record yet. So a first request makes no request of its own for the key (it costs one more
action in the transaction), and money never moves without its answer being recorded:
- a retry after a commit (an ambiguous one: applied, but the caller saw an error; or a timeout past it)
  either refuses because the state moved on, or commits nothing because its transaction loses on the
  key's condition; either way it then finds the record (one GetItem) and replays the committed answer;
- of two concurrent identical requests only one transaction can put the record: the other is cancelled
  (nothing of it applies), finds the winner's record and replays it;
- the same key with another body finds a record whose request hash differs: a 409;
- a transaction still in flight from a request that gave up can never apply after a retry committed
  (the record exists by then), and if it applies first the retry replays it;
- a refusal (a 4xx that changed nothing) and an answer that committed no unit of work (a payment asked
  again) are recorded alone, with the same condition (one PutItem); if a record is there already, that
  is the answer.
Work a request does before its transaction must therefore be harmless when repeated: a provider payment
is created under an id derived from the key (`derived_id`), so the provider's own idempotency key is the
same for every attempt and a duplicate creates no second provider payment.

A route that commits in several steps (a withdrawal's approval: booked refunds, provider calls, its end)
claims the key first instead (`begin`): an `in_progress` record leased for the function's timeout, every
transaction fenced by the claim's `attempt` token, released only when no commit can have happened
(`settle` reads the record after an ambiguous commit and either replays what was committed or fences the
attempt). A request that crashed leaves a claim whose lease runs out; the retry then takes it over (a
folded request overwrites it in its transaction) instead of getting 409s for a day.
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

from chalicelib import clock, config, db, ids
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
    own: bool = False  # the answer this very request committed (an ambiguous commit that applied)


class Replayed(Exception):  # not an error: the request's answer was found
    """A folded request's transaction lost on its key: the record there is the answer (`replay`)."""

    def __init__(self, replay: Replay) -> None:
        super().__init__("replayed")
        self.replay = replay


@dataclass
class Claim:
    """A running request's hold on (scope, key); `attempt` fences every transaction it commits."""

    record_key: str
    attempt: str
    # the view's answer for a unit of work's result: (status code, body); set by web.route
    render: Callable[[Any], tuple[int, str]] | None = None
    in_doubt: bool = False  # a transaction was sent and its outcome is unknown (an ambiguous commit)
    answer: Replay | None = None  # what a committed unit of work recorded: the request's answer
    request_hash: str = ""
    # the record is put by the request's own transaction (`fold`), not claimed before it runs (`begin`)
    folded: bool = False


_claim: ContextVar[Claim | None] = ContextVar("procure_idempotency_claim", default=None)


def fingerprint(raw_body: bytes) -> str:
    return hashlib.sha256(raw_body or b"").hexdigest()


def _attempt() -> str:
    return secrets.token_hex(8)


def _record_key(scope: str, key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters.")
    return f"idem#{scope}#{key}"


def fold(scope: str, key: str, request_hash: str) -> Claim:
    """Hold (scope, key) without a request of its own: the request's transaction puts the record."""
    return Claim(_record_key(scope, key), _attempt(), request_hash=request_hash, folded=True)


def derived_id(prefix: str) -> str:
    """An id for what the running keyed request creates before its transaction (a provider payment):
    the same for every attempt of the request, so a provider's idempotency key made from it is too.
    A new id outside a keyed request."""
    claim = current()
    if claim is None:
        return ids.new_id(prefix)
    return ids.from_digest(prefix, hashlib.sha256(f"{prefix}#{claim.record_key}".encode()).digest())


def begin(scope: str, key: str, request_hash: str) -> Replay | Claim:
    """Claim (scope, key). Returns the stored response of an earlier identical request, or the Claim."""
    record_key = _record_key(scope, key)
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
        return Claim(record_key, attempt, request_hash=request_hash)
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


def _replay(record: RequestRecord, own: bool = False) -> Replay:
    return Replay(int(record.status_code), _load_body(record.response_body or ""), own=own)


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


def _done_actions(claim: Claim, status_code: int, body: str) -> list:
    return [
        RequestRecord.state.set("done"),
        RequestRecord.status_code.set(status_code),
        RequestRecord.response_body.set(_store_body(claim, body)),
        RequestRecord.lease_until.remove(),
    ]


def _vacant():
    """The condition a folded record is put on: no record yet, or only a claim whose request died (its
    lease ran out: the new record's attempt token fences that request's transactions)."""
    abandoned = (RequestRecord.state == "in_progress") & (RequestRecord.lease_until < clock.now_iso())
    return RequestRecord.key.does_not_exist() | abandoned


def _done_record(claim: Claim, status_code: int, body: str) -> RequestRecord:
    return RequestRecord(
        claim.record_key,
        request_hash=claim.request_hash,
        state="done",
        attempt=claim.attempt,
        status_code=status_code,
        response_body=_store_body(claim, body),
        created_at=clock.now_iso(),
        expires_at=clock.now() + TTL,
    )


def complete_in(tx: Any, claim: Claim, result: Any) -> Replay:
    """Within a unit of work's transaction: the claim's record done, with the answer `result` makes.
    Folded: put on the condition that the key has none (`_vacant`); claimed, or a folded request's later
    commit: conditioned on the claim's attempt, so a released or taken-over claim's transaction moves
    nothing."""
    if claim.render is None:
        raise RuntimeError("a claimed request must say how its answer is rendered")
    status_code, body = claim.render(result)
    if claim.folded and claim.answer is None:  # the request's first commit: the record is new
        tx.save(_done_record(claim, status_code, body), condition=_vacant())
    else:
        tx.update(
            RequestRecord(claim.record_key),
            actions=_done_actions(claim, status_code, body),
            condition=RequestRecord.attempt == claim.attempt,
        )
    return Replay(status_code, body, own=True)


def _existing(claim: Claim) -> RequestRecord | None:
    try:
        return RequestRecord.get(claim.record_key, consistent_read=True)
    except RequestRecord.DoesNotExist:
        return None


def _answer_of(claim: Claim, record: RequestRecord) -> Replay:
    """What a folded request answers when its key has `record`: the recorded answer, or a 409."""
    if record.request_hash != claim.request_hash:
        raise Conflict("This Idempotency-Key was already used with a different request body.")
    if record.state != "done":
        raise Conflict("A request with this Idempotency-Key is still being processed; retry shortly.")
    return Replay(int(record.status_code), _load_body(record.response_body or ""), own=False)


def _abandoned(record: RequestRecord) -> bool:
    return record.state == "in_progress" and (record.lease_until or "") < clock.now_iso()


def cancelled(claim: Claim) -> None:
    """A transaction of `claim` was cancelled (nothing applied). Folded: if the key has a record now (a
    duplicate committed first), that is the answer (`Replayed`, or a 409 for another body); otherwise it
    was an ordinary lost race. Claimed: 409 if it was because the claim was lost."""
    claim.in_doubt = False
    if claim.folded and claim.answer is None:
        record = _existing(claim)
        if record is not None and not _abandoned(record):
            raise Replayed(_answer_of(claim, record))
        return
    record = RequestRecord.get(claim.record_key, consistent_read=True)
    if record.attempt != claim.attempt:
        raise Conflict("Another request with this Idempotency-Key took it over; retry to get its answer.")


def finish(claim: Claim, status_code: int, body: str) -> Replay | None:
    """Record the answer of a request that committed no unit of work (a refusal, a payment asked again).
    Folded: None once recorded; if the key has a record already (a duplicate's, or the commit a retry
    found the state moved on from), the answer to give instead."""
    if claim.folded:
        try:
            _done_record(claim, status_code, body).save(condition=_vacant())
            return None
        except PutError as exc:
            if not db.lost_race(exc):
                raise
        record = _existing(claim)
        return _answer_of(claim, record) if record is not None else None
    actions = _done_actions(claim, status_code, body)
    if not db.update_if(RequestRecord(claim.record_key), actions, RequestRecord.attempt == claim.attempt):
        log.warning("idempotency claim lost before its answer was recorded")
    return None


def settle(claim: Claim) -> Replay | None:
    """After the request failed: its committed answer if a unit of work committed (or may have, and
    did); otherwise the claim is released so the client's retry runs again. Never released while a
    transaction of it may still apply: an in-doubt attempt is fenced first."""
    if claim.answer is not None:
        return claim.answer
    if claim.folded:  # nothing to release: the answer is the key's record, if a commit put one
        claim.in_doubt = False
        record = _existing(claim)
        if record is None or _abandoned(record):
            return None
        answer = _answer_of(claim, record)
        return Replay(answer.status_code, answer.body, own=record.attempt == claim.attempt)
    if not claim.in_doubt:
        abort(claim)
        return None
    record = RequestRecord.get(claim.record_key, consistent_read=True)
    if record.state == "done" and record.attempt == claim.attempt:
        return _replay(record, own=True)
    # not applied yet: a new attempt token makes our transaction fail if it is still in flight, and
    # an expired lease lets the client's retry take the claim over at once
    fence = [RequestRecord.attempt.set(_attempt()), RequestRecord.lease_until.set(clock.now_iso())]
    mine = (RequestRecord.attempt == claim.attempt) & (RequestRecord.state == "in_progress")
    if db.update_if(record, fence, mine):
        return None
    record = RequestRecord.get(claim.record_key, consistent_read=True)
    return _replay(record, own=True) if record.state == "done" and record.attempt == claim.attempt else None


def _store_body(claim: Claim, body: str) -> str:
    packed = "z:" + base64.b64encode(zlib.compress(body.encode(), 6)).decode()
    if len(packed) <= MAX_INLINE_CHARS:
        return packed
    from chalicelib import aws

    # one object per attempt: a concurrent duplicate's body never overwrites the one its record names
    name = hashlib.sha256(claim.record_key.encode()).hexdigest() + "-" + claim.attempt
    object_key = config.IDEMPOTENCY_PREFIX + name + ".json"
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
