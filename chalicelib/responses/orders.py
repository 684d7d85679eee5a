"""Responses of the cart and order routes, and of the staff review queue and order detail."""

from __future__ import annotations

from typing import Any, Self

from chalicelib import clock, orders
from chalicelib.models import commerce
from chalicelib.responses.base import Fen, ItemStatus, OrderStatus, Out, Timestamp
from chalicelib.responses.fx import FxSnapshot
from chalicelib.responses.items import _EXAMPLE_ITEM, Item
from chalicelib.responses.payments import Payment
from chalicelib.typed import ConfigDict, Field

_CART_LINE = {
    "cart_item_id": "cart_01JDX3R1M6Q7Y8ZK2W4V5T6S7H",
    "product_id": "prd_1688_672318455",
    "sku_id": "prd_1688_672318455-white-l",
    "title": "Women's linen shirt, loose fit",
    "props": {"colour": "white", "size": "L"},
    "quantity": 2,
    "unit_price_fen": 3900,
    "added_unit_price_fen": 3900,
    "price_changed": False,
    "stock": 120,
    "remark": "white, size L",
    "available": True,
    "added_at": "2026-11-29T01:58:00Z",
}


class CartLine(Out):
    """A line of the cart, priced from the catalog now (`available` false: the SKU is gone)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CART_LINE]})

    cart_item_id: str
    product_id: str
    sku_id: str
    title: str | None = Field(description="Null when the product is no longer available.")
    props: dict[str, str]
    quantity: int
    unit_price_fen: Fen | None = Field(description="Today's price; null when the SKU is no longer available.")
    added_unit_price_fen: Fen | None = Field(
        description="The price when the line was added (or last accepted with `accept_price`): the cart's "
        "snapshot, against which an order re-prices; null for lines added before snapshots existed."
    )
    price_changed: bool = Field(description="Today's price differs from the snapshot.")
    stock: int = Field(description="Units the shop has now (0 when the SKU is gone).")
    remark: str | None
    available: bool
    added_at: Timestamp

    @classmethod
    def of(cls, line: orders.PricedCartItem) -> Self:
        cart_item, product, sku = line.cart_item, line.product, line.sku
        current = line.unit_price_fen
        snapshot = orders.snapshot_price_fen(cart_item)
        return cls.build(
            cart_item_id=cart_item.cart_item_id,
            product_id=cart_item.product_id,
            sku_id=cart_item.sku_id,
            title=product["title"] if product else None,
            props=dict(sku["props"]) if sku else {},
            quantity=int(cart_item.quantity),
            unit_price_fen=current,  # the source's price now
            added_unit_price_fen=snapshot,  # the price when added (or last accepted)
            price_changed=current is not None and snapshot is not None and current != snapshot,
            stock=int(sku.get("stock") or 0) if sku else 0,
            remark=cart_item.remark,
            available=line.available,
            added_at=cart_item.added_at,
        )


class Cart(Out):
    """The caller's cart; `subtotal_fen` sums the available lines."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_CART_LINE], "subtotal_fen": 7800}]})

    items: list[CartLine]
    subtotal_fen: Fen

    @classmethod
    def of(cls, lines: list[orders.PricedCartItem]) -> Self:
        subtotal = sum(line.unit_price_fen * int(line.cart_item.quantity) for line in lines if line.available)
        return cls.build(items=[CartLine.of(line) for line in lines], subtotal_fen=subtotal)


class OrderCharges(Out):
    """What the order costs: goods, domestic shipping (once per shop) and the channel's bank fee."""

    product_fen: Fen
    domestic_shipping_fen: Fen
    bank_fee_fen: Fen
    total_fen: Fen

    @classmethod
    def of(cls, charges: Any) -> Self:
        """The charges of an order (or a quote's `rules.charges.OrderCharges`)."""
        return cls.build(
            product_fen=int(charges.product_fen),
            domestic_shipping_fen=int(charges.domestic_shipping_fen),
            bank_fee_fen=int(charges.bank_fee_fen),
            total_fen=int(charges.total_fen),
        )


class OrderEstimates(Out):
    """How long the steps before our warehouse usually take."""

    review: str
    merchant_ships_in_days: str
    domestic_transit_days: str


_CHARGES = {"product_fen": 7800, "domestic_shipping_fen": 800, "bank_fee_fen": 0, "total_fen": 8600}
_ESTIMATES = {
    "review": "within 1-3 working hours of payment (Asia/Shanghai, 09:00-18:00)",
    "merchant_ships_in_days": "1-4",
    "domestic_transit_days": "3-5",
}


class QuotePriceChange(Out):
    """A cart line whose price moved since it was added, within REPRICE_TOLERANCE_PERCENT: it is charged
    at the new price (a larger move is a 409 `price_changed` instead)."""

    cart_item_id: str | None
    product_id: str
    sku_id: str
    snapshot_unit_price_fen: Fen
    unit_price_fen: Fen = Field(description="The price charged.")
    change_fen: int = Field(description="unit_price_fen - snapshot_unit_price_fen (negative: cheaper).")


class OrderPriceChange(Out):
    """An order line that was re-priced at creation, within the tolerance: the cart's snapshot against
    the price charged."""

    item_id: str
    product_id: str
    sku_id: str
    snapshot_unit_price_fen: Fen
    unit_price_fen: Fen = Field(description="The price charged.")
    change_fen: int = Field(description="unit_price_fen - snapshot_unit_price_fen (negative: cheaper).")


class OrderQuote(Out):
    """Exact charges for the given lines on a payment channel (nothing is created)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "charges": _CHARGES,
                    "payment_channel": "balance",
                    "price_changes": [],
                    "estimates": _ESTIMATES,
                }
            ]
        }
    )

    charges: OrderCharges
    payment_channel: str
    price_changes: list[QuotePriceChange] = Field(description="Lines re-priced within the tolerance.")
    estimates: OrderEstimates

    @classmethod
    def of(cls, quote: orders.Quote) -> Self:
        return cls.build(
            charges=OrderCharges.of(quote.charges),
            payment_channel=quote.channel.channel,
            price_changes=quote.price_changes,
            estimates=orders.ESTIMATES,
        )


class _OrderFields(Out):
    """What every view of an order shows."""

    order_id: str
    status: OrderStatus
    payment_channel: str
    charges: OrderCharges
    paid_fen: Fen
    refunded_fen: Fen
    created_at: Timestamp
    paid_at: Timestamp | None
    review_due_at: Timestamp | None = Field(
        description="When staff review is due (working hours after payment)."
    )
    reject_reason: str | None
    refund_excludes_fen: Fen = Field(description="The bank fee, which a refund does not return.")
    refund_policy: str
    payment: Payment | None = Field(
        description="The external payment to complete, while an order on a provider channel awaits payment."
    )
    estimates: OrderEstimates
    price_changes: list[OrderPriceChange] = Field(
        description="Lines re-priced at creation within the tolerance (empty when nothing moved)."
    )
    fx_snapshot: FxSnapshot | None = Field(
        default=None, description="The customer's currency at the time (null: paid in CNY only)."
    )

    @classmethod
    def of(
        cls,
        order: commerce.Order,
        lines: list[commerce.Item],
        payment: commerce.Payment | None = None,
        **extra,
    ) -> Self:
        """What every view of `order` shows; its item `lines` only for their price changes (an OrderDetail
        lists them); `extra`: the fields a subclass adds."""
        return cls.build(
            order_id=order.order_id,
            status=order.status,
            payment_channel=order.payment_channel,
            charges=OrderCharges.of(order),
            paid_fen=int(order.paid_fen or 0),
            refunded_fen=int(order.refunded_fen or 0),
            created_at=order.created_at,
            paid_at=order.paid_at,
            review_due_at=order.review_due_at,
            reject_reason=order.reject_reason,
            refund_excludes_fen=int(order.bank_fee_fen),
            refund_policy=orders.REFUND_POLICY,
            payment=Payment.of(payment) if payment else None,
            fx_snapshot=FxSnapshot.of(
                order.fx,
                total_fen=int(order.total_fen),
                paid_fen=int(order.paid_fen or 0),
                refunded_fen=int(order.refunded_fen or 0),
            ),
            estimates=orders.ESTIMATES,
            # cart lines re-priced at creation within the tolerance: the cart's snapshot vs what was charged
            price_changes=[
                {
                    "item_id": i.item_id,
                    "product_id": i.product_id,
                    "sku_id": i.sku_id,
                    "snapshot_unit_price_fen": int(i.snapshot_unit_price_fen),
                    "unit_price_fen": int(i.unit_price_fen),
                    "change_fen": int(i.unit_price_fen) - int(i.snapshot_unit_price_fen),
                }
                for i in lines
                if i.snapshot_unit_price_fen is not None
                and int(i.snapshot_unit_price_fen) != int(i.unit_price_fen)
            ],
            **extra,
        )


def _overdue(order: commerce.Order, now: str) -> bool:
    """Still pending review after its review_due_at."""
    return bool(
        order.status == OrderStatus.PENDING_REVIEW and order.review_due_at and order.review_due_at < now
    )


_ORDER = {
    "order_id": "ord_01JDX3R1M6Q7Y8ZK2W4V5T6S7B",
    "status": OrderStatus.APPROVED.value,
    "payment_channel": "balance",
    "charges": _CHARGES,
    "paid_fen": 8600,
    "refunded_fen": 0,
    "created_at": "2026-11-29T02:14:00Z",
    "paid_at": "2026-11-29T02:15:00Z",
    "review_due_at": "2026-11-29T05:15:00Z",
    "reject_reason": None,
    "refund_excludes_fen": 0,
    "refund_policy": "Cancelling or rejecting an order refunds its goods and domestic shipping to the "
    "wallet; the payment channel's bank fee (refund_excludes_fen) was kept by the provider "
    "and is not refunded.",
    "payment": None,
    "estimates": _ESTIMATES,
    "price_changes": [],
}
_ORDER_ITEM = {
    **_EXAMPLE_ITEM,
    "status": ItemStatus.PURCHASING.value,
    "purchase": None,
    "domestic_shipment": None,
    "paid_fen": 7800,
    "refunded_fen": 0,
    "inspection": None,
    "photos": [],
    "weight_g": None,
    "dims_cm": None,
    "storage": None,
    "parcel_id": None,
    "received_at": None,
}


class OrderDetail(_OrderFields):
    """A procurement order with its items and charges."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_ORDER, "items": [_ORDER_ITEM]}]})

    items: list[Item]

    @classmethod
    def of(
        cls,
        order: commerce.Order,
        lines: list[commerce.Item],
        payment: commerce.Payment | None = None,
        **extra,
    ) -> Self:
        return super().of(order, lines, payment, items=[Item.of(i) for i in lines], **extra)

    @classmethod
    def of_result(cls, result: orders.OrderResult) -> Self:
        """What an order route committed (or read): the order, its items and any payment to complete."""
        return cls.of(result.order, result.items, result.payment)


class OrderPage(Out):
    """A page of the caller's orders, newest first; `next_cursor` continues it (null: the last page)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [{**_ORDER, "items": [_ORDER_ITEM]}], "next_cursor": None}]}
    )

    items: list[OrderDetail]
    next_cursor: str | None

    @classmethod
    def of(cls, results: list[orders.OrderResult], next_cursor: str | None) -> Self:
        return cls.build(items=[OrderDetail.of_result(r) for r in results], next_cursor=next_cursor)


_STAFF = {"user_id": "user-alice", "overdue": False}


class StaffOrderDetail(OrderDetail):
    """Any order as the review console shows it: with its owner and whether its review is overdue."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_ORDER,
                    "items": [_ORDER_ITEM],
                    **_STAFF,
                    "customer_email": "alice@example.com",
                    "refund_if_rejected_fen": 8600,
                }
            ]
        }
    )

    user_id: str = Field(description="The owner's id (Cognito sub).")
    customer_email: str | None = Field(description="The owner's email address (null: the account is gone).")
    refund_if_rejected_fen: int = Field(
        description="What rejecting (or cancelling) the order now returns to the wallet: what was paid, less "
        "the bank fee an external channel kept and what was already refunded."
    )
    overdue: bool = Field(description="Still pending review after review_due_at.")

    @classmethod
    def of_result(cls, result: orders.StaffOrderResult) -> Self:
        order = result.order
        return cls.of(
            order,
            result.items,
            user_id=order.user_id,
            customer_email=result.customer_email,
            refund_if_rejected_fen=result.refund_if_rejected_fen,
            overdue=_overdue(order, clock.now_iso()),
        )


class ReviewQueueOrder(_OrderFields):
    """An order in a staff queue: its charges and deadline, and how many items it has."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**_ORDER, "status": OrderStatus.PENDING_REVIEW.value, "item_count": 1, **_STAFF}]
        }
    )

    item_count: int
    user_id: str = Field(description="The owner's id (Cognito sub).")
    overdue: bool = Field(description="Still pending review after review_due_at.")

    @classmethod
    def of_queued(cls, order: commerce.Order, now: str) -> Self:
        return cls.of(
            order, [], item_count=len(order.item_ids), user_id=order.user_id, overdue=_overdue(order, now)
        )


class ReviewQueuePage(Out):
    """A page of orders waiting for staff, oldest review_due_at first (null `next_cursor`: the last page)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {**_ORDER, "status": OrderStatus.PENDING_REVIEW.value, "item_count": 1, **_STAFF}
                    ],
                    "next_cursor": "eyJrIjoiLi4uIn0",
                }
            ]
        }
    )

    items: list[ReviewQueueOrder]
    next_cursor: str | None

    @classmethod
    def of(cls, queued: list[commerce.Order], next_cursor: str | None) -> Self:
        now = clock.now_iso()
        return cls.build(items=[ReviewQueueOrder.of_queued(o, now) for o in queued], next_cursor=next_cursor)
