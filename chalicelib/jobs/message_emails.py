"""Every minute: email customers the staff replies of their threads, one email per thread and window.

A staff reply sets its thread's `mail_due_at` (MESSAGE_EMAIL_BATCH_MINUTES later) unless an email is
already due (chalicelib/messages.py). This job reads only the due threads (the sparse `mail_due` index,
one Query per shard, keys only) and for each writes one outbox event carrying every staff reply after
`mailed_through`, in the transaction that advances `mailed_through` and clears the due time. That
transaction is conditional on the due time and the last staff reply it read, so a repeated or concurrent
run writes no second event, and a reply landing meanwhile makes it skip the thread until the next run
(which mails that reply too). The outbox sends the event once (chalicelib/events/outbox.py).

Cost follows what is due: a Query per shard, then per due thread a GetItem, a Query of its unmailed
messages and one transaction. A run stops between threads when the Lambda nears its time limit.
"""

from __future__ import annotations

from chalicelib import clock, uow
from chalicelib.errors import Conflict
from chalicelib.logs import get_logger
from chalicelib.messages import MAIL_QUEUE, STAFF
from chalicelib.models.commerce import QUEUE_SHARDS
from chalicelib.models.messages import Message, MessageThread

log = get_logger("jobs.message_emails")

JOB = "message_emails"
STOP_WHEN_REMAINING_MS = 10_000
MAX_REPLIES_PER_EMAIL = 50  # more in one window: the oldest 50 now, the rest on the next run


def run(context=None) -> dict:
    now = clock.now_iso()
    stats = {"job": JOB, "now": now, "due": 0, "emails": 0, "skipped": 0}
    for shard in range(QUEUE_SHARDS):
        for due in MessageThread.mail_due.query(f"{MAIL_QUEUE}#{shard}", MessageThread.mail_due_at <= now):
            if context is not None and context.get_remaining_time_in_millis() < STOP_WHEN_REMAINING_MS:
                stats["stopped_early"] = True
                return stats
            stats["due"] += 1
            stats["emails" if mail(due.thread_id, now) else "skipped"] += 1
    return stats


def mail(thread_id: str, now: str) -> bool:
    """Write the email of `thread_id`'s unmailed staff replies if it is due; False when it changed
    meanwhile (or another run mailed it): the next run looks again."""
    try:
        thread = MessageThread.get(thread_id, consistent_read=True)
    except MessageThread.DoesNotExist:
        return False
    if thread.mail_due_at is None or thread.mail_due_at > now:
        return False
    after = Message.message_id > thread.mailed_through if thread.mailed_through else None
    replies = [m for m in Message.query(thread_id, after, consistent_read=True) if m.author == STAFF][
        :MAX_REPLIES_PER_EMAIL
    ]
    work = uow.Unit(result=bool(replies))
    actions = [MessageThread.mail_key.remove(), MessageThread.mail_due_at.remove()]
    more = replies and replies[-1].message_id != thread.last_staff_message_id
    if more:  # past the cap: the rest go out on the next run
        actions = [MessageThread.mail_due_at.set(now)]
    if replies:
        actions.append(MessageThread.mailed_through.set(replies[-1].message_id))
        work.notify(
            thread.user_id,
            "staff_replied",
            {
                "kind": thread.kind,
                "subject_id": thread.subject_id,
                "count": len(replies),
                "replies": [{"body": m.body, "created_at": m.created_at} for m in replies],
            },
        )
    last_staff = MessageThread.last_staff_message_id
    when = (MessageThread.mail_due_at == thread.mail_due_at) & (
        last_staff == thread.last_staff_message_id
        if thread.last_staff_message_id
        else last_staff.does_not_exist()
    )
    work.update(thread, actions, when)
    try:
        return uow.run(lambda: work, retry=False)
    except Conflict:
        log.info("thread changed while its email was built; next run", extra={"thread_id": thread_id})
        return False
