"""International packages (seed steps 5-7) and their one-per-package reviews.

Access patterns are in docs/data-model.md ("Packages"). Both secondary indexes on packages are sparse:
`queue_key` (`<queue>#<shard>`) is set only while the package waits for warehouse staff, and
`confirm_key` (`<auto-confirm UTC day>#<shard>`) only while it is shipped and not yet confirmed
delivered, so the packing queue and the auto-confirm job read only what waits for them.
"""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.models.base import table_meta


class PackagesByUser(GlobalSecondaryIndex):
    """A customer's packages, newest first (GET /packages). Keys only: a package is 2-3 KB and changes at
    every step; the list reads the page's packages by key (chalicelib/packages.py)."""

    class Meta:
        index_name = "by_user"
        projection = KeysOnlyProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class PackageQueue(GlobalSecondaryIndex):
    """Packages waiting for the warehouse (`paid` to pack, `packed` to ship, `awaiting_payment`), oldest
    first (GET /staff/packages?status=). Keys only: a package is 2-3 KB (customs, rates) and each move
    through the queue rewrote a copy of it; a queue page reads its packages by key (chalicelib/queues.py)."""

    class Meta:
        index_name = "queue"
        projection = KeysOnlyProjection()

    queue_key = UnicodeAttribute(hash_key=True)
    queue_at = UnicodeAttribute(range_key=True)


class PackagesByConfirmDay(GlobalSecondaryIndex):
    """Shipped, unconfirmed packages by the day they count as delivered (each line's own estimate),
    sharded: the auto-confirm job's due list. Keys only: the job reads the due packages by key."""

    class Meta:
        index_name = "by_confirm_day"
        projection = KeysOnlyProjection()

    confirm_key = UnicodeAttribute(hash_key=True)
    auto_confirm_at = UnicodeAttribute(range_key=True)


class PackagesByPaymentDeadline(GlobalSecondaryIndex):
    """Packages by the day the customer's answer is due, sharded (`<UTC day>#<n>`): the storage sweep
    expires unpaid ones, reminds and returns to storage packed ones waiting on the customer. Sparse:
    `deadline_key` is set only while the package waits for the customer (payment, difference, rehearsal).
    Keys only: the sweep reads the due packages by key."""

    class Meta:
        index_name = "by_deadline"
        projection = KeysOnlyProjection()

    deadline_key = UnicodeAttribute(hash_key=True)
    payment_due_at = UnicodeAttribute(range_key=True)


class Package(Model):
    """Stored items consolidated for international shipping: address, line, services and the charge.

    The charge fields (`chargeable_weight_g` ... `total_fen`) hold the quote until packing and the final
    charge afterwards; `estimate` keeps the quote. `rates` snapshots the line, service fee rule and
    service prices at submission, so packing reprices with what the customer agreed to.
    """

    Meta = table_meta("packages")

    package_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    status = UnicodeAttribute()  # chalicelib.lifecycle.PackageStatus
    item_ids = ListAttribute(of=UnicodeAttribute)
    item_statuses = MapAttribute(default=dict)  # item_id -> status before packaging (for cancel)
    line_id = UnicodeAttribute()
    country = UnicodeAttribute()
    address = MapAttribute()
    services = ListAttribute(of=UnicodeAttribute, default=list)
    declared_value_fen = NumberAttribute(default=0)
    rates = MapAttribute()
    estimate = MapAttribute()
    actual_weight_g = NumberAttribute()
    volumetric_weight_g = NumberAttribute()
    chargeable_weight_g = NumberAttribute()
    shipping_fen = NumberAttribute()
    service_fee_fen = NumberAttribute()
    services_fen = NumberAttribute()
    services_breakdown = MapAttribute(default=dict)
    total_fen = NumberAttribute()
    paid_fen = NumberAttribute(default=0)
    refunded_fen = NumberAttribute(default=0)
    due_fen = NumberAttribute(default=0)  # a higher final charge the wallet could not cover
    packed = MapAttribute(null=True)  # {weight_g, dims_cm, packed_at, packed_by, difference_fen, settlement}
    # paid services as the packer's work items: service -> {status, at, by, photo_id?, note?, refund_fen?}
    service_work = MapAttribute(null=True)
    # customs declaration: {lines: [...], total_fen, recipient_tax_id?, ioss_number?, form} (customs.py)
    customs = MapAttribute(null=True)
    carrier = UnicodeAttribute(null=True)
    tracking_no = UnicodeAttribute(null=True)
    tracking_url = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    paid_at = UnicodeAttribute(null=True)
    fx = MapAttribute(null=True)  # the customer's currency at payment, when they asked for one (currency.py)
    shipped_at = UnicodeAttribute(null=True)
    shipped_by = UnicodeAttribute(null=True)
    delivered_at = UnicodeAttribute(null=True)
    delivery_confirmed_by = UnicodeAttribute(null=True)  # customer | auto
    cancelled_at = UnicodeAttribute(null=True)
    # customer | payment_expired | returned_to_storage | answer_expired
    cancel_reason = UnicodeAttribute(null=True)
    # when the customer's answer is due: the payment while pending_payment, the difference or the
    # rehearsal's confirmation while packed and waiting on them (the deadline index's range key)
    payment_due_at = UnicodeAttribute(null=True)
    deadline_key = UnicodeAttribute(null=True)
    reminders = MapAttribute(null=True)  # threshold days -> "sent:<time>": answer reminders sent
    repack_note = UnicodeAttribute(null=True)  # the customer's change asked after a rehearsal
    repack_requested_at = UnicodeAttribute(null=True)
    # photos of the packed parcel for a rehearsal, by photo id (chalicelib/photos.py; as Item.photos)
    photos = MapAttribute(null=True)
    queue_key = UnicodeAttribute(null=True)
    queue_at = UnicodeAttribute(null=True)
    # set at shipping from the line's longest delivery estimate plus a margin; removed on delivery
    auto_confirm_at = UnicodeAttribute(null=True)
    confirm_key = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    # insurance claims (chalicelib/claims.py): the one open claim, and what approved claims compensated
    # (the shipping part too: a claim never compensates more shipping than was paid)
    open_claim_id = UnicodeAttribute(null=True)
    compensated_fen = NumberAttribute(default=0)
    compensated_shipping_fen = NumberAttribute(default=0)
    version = VersionAttribute()

    by_user = PackagesByUser()
    queue = PackageQueue()
    by_confirm_day = PackagesByConfirmDay()
    by_deadline = PackagesByPaymentDeadline()


class PackageReview(Model):
    """The customer's rating of a delivered package; the key makes it one per package."""

    Meta = table_meta("package-reviews")

    package_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    rating = NumberAttribute()
    comment = UnicodeAttribute(default="")
    line_id = UnicodeAttribute()
    created_at = UnicodeAttribute()


MODELS: list[type] = [Package, PackageReview]
