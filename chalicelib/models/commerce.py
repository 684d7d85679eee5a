"""Orders, items, carts, the wallet ledger, payments and idempotency records.

Access patterns are in docs/data-model.md. Staff work queues are sparse, sharded GSIs: `queue_key` is
`<status>#<shard>` only while an order or item waits for staff, so each queue query reads only waiting work
and no single key gets hot.
"""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.models.base import table_meta

QUEUE_SHARDS = 4


class OrdersByUser(GlobalSecondaryIndex):
    """A customer's orders, newest first (GET /orders)."""

    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class OrderQueue(GlobalSecondaryIndex):
    """Orders waiting for staff, by due time (GET /staff/orders?status=pending_review)."""

    class Meta:
        index_name = "queue"
        projection = AllProjection()

    queue_key = UnicodeAttribute(hash_key=True)
    queue_at = UnicodeAttribute(range_key=True)


class Order(Model):
    Meta = table_meta("orders")

    order_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    status = UnicodeAttribute()
    payment_channel = UnicodeAttribute()
    product_fen = NumberAttribute()
    domestic_shipping_fen = NumberAttribute()
    bank_fee_fen = NumberAttribute()
    total_fen = NumberAttribute()
    paid_fen = NumberAttribute(default=0)
    refunded_fen = NumberAttribute(default=0)
    item_ids = ListAttribute(of=UnicodeAttribute)
    payment_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    paid_at = UnicodeAttribute(null=True)
    review_due_at = UnicodeAttribute(null=True)
    decided_at = UnicodeAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)
    reject_reason = UnicodeAttribute(null=True)
    cancelled_at = UnicodeAttribute(null=True)
    queue_key = UnicodeAttribute(null=True)
    queue_at = UnicodeAttribute(null=True)
    # the customer's currency when they asked for one at ordering (chalicelib/currency.py): the rate the
    # order's payment and refunds are shown at
    fx = MapAttribute(null=True)
    # domestic shipping per shop: {shop_id: {"paid_fen", "refunded_fen"}}, written at creation and by each
    # settlement of it (actual freight at purchase, a refund when the shop's last item is cancelled);
    # None on orders made before it existed (their shipping is refunded only with the whole order)
    shipping_by_shop = MapAttribute(null=True)
    version = VersionAttribute()

    by_user = OrdersByUser()
    queue = OrderQueue()


class ItemQueue(GlobalSecondaryIndex):
    """Items waiting for staff (purchasing, purchased...), oldest first. Keys only: an item changes (photos,
    purchase, shipment) while it waits, and a copy of all of it was rewritten on each change; a queue page
    reads its items by key (chalicelib/queues.py)."""

    class Meta:
        index_name = "queue"
        projection = KeysOnlyProjection()

    queue_key = UnicodeAttribute(hash_key=True)
    queue_at = UnicodeAttribute(range_key=True)


class ItemsByTracking(GlobalSecondaryIndex):
    """Items expected in a domestic parcel (inbound scan matches a tracking number). Projects the owner and
    status too: a forwarding declaration checks whose expected shipment a number is with this one Query."""

    class Meta:
        index_name = "by_tracking"
        projection = IncludeProjection(["user_id", "status"])

    tracking_no = UnicodeAttribute(hash_key=True)
    item_id = UnicodeAttribute(range_key=True)


class ItemsInStorage(GlobalSecondaryIndex):
    """A customer's stored items by deadline (GET /warehouse/items). Sparse: `stored_by` is set only while
    the item is in the warehouse (in_warehouse, inspection_issue, not_transportable, in_package). Keys only:
    a stored item is 2-3 KB (photos, inspection) and changes while stored; the list reads it by key."""

    class Meta:
        index_name = "in_storage"
        projection = KeysOnlyProjection()

    stored_by = UnicodeAttribute(hash_key=True)
    storage_expires_at = UnicodeAttribute(range_key=True)


class ItemsByDeadline(GlobalSecondaryIndex):
    """Storage deadlines by day, sharded (`<yyyy-mm-dd>#<n>`): a sweep reads only what falls due.
    Sparse: set only while a storage clock runs (not while the item is in a package). Keys only: the
    sweep reads the due items by key (a stored item is 2-3 KB; a copy of it cost 3 WRU each way)."""

    class Meta:
        index_name = "by_deadline"
        projection = KeysOnlyProjection()

    deadline_key = UnicodeAttribute(hash_key=True)
    storage_expires_at = UnicodeAttribute(range_key=True)


class ItemsByFeedbackDue(GlobalSecondaryIndex):
    """Feedback deadlines by day, sharded (`<yyyy-mm-dd>#<n>`), like `by_deadline`: the sweep reminds and
    takes as accepted only what falls due. Sparse: set only while an item waits on the customer."""

    class Meta:
        index_name = "by_feedback_due"
        projection = AllProjection()

    feedback_key = UnicodeAttribute(hash_key=True)
    feedback_due_at = UnicodeAttribute(range_key=True)


class ItemsAwaitingFeedback(GlobalSecondaryIndex):
    """A customer's items waiting on their decision after inspection, soonest deadline first
    (GET /warehouse/items?status=awaiting_feedback). Sparse: `awaiting_by` is set only while waiting."""

    class Meta:
        index_name = "awaiting_feedback"
        projection = AllProjection()

    awaiting_by = UnicodeAttribute(hash_key=True)
    feedback_due_at = UnicodeAttribute(range_key=True)


class Item(Model):
    """One ordered line (or forwarded parcel) as it moves from purchase to storage to shipping."""

    Meta = table_meta("items")

    item_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    product_id = UnicodeAttribute(null=True)
    sku_id = UnicodeAttribute(null=True)
    shop_id = UnicodeAttribute(null=True)
    title = UnicodeAttribute()
    props = MapAttribute(default=dict)
    quantity = NumberAttribute(default=1)
    unit_price_fen = NumberAttribute(default=0)
    # the cart's price snapshot when the order re-priced the line (unit_price_fen is what was charged)
    snapshot_unit_price_fen = NumberAttribute(null=True)
    remark = UnicodeAttribute(null=True)
    # every version of the remark, oldest first, at most REMARK_HISTORY_MAX (chalicelib/feedback.py)
    remark_history = ListAttribute(null=True)  # [{remark, changed_at}]
    attributes = MapAttribute(default=dict)
    purchase = MapAttribute(null=True)
    domestic_shipment = MapAttribute(null=True)
    tracking_no = UnicodeAttribute(null=True)
    price_difference_due_fen = NumberAttribute(default=0)
    # money per item (chalicelib/refunds.py): what the customer paid for it (goods price x quantity once the
    # order is paid, plus any price difference charged) and what was refunded for it since; each is
    # written in the transaction of the ledger leg that moved it, and refunded_fen <= paid_fen always
    paid_fen = NumberAttribute(default=0)
    refunded_fen = NumberAttribute(default=0)
    # purchasing exceptions (chalicelib/purchase_exceptions.py): why staff cancelled it as unavailable
    # {reason, note, marked_at, marked_by, refunded_fen, shipping_refunded_fen}; what the shop sold when
    # less than ordered; a replacement SKU offered {sku_id, props, unit_price_fen, state, ...}
    unavailable = MapAttribute(null=True)
    quantity_purchased = NumberAttribute(null=True)
    replacement = MapAttribute(null=True)
    # warehouse (seed step 4)
    source = UnicodeAttribute(default="order")  # order | forwarding | exceptional
    parcel_id = UnicodeAttribute(null=True)
    received_at = UnicodeAttribute(null=True)
    inspection = MapAttribute(null=True)
    weight_g = NumberAttribute(null=True)
    dims_cm = MapAttribute(null=True)
    photos = MapAttribute(default=dict)  # photo_id -> {key, thumb_key, view_key, content_type, size, ...}
    in_warehouse_at = UnicodeAttribute(null=True)
    storage_expires_at = UnicodeAttribute(null=True)
    stored_by = UnicodeAttribute(null=True)
    deadline_key = UnicodeAttribute(null=True)
    package_id = UnicodeAttribute(null=True)
    open_case_id = UnicodeAttribute(null=True)
    photo_request_id = UnicodeAttribute(null=True)  # a paid photo request the warehouse still owes
    # waiting on the customer's feedback (chalicelib/feedback.py): the deadline, its index key, the reminder
    feedback_due_at = UnicodeAttribute(null=True)
    feedback_key = UnicodeAttribute(null=True)
    feedback_reminded_at = UnicodeAttribute(null=True)
    awaiting_by = UnicodeAttribute(null=True)  # the owner, while waiting: their "awaiting decision" list
    # an after-sales exchange sent the goods back: the earlier purchase and the replacement's price basis
    exchange = MapAttribute(null=True)
    # storage reminders per threshold in days: "pending:<batch id>" while being sent, then "sent:<time>"
    reminders = MapAttribute(default=dict)
    storage_extended_days = NumberAttribute(default=0)
    # the order's rate snapshot (currency.py), so refunds and charges of this item alone keep that rate
    fx = MapAttribute(null=True)
    abandoned_at = UnicodeAttribute(null=True)
    destroyed_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    queue_key = UnicodeAttribute(null=True)
    queue_at = UnicodeAttribute(null=True)
    version = VersionAttribute()

    queue = ItemQueue()
    by_tracking = ItemsByTracking()
    in_storage = ItemsInStorage()
    by_deadline = ItemsByDeadline()
    by_feedback_due = ItemsByFeedbackDue()
    awaiting_feedback = ItemsAwaitingFeedback()


class CartItem(Model):
    Meta = table_meta("carts")

    user_id = UnicodeAttribute(hash_key=True)
    cart_item_id = UnicodeAttribute(range_key=True)
    product_id = UnicodeAttribute()
    sku_id = UnicodeAttribute()
    quantity = NumberAttribute()
    remark = UnicodeAttribute(null=True)
    added_at = UnicodeAttribute()
    # the SKU's price when it was added (or last accepted): order creation re-prices against it
    # (orders.REPRICE_TOLERANCE_PERCENT); None on items added before snapshots existed
    unit_price_fen = NumberAttribute(null=True)


class WalletAccount(Model):
    """`sk = "account"`: the balance, changed only together with a ledger entry."""

    Meta = table_meta("wallet")

    user_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    balance_fen = NumberAttribute(default=0)
    version = VersionAttribute()


class LedgerEntry(Model):
    """`sk = "entry#<entry_id>"` in the same partition as the account: GET /wallet is one Query."""

    Meta = table_meta("wallet")

    user_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entry_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    amount_fen = NumberAttribute()
    balance_after_fen = NumberAttribute()
    ref = UnicodeAttribute()
    created_at = UnicodeAttribute()
    fx = MapAttribute(null=True)  # the rate snapshot of the movement, when it had one (currency.py)


class PaymentsByUser(GlobalSecondaryIndex):
    """A customer's payments, oldest first (what a withdrawal refunds to)."""

    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class PaymentsByRef(GlobalSecondaryIndex):
    """A payment by the provider's reference (its refund and dispute events name only that)."""

    class Meta:
        index_name = "by_ref"
        projection = AllProjection()

    provider_ref = UnicodeAttribute(hash_key=True)


class PaymentAttention(GlobalSecondaryIndex):
    """Payments staff must look at (an amount mismatch, a dispute, a refund the wallet could not cover):
    sparse, `attention_key` is set only while one waits."""

    class Meta:
        index_name = "attention"
        projection = AllProjection()

    attention_key = UnicodeAttribute(hash_key=True)
    attention_at = UnicodeAttribute(range_key=True)


class Payment(Model):
    """Money collected by an external provider: a wallet top-up, or an order or package paid by card,
    PayPal, Alipay or WeChat Pay."""

    Meta = table_meta("payments")

    payment_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    purpose = UnicodeAttribute()  # top_up | order
    order_id = UnicodeAttribute(null=True)
    channel = UnicodeAttribute()
    amount_fen = NumberAttribute()
    fee_fen = NumberAttribute()
    charge_fen = NumberAttribute()
    status = UnicodeAttribute()  # requires_action | succeeded | failed | canceled
    event_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    succeeded_at = UnicodeAttribute(null=True)
    failed_at = UnicodeAttribute(null=True)
    canceled_at = UnicodeAttribute(null=True)
    fx = MapAttribute(null=True)  # the customer's currency when they asked for one (currency.py)
    package_id = UnicodeAttribute(null=True)  # purpose package
    # the provider (chalicelib/providers) and what we asked it to collect, in its currency's minor units
    provider = UnicodeAttribute(null=True)  # absent on payments older than the port: simulated
    provider_ref = UnicodeAttribute(null=True)
    client_secret = UnicodeAttribute(null=True)
    checkout_url = UnicodeAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    amount_minor = NumberAttribute(null=True)
    provider_fee_fen = NumberAttribute(null=True)  # the provider's actual fee, once it reported it
    refunded_minor = NumberAttribute(default=0)  # refunded through the provider so far (cumulative)
    refunded_fen = NumberAttribute(default=0)
    withdrawal_fen = NumberAttribute(default=0)  # of refunded_fen, what withdrawals asked for
    withdrawal_minor = NumberAttribute(null=True)  # of refunded_minor, likewise (absent: booked before it)
    # the provider's own cumulative refunded total, the highest it reported (Stripe's amount_refunded):
    # what it refunded outside our withdrawals is accounted against it (payments.account_refunds)
    provider_refunded_minor = NumberAttribute(null=True)
    disputed_fen = NumberAttribute(default=0)
    owed_fen = NumberAttribute(default=0)  # taken back by the provider but not in the wallet to debit
    # the provider's disputes of it, by dispute id: {"state" (lifecycle.DISPUTE: open, won, lost), "status"
    # (the provider's while open, then won or lost), "amount_fen", "held_fen", "owed_fen", "updated_at",
    # "decided_at"} (chalicelib/payments.py: each move applied once, conditioned on the stored state)
    disputes = MapAttribute(null=True)
    capture_id = UnicodeAttribute(null=True)  # PayPal: the order's capture, what refunds name
    attention = UnicodeAttribute(null=True)  # why staff must look at it (amount_mismatch, disputed...)
    attention_key = UnicodeAttribute(null=True)
    attention_at = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_user = PaymentsByUser()
    by_ref = PaymentsByRef()
    attention_queue = PaymentAttention()


class RequestRecord(Model):
    """Idempotency: one record per (caller, route, Idempotency-Key) or per provider event id."""

    Meta = table_meta("requests")

    key = UnicodeAttribute(hash_key=True)
    request_hash = UnicodeAttribute()
    state = UnicodeAttribute()  # in_progress | done
    lease_until = UnicodeAttribute(null=True)  # an in_progress claim older than this was abandoned
    attempt = UnicodeAttribute(null=True)  # the claiming request's token: fences its transactions
    status_code = NumberAttribute(null=True)
    # the response, zlib-compressed and base64 ("z:..."), or "s3:<key>" when even that is too large
    response_body = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)  # DynamoDB deletes expired records


# WalletAccount and LedgerEntry share the wallet table; it is created once, from WalletAccount.
MODELS: list[type] = [Order, Item, CartItem, WalletAccount, Payment, RequestRecord]
