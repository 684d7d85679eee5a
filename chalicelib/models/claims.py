"""Insurance claims on shipped packages (issue 22).

Access patterns (docs/data-model.md): GetItem by `claim_id`; a customer's claims newest first (`by_user`);
open claims oldest first for staff (`queue`, sparse and sharded like every staff queue: `queue_key` is
set only while the claim is open). One open claim per package at a time: the package's `open_claim_id`,
written with the claim under a condition, makes a second one a 409.
"""

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


class ClaimsByUser(GlobalSecondaryIndex):
    """A customer's claims, newest first (GET /claims)."""

    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class ClaimQueue(GlobalSecondaryIndex):
    """Open claims waiting for staff, oldest first (GET /staff/claims)."""

    class Meta:
        index_name = "queue"
        projection = AllProjection()

    queue_key = UnicodeAttribute(hash_key=True)
    queue_at = UnicodeAttribute(range_key=True)


class Claim(Model):
    """A claim on an insured package: lost, damaged or seized, with the customer's evidence photos."""

    Meta = table_meta("claims")

    claim_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    package_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # lost | damaged | seized
    description = UnicodeAttribute()
    item_ids = ListAttribute(of=UnicodeAttribute, default=list)  # the items claimed (all when none named)
    status = UnicodeAttribute()  # open | approved | rejected
    # the package's insured value when the claim was filed: goods declared + shipping paid
    insured_value_fen = NumberAttribute(default=0)
    compensation_fen = NumberAttribute(default=0)
    note = UnicodeAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)
    decided_at = UnicodeAttribute(null=True)
    photos = MapAttribute(default=dict)  # photo_id -> entry (as Item.photos), set by photo ingestion
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    queue_key = UnicodeAttribute(null=True)
    queue_at = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_user = ClaimsByUser()
    queue = ClaimQueue()


MODELS: list[type] = [Claim]
