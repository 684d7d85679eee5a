"""Responses of the storage routes: the extension price and the warehouse's destruction queue.

Extending storage and confirming an item's destruction answer the one `Item` (responses/items.py), a
parcel's destruction the `Parcel` of responses/warehouse.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from chalicelib.models import commerce
from chalicelib.models import warehouse as stored
from chalicelib.responses.base import Fen, ItemStatus, Out, ParcelStatus, Timestamp, example_of
from chalicelib.responses.items import Item, StaffItem
from chalicelib.responses.warehouse import Parcel
from chalicelib.typed import ConfigDict, Field

ITEM_EXAMPLE = example_of(Item)


class StorageExtensionPrice(Out):
    """What a storage extension costs and how far it can go."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"days_per_period": 30, "price_fen": 1200, "max_total_days": 180}]}
    )

    days_per_period: int = Field(description="Days one period adds.")
    price_fen: Fen = Field(description="Per item and period.")
    max_total_days: int = Field(description="The longest an item may be stored in all, from its arrival.")


_ABANDONED_ITEM = {
    **ITEM_EXAMPLE,
    "status": ItemStatus.ABANDONED,
    "storage": {
        "in_warehouse_at": "2026-08-30T08:00:00Z",
        "expires_at": "2026-11-28T08:00:00Z",
        "days_left": 0,
        "clock_running": False,
    },
    "kind": "item",
    "user_id": "user-alice",
    "abandoned_at": "2026-11-28T08:05:00Z",
}
_ABANDONED_PARCEL = {
    "kind": "parcel",
    "parcel_id": "pcl_8c2e4a6b0d1f3e5a7c9b1d3f5e",
    "status": ParcelStatus.ABANDONED,
    "tracking_no": "YT2233445566778",
    "carrier": "YTO",
    "item_ids": [],
    "received_at": "2026-10-29T07:45:00Z",
    "weight_g": 1200,
    "storage_expires_at": "2026-11-28T07:45:00Z",
    "abandoned_at": "2026-11-28T08:05:00Z",
}


class DestructionQueueItem(StaffItem):
    """An item past its storage deadline, waiting to be destroyed."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ABANDONED_ITEM]})

    kind: Literal["item"]
    abandoned_at: Timestamp | None

    @classmethod
    def of(cls, item: commerce.Item, **extra: Any) -> Self:
        return super().of(item, kind="item", abandoned_at=item.abandoned_at, **extra)


class DestructionQueueParcel(Parcel):
    """An exceptional parcel nobody identified in time, waiting to be destroyed."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ABANDONED_PARCEL]})

    kind: Literal["parcel"]
    abandoned_at: Timestamp | None

    @classmethod
    def of(cls, parcel: stored.Parcel, **extra: Any) -> Self:
        return super().of(parcel, kind="parcel", abandoned_at=parcel.abandoned_at, **extra)


DestructionQueueEntry = Annotated[DestructionQueueItem | DestructionQueueParcel, Field(discriminator="kind")]


class DestructionQueuePage(Out):
    """A page of goods awaiting physical destruction: abandoned items first, then expired exceptional
    parcels, each oldest first; `kind` tells them apart."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_ABANDONED_ITEM, _ABANDONED_PARCEL], "next_cursor": None}]}
    )

    items: list[DestructionQueueEntry]
    next_cursor: str | None

    @classmethod
    def of(cls, goods: list[commerce.Item | stored.Parcel], next_cursor: str | None) -> Self:
        """Abandoned items and parcels in queue order, each as its kind of entry."""
        entries = [
            DestructionQueueItem.of(g) if isinstance(g, commerce.Item) else DestructionQueueParcel.of(g)
            for g in goods
        ]
        return cls.build(items=entries, next_cursor=next_cursor)
