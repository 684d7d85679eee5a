"""The outbox handler behind `app.outbox_events`: sends the emails that committed changes wrote.

Why DynamoDB Streams (Chalice's `on_dynamodb_record`): the event is an item written in the change's own
transaction (chalicelib/uow.py `Unit.notify`), and the table's stream delivers every new item to this
handler within about a second, in order per shard, at least once, without a queue to write to (writing
to SQS in the request could not join the DynamoDB transaction).

For each new event (stream INSERT; our own status updates and TTL deletions are skipped):

1. claim it: one conditional UpdateItem `pending` -> `sending` (or a `sending` whose claim expired),
   which also returns the event. A redelivered record, or a concurrent handler, fails the condition
   and sends nothing: an event sent, undeliverable or being sent is never sent again.
2. resolve the recipient's address in Cognito (chalicelib/users.py) and send through SES.
3. mark it `sent` (message id, TTL) with a write conditional on `sending`.

An event of another `kind` than `email` is a task (`TASKS`: follow-up work a change leaves behind, such
as the photos-ready check after an inspection, chalicelib/photos_ready.py): claimed the same way, run,
and marked `sent`; a task must be idempotent, since a crash before step 3 runs it again.

A transient failure (SES, Cognito or DynamoDB down, throttled, unreachable, or a lost race in a task)
puts the event back to `pending` and reports the record as a batch item failure, so Lambda retries from
it (ReportBatchItemFailures; the records after it come again too and are skipped as already sent): a
failing provider delays mail, never loses it, and never fails the request that caused it. Anything else
(no address, SES MessageRejected or a missing template, a bug in a template's data or a task) would fail
the same way on every retry, and a retried record holds back every record after it in its shard (the
local stack stopped sending after one such event): it marks the event `undeliverable` with its error
(logged with its traceback, metric `EmailsUndeliverable`) and the batch goes on. The one window for a
second email is a crash between SES accepting and step 3: the claim expires after CLAIM_SECONDS and the
retry sends again (at least once; SES has no idempotency key).

Cost per email: one UpdateItem to claim, one to mark, one Cognito ListUsers (cached per container),
one SES call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import UpdateError

from chalicelib import clock, db, emails, metrics, users
from chalicelib.lifecycle import OUTBOX, OutboxStatus
from chalicelib.logs import get_logger
from chalicelib.models.outbox import DELIVERED_KEEP_DAYS, OutboxEvent

log = get_logger("events.outbox")

CLAIM_SECONDS = 120  # longer than one send takes; a crashed handler's claim is taken over after it
# AWS error codes worth a retry: the service is down or busy, or a task lost a race it re-runs from fresh
TRANSIENT_ERRORS = frozenset(
    {
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "RequestTimeout",
        "RequestTimeoutException",
        *db.LOST_RACE,
    }
)
DUPLICATE = "duplicate"  # what deliver() answers for an event it did not send
EMAIL = "email"


def _tasks() -> dict[str, Callable[[dict], object]]:
    """Outbox event kinds other than email: each runs its (idempotent) follow-up with the event's data."""
    from chalicelib import photos_ready

    return {photos_ready.TASK: lambda data: photos_ready.check(data["item_id"])}


def handle_batch(records: Iterable[dict]) -> dict:
    """Deliver each new event of a stream batch; the answer names only the records that failed."""
    failures = []
    for record in records:
        if record.get("eventName") != "INSERT":
            continue
        event_id = record["dynamodb"]["Keys"]["event_id"]["S"]
        try:
            deliver(event_id)
        except Exception:
            log.exception("email not sent; the stream retries it", extra={"event_id": event_id})
            metrics.count("EmailsFailed")
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
    return {"batchItemFailures": failures}


def deliver(event_id: str) -> str:
    """Send one event unless it was sent or is being sent; returns its status (or `duplicate`)."""
    now = clock.now()
    event = OutboxEvent(event_id)
    claim = OUTBOX.move(
        event,
        "claim",
        now=clock.iso(now),
        also=[
            OutboxEvent.claimed_until.set(clock.iso(now + timedelta(seconds=CLAIM_SECONDS))),
            OutboxEvent.attempts.add(1),
        ],
        when=OUTBOX.check(OutboxEvent, OutboxStatus.PENDING) | (OutboxEvent.claimed_until < clock.iso(now)),
    )
    try:
        event.update(actions=claim.actions, condition=claim.condition)
    except UpdateError as exc:
        if db.lost_race(exc):
            log.info("email event already handled", extra={"event_id": event_id})
            return DUPLICATE
        raise
    if event.kind != EMAIL:
        return _run_task(event)
    try:
        address = users.email_of(event.user_id)
        if not address:
            return _finish(event, "refuse", error="the user has no email address")
        message_id = emails.send(event.template, address, event.data)
    except Exception as exc:
        if not transient(exc):
            log.exception("email undeliverable for good", extra={"event_id": event_id})
            return _finish(event, "refuse", error=_describe(exc))
        try:
            _release(event, _describe(exc))
        except Exception:  # the claim then expires after CLAIM_SECONDS
            log.exception("could not release the email event", extra={"event_id": event_id})
        raise
    return _finish(event, "send", message_id=message_id)


def _run_task(event: OutboxEvent) -> str:
    run = _tasks().get(event.kind)
    if run is None:
        return _finish(event, "refuse", error=f"no task of kind {event.kind!r}")
    try:
        run(event.data)
    except Exception as exc:
        if not transient(exc):
            log.exception("outbox task failed for good", extra={"event_id": event.event_id})
            return _finish(event, "refuse", error=_describe(exc))
        try:
            _release(event, _describe(exc))
        except Exception:  # the claim then expires after CLAIM_SECONDS
            log.exception("could not release the outbox task", extra={"event_id": event.event_id})
        raise
    return _finish(event, "send")


def transient(exc: BaseException) -> bool:
    """True if a retry may succeed: an AWS call failed for want of the service (down, throttled,
    unreachable) or lost a race, here or under a PynamoDB error (`cause`) or a raise-from."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(current, BotoCoreError):  # endpoint unreachable, timeouts, connection reset
            return True
        if isinstance(current, ClientError):
            error = current.response.get("Error", {})
            status = int(current.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            return error.get("Code") in TRANSIENT_ERRORS or status >= 500
        current = getattr(current, "cause", None) or current.__cause__ or current.__context__
        seen += 1
    return False


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _finish(
    event: OutboxEvent, action: str, *, message_id: str | None = None, error: str | None = None
) -> str:
    """`send` or `refuse` a claimed event: no longer owed, kept DELIVERED_KEEP_DAYS."""
    now = clock.now()
    move = OUTBOX.move(
        event,
        action,
        now=clock.iso(now),
        also=[
            OutboxEvent.unsent.remove(),
            OutboxEvent.claimed_until.remove(),
            OutboxEvent.expires_at.set(now + timedelta(days=DELIVERED_KEEP_DAYS)),
        ],
    )
    status = event.status
    actions = move.actions
    if status == OutboxStatus.SENT and event.kind != EMAIL:
        actions.append(OutboxEvent.sent_at.set(clock.iso(now)))
        metrics.count("OutboxTasksDone", kind=event.kind)
    elif status == OutboxStatus.SENT:
        actions += [OutboxEvent.sent_at.set(clock.iso(now)), OutboxEvent.message_id.set(message_id)]
        metrics.count("EmailsSent", template=event.template)
    else:
        actions.append(OutboxEvent.error.set(error))
        metrics.count("EmailsUndeliverable", template=event.template)
        log.warning("email undeliverable", extra={"event_id": event.event_id, "error": error})
    if not db.update_if(event, actions, move.condition):
        log.warning("email event changed while it was sent", extra={"event_id": event.event_id})
    return status.value


def _release(event: OutboxEvent, error: str) -> None:
    """Back to `pending` after a transient failure, so the retry (or another handler) may claim it."""
    move = OUTBOX.move(
        event,
        "release",
        now=clock.now_iso(),
        also=[OutboxEvent.claimed_until.remove(), OutboxEvent.error.set(error[:500])],
    )
    db.update_if(event, move.actions, move.condition)
