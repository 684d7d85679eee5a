"""Storage policy routes: extensions for customers, the destruction queue for the warehouse."""

from __future__ import annotations

from typing import Annotated

from chalice import Blueprint

from chalicelib import storage
from chalicelib.models.commerce import Item as StoredItem
from chalicelib.responses.items import Item
from chalicelib.responses.storage import DestructionQueuePage, StorageExtensionPrice
from chalicelib.responses.warehouse import Parcel
from chalicelib.schemas import Body, example
from chalicelib.typed import Field
from chalicelib.web import Req, decode_cursor, encode_cursor, page_limit, performs, route

bp = Blueprint(__name__)

WAREHOUSE = ("warehouse",)


class ExtendBody(Body):
    """How much more storage to buy for a stored item."""

    model_config = example({"periods": 1})

    periods: Annotated[
        int, Field(ge=1, le=6, description="30-day periods (`GET /storage/extension-price`).")
    ] = 1


@route(bp, "/items/{item_id}/extend-storage", "POST", body=ExtendBody, money=True, response=Item)
def extend_storage(req: Req, item_id: str) -> StoredItem:
    """Buy 30 more storage days per period from the wallet (up to the maximum total)."""
    return storage.extend(req.user.user_id, item_id, req.body.periods)  # Item.of_result renders it


@route(bp, "/storage/extension-price", response=StorageExtensionPrice)
def extension_price(req: Req) -> dict:
    """What a storage extension costs and how far it can go."""
    return {
        "days_per_period": storage.EXTENSION_DAYS,
        "price_fen": storage.extension_price_fen(),
        "max_total_days": storage.max_storage_days(),
    }


@route(
    bp, "/staff/destruction-queue", groups=WAREHOUSE, query=("limit", "cursor"), response=DestructionQueuePage
)
def destruction_queue(req: Req) -> DestructionQueuePage:
    """Abandoned items and expired exceptional parcels awaiting physical destruction."""
    goods, next_cursor = storage.destruction_queue(page_limit(req), decode_cursor(req))
    return DestructionQueuePage.of(goods, encode_cursor(next_cursor))


@route(bp, "/staff/items/{item_id}/destroy", "POST", groups=WAREHOUSE, response=Item)
@performs("item.destroy")
def destroy_item(req: Req, item_id: str) -> Item:
    """Confirm an abandoned item was physically destroyed."""
    return Item.of(storage.destroy_item(item_id))


@route(bp, "/staff/parcels/{parcel_id}/destroy", "POST", groups=WAREHOUSE, response=Parcel)
@performs("parcel.destroy")
def destroy_parcel(req: Req, parcel_id: str) -> Parcel:
    """Confirm an expired exceptional parcel was physically destroyed."""
    return Parcel.of(storage.destroy_parcel(parcel_id))
