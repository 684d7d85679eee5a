"""Property: whatever happens, the wallet equals the sum of its ledger, never goes negative, and no fen
is created or lost (the test keeps its own books and compares after every step)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import clock, errors, ids, orders, payments, purchasing, wallet
from chalicelib.catalog.configured import set_source
from chalicelib.models.commerce import LedgerEntry, Order
from tests.integration.conftest import FakeSource, _products

ops = st.lists(
    st.one_of(
        st.tuples(st.just("top_up"), st.integers(100, 30000)),
        st.tuples(st.just("order"), st.integers(2, 6)),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
        st.tuples(st.just("reject"), st.integers(0, 5)),
        st.tuples(st.just("purchase"), st.integers(0, 5), st.integers(-2500, 4000)),
        st.tuples(st.just("pay_difference"), st.integers(0, 5)),
    ),
    min_size=1,
    max_size=12,
)


def _top_up(user_id: str, amount: int) -> None:
    from chalicelib.rules.charges import channels

    payment = payments.create_top_up(user_id, amount, channels()["alipay"])
    body = json.dumps(
        {
            "id": ids.new_id("evt"),
            "type": "payment.succeeded",
            "data": {"payment_id": payment.payment_id, "amount_fen": int(payment.charge_fen)},
        }
    ).encode()
    import os

    signature = payments.sign(body, os.environ["PAYMENT_WEBHOOK_SECRET"], int(clock.now().timestamp()))
    payments.handle_webhook(signature, body, settle_order=orders.settle_external_payment)
    payments.handle_webhook(signature, body, settle_order=orders.settle_external_payment)  # a retry: once


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops)
def test_ledger_balance_and_conservation(stack, steps):
    set_source(FakeSource(_products()))
    try:
        user_id = ids.new_id("usr")  # a fresh wallet per example
        expected = 0
        made: list[Order] = []
        for step in steps:
            kind = step[0]
            try:
                if kind == "top_up":
                    _top_up(user_id, step[1])
                    expected += step[1]
                elif kind == "order":
                    order = orders.create(
                        user_id,
                        None,
                        [
                            {
                                "product_id": "prd_socks",
                                "sku_id": "sku_socks",
                                "quantity": step[1],
                                "remark": None,
                            }
                        ],
                        "balance",
                    ).order
                    total = int(order.total_fen)
                    if total <= expected:
                        orders.pay(user_id, order.order_id)
                        expected -= total
                        made.append(order)
                    else:
                        try:
                            orders.pay(user_id, order.order_id)
                            raise AssertionError("paid with a short balance")
                        except errors.InsufficientFunds:
                            pass
                elif kind in ("cancel", "reject", "purchase", "pay_difference") and made:
                    order = made[step[1] % len(made)]
                    current = orders.own_order(user_id, order.order_id, consistent=True)
                    item = orders.order_items(current)[0]
                    if kind == "cancel":
                        refundable = current.status in orders.CANCELLABLE and not item.purchase
                        orders.cancel(user_id, order.order_id)
                        assert refundable
                        expected += int(current.paid_fen)
                    elif kind == "reject":
                        purchasing.reject(order.order_id, "staff", "test")
                        expected += int(current.paid_fen)
                    elif kind == "purchase":
                        if current.status == "pending_review":
                            purchasing.approve(order.order_id, "staff")
                        actual = max(0, int(item.unit_price_fen) + step[2])
                        difference = (actual - int(item.unit_price_fen)) * int(item.quantity)
                        result = purchasing.record_purchase(item.item_id, "staff", "M", actual)
                        if result.status == "purchased":
                            expected -= difference
                    else:
                        due = int(item.price_difference_due_fen or 0)
                        purchasing.pay_price_difference(user_id, item.item_id)
                        expected -= due
            except (errors.Conflict, errors.NotFound):
                pass  # refused transitions move no money; the books below prove it
            balance = wallet.balance_fen(user_id)
            entries = list(LedgerEntry.query(user_id, LedgerEntry.sk.startswith("entry#")))
            assert balance >= 0
            assert balance == sum(int(e.amount_fen) for e in entries)
            assert all(int(e.balance_after_fen) >= 0 for e in entries)
            assert balance == expected, (step, balance, expected)
    finally:
        set_source(None)
