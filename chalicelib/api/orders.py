"""Cart and procurement orders (customers)."""

from __future__ import annotations

from typing import Annotated

from chalice import Blueprint
from pydantic import Field, model_validator

from chalicelib import orders, purchasing
from chalicelib.lifecycle import OrderStatus
from chalicelib.schemas import Body, Id
from chalicelib.web import Req, decode_cursor, encode_cursor, page_limit, route

bp = Blueprint(__name__)

Remark = Annotated[str, Field(max_length=500)]
Quantity = Annotated[int, Field(ge=1, le=100_000)]


class CartItemBody(Body):
    product_id: Id
    sku_id: Id
    quantity: Quantity
    remark: Remark | None = None


class CartItemPatch(Body):
    quantity: Quantity | None = None
    remark: Remark | None = None

    @model_validator(mode="after")
    def _something(self):
        if self.quantity is None and self.remark is None:
            raise ValueError("send quantity and/or remark")
        return self


class DirectItem(Body):
    product_id: Id
    sku_id: Id
    quantity: Quantity
    remark: Remark | None = None


class OrderBody(Body):
    cart_item_ids: Annotated[list[Id], Field(min_length=1, max_length=orders.MAX_ITEMS_PER_ORDER)] | None = (
        None
    )
    items: Annotated[list[DirectItem], Field(min_length=1, max_length=orders.MAX_ITEMS_PER_ORDER)] | None = (
        None
    )
    payment_channel: Annotated[str, Field(min_length=1, max_length=32)]

    @model_validator(mode="after")
    def _one_source(self):
        if (self.cart_item_ids is None) == (self.items is None):
            raise ValueError("send either cart_item_ids or items, not both")
        return self


@route(bp, "/cart", currency=True)
def get_cart(req: Req) -> dict:
    """The caller's cart, priced from the catalog."""
    return orders.get_cart(req.user.user_id)


@route(bp, "/cart/items", "POST", body=CartItemBody, status=201, currency=True)
def add_cart_item(req: Req) -> dict:
    """Put a SKU in the cart."""
    b = req.body
    return orders.add_to_cart(req.user.user_id, b.product_id, b.sku_id, b.quantity, b.remark)


@route(bp, "/cart/items/{cart_item_id}", "PATCH", body=CartItemPatch, currency=True)
def update_cart_item(req: Req, cart_item_id: str) -> dict:
    """Change a cart item's quantity or remark."""
    return orders.update_cart_item(req.user.user_id, cart_item_id, req.body.quantity, req.body.remark)


@route(bp, "/cart/items/{cart_item_id}", "DELETE")
def remove_cart_item(req: Req, cart_item_id: str) -> None:
    """Take an item out of the cart."""
    orders.remove_cart_item(req.user.user_id, cart_item_id)


def _direct(body: OrderBody) -> list[dict] | None:
    return [d.model_dump() for d in body.items] if body.items is not None else None


@route(bp, "/orders/quote", "POST", body=OrderBody, currency=True)
def quote_order(req: Req) -> dict:
    """Exact charges for cart items or direct items on a payment channel."""
    return orders.quote(req.user.user_id, req.body.cart_item_ids, _direct(req.body), req.body.payment_channel)


@route(bp, "/orders", "POST", body=OrderBody, status=201, currency=True)
def create_order(req: Req) -> dict:
    """Create a procurement order; prices are snapshotted and ordered cart items leave the cart."""
    return orders.create(
        req.user.user_id, req.body.cart_item_ids, _direct(req.body), req.body.payment_channel
    )


@route(bp, "/orders", query=("limit", "cursor"), currency=True)
def list_orders(req: Req) -> dict:
    """The caller's orders, newest first."""
    page = orders.list_orders(req.user.user_id, page_limit(req), decode_cursor(req))
    page["next_cursor"] = encode_cursor(page["next_cursor"])
    return page


@route(bp, "/orders/{order_id}", currency=True)
def get_order(req: Req, order_id: str) -> dict:
    """One of the caller's orders with its items."""
    order = orders.own_order(req.user.user_id, order_id)
    payment = None
    if order.payment_id and order.status == OrderStatus.PENDING_PAYMENT:
        from chalicelib.models.commerce import Payment

        payment = Payment.get(order.payment_id)
    return orders.order_json(order, orders.order_items(order), payment)


@route(bp, "/orders/{order_id}/pay", "POST", money=True, currency=True)
def pay_order(req: Req, order_id: str) -> dict:
    """Pay: from the wallet (balance channel) or by an external payment completed by the provider."""
    return orders.pay(req.user.user_id, order_id)


@route(bp, "/orders/{order_id}/cancel", "POST", money=True, currency=True)
def cancel_order(req: Req, order_id: str) -> dict:
    """Cancel before any item is purchased; what was paid returns to the wallet."""
    return orders.cancel(req.user.user_id, order_id)


@route(bp, "/items/{item_id}/pay-difference", "POST", money=True)
def pay_price_difference(req: Req, item_id: str) -> dict:
    """Pay a higher actual purchase price from the wallet."""
    return purchasing.pay_price_difference(req.user.user_id, item_id)


@route(bp, "/items/{item_id}/decline-difference", "POST", money=True)
def decline_price_difference(req: Req, item_id: str) -> dict:
    """Decline a higher actual purchase price: the item is cancelled and what was paid for it refunded."""
    return purchasing.decline_price_difference(req.user.user_id, item_id)
