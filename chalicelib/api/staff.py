"""Review and purchasing (staff group `reviewer`)."""

from __future__ import annotations

from typing import Annotated, Literal

from chalice import Blueprint

from chalicelib import purchase_exceptions, purchasing
from chalicelib.errors import ValidationError
from chalicelib.models.commerce import Item as StoredItem
from chalicelib.orders import OrderResult
from chalicelib.responses.items import Item, StaffItem, StaffItemPage
from chalicelib.responses.orders import OrderDetail, ReviewQueuePage, StaffOrderDetail
from chalicelib.responses.settlement import PurchasePreview, SettlementDecision
from chalicelib.schemas import Body, Carrier, Fen, Id, Text, TrackingNo, example
from chalicelib.typed import Field
from chalicelib.web import Req, decode_cursor, encode_cursor, page_limit, performs, route

bp = Blueprint(__name__)

REVIEWER = ("reviewer",)


class RejectBody(Body):
    """Why the order is rejected (the customer is emailed it; what they paid goes back to the wallet)."""

    model_config = example({"reason": "The shop no longer sells this model."})

    reason: Text


class PurchaseBody(Body):
    """The purchase made at the shop for an approved item."""

    model_config = example({"merchant_order_no": "3519847755023641288", "actual_unit_price_fen": 1790})

    merchant_order_no: Annotated[
        str, Field(min_length=1, max_length=64, description="The shop's order number.")
    ]
    actual_unit_price_fen: Fen = Field(
        description="What the shop charged per unit; a difference from the quoted price is refunded to the "
        "wallet (cheaper) or asked of the customer (dearer)."
    )
    quantity_purchased: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        None,
        description="What the shop sold, when less than ordered: the rest is refunded to the wallet now. "
        "Default: the quantity ordered.",
    )
    actual_domestic_shipping_fen: Fen | None = Field(
        None,
        description="What the shop charged for shipping its parcel to our warehouse, when it differs from "
        "what the order paid for that shop: settled like a price difference (under the same consent "
        "threshold, together with it). Default: as paid.",
    )


class PurchasePreviewBody(Body):
    """A unit price the shop asks, to see how its difference from the paid price would settle."""

    model_config = example({"actual_unit_price_fen": 1790})

    actual_unit_price_fen: Fen = Field(description="What the shop charges per unit.")
    quantity_purchased: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        None, description="What the shop sells, when less than ordered. Default: the quantity ordered."
    )
    actual_domestic_shipping_fen: Fen | None = Field(
        None, description="What the shop charges for shipping its parcel. Default: as paid."
    )


class UnavailableBody(Body):
    """Why the shop cannot supply the item; the customer is emailed the reason and the refund."""

    model_config = example({"reason": "out_of_stock", "note": "The shop sold the last one this morning."})

    reason: Literal["out_of_stock", "delisted", "merchant_refused", "other"] = Field(
        description="out_of_stock, delisted (the shop no longer sells it), merchant_refused, or other."
    )
    note: Text | None = Field(None, description="Told to the customer as it is.")


class ReplacementBody(Body):
    """Another SKU of the item's product, in stock, offered to the customer instead of the ordered one."""

    model_config = example({"sku_id": "sku_tee_white_l", "note": "Black is sold out; white is the same tee."})

    sku_id: Id = Field(description="A SKU of the item's product other than the ordered one.")
    note: Text | None = Field(None, description="Told to the customer as it is.")


class ShipmentBody(Body):
    """The shop's shipment of a purchased item to our warehouse."""

    model_config = example({"carrier": "ZTO", "tracking_no": "78812345678901"})

    carrier: Carrier = Field(description="The domestic courier (SF, ZTO, YTO...).")
    tracking_no: TrackingNo = Field(
        description="The courier's tracking number: the warehouse matches the parcel by it."
    )


def _status(req: Req, allowed: tuple[str, ...]) -> str:
    status = req.query.get("status", allowed[0])
    if status not in allowed:
        raise ValidationError(f"status must be one of: {', '.join(allowed)}.")
    return status


@route(bp, "/staff/orders", groups=REVIEWER, query=("status", "limit", "cursor"), response=ReviewQueuePage)
def review_queue(req: Req) -> ReviewQueuePage:
    """Orders waiting for staff, oldest review_due_at first, with `overdue`."""
    queued, last = purchasing.queue(
        _status(req, purchasing.ORDER_QUEUES), page_limit(req), decode_cursor(req)
    )
    return ReviewQueuePage.of(queued, encode_cursor(last))


@route(bp, "/staff/orders/{order_id}", groups=REVIEWER, response=StaffOrderDetail)
def staff_get_order(req: Req, order_id: str) -> StaffOrderDetail:
    """Any order with its items, charges and review deadline (the console's order detail)."""
    return StaffOrderDetail.of_result(purchasing.order_detail(order_id))


@route(bp, "/staff/orders/{order_id}/approve", "POST", groups=REVIEWER, response=OrderDetail)
@performs("order.approve", "item.approve")
def approve_order(req: Req, order_id: str) -> OrderDetail:
    """Approve a paid order: its items go to purchasing."""
    return OrderDetail.of_result(purchasing.approve(order_id, req.user.user_id))


@route(
    bp,
    "/staff/orders/{order_id}/reject",
    "POST",
    groups=REVIEWER,
    body=RejectBody,
    money=True,
    response=OrderDetail,
)
@performs("order.reject", "item.reject")
def reject_order(req: Req, order_id: str) -> OrderResult:
    """Reject: full refund to the wallet and an email to the customer."""
    return purchasing.reject(order_id, req.user.user_id, req.body.reason)  # OrderDetail.of_result renders it


@route(
    bp,
    "/staff/items",
    groups=("reviewer", "warehouse"),
    query=("status", "limit", "cursor"),
    response=StaffItemPage,
)
def item_queue(req: Req) -> StaffItemPage:
    """Items waiting for staff: purchasing, awaiting_payment, purchased, shipped_domestic."""
    items, last = purchasing.item_queue(
        _status(req, purchasing.ITEM_QUEUES), page_limit(req), decode_cursor(req)
    )
    return StaffItemPage.of(items, encode_cursor(last))


@route(bp, "/staff/items/{item_id}", groups=("reviewer", "warehouse"), response=StaffItem)
def staff_item(req: Req, item_id: str) -> StaffItem:
    """One item in any status, with its owner: what a scanned item label opens (and reprints)."""
    return StaffItem.of(purchasing.staff_item(item_id))


@route(
    bp,
    "/staff/items/{item_id}/purchase",
    "POST",
    groups=REVIEWER,
    body=PurchaseBody,
    money=True,
    response=Item,
)
@performs("item.purchase", "item.await_difference")
def record_purchase(req: Req, item_id: str) -> StoredItem:
    """Record the purchase at the actual price; the difference is refunded or charged."""
    b = req.body
    return purchasing.record_purchase(item_id, req.user.user_id, b.merchant_order_no, _terms(b))


@route(
    bp,
    "/staff/items/{item_id}/purchase-preview",
    "POST",
    groups=REVIEWER,
    body=PurchasePreviewBody,
    response=PurchasePreview,
)
def preview_purchase(req: Req, item_id: str) -> PurchasePreview:
    """How a purchase at this actual price would settle now (the console's preview); moves no money."""
    terms = _terms(req.body)
    item, figures, decision = purchasing.preview_purchase(item_id, terms)
    return PurchasePreview.build(
        item_id=item.item_id,
        quantity=int(item.quantity),
        listed_unit_price_fen=int(item.unit_price_fen),
        actual_unit_price_fen=terms.actual_unit_price_fen,
        quantity_purchased=figures.quantity_purchased,
        short_refund_fen=figures.short_refund_fen,
        price_difference_fen=figures.price_fen,
        shipping_difference_fen=figures.shipping_fen,
        decision=SettlementDecision.of(figures.difference, decision),
    )


def _terms(body: PurchaseBody | PurchasePreviewBody) -> purchasing.Terms:
    return purchasing.Terms(
        body.actual_unit_price_fen, body.quantity_purchased, body.actual_domestic_shipping_fen
    )


@route(
    bp, "/staff/items/{item_id}/domestic-shipment", "POST", groups=REVIEWER, body=ShipmentBody, response=Item
)
@performs("item.ship_domestic")
def record_domestic_shipment(req: Req, item_id: str) -> Item:
    """Record the merchant's shipment to our warehouse."""
    b = req.body
    return Item.of(purchasing.record_domestic_shipment(item_id, req.user.user_id, b.carrier, b.tracking_no))


@route(
    bp,
    "/staff/items/{item_id}/unavailable",
    "POST",
    groups=REVIEWER,
    body=UnavailableBody,
    money=True,
    response=Item,
)
@performs("item.mark_unavailable", "order.close_cancelled", "replacement.withdraw")
def mark_unavailable(req: Req, item_id: str) -> StoredItem:
    """The shop cannot supply the item (before it ships): the item is cancelled, what was paid for it
    (and its shop's domestic shipping, when no other item of that shop is left) goes back to the
    wallet, the order closes when no item is left, and the customer is emailed."""
    b = req.body
    return purchase_exceptions.mark_unavailable(item_id, req.user.user_id, b.reason, b.note)


@route(bp, "/staff/items/{item_id}/replacement", "POST", groups=REVIEWER, body=ReplacementBody, response=Item)
@performs("item.offer_replacement")
def offer_replacement(req: Req, item_id: str) -> StoredItem:
    """Offer another SKU of the item's product, in stock, instead of marking the item unavailable: the
    customer is emailed and accepts or declines it."""
    b = req.body
    return purchase_exceptions.offer_replacement(item_id, req.user.user_id, b.sku_id, b.note)
