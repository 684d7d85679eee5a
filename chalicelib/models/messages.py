"""Message threads on orders and packages, and their messages (chalicelib/messages.py).

One thread per order or package (`thread_id` = `order:<order_id>` / `package:<package_id>`), created by
its first message. Its messages are one partition of the messages table, sorted by their time-ordered
ids: a thread reads oldest first with one Query. Two sparse, sharded indexes on the thread serve the
staff: `queue` (unanswered threads, by the time the customer started waiting) and `mail_due` (threads
with staff replies not emailed yet, by when their email is due).
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.models.base import table_meta


class ThreadQueue(GlobalSecondaryIndex):
    """Unanswered threads, longest waiting first (GET /staff/messages?status=unanswered)."""

    class Meta:
        index_name = "queue"
        projection = AllProjection()

    queue_key = UnicodeAttribute(hash_key=True)
    queue_at = UnicodeAttribute(range_key=True)


class ThreadsByMailDue(GlobalSecondaryIndex):
    """Threads owing the customer an email of staff replies, by when it is due (`mail#<shard>`): the
    message_emails job reads only what is due. Sparse: set by a staff reply, removed when mailed."""

    class Meta:
        index_name = "mail_due"
        projection = KeysOnlyProjection()

    mail_key = UnicodeAttribute(hash_key=True)
    mail_due_at = UnicodeAttribute(range_key=True)


class MessageThread(Model):
    Meta = table_meta("threads")

    thread_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # order | package
    subject_id = UnicodeAttribute()  # the order's or package's id
    user_id = UnicodeAttribute()  # the customer (the order's or package's owner)
    status = UnicodeAttribute()  # chalicelib.lifecycle.THREAD
    created_at = UnicodeAttribute()
    message_count = NumberAttribute(default=0)
    last_message_id = UnicodeAttribute()  # every post is conditional on it: posts to a thread serialize
    last_message_at = UnicodeAttribute()
    last_author = UnicodeAttribute()  # customer | staff
    last_preview = UnicodeAttribute()  # the start of the last message, for the staff queue
    queue_key = UnicodeAttribute(null=True)
    queue_at = UnicodeAttribute(null=True)  # while unanswered: since when the customer waits
    # emailing staff replies: the last staff message, the last one emailed, and when the next email is due
    last_staff_message_id = UnicodeAttribute(null=True)
    mailed_through = UnicodeAttribute(null=True)
    mail_key = UnicodeAttribute(null=True)
    mail_due_at = UnicodeAttribute(null=True)

    queue = ThreadQueue()
    mail_due = ThreadsByMailDue()


class Message(Model):
    Meta = table_meta("messages")

    thread_id = UnicodeAttribute(hash_key=True)
    message_id = UnicodeAttribute(range_key=True)  # time-ordered (chalicelib/ids.py)
    author = UnicodeAttribute()  # customer | staff
    author_id = UnicodeAttribute()  # the customer's or staff member's user id (never shown to customers)
    body = UnicodeAttribute()  # plain text, never HTML
    item_id = UnicodeAttribute(null=True)  # the item of the order or package the message is about
    created_at = UnicodeAttribute()


MODELS: list[type] = [MessageThread, Message]
