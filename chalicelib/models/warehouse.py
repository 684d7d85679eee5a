"""Warehouse tables: inbound parcels, forwarding declarations, after-sales cases."""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.models.base import table_meta


class ParcelsByDeadline(GlobalSecondaryIndex):
    """Exceptional parcels by the day their 30-day storage ends (sparse, sharded `<day>#<n>`)."""

    class Meta:
        index_name = "by_deadline"
        projection = AllProjection()

    deadline_key = UnicodeAttribute(hash_key=True)
    storage_expires_at = UnicodeAttribute(range_key=True)


class ParcelQueue(GlobalSecondaryIndex):
    """Parcels waiting for staff (exceptional ones to identify), oldest first."""

    class Meta:
        index_name = "queue"
        projection = AllProjection()

    queue_key = UnicodeAttribute(hash_key=True)
    queue_at = UnicodeAttribute(range_key=True)


class Parcel(Model):
    """A domestic parcel scanned in at the warehouse; `parcel_id` is derived from its tracking number,
    so two scans of one parcel can only ever create one record."""

    Meta = table_meta("parcels")

    parcel_id = UnicodeAttribute(hash_key=True)
    tracking_no = UnicodeAttribute()
    carrier = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # matched | exceptional | assigned | abandoned | destroyed
    weight_g = NumberAttribute(null=True)
    item_ids = ListAttribute(of=UnicodeAttribute, default=list)
    user_id = UnicodeAttribute(null=True)
    received_at = UnicodeAttribute()
    received_by = UnicodeAttribute()
    storage_expires_at = UnicodeAttribute(null=True)
    deadline_key = UnicodeAttribute(null=True)
    assigned_at = UnicodeAttribute(null=True)
    abandoned_at = UnicodeAttribute(null=True)
    destroyed_at = UnicodeAttribute(null=True)
    voided_at = UnicodeAttribute(null=True)
    voided_by = UnicodeAttribute(null=True)
    void_reason = UnicodeAttribute(null=True)
    # why the scan could not choose an owner: {"declared_by": [user ids], "expected_item_ids": [...]}
    contested = MapAttribute(null=True)
    # the photos-ready notice (chalicelib/photos_ready.py): items inspected and photographed, and its claim
    ready_item_ids = UnicodeSetAttribute(null=True)
    photos_notice_at = UnicodeAttribute(null=True)
    queue_key = UnicodeAttribute(null=True)
    queue_at = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_deadline = ParcelsByDeadline()
    queue = ParcelQueue()


class DeclarationsByUser(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    declared_at = UnicodeAttribute(range_key=True)


class OpenDeclarationsByUser(GlobalSecondaryIndex):
    """A customer's open declarations (sparse: `open_by` is set only while `declared`): counted against
    FORWARDING_MAX_OPEN_PER_CUSTOMER."""

    class Meta:
        index_name = "open_by_user"
        projection = KeysOnlyProjection()

    open_by = UnicodeAttribute(hash_key=True)
    declared_at = UnicodeAttribute(range_key=True)


class ForwardingDeclaration(Model):
    """A parcel a customer bought themselves and sent to our warehouse (transshipment). Keyed by
    (tracking number, customer): several customers may declare one number without learning of each
    other, one customer once; the inbound scan reads every declaration of the number with one Query.
    status: declared -> received (matched at the scan, or assigned to this customer by staff), or
    exceptional (the scan found claims of different customers: staff resolve the parcel) -> received or
    rejected when staff assign it."""

    Meta = table_meta("forwarding")

    tracking_no = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    declaration_id = UnicodeAttribute()
    carrier = UnicodeAttribute(null=True)
    description = UnicodeAttribute()
    status = UnicodeAttribute()  # declared | received | exceptional | rejected
    declared_at = UnicodeAttribute()
    open_by = UnicodeAttribute(null=True)  # = user_id while declared
    item_id = UnicodeAttribute(null=True)
    parcel_id = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_user = DeclarationsByUser()
    open_by_user = OpenDeclarationsByUser()


class CasesByUser(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class CaseQueue(GlobalSecondaryIndex):
    class Meta:
        index_name = "queue"
        projection = AllProjection()

    queue_key = UnicodeAttribute(hash_key=True)
    queue_at = UnicodeAttribute(range_key=True)


class AfterSalesCase(Model):
    Meta = table_meta("after-sales")

    case_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    item_id = UnicodeAttribute()
    type = UnicodeAttribute()  # return | exchange | refund
    reason = UnicodeAttribute()
    status = UnicodeAttribute()  # open | resolved
    resolution = UnicodeAttribute(null=True)  # refund | return | reject
    refund_fen = NumberAttribute(default=0)
    note = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    resolved_at = UnicodeAttribute(null=True)
    resolved_by = UnicodeAttribute(null=True)
    # a case about delivered goods (issue 22): what is wrong (rules/inspection.AFTER_DELIVERY_ISSUES), the
    # delivery it follows, and the customer's evidence photos (photo_id -> entry, as Item.photos)
    issue = UnicodeAttribute(null=True)
    delivered_at = UnicodeAttribute(null=True)
    photos = MapAttribute(default=dict)
    updated_at = UnicodeAttribute(null=True)
    queue_key = UnicodeAttribute(null=True)
    queue_at = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_user = CasesByUser()
    queue = CaseQueue()


MODELS: list[type] = [Parcel, ForwardingDeclaration, AfterSalesCase]
