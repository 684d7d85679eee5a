"""Carts and procurement orders (seed steps 2-3): quote, create, pay, cancel; prices snapshotted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from chalicelib import clock, config, currency, db, ids, lifecycle, metrics, refunds, uow
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.items import with_account
from chalicelib.lifecycle import ItemStatus, OrderStatus
from chalicelib.logs import get_logger
from chalicelib.models.commerce import CartItem, Item, Order, Payment
from chalicelib.rules.calendar import add_working_hours

if TYPE_CHECKING:  # imported where used: a wallet payment needs neither the channels nor the providers
    from chalicelib.rules import charges as charge_rules

log = get_logger("orders")

MAX_ITEMS_PER_ORDER = 40  # one DynamoDB transaction holds the order, its items and the cart removals
REVIEW_WORKING_HOURS = 3
ESTIMATES = {
    "review": "within 1-3 working hours of payment (Asia/Shanghai, 09:00-18:00)",
    "merchant_ships_in_days": "1-4",
    "domestic_transit_days": "3-5",
}
CANCELLABLE = lifecycle.ORDER.sources("cancel")
REFUND_POLICY = (
    "Cancelling or rejecting an order refunds its goods and domestic shipping to the wallet; the payment "
    "channel's bank fee (refund_excludes_fen) was kept by the provider and is not refunded."
)


@dataclass
class OrderResult:
    """An order as a route committed (or read) it: the order, its items, and the external payment to
    complete while one is pending. The view (responses/orders.py) turns it into JSON."""

    order: Order
    items: list[Item]
    payment: Payment | None = None


@dataclass
class StaffOrderResult(OrderResult):
    """An order as the review console reads it: also its owner's email and what rejecting it now refunds."""

    customer_email: str | None = None
    refund_if_rejected_fen: int = 0


@dataclass
class PricedCartItem:
    """A cart line with its product and SKU as the catalog has them now (None: no longer sold)."""

    cart_item: CartItem
    product: dict | None
    sku: dict | None

    @property
    def available(self) -> bool:
        return bool(self.product and self.sku)

    @property
    def unit_price_fen(self) -> int | None:
        """The source's price now."""
        return int(self.sku["price_fen"]) if self.sku else None


@dataclass
class Quote:
    """Exact charges for some lines on a channel, and the lines re-priced within the tolerance."""

    charges: charge_rules.OrderCharges
    channel: charge_rules.Channel
    price_changes: list[dict]


# --- catalog lookups -----------------------------------------------------------------------


def catalog_details(product_ids, current: bool = False) -> dict[str, dict]:
    """Product details by id for every known product among `product_ids`, in one batched lookup;
    `current`: as the marketplace has them now (sources with a cache re-read it, docs/sources.md)."""
    from chalicelib.catalog.configured import get_source

    wanted = [p for p in dict.fromkeys(product_ids) if isinstance(p, str)]
    if not wanted:
        return {}
    source = get_source()
    read = getattr(source, "get_current", None) if current else None
    return {p.product_id: p.detail() for p in (read or source.get_many)(wanted)}


def sku_of(details: dict[str, dict], product_id: str, sku_id: str) -> tuple[dict, dict]:
    """The product detail and SKU, or 400: clients may only order what the catalog sells."""
    product = details.get(product_id)
    if product is None:
        raise ValidationError(f"Unknown product {product_id!r}.")
    sku = next((s for s in product["skus"] if s["sku_id"] == sku_id), None)
    if sku is None:
        raise ValidationError(f"Product {product_id!r} has no SKU {sku_id!r}.")
    return product, sku


def product_and_sku(product_id: str, sku_id: str) -> tuple[dict, dict]:
    return sku_of(catalog_details([product_id]), product_id, sku_id)


def check_quantity(product: dict, sku: dict, quantity: int) -> None:
    if quantity < 1:
        raise ValidationError("quantity must be at least 1.")
    if quantity < int(product.get("min_quantity") or 1):
        raise ValidationError(f"This product sells at least {product['min_quantity']} per order.")
    if quantity > int(sku.get("stock") or 0):
        raise ValidationError(f"Only {sku.get('stock', 0)} in stock for this SKU.")


# --- cart ----------------------------------------------------------------------------------


def priced(cart_item: CartItem, details: dict[str, dict] | None = None) -> PricedCartItem:
    """The cart line priced from the catalog now (`details` from catalog_details, or looked up)."""
    if details is None:
        details = catalog_details([cart_item.product_id])
    try:
        product, sku = sku_of(details, cart_item.product_id, cart_item.sku_id)
    except ValidationError:
        product, sku = None, None
    return PricedCartItem(cart_item, product, sku)


def snapshot_price_fen(cart_item: CartItem) -> int | None:
    """The price when the line was added (or last accepted)."""
    return int(cart_item.unit_price_fen) if cart_item.unit_price_fen is not None else None


def get_cart(user_id: str) -> list[PricedCartItem]:
    cart = list(CartItem.query(user_id))
    details = catalog_details(c.product_id for c in cart)
    return [priced(c, details) for c in cart]


def add_to_cart(
    user_id: str, product_id: str, sku_id: str, quantity: int, remark: str | None
) -> PricedCartItem:
    details = catalog_details([product_id])  # read once: the answer is priced from it too
    product, sku = sku_of(details, product_id, sku_id)
    check_quantity(product, sku, quantity)
    same = next(
        (c for c in CartItem.query(user_id) if c.product_id == product_id and c.sku_id == sku_id), None
    )
    if same is not None:
        return _merge_into(same, product, sku, quantity, remark, details)
    cart_item = CartItem(
        user_id,
        ids.new_id("cart"),
        product_id=product_id,
        sku_id=sku_id,
        quantity=quantity,
        remark=remark,
        added_at=clock.now_iso(),
        unit_price_fen=int(sku["price_fen"]),
    )
    cart_item.save()
    return priced(cart_item, details)


def _merge_into(
    cart_item: CartItem, product: dict, sku: dict, quantity: int, remark: str | None, details: dict
) -> PricedCartItem:
    """The same SKU added again adds to its line (stock-checked on the sum); the condition on the old
    quantity makes two racing adds both count or one retry."""
    total = int(cart_item.quantity) + quantity
    check_quantity(product, sku, total)
    actions = [CartItem.quantity.set(total)]
    if remark is not None:
        actions.append(CartItem.remark.set(remark))
    db.update_or_conflict(
        cart_item,
        actions,
        CartItem.quantity == int(cart_item.quantity),
        "This cart line changed meanwhile; add again.",
    )
    return priced(cart_item, details)


def own_cart_item(user_id: str, cart_item_id: str) -> CartItem:
    try:
        return CartItem.get(user_id, cart_item_id)
    except CartItem.DoesNotExist:
        raise NotFound("No such cart item.") from None


def update_cart_item(
    user_id: str, cart_item_id: str, quantity: int | None, remark: str | None, accept_price: bool = False
) -> PricedCartItem:
    """Change quantity and/or remark; `accept_price` takes the source's current price as the snapshot
    (what the storefront sends after the customer agreed to a 409 price_changed)."""
    cart_item = own_cart_item(user_id, cart_item_id)
    actions = []
    if quantity is not None or accept_price:
        product, sku = product_and_sku(cart_item.product_id, cart_item.sku_id)
        if quantity is not None:
            check_quantity(product, sku, quantity)
            actions.append(CartItem.quantity.set(quantity))
            cart_item.quantity = quantity
        if accept_price:
            actions.append(CartItem.unit_price_fen.set(int(sku["price_fen"])))
            cart_item.unit_price_fen = int(sku["price_fen"])
    if remark is not None:
        actions.append(CartItem.remark.set(remark))
        cart_item.remark = remark
    if actions:
        cart_item.update(actions=actions, condition=CartItem.cart_item_id.exists())
    return priced(cart_item)


def remove_cart_item(user_id: str, cart_item_id: str) -> None:
    own_cart_item(user_id, cart_item_id).delete()


# --- quote and create ----------------------------------------------------------------------


def _channel(name: str) -> charge_rules.Channel:
    from chalicelib.rules import charges as charge_rules

    channel = charge_rules.channels().get(name)
    if channel is None:
        known = ", ".join(charge_rules.channels())
        raise ValidationError(f"Unknown payment_channel {name!r}; one of: {known}.")
    return channel


def _lines(user_id: str, cart_item_ids: list[str] | None, direct: list[dict] | None) -> list[dict]:
    """Priced lines from the caller's cart items or direct items: catalog prices, never the client's."""
    if bool(cart_item_ids) == bool(direct):
        raise ValidationError("Send either cart_item_ids or items (a non-empty list), not both.")
    requested = []
    if cart_item_ids:
        if len(set(cart_item_ids)) != len(cart_item_ids):
            raise ValidationError("cart_item_ids has duplicates.")
        found = {c.cart_item_id: c for c in CartItem.batch_get([(user_id, i) for i in cart_item_ids])}
        missing = [i for i in cart_item_ids if i not in found]
        if missing:
            raise NotFound("No such cart item.")
        requested = [
            {
                "product_id": c.product_id,
                "sku_id": c.sku_id,
                "quantity": int(c.quantity),
                "remark": c.remark,
                "cart_item_id": c.cart_item_id,
                "snapshot_price_fen": snapshot_price_fen(c),
            }
            for c in (found[i] for i in cart_item_ids)
        ]
    else:
        requested = [dict(d, cart_item_id=None, snapshot_price_fen=None) for d in direct or []]
    if len(requested) > MAX_ITEMS_PER_ORDER:
        raise ValidationError(f"An order holds at most {MAX_ITEMS_PER_ORDER} lines.")
    details = catalog_details((r["product_id"] for r in requested), current=True)
    lines, short, moved = [], [], []
    for r in requested:
        if r["cart_item_id"] and _gone(details, r):
            short.append(_line_ref(r) | {"quantity": r["quantity"], "stock": 0, "available": False})
            continue
        product, sku = sku_of(details, r["product_id"], r["sku_id"])
        stock = int(sku.get("stock") or 0)
        if r["quantity"] > stock:
            short.append(_line_ref(r) | {"quantity": r["quantity"], "stock": stock, "available": stock > 0})
            continue
        check_quantity(product, sku, r["quantity"])
        line = {**r, "product": product, "sku": sku}
        change = price_change(r["snapshot_price_fen"], int(sku["price_fen"]))
        if change is not None and not within_tolerance(r["snapshot_price_fen"], int(sku["price_fen"])):
            moved.append(_line_ref(r) | change)
        lines.append(line)
    if short:
        raise Conflict(
            "Some lines are out of stock (or no longer sold) for the quantity asked; "
            "change the quantity or remove them.",
            code="out_of_stock",
            details=short,
        )
    if moved:
        raise Conflict(
            f"Prices changed by more than {tolerance_percent()}% since these items were put in the cart; "
            "confirm the new prices (PATCH /cart/items/{id} with accept_price) and order again.",
            code="price_changed",
            details=moved,
        )
    return lines


def _gone(details: dict[str, dict], requested: dict) -> bool:
    """A cart line whose product or SKU the source no longer sells (delisted since it was added)."""
    product = details.get(requested["product_id"])
    return product is None or not any(s["sku_id"] == requested["sku_id"] for s in product["skus"])


def _line_ref(requested: dict) -> dict:
    return {
        "cart_item_id": requested["cart_item_id"],
        "product_id": requested["product_id"],
        "sku_id": requested["sku_id"],
    }


def tolerance_percent() -> Decimal:
    return config.get_decimal("REPRICE_TOLERANCE_PERCENT")


def within_tolerance(snapshot_fen: int, current_fen: int) -> bool:
    """A re-priced line is accepted when it moved by at most REPRICE_TOLERANCE_PERCENT of its snapshot."""
    return abs(current_fen - snapshot_fen) * 100 <= tolerance_percent() * snapshot_fen


def price_change(snapshot_fen: int | None, current_fen: int) -> dict | None:
    """The snapshot vs current price of a cart line, or None when it did not move (or has no snapshot)."""
    if snapshot_fen is None or snapshot_fen == current_fen:
        return None
    return {
        "snapshot_unit_price_fen": snapshot_fen,
        "unit_price_fen": current_fen,
        "change_fen": current_fen - snapshot_fen,
    }


def _accepted_changes(lines: list[dict]) -> list[dict]:
    """The cart lines re-priced within the tolerance: charged at the new price, shown with the old."""
    changes = []
    for line in lines:
        change = price_change(line["snapshot_price_fen"], int(line["sku"]["price_fen"]))
        if change is not None:
            changes.append(_line_ref(line) | change)
    return changes


def _charge_lines(lines: list[dict]) -> list[charge_rules.Line]:
    from chalicelib.rules import charges as charge_rules

    return [
        charge_rules.Line(
            unit_price_fen=int(line["sku"]["price_fen"]),
            quantity=int(line["quantity"]),
            shop_id=line["product"]["shop"]["shop_id"],
            shop_shipping_fen=int(line["product"]["domestic_shipping_fen"]),
        )
        for line in lines
    ]


def _charges(lines: list[dict], channel: charge_rules.Channel) -> charge_rules.OrderCharges:
    from chalicelib.rules import charges as charge_rules

    return charge_rules.order_charges(_charge_lines(lines), channel)


def quote(user_id: str, cart_item_ids, direct, channel_name: str) -> Quote:
    channel = _channel(channel_name)
    lines = _lines(user_id, cart_item_ids, direct)
    return Quote(_charges(lines, channel), channel, _accepted_changes(lines))


def create(user_id: str, cart_item_ids, direct, channel_name: str) -> OrderResult:
    from chalicelib.rules import charges as charge_rules

    channel = _channel(channel_name)
    lines = _lines(user_id, cart_item_ids, direct)
    charges = _charges(lines, channel)
    now = clock.now_iso()
    order_id = ids.new_id("ord")
    items = []
    for line in lines:
        product, sku = line["product"], line["sku"]
        items.append(
            Item(
                ids.new_id("itm"),
                user_id=user_id,
                order_id=order_id,
                product_id=product["product_id"],
                sku_id=sku["sku_id"],
                shop_id=product["shop"]["shop_id"],
                title=product["title"],
                props=dict(sku.get("props") or {}),
                quantity=int(line["quantity"]),
                unit_price_fen=int(sku["price_fen"]),
                snapshot_unit_price_fen=line["snapshot_price_fen"],
                remark=line.get("remark"),
                attributes={
                    "category": product.get("category"),
                    "transport_flags": list(product.get("attributes") or []),
                    "weight_g_estimate": int(product.get("weight_g") or 0),
                },
                created_at=now,
            )
        )
    fx = currency.snapshot()
    for item in items:
        item.fx = fx
        lifecycle.ITEM.start(item, ItemStatus.PENDING_PAYMENT, now=now)
    order = Order(
        order_id,
        user_id=user_id,
        payment_channel=channel.channel,
        product_fen=charges.product_fen,
        domestic_shipping_fen=charges.domestic_shipping_fen,
        bank_fee_fen=charges.bank_fee_fen,
        total_fen=charges.total_fen,
        item_ids=[i.item_id for i in items],
        created_at=now,
        fx=fx,
        shipping_by_shop={
            shop: {"paid_fen": fee, "refunded_fen": 0}
            for shop, fee in charge_rules.shipping_by_shop(_charge_lines(lines)).items()
        },
    )
    lifecycle.ORDER.start(order, OrderStatus.PENDING_PAYMENT, now=now)
    work = uow.Unit(result=order)
    work.save(order, Order.order_id.does_not_exist())
    for item in items:
        work.save(item, Item.item_id.does_not_exist())
    for line in lines:
        if line["cart_item_id"]:
            work.delete(CartItem(user_id, line["cart_item_id"]), CartItem.cart_item_id.exists())
    # a lost race here is another order taking the same cart item (or its removal): not worth re-running
    uow.run(
        lambda: work,
        retry=False,
        conflict="A cart item in this order was ordered or removed by another request meanwhile; "
        "reload the cart.",
    )
    log.info("order created", extra={"order_id": order_id, "total_fen": charges.total_fen})
    metrics.count("OrdersCreated")
    return OrderResult(order, items)


# --- reading -------------------------------------------------------------------------------


def order_items(order: Order) -> list[Item]:
    found = {i.item_id: i for i in Item.batch_get(list(order.item_ids))}
    return [found[i] for i in order.item_ids if i in found]


def own_order(user_id: str, order_id: str, consistent: bool = False) -> Order:
    try:
        order = Order.get(order_id, consistent_read=consistent)
    except Order.DoesNotExist:
        raise NotFound("No such order.") from None
    if order.user_id != user_id:
        raise NotFound("No such order.")
    return order


def read_order(user_id: str, order_id: str) -> OrderResult:
    """One of the caller's orders with its items, and its external payment while it awaits payment."""
    order = own_order(user_id, order_id)
    payment = None
    if order.payment_id and order.status == OrderStatus.PENDING_PAYMENT:
        payment = Payment.get(order.payment_id)
    return OrderResult(order, order_items(order), payment)


def list_orders(user_id: str, limit: int, cursor: dict | None) -> tuple[list[OrderResult], dict | None]:
    result = Order.by_user.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=cursor)
    orders = list(result)
    wanted = [i for o in orders for i in o.item_ids]
    found = {}
    for start in range(0, len(wanted), 100):
        found.update({i.item_id: i for i in Item.batch_get(wanted[start : start + 100])})
    page = [OrderResult(o, [found[i] for i in o.item_ids if i in found]) for o in orders]
    return page, result.last_evaluated_key


# --- paying --------------------------------------------------------------------------------


def move_items(
    work: uow.Unit,
    items: list[Item],
    action: str,
    now: str,
    source: str | None = None,
    extra: Callable[[Item], list] | None = None,
) -> None:
    """Within `work`: each item moved by `action` (from exactly `source` when given), plus
    `extra(item)`'s actions (a refund's share of the item); the items are updated in memory."""
    for item in items:
        # `extra` reads the item as stored (what may still be refunded), so before the move
        also = extra(item) if extra else []
        if action == "pay":
            # an item enters review exactly when its order is paid: its goods are paid for (refund cap)
            also.append(Item.paid_fen.set(refunds.goods_fen(item)))
            item.paid_fen = refunds.goods_fen(item)
        work.update(item, *lifecycle.ITEM.move(item, action, now=now, source=source, also=also))


def _to_review(work: uow.Unit, order: Order, items: list[Item], paid_fen: int) -> None:
    """Within `work`: the paid order (and its items) onto the review queue, due in working hours.
    `order` and `items` are updated in memory to what is committed, so the answer needs no re-read."""
    now = clock.now()
    due = clock.iso(add_working_hours(now, REVIEW_WORKING_HOURS))
    also = [Order.paid_fen.set(paid_fen), Order.review_due_at.set(due)]
    work.update(order, *lifecycle.ORDER.move(order, "pay", now=clock.iso(now), queue_at=due, also=also))
    order.paid_fen, order.review_due_at = paid_fen, due
    move_items(work, items, "pay", clock.iso(now))


def pay(user_id: str, order_id: str) -> OrderResult:
    """Balance: debit the total and queue the order for review. External channel: a payment to complete.

    Balance: three DynamoDB requests (the order; its items and the wallet account in one batch; the
    transaction), answered from what was committed."""
    first = [own_order(user_id, order_id, consistent=True)]
    if first[0].payment_channel != "balance":
        return _pay_external(first[0])

    def unit() -> uow.Unit:
        current = first.pop() if first else own_order(user_id, order_id, consistent=True)
        lifecycle.ORDER.require("pay", current.status)
        items, _, work = with_account(user_id, current.item_ids)
        work.move(
            user_id, -int(current.total_fen), "order_payment", current.order_id, currency.stored(current.fx)
        )
        _to_review(work, current, items, int(current.total_fen))
        work.result = OrderResult(current, items)
        return work

    paid = uow.run(unit)
    log.info("order paid from balance", extra={"order_id": order_id})
    return paid


def _pay_external(order: Order) -> OrderResult:
    """The payment the provider must collect for this order (created once; later calls return it)."""
    lifecycle.ORDER.require("pay", order.status)
    if order.payment_id:
        return OrderResult(order, order_items(order), Payment.get(order.payment_id))
    from chalicelib import payments  # imported here: its providers are for external channels only

    channel = _channel(order.payment_channel)
    payment = payments.new_payment(
        order.user_id,
        "order",
        channel,
        int(order.total_fen) - int(order.bank_fee_fen),
        int(order.bank_fee_fen),
        order_id=order.order_id,
    )
    work = uow.Unit()
    work.save(payment, Payment.payment_id.does_not_exist())
    work.update(
        order,
        [Order.payment_id.set(payment.payment_id)],
        Order.payment_id.does_not_exist() & lifecycle.ORDER.condition(Order.status, "pay"),
    )
    order.payment_id = payment.payment_id
    work.result = OrderResult(order, order_items(order), payment)  # the answer, recorded with the commit
    return uow.run(
        lambda: work,
        retry=False,
        conflict="Another request started this order's payment (or changed the order) meanwhile; "
        "GET the order to see its payment.",
    )


def settle_external_payment(work: uow.Unit, payment: Payment) -> None:
    """Within the webhook's unit: the collected money pays the order. An order no longer payable (cancelled
    meanwhile) leaves the money in the wallet, less the channel's bank fee the provider kept
    (REFUND_POLICY)."""
    try:
        order = Order.get(payment.order_id, consistent_read=True)
    except Order.DoesNotExist:
        return
    if not lifecycle.ORDER.allows("pay", order.status):
        log.warning("order no longer payable; money stays in the wallet", extra={"order_id": order.order_id})
        work.move(order.user_id, -int(payment.fee_fen), "payment_channel_fee", payment.payment_id)
        return
    items = order_items(order)
    work.move(
        order.user_id, -int(order.total_fen), "order_payment", order.order_id, currency.stored(order.fx)
    )
    _to_review(work, order, items, int(order.total_fen))


# --- cancelling ----------------------------------------------------------------------------


def refund_due_fen(order: Order) -> int:
    """What cancelling or rejecting the order returns to the wallet: what was paid for it, less the
    channel's bank fee (the provider kept it: REFUND_POLICY) and what was already refunded."""
    paid = int(order.paid_fen or 0)
    if paid <= 0:
        return 0
    return max(0, paid - int(order.bank_fee_fen or 0) - int(order.refunded_fen or 0))


def refund_item(item: Item) -> list:
    """An item's share of an order refund: whatever may still be refunded for it (move_items `extra`);
    `item` is updated in memory to what the write commits."""
    amount = refunds.refundable_fen(item)
    actions = refunds.refund_actions(item, amount)
    item.refunded_fen = refunds.refunded_fen(item) + amount
    return actions


def cancel(user_id: str, order_id: str) -> OrderResult:
    """Allowed until the first item is purchased; what was paid goes back to the wallet (REFUND_POLICY).

    Three DynamoDB requests: the order; its items and the wallet account in one batch; the transaction."""
    first = [own_order(user_id, order_id, consistent=True)]

    def unit() -> uow.Unit:
        order = first.pop() if first else own_order(user_id, order_id, consistent=True)
        if order.status not in CANCELLABLE:
            raise Conflict(f"The order is {order.status} and can no longer be cancelled.")
        items, _, work = with_account(user_id, order.item_ids)
        waiting = {  # where an order's items wait while the order is in each cancellable status
            OrderStatus.PENDING_PAYMENT: ItemStatus.PENDING_PAYMENT,
            OrderStatus.PENDING_REVIEW: ItemStatus.PENDING_REVIEW,
            OrderStatus.APPROVED: ItemStatus.PURCHASING,
        }[order.status]
        # items already cancelled one by one (unavailable, declined) were refunded then and stay as they are
        live = [i for i in items if i.status != ItemStatus.CANCELLED]
        if any(i.status != waiting or i.purchase for i in live):
            raise Conflict("Some items are already purchased; open an after-sales case instead.")
        refund = refund_due_fen(order)
        work.move(user_id, refund, "order_refund", order.order_id, currency.stored(order.fx))
        now = clock.now_iso()
        refunded = int(order.refunded_fen or 0) + refund
        also = [Order.refunded_fen.set(refunded)]
        work.update(order, *lifecycle.ORDER.move(order, "cancel", now=now, source=order.status, also=also))
        order.refunded_fen = refunded
        move_items(work, live, "cancel", now, source=waiting, extra=refund_item)
        work.result = OrderResult(order, items)
        return work

    return uow.run(unit)
