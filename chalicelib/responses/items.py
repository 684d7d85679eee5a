"""The item as customers and staff see it (`Item.of`), and its nested records.

Every nested record is written by exactly one service: `purchase` by chalicelib/purchasing.py
(record_purchase, pay/decline the price difference), `domestic_shipment` by record_domestic_shipment,
`inspection`, `weight_g` and `dims_cm` by chalicelib/warehouse.py inspect, `photos` by the photo
ingestion (chalicelib/events/photos.py), `storage` is derived (`ItemStorage.of`).
Packages, after-sales cases, storage and staff queues embed this same `Item`.
"""

from typing import Any, Literal, Self

# photos and rules/notices.py are imported by Item.of, the one constructor that uses them (photos only
# for an item that has some): a route module that only names these models does not load them
from chalicelib import clock, lifecycle
from chalicelib.items import plain
from chalicelib.lifecycle import ItemSource, ReplacementState
from chalicelib.lifecycle import Settlement as S
from chalicelib.models import commerce
from chalicelib.responses.base import CmDims, Fen, ItemStatus, Out, Timestamp, absent
from chalicelib.rules import storage as storage_rules
from chalicelib.typed import ConfigDict, Field

CheckOutcome = Literal["ok", "issue", "n/a"]
CheckName = Literal["color", "damage", "stains", "size", "model", "version"]
Hazard = Literal["battery", "liquid", "powder", "magnet", "blade", "flammable", "other"]
OutsideScope = Literal["colour", "size_error", "performance"]


Settlement = Literal[
    S.NONE.value,
    S.CHARGED.value,
    S.REFUNDED.value,
    S.AWAITING_CONFIRMATION.value,
    S.AWAITING_PAYMENT.value,
    S.DECLINED.value,
]


class ItemPurchase(Out):
    """The purchase from the merchant, recorded by a reviewer at the actual price."""

    merchant_order_no: str
    actual_unit_price_fen: Fen
    price_difference_fen: Fen = Field(
        description="(actual - listed unit price) x quantity bought: negative when the goods were cheaper."
    )
    purchased_at: Timestamp
    purchased_by: str = absent("The staff member who recorded the purchase (staff answers only).")
    settlement: Settlement = Field(
        description="What became of the difference: none, charged from the wallet, refunded to it, "
        "awaiting_confirmation or awaiting_payment by the customer, or declined (the item is cancelled)."
    )
    refunded_fen: Fen = absent(
        "The goods' difference refunded to the wallet; present only when settlement is refunded or declined."
    )
    quantity_purchased: int = absent("What the shop sold, when staff recorded it (less than ordered).")
    short_refund_fen: Fen = absent("The units the shop did not sell, refunded at purchase.")
    actual_domestic_shipping_fen: Fen = absent("The shop's actual freight, when staff recorded it.")
    shipping_difference_fen: int = absent(
        "The actual freight minus what was left paid for the shop's shipping, settled with the price "
        "difference (its own ledger leg: domestic_shipping_charge or domestic_shipping_refund)."
    )


class ItemUnavailable(Out):
    """Why staff cancelled the item as one the shop cannot supply, and what went back to the wallet."""

    reason: Literal["out_of_stock", "delisted", "merchant_refused", "other"]
    note: str | None
    marked_at: Timestamp
    marked_by: str = absent("The staff member who marked it (staff answers only).")
    refunded_fen: Fen = Field(description="What was paid for the item and not yet refunded: all of it back.")
    shipping_refunded_fen: Fen = Field(
        description="Its shop's domestic shipping, refunded when no other item of that shop is left."
    )


class ItemReplacement(Out):
    """A replacement SKU of the same product staff offered when the ordered one cannot be bought."""

    sku_id: str
    props: dict[str, str] = Field(description="The offered SKU's properties (colour, size...).")
    unit_price_fen: Fen
    difference_fen: int = Field(
        description="(offered - paid unit price) x quantity: charged from the wallet on accepting "
        "(refunded when negative)."
    )
    note: str | None
    state: ReplacementState = Field(
        description="offered (the customer decides), accepted (the item is bought as this SKU), declined "
        "(the item is cancelled and refunded), withdrawn (staff marked the item unavailable meanwhile), "
        "expired (no answer by due_at: declined for the customer, the item cancelled and refunded)."
    )
    offered_at: Timestamp
    due_at: str = absent(
        "The customer's answer is due by then (GET /policies replacement_answer_days); with no answer the "
        "offer expires. Absent on offers made before offers had a deadline.",
        format="date-time",
    )
    offered_by: str = absent("The staff member who offered it (staff answers only).")
    decided_at: str = absent("When the customer accepted or declined it, or it expired.", format="date-time")
    settlement: Settlement = absent("How the price difference was settled on accepting.")


class DomesticShipment(Out):
    """The merchant's shipment of the item to our warehouse in China."""

    carrier: str
    tracking_no: str
    shipped_at: Timestamp
    recorded_by: str = absent("The staff member who recorded the shipment (staff answers only).")


class InspectionChecks(Out):
    """The outcome of each appearance check."""

    color: CheckOutcome
    damage: CheckOutcome
    stains: CheckOutcome
    size: CheckOutcome
    model: CheckOutcome
    version: CheckOutcome


class Inspection(Out):
    """The arrival inspection: appearance only (electronics are never powered on)."""

    category: Literal["apparel", "electronics", "general"]
    checks: InspectionChecks
    result: Literal["pass", "issue", ItemStatus.NOT_TRANSPORTABLE.value]
    label_size: str | None = Field(description="The size on the label or tag (apparel).")
    remark: str | None = absent(
        "The customer's latest remark when inspected: what apparel is checked against."
    )
    notes: str | None
    hazards: list[Hazard] = Field(description="Why the goods cannot travel, when they cannot.")
    in_scope_issues: list[CheckName]
    out_of_scope_discrepancies: list[CheckName] = Field(
        description="Colour and size checks marked issue: recorded, never a reason to fail the inspection."
    )
    outside_scope: list[OutsideScope] = absent(
        "Discrepancies outside the inspection's scope (colour, size error, performance), in the seed's "
        "words: recorded for the customer, never a reason to fail."
    )
    customer_confirmation_requested: bool = Field(
        description="Electronics that passed: the customer is asked to confirm from the arrival photos."
    )
    scope: str
    inspected_at: Timestamp
    inspected_by: str = absent("The staff member who inspected the item (staff answers only).")


class ItemPhoto(Out):
    """A QC photo of the item. `url` (the original) is a presigned GET that works for 15 minutes. In AWS,
    `thumbnail_url` and `view_url` are CloudFront signed URLs that are the same in every answer of one UTC
    day (browsers cache the image by URL) and work until the end of the next day; elsewhere they are
    presigned GETs of 15 minutes too."""

    photo_id: str
    url: str = Field(description="The original as uploaded (up to 10 MB): for disputes and zooming in.")
    thumbnail_url: str
    view_url: str = absent(
        "A JPEG of at most 1600 px on its longer side and 400 KB, for showing the photo; absent for "
        "photos ingested before view copies were made."
    )
    content_type: Literal["image/jpeg", "image/png", "image/webp"]
    uploaded_at: Timestamp
    width: int
    height: int
    size: int = Field(description="Bytes.")


class MeasuredDims(CmDims):
    """The item's measured size in cm."""


class ItemStorage(Out):
    """Where the item stands against its free-storage deadline."""

    in_warehouse_at: Timestamp
    expires_at: Timestamp
    days_left: int = Field(description="Whole days until expires_at (0 or less: due).")
    clock_running: bool = Field(description="False while the item is in a package.")

    @classmethod
    def of(cls, item: commerce.Item) -> Self | None:
        """Where `item` stands against its storage deadline (None unless it is stored with us)."""
        if not item.storage_expires_at or item.status not in lifecycle.WITH_DEADLINE:
            return None
        return cls.build(
            in_warehouse_at=item.in_warehouse_at,
            expires_at=item.storage_expires_at,
            days_left=storage_rules.days_left(clock.parse_iso(item.storage_expires_at), clock.now()),
            clock_running=item.status in storage_rules.CLOCK_RUNNING,
        )


class ItemFeedback(Out):
    """The customer's answer the item waits for after its inspection, and by when."""

    waiting_for: Literal[lifecycle.ItemStatus.INSPECTION_ISSUE.value, "electronics_confirmation"] = Field(
        description="inspection_issue: accept (POST /items/{item_id}/accept) or open an after-sales case; "
        "electronics_confirmation: confirm from the arrival photos (POST /items/{item_id}/confirm) or open "
        "a case."
    )
    due_at: Timestamp = Field(description="With no answer by then the item is taken as accepted.")
    reminded_at: Timestamp | None

    @classmethod
    def of(cls, item: commerce.Item) -> Self | None:
        if item.status not in lifecycle.AWAITING_FEEDBACK or not item.feedback_due_at:
            return None
        waiting = {
            lifecycle.ItemStatus.INSPECTION_ISSUE: lifecycle.ItemStatus.INSPECTION_ISSUE.value,
            lifecycle.ItemStatus.AWAITING_CONFIRMATION: "electronics_confirmation",
        }[item.status]
        return cls.build(
            waiting_for=waiting, due_at=item.feedback_due_at, reminded_at=item.feedback_reminded_at
        )


class RemarkVersion(Out):
    """One version of the item's remark."""

    remark: str | None
    changed_at: Timestamp


class ItemExchange(Out):
    """The after-sales exchange that sent earlier goods back: the replacement's price difference is
    counted from their actual unit price."""

    case_id: str
    exchanged_at: Timestamp
    baseline_unit_price_fen: Fen

    @classmethod
    def of(cls, item: commerce.Item) -> Self | None:
        record = plain(item.exchange)
        if not record:
            return None
        return cls.build(**{k: record[k] for k in ("case_id", "exchanged_at", "baseline_unit_price_fen")})


class ItemNotice(Out):
    """A policy notice that applies to this item (GET /policies lists them all)."""

    key: str = Field(
        description="third_party, inspection_scope, assumed_agreed, shelf_life, transport_conditions"
    )
    text: str


_EXAMPLE_ITEM = {
    "item_id": "itm_01JDX3R1M6Q7Y8ZK2W4V5T6S7A",
    "order_id": "ord_01JDX3R1M6Q7Y8ZK2W4V5T6S7B",
    "status": ItemStatus.IN_WAREHOUSE.value,
    "product_id": "tb_6543210987",
    "sku_id": "tb_6543210987_1",
    "title": "Linen shirt",
    "props": {"colour": "white", "size": "L"},
    "quantity": 2,
    "unit_price_fen": 8900,
    "remark": "white, size L",
    "purchase": {
        "merchant_order_no": "TB2026112900123",
        "actual_unit_price_fen": 8500,
        "price_difference_fen": -800,
        "purchased_at": "2026-11-29T03:10:00Z",
        "purchased_by": "staff-reviewer-1",
        "settlement": S.REFUNDED.value,
        "refunded_fen": 800,
    },
    "domestic_shipment": {
        "carrier": "SF",
        "tracking_no": "SF1234567890",
        "shipped_at": "2026-11-29T09:00:00Z",
        "recorded_by": "staff-reviewer-1",
    },
    "price_difference_due_fen": 0,
    "paid_fen": 17800,
    "refunded_fen": 800,
    "quantity_purchased": None,
    "unavailable": None,
    "replacement": None,
    "inspection": {
        "category": "apparel",
        "checks": {
            "color": "ok",
            "damage": "ok",
            "stains": "ok",
            "size": "ok",
            "model": "n/a",
            "version": "n/a",
        },
        "result": "pass",
        "label_size": "L",
        "notes": None,
        "hazards": [],
        "in_scope_issues": [],
        "out_of_scope_discrepancies": [],
        "customer_confirmation_requested": False,
        "scope": "appearance only; colour and size discrepancies of apparel are recorded, not inspected; "
        "electronics are never powered on",
        "inspected_at": "2026-11-30T08:00:00Z",
        "inspected_by": "staff-warehouse-1",
    },
    "photos": [
        {
            "photo_id": "pho_01JDX3R1M6Q7Y8ZK2W4V5T6S7C",
            "url": "https://procure-photos.s3.amazonaws.com/qc/itm_01JDX3R1M6Q7Y8ZK2W4V5T6S7A/"
            "pho_01JDX3R1M6Q7Y8ZK2W4V5T6S7C.jpg?X-Amz-Expires=900",
            "thumbnail_url": "https://procure-photos.s3.amazonaws.com/thumbs/itm_01JDX3R1M6Q7Y8ZK2W4V5T6S7A/"
            "pho_01JDX3R1M6Q7Y8ZK2W4V5T6S7C.jpg?X-Amz-Expires=900",
            "view_url": "https://procure-photos.s3.amazonaws.com/views/itm_01JDX3R1M6Q7Y8ZK2W4V5T6S7A/"
            "pho_01JDX3R1M6Q7Y8ZK2W4V5T6S7C.jpg?X-Amz-Expires=900",
            "content_type": "image/jpeg",
            "uploaded_at": "2026-11-30T08:02:00Z",
            "width": 1600,
            "height": 1200,
            "size": 284311,
        }
    ],
    "weight_g": 420,
    "dims_cm": {"l": 30, "w": 25, "h": 4},
    "storage": {
        "in_warehouse_at": "2026-11-30T08:00:00Z",
        "expires_at": "2027-02-28T08:00:00Z",
        "days_left": 90,
        "clock_running": True,
    },
    "source": "order",
    "parcel_id": "prc_01JDX3R1M6Q7Y8ZK2W4V5T6S7D",
    "received_at": "2026-11-30T07:40:00Z",
    "package_id": None,
    "after_sales_case_id": None,
    "storage_extended_days": 0,
    "feedback": None,
    "remark_history": [
        {"remark": "white", "changed_at": "2026-11-28T10:00:00Z"},
        {"remark": "white, size L", "changed_at": "2026-11-28T12:30:00Z"},
    ],
    "exchange": None,
    "notices": [
        {"key": "third_party", "text": "We buy from third-party shops on your behalf..."},
        {"key": "inspection_scope", "text": "Inspection is of appearance only..."},
    ],
}


class Item(Out):
    """One ordered line (or forwarded parcel) as it moves from purchase to storage to shipping; the
    warehouse records (inspection, photos, storage) are null or empty until they are made."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_ITEM]})

    item_id: str
    order_id: str | None = Field(description="Null for forwarded and exceptional parcels.")
    status: ItemStatus
    product_id: str | None
    sku_id: str | None
    title: str
    props: dict[str, str] = Field(description="The chosen SKU's properties (colour, size...).")
    quantity: int
    unit_price_fen: Fen = Field(description="The listed unit price the customer paid.")
    remark: str | None
    purchase: ItemPurchase | None
    domestic_shipment: DomesticShipment | None
    price_difference_due_fen: Fen = Field(
        description="A higher actual price awaiting the customer (0: none)."
    )
    paid_fen: Fen = Field(description="What the customer paid for this line's goods.")
    refunded_fen: Fen = Field(description="What was refunded of it (never more than paid_fen).")
    quantity_purchased: int | None = Field(
        description="What the shop sold when less than `quantity` (the rest was refunded); null otherwise."
    )
    unavailable: ItemUnavailable | None = Field(
        description="Set when staff cancelled the item because the shop cannot supply it."
    )
    replacement: ItemReplacement | None = Field(description="A replacement SKU offered, and its outcome.")
    inspection: Inspection | None
    photos: list[ItemPhoto]
    weight_g: int | None
    dims_cm: MeasuredDims | None
    storage: ItemStorage | None = Field(description="Null unless the item is stored with us.")
    source: ItemSource
    parcel_id: str | None
    received_at: Timestamp | None
    package_id: str | None
    after_sales_case_id: str | None = Field(description="The open after-sales case, if any.")
    storage_extended_days: int
    feedback: ItemFeedback | None = Field(
        description="Set while the item waits on the customer after its inspection (null otherwise)."
    )
    remark_history: list[RemarkVersion] = Field(
        description="Every version of the remark, oldest first (empty until first changed; the last 20)."
    )
    exchange: ItemExchange | None = Field(description="Set when an after-sales exchange re-bought the item.")
    notices: list[ItemNotice] = Field(description="The policy notices that apply to this item now.")

    @classmethod
    def of(cls, item: commerce.Item, **extra: Any) -> Self:
        """`item` as recorded; warehouse fields (inspection, photos, storage) join as they are made.
        `extra`: the fields a subclass adds (a staff view's owner, a storage row's kind)."""
        from chalicelib.rules import notices as notice_rules

        return cls.build(
            item_id=item.item_id,
            order_id=item.order_id,
            status=item.status,
            product_id=item.product_id,
            sku_id=item.sku_id,
            title=item.title,
            props=plain(item.props) or {},
            quantity=int(item.quantity),
            unit_price_fen=int(item.unit_price_fen),
            remark=item.remark,
            purchase=plain(item.purchase),
            domestic_shipment=plain(item.domestic_shipment),
            price_difference_due_fen=int(item.price_difference_due_fen or 0),
            # what the customer paid for this line's goods, and what was refunded of it (the refund cap)
            paid_fen=int(item.paid_fen or 0),
            refunded_fen=int(item.refunded_fen or 0),
            quantity_purchased=int(item.quantity_purchased) if item.quantity_purchased is not None else None,
            unavailable=plain(item.unavailable),
            replacement=plain(item.replacement),
            inspection=plain(item.inspection),
            photos=_photo_list(item),
            weight_g=int(item.weight_g) if item.weight_g is not None else None,
            dims_cm=plain(item.dims_cm),
            storage=ItemStorage.of(item),
            source=item.source,
            parcel_id=item.parcel_id,
            received_at=item.received_at,
            package_id=item.package_id,
            after_sales_case_id=item.open_case_id,
            storage_extended_days=int(item.storage_extended_days or 0),
            feedback=ItemFeedback.of(item),
            remark_history=[plain(v) for v in item.remark_history or []],
            exchange=ItemExchange.of(item),
            notices=[{"key": n.key, "text": n.text} for n in notice_rules.notices_for(item)],
            **extra,
        )

    @classmethod
    def of_result(cls, result: commerce.Item) -> Self:
        return cls.of(result)


def _photo_list(item: commerce.Item) -> list[dict]:
    """photos.photo_list(item); an item without photos (most answers: nothing is received yet) is []
    without loading chalicelib/photos.py and its URL signing."""
    raw = item.photos
    if raw is None or not (raw.as_dict() if hasattr(raw, "as_dict") else raw):
        return []
    from chalicelib import photos

    return photos.photo_list(item)


class StaffItem(Item):
    """An item as staff see it: with its owner."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_EXAMPLE_ITEM, "user_id": "user-alice"}]})

    user_id: str = Field(description="The owner's id (Cognito sub).")

    @classmethod
    def of(cls, item: commerce.Item, **extra: Any) -> Self:
        return super().of(item, user_id=item.user_id, **extra)


class ItemPage(Out):
    """A page of the caller's items; pass `next_cursor` back as `cursor` for the next (null: the last)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_EXAMPLE_ITEM], "next_cursor": None}]}
    )

    items: list[Item]
    next_cursor: str | None

    @classmethod
    def of(cls, items: list[commerce.Item], next_cursor: str | None) -> Self:
        return cls.build(items=[Item.of(i) for i in items], next_cursor=next_cursor)


class StaffItemPage(Out):
    """A page of a staff item queue, oldest first; `next_cursor` continues it (null: the last page)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"items": [{**_EXAMPLE_ITEM, "user_id": "user-alice"}], "next_cursor": "eyJrIjoiLi4uIn0"}
            ]
        }
    )

    items: list[StaffItem]
    next_cursor: str | None

    @classmethod
    def of(cls, items: list[commerce.Item], next_cursor: str | None) -> Self:
        return cls.build(items=[StaffItem.of(i) for i in items], next_cursor=next_cursor)
