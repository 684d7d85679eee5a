"""The outbox: side effects (customer emails) written as events in the transaction of the change.

`uow.Unit.notify` adds one `OutboxEvent` put to the unit's transaction, so an email exists exactly when
its change committed. The table's stream (NEW_IMAGE) feeds `app.outbox_events`
(chalicelib/events/outbox.py), which sends each event and marks it `sent` with a conditional write.
An undelivered event carries `unsent` (the sparse index `unsent`), so what is still owed can be listed
with a Query, never a Scan; a delivered event expires (TTL) after `DELIVERED_KEEP_DAYS`.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.lifecycle import OutboxStatus
from chalicelib.models.base import table_meta

PENDING = OutboxStatus.PENDING
DELIVERED_KEEP_DAYS = 30
UNSENT = "unsent"  # the `unsent` index's one partition: few items, only while undelivered


class UnsentEvents(GlobalSecondaryIndex):
    """Events not delivered yet, oldest first (sparse: `unsent` is removed on delivery)."""

    class Meta:
        index_name = "unsent"
        projection = AllProjection()

    unsent = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class OutboxEvent(Model):
    class Meta(table_meta("outbox")):
        stream_view_type = "NEW_IMAGE"  # the handler reads the event from the stream record

    event_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default="email")
    user_id = UnicodeAttribute()  # the recipient; the address is resolved (Cognito) when sending
    template = UnicodeAttribute()  # a chalicelib.emails template
    data = JSONAttribute()  # the template's data
    status = UnicodeAttribute(default=PENDING)  # chalicelib.lifecycle.OUTBOX
    created_at = UnicodeAttribute()
    unsent = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    claimed_until = UnicodeAttribute(null=True)
    sent_at = UnicodeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)  # SES's
    error = UnicodeAttribute(null=True)  # the last failure
    expires_at = TTLAttribute(null=True)

    by_unsent = UnsentEvents()


MODELS: list[type] = [OutboxEvent]
