"""Messages between a customer and staff: one thread on every order and every package.

Posting: one unit of work, one transaction of two writes: the message (a new item of the thread's
partition) and the thread, created by its first message or moved by the lifecycle table (`THREAD`:
a customer message `ask`s, which puts the thread on the staff queue `unanswered`; a staff message
`answer`s, which takes it off). Every write of a thread is conditional on the last message the poster
read, so two posts to one thread serialize (the loser is re-run from fresh reads by `uow.run`) and the
thread's counters and queue position are never overwritten. A customer's follow-up keeps the waiting
time of their first unanswered message (`queue_at`). An Idempotency-Key replay answers the first post
and posts nothing (web.route(idempotent=True): the answer is recorded in the post's transaction).

Emails, once and batched: a staff reply does not email at once. The first staff reply not yet emailed
sets the thread's `mail_due_at` (now + MESSAGE_EMAIL_BATCH_MINUTES) on the sparse, sharded `mail_due`
index; later replies leave it as it is. The `message_emails` job (every minute, chalicelib/jobs/
message_emails.py) reads only the threads due, and for each writes ONE outbox event carrying every staff
reply after `mailed_through`, in the same transaction that advances `mailed_through` and clears the due
time, conditional on the due time and the last staff reply it read. So:
- replies within the window leave as one email;
- a job run repeated or running twice finds the due time gone (its transaction fails): no second event;
- a reply landing while the job builds the email fails the job's condition (the job retries the thread
  on its next run, with that reply included), and a reply that read the due time the job then clears
  fails its own condition and is re-run, setting a new due time: no reply is skipped;
- the outbox sends each event at most once per claim (chalicelib/events/outbox.py): a redelivered stream
  record finds the event `sent` and sends nothing.

Bodies are plain text: at most MESSAGE_MAX_CHARS characters, no control characters but newline and
tab, never blank. They are stored and answered as given and never rendered as HTML: the console sets
them as text (textContent), and the email's HTML part escapes them (SES templates escape `{{body}}`).

Cost: a post is a GetItem of the subject (order or package), a GetItem of the thread and one
two-item transaction; a thread page is one Query; the staff queue one Query per shard.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from chalicelib import clock, config, ids, lifecycle, uow
from chalicelib.errors import NotFound, ValidationError
from chalicelib.lifecycle import ThreadStatus
from chalicelib.models.messages import Message, MessageThread
from chalicelib.queues import queue_page, shard_key

KINDS = ("order", "package")
CUSTOMER, STAFF = "customer", "staff"
PREVIEW_CHARS = 140
# control characters a plain-text body may not hold: every C0/C1 control but tab and newline (and the
# carriage return of a Windows newline)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
MAIL_QUEUE = "mail"  # the `mail_due` index's key prefix


@dataclass(frozen=True)
class Subject:
    """What a thread is about: an order or a package, and its owner and items."""

    kind: str
    subject_id: str
    user_id: str
    item_ids: tuple[str, ...]

    @property
    def thread_id(self) -> str:
        return thread_id(self.kind, self.subject_id)


def thread_id(kind: str, subject_id: str) -> str:
    return f"{kind}:{subject_id}"


def max_chars() -> int:
    return config.get_int("MESSAGE_MAX_CHARS")


def check_body(body: str) -> str:
    """The body as stored, or a 400: plain text, bounded, not blank."""
    if not body.strip():
        raise ValidationError("The message is empty.")
    if len(body) > max_chars():
        raise ValidationError(f"A message holds at most {max_chars()} characters.")
    if _CONTROL.search(body) or any(unicodedata.category(c) == "Cs" for c in body):
        raise ValidationError("A message is plain text: control characters are not allowed.")
    return body


def subject(kind: str, subject_id: str, user_id: str | None = None) -> Subject:
    """The order or package (404 if missing, or `user_id`'s and not theirs)."""
    if kind == "order":
        from chalicelib.models.commerce import Order as Model
    elif kind == "package":
        from chalicelib.models.packages import Package as Model
    else:
        raise ValueError(kind)
    try:
        found = Model.get(subject_id)
    except Model.DoesNotExist:
        raise NotFound(f"No such {kind}.") from None
    if user_id is not None and found.user_id != user_id:
        raise NotFound(f"No such {kind}.")
    return Subject(kind, subject_id, found.user_id, tuple(found.item_ids or ()))


def post(about: Subject, author: str, author_id: str, body: str, item_id: str | None) -> Message:
    """Add a message to the thread of `about` (creating the thread); returns the message as stored."""
    body = check_body(body)
    if item_id is not None and item_id not in about.item_ids:
        raise ValidationError(f"item_id is not an item of this {about.kind}.")

    def unit() -> uow.Unit:
        now = clock.now_iso()
        message = Message(
            about.thread_id,
            ids.new_id("msg"),
            author=author,
            author_id=author_id,
            body=body,
            item_id=item_id,
            created_at=now,
        )
        work = uow.Unit(result=message)
        work.save(message, Message.message_id.does_not_exist())
        try:
            thread = MessageThread.get(about.thread_id, consistent_read=True)
        except MessageThread.DoesNotExist:
            thread = None
        latest = {
            "last_message_id": message.message_id,
            "last_message_at": now,
            "last_author": author,
            "last_preview": body[:PREVIEW_CHARS],
        }
        staff = author == STAFF
        if staff:
            latest["last_staff_message_id"] = message.message_id
        if thread is None:
            thread = MessageThread(
                about.thread_id,
                kind=about.kind,
                subject_id=about.subject_id,
                user_id=about.user_id,
                created_at=now,
                message_count=1,
                **latest,
            )
            if staff:
                thread.mail_key, thread.mail_due_at = _mail_due(about.thread_id)
            status = ThreadStatus.ANSWERED if staff else ThreadStatus.UNANSWERED
            lifecycle.THREAD.start(thread, status, now=now)
            work.save(thread, MessageThread.thread_id.does_not_exist())
            return work
        also = [getattr(MessageThread, name).set(value) for name, value in latest.items()]
        also.append(MessageThread.message_count.add(1))
        # the email's due time as read: a job clearing it meanwhile makes this post re-run and set a new one
        when = MessageThread.last_message_id == thread.last_message_id
        if thread.mail_due_at is None:
            when &= MessageThread.mail_due_at.does_not_exist()
            if staff:
                mail_key, mail_due_at = _mail_due(thread.thread_id)
                also += [MessageThread.mail_key.set(mail_key), MessageThread.mail_due_at.set(mail_due_at)]
        else:
            when &= MessageThread.mail_due_at == thread.mail_due_at
        action = "answer" if staff else "ask"
        # a follow-up to an unanswered thread keeps the customer's waiting time
        waiting = thread.queue_at if thread.status == ThreadStatus.UNANSWERED else None
        move = lifecycle.THREAD.move(
            thread, action, now=now, source=thread.status, queue_at=waiting, also=also, when=when
        )
        work.update(thread, *move)
        return work

    return uow.run(unit)


def _mail_due(thread_id: str) -> tuple[str, str]:
    due = clock.now() + timedelta(minutes=config.get_int("MESSAGE_EMAIL_BATCH_MINUTES"))
    return shard_key(MAIL_QUEUE, thread_id), clock.iso(due)


def page(about: Subject, limit: int, cursor: dict | None) -> tuple[list[Message], dict | None]:
    """The thread's messages, oldest first (an empty page for a thread nobody wrote in yet)."""
    result = Message.query(about.thread_id, scan_index_forward=True, limit=limit, last_evaluated_key=cursor)
    return list(result), result.last_evaluated_key


def unanswered(limit: int, cursor: dict | None) -> tuple[list[MessageThread], dict | None]:
    """Threads whose last message is the customer's, longest waiting first (one Query per shard)."""
    return queue_page(MessageThread, lifecycle.Queue.UNANSWERED, limit, cursor)


def waiting_minutes(thread: MessageThread) -> int | None:
    if thread.queue_at is None:
        return None
    return max(0, int((clock.now() - clock.parse_iso(thread.queue_at)).total_seconds() // 60))
