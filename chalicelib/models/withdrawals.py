"""Withdrawals: wallet money a customer asks back to the payment methods it came from."""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import table_meta

# a plan step's `state`: planned (asked for, or to ask again), done (refunded) or refused (money returned)
PLANNED, REFUNDED, REFUSED = "planned", "done", "refused"


def plain_maps(values) -> list[dict]:
    """A stored list of maps (a withdrawal's `plan` or `refunds`) as plain dicts, each a copy."""
    return [v.as_dict() if hasattr(v, "as_dict") else dict(v) for v in (values or [])]


class WithdrawalsByUser(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class WithdrawalQueue(GlobalSecondaryIndex):
    """Withdrawals waiting for staff, oldest first (sparse: only while requested)."""

    class Meta:
        index_name = "queue"
        projection = AllProjection()

    queue_key = UnicodeAttribute(hash_key=True)
    queue_at = UnicodeAttribute(range_key=True)


class Withdrawal(Model):
    Meta = table_meta("withdrawals")

    withdrawal_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    amount_fen = NumberAttribute()
    status = UnicodeAttribute()  # requested | refunding | refunded | partly_refunded | rejected
    created_at = UnicodeAttribute()
    decided_at = UnicodeAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)
    reject_reason = UnicodeAttribute(null=True)
    # one per payment refunded: {payment_id, provider, refund_id, amount_fen, currency, amount_minor}
    refunds = ListAttribute(of=MapAttribute, null=True)
    # booked at approval, one per payment: {payment_id, provider, amount_fen, currency, amount_minor, key,
    # state (planned | done | refused), refund_id}; an approval retried follows it, never re-plans
    plan = ListAttribute(of=MapAttribute, null=True)
    returned_fen = NumberAttribute(
        null=True
    )  # partly refunded: the parts a provider refused, back in the wallet
    queue_key = UnicodeAttribute(null=True)
    queue_at = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_user = WithdrawalsByUser()
    queue = WithdrawalQueue()


MODELS: list[type] = [Withdrawal]
