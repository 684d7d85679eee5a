"""The item as customers and staff see it (`chalicelib.items.item_json`), and its nested records.

Every nested record is written by exactly one service: `purchase` by chalicelib/purchasing.py
(record_purchase, pay/decline the price difference), `domestic_shipment` by record_domestic_shipment,
`inspection`, `weight_g` and `dims_cm` by chalicelib/warehouse.py inspect, `photos` by the photo
ingestion (chalicelib/events/photos.py), `storage` is derived (chalicelib/items.py storage_json).
Packages, after-sales cases, storage and staff queues embed this same `Item`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from chalicelib.lifecycle import ItemSource
from chalicelib.lifecycle import Settlement as S
from chalicelib.responses.base import CmDims, Fen, ItemStatus, Out, Timestamp, absent

# staff user ids in items' records: kept in staff answers, never sent to customers (web.route strips them)
STAFF_ONLY_FIELDS = frozenset({"purchased_by", "recorded_by", "inspected_by"})

CheckOutcome = Literal["ok", "issue", "n/a"]
CheckName = Literal["color", "damage", "stains", "size", "model", "version"]
Hazard = Literal["battery", "liquid", "powder", "magnet", "blade", "flammable", "other"]


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
        description="(actual - listed unit price) x quantity: negative when the goods were cheaper."
    )
    purchased_at: Timestamp
    purchased_by: str = absent("The staff member who recorded the purchase (staff answers only).")
    settlement: Settlement = Field(
        description="What became of the difference: none, charged from the wallet, refunded to it, "
        "awaiting_confirmation or awaiting_payment by the customer, or declined (the item is cancelled)."
    )
    refunded_fen: Fen = absent(
        "Refunded to the wallet; present only when settlement is refunded or declined."
    )


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
    notes: str | None
    hazards: list[Hazard] = Field(description="Why the goods cannot travel, when they cannot.")
    in_scope_issues: list[CheckName]
    out_of_scope_discrepancies: list[CheckName] = Field(
        description="Apparel colour and size discrepancies: recorded, never a reason to fail the inspection."
    )
    customer_confirmation_requested: bool = Field(
        description="Electronics: the customer is asked to confirm from the photos."
    )
    scope: str
    inspected_at: Timestamp
    inspected_by: str = absent("The staff member who inspected the item (staff answers only).")


class ItemPhoto(Out):
    """A QC photo of the item; its URLs are presigned GETs that work for 15 minutes."""

    photo_id: str
    url: str
    thumbnail_url: str
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


class StaffItem(Item):
    """An item as staff see it: with its owner."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_EXAMPLE_ITEM, "user_id": "user-alice"}]})

    user_id: str = Field(description="The owner's id (Cognito sub).")


class ItemPage(Out):
    """A page of the caller's items; pass `next_cursor` back as `cursor` for the next (null: the last)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_EXAMPLE_ITEM], "next_cursor": None}]}
    )

    items: list[Item]
    next_cursor: str | None


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


def without_staff_ids(body):
    """`body` (a serialized answer) without STAFF_ONLY_FIELDS at any depth: what a customer may see."""
    if isinstance(body, list):
        return [without_staff_ids(value) for value in body]
    if isinstance(body, dict):
        return {k: without_staff_ids(v) for k, v in body.items() if k not in STAFF_ONLY_FIELDS}
    return body
