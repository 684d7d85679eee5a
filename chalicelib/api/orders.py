"""Cart and procurement orders (customers)."""

from __future__ import annotations

from typing import Annotated

from chalice import Blueprint

from chalicelib import orders
from chalicelib.models.commerce import Item as StoredItem
from chalicelib.responses.items import Item
from chalicelib.responses.orders import Cart, CartLine, OrderDetail, OrderPage, OrderQuote
from chalicelib.schemas import Body, Id, example
from chalicelib.typed import Field, model_validator
from chalicelib.web import Req, decode_cursor, encode_cursor, page_limit, performs, route

bp = Blueprint(__name__)

Remark = Annotated[str, Field(max_length=500)]
Quantity = Annotated[int, Field(ge=1, le=100_000)]


TEE = {"product_id": "prd_jizgrxmusvz4jbqbjklk35fw", "sku_id": "sku_2l2q4atjbohrxfgt"}  # the demo catalog's


class CartItemBody(Body):
    """A product's SKU to put in the cart (the same SKU again adds a separate line)."""

    model_config = example({**TEE, "quantity": 2, "remark": "Please check the seams."})

    product_id: Id
    sku_id: Id = Field(description="One of the product's `skus[].sku_id` (its color, size... combination).")
    quantity: Quantity = Field(
        description="At least the product's `min_quantity`, at most the SKU's `stock`."
    )
    remark: Remark | None = Field(None, description="A note for our buyer and the warehouse (free text).")


class CartItemPatch(Body):
    """New values for a cart line: quantity and/or remark (at least one)."""

    model_config = example({"quantity": 3})

    quantity: Quantity | None = None
    remark: Remark | None = None
    accept_price: bool | None = None  # true: the current price becomes the line's snapshot

    @model_validator(mode="after")
    def _something(self):
        if self.quantity is None and self.remark is None and not self.accept_price:
            raise ValueError("send quantity, remark and/or accept_price")
        return self


class DirectItem(Body):
    """One line of an order placed without the cart ("buy now")."""

    model_config = example({**TEE, "quantity": 2})

    product_id: Id
    sku_id: Id = Field(description="One of the product's `skus[].sku_id`.")
    quantity: Quantity = Field(
        description="At least the product's `min_quantity`, at most the SKU's `stock`."
    )
    remark: Remark | None = Field(None, description="A note for our buyer and the warehouse (free text).")


class OrderBody(Body):
    """What to order: either cart lines (`cart_item_ids`, taken out of the cart) or `items` directly."""

    model_config = example({"items": [{**TEE, "quantity": 2}], "payment_channel": "balance"})

    cart_item_ids: Annotated[list[Id], Field(min_length=1, max_length=orders.MAX_ITEMS_PER_ORDER)] | None = (
        None
    )
    items: Annotated[list[DirectItem], Field(min_length=1, max_length=orders.MAX_ITEMS_PER_ORDER)] | None = (
        None
    )
    payment_channel: Annotated[str, Field(min_length=1, max_length=32)] = Field(
        description="How the order will be paid (`GET /payment-channels`); its bank fee is in the charges."
    )

    @model_validator(mode="after")
    def _one_source(self):
        if (self.cart_item_ids is None) == (self.items is None):
            raise ValueError("send either cart_item_ids or items, not both")
        return self


@route(bp, "/cart", currency=True, response=Cart)
def get_cart(req: Req) -> Cart:
    """The caller's cart, priced from the catalog."""
    return Cart.of(orders.get_cart(req.user.user_id))


@route(bp, "/cart/items", "POST", body=CartItemBody, status=201, currency=True, response=CartLine)
def add_cart_item(req: Req) -> CartLine:
    """Put a SKU in the cart."""
    b = req.body
    return CartLine.of(orders.add_to_cart(req.user.user_id, b.product_id, b.sku_id, b.quantity, b.remark))


@route(bp, "/cart/items/{cart_item_id}", "PATCH", body=CartItemPatch, currency=True, response=CartLine)
def update_cart_item(req: Req, cart_item_id: str) -> CartLine:
    """Change a cart item's quantity or remark."""
    b = req.body
    line = orders.update_cart_item(req.user.user_id, cart_item_id, b.quantity, b.remark, bool(b.accept_price))
    return CartLine.of(line)


@route(bp, "/cart/items/{cart_item_id}", "DELETE")
def remove_cart_item(req: Req, cart_item_id: str) -> None:
    """Take an item out of the cart."""
    orders.remove_cart_item(req.user.user_id, cart_item_id)


def _direct(body: OrderBody) -> list[dict] | None:
    return [d.model_dump() for d in body.items] if body.items is not None else None


@route(bp, "/orders/quote", "POST", body=OrderBody, currency=True, response=OrderQuote)
def quote_order(req: Req) -> OrderQuote:
    """Exact charges for cart items or direct items on a payment channel."""
    b = req.body
    return OrderQuote.of(orders.quote(req.user.user_id, b.cart_item_ids, _direct(b), b.payment_channel))


@route(bp, "/orders", "POST", body=OrderBody, status=201, currency=True, response=OrderDetail)
def create_order(req: Req) -> OrderDetail:
    """Create a procurement order; prices are snapshotted and ordered cart items leave the cart."""
    b = req.body
    return OrderDetail.of_result(
        orders.create(req.user.user_id, b.cart_item_ids, _direct(b), b.payment_channel)
    )


@route(bp, "/orders", query=("limit", "cursor"), currency=True, response=OrderPage)
def list_orders(req: Req) -> OrderPage:
    """The caller's orders, newest first."""
    page, last = orders.list_orders(req.user.user_id, page_limit(req), decode_cursor(req))
    return OrderPage.of(page, encode_cursor(last))


@route(bp, "/orders/{order_id}", currency=True, response=OrderDetail)
def get_order(req: Req, order_id: str) -> OrderDetail:
    """One of the caller's orders with its items."""
    return OrderDetail.of_result(orders.read_order(req.user.user_id, order_id))


@route(bp, "/orders/{order_id}/pay", "POST", money=True, currency=True, response=OrderDetail)
@performs("order.pay", "item.pay")
def pay_order(req: Req, order_id: str) -> orders.OrderResult:
    """Pay: from the wallet (balance channel) or by an external payment completed by the provider."""
    return orders.pay(req.user.user_id, order_id)  # what committed: OrderDetail.of_result renders it


@route(bp, "/orders/{order_id}/cancel", "POST", money=True, currency=True, response=OrderDetail)
@performs("order.cancel", "item.cancel")
def cancel_order(req: Req, order_id: str) -> orders.OrderResult:
    """Cancel before any item is purchased; what was paid returns to the wallet."""
    return orders.cancel(req.user.user_id, order_id)


@route(bp, "/items/{item_id}/pay-difference", "POST", money=True, response=Item)
@performs("item.pay_difference", "settlement.pay_difference")
def pay_price_difference(req: Req, item_id: str) -> StoredItem:
    """Pay a higher actual purchase price from the wallet."""
    from chalicelib import purchasing  # not imported with the module: a payment never needs it

    return purchasing.pay_price_difference(req.user.user_id, item_id)


@route(bp, "/items/{item_id}/decline-difference", "POST", money=True, response=Item)
@performs("item.decline_difference", "settlement.decline_difference")
def decline_price_difference(req: Req, item_id: str) -> StoredItem:
    """Decline a higher actual purchase price: the item is cancelled and what was paid for it refunded (its
    shop's domestic shipping too with the shop's last live item; the order is cancelled with its last)."""
    from chalicelib import purchasing  # not imported with the module: a payment never needs it

    return purchasing.decline_price_difference(req.user.user_id, item_id)


@route(bp, "/items/{item_id}/replacement/accept", "POST", money=True, response=Item)
@performs("item.accept_replacement", "replacement.accept")
def accept_replacement(req: Req, item_id: str) -> StoredItem:
    """Take the replacement SKU staff offered: the difference is charged from (or refunded to) the
    wallet and the item is bought as that SKU."""
    from chalicelib import purchase_exceptions  # not imported with the module (as purchasing)

    return purchase_exceptions.accept_replacement(req.user.user_id, item_id)


@route(bp, "/items/{item_id}/replacement/decline", "POST", money=True, response=Item)
@performs("item.decline_replacement", "replacement.decline", "order.close_cancelled")
def decline_replacement(req: Req, item_id: str) -> StoredItem:
    """Decline the replacement SKU: the item is cancelled and what was paid for it refunded to the wallet
    (its shop's shipping too when nothing else comes from that shop)."""
    from chalicelib import purchase_exceptions  # not imported with the module (as purchasing)

    return purchase_exceptions.decline_replacement(req.user.user_id, item_id)
