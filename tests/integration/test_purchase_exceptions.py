"""Purchasing exceptions (issue 22, part 1): an approved item the shop cannot supply is cancelled with a
refund through the ledger, its shop's shipping comes back with the shop's last item, the order stays
consistent, the customer is emailed; bad input, replays and lost races change nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import cancellation, clock, purchase_exceptions, purchasing
from chalicelib.jobs import storage_sweep
from chalicelib.models.commerce import Item
from tests.integration.conftest import ALICE, BOB, REVIEWER, WAREHOUSE, sent_emails, top_up

pytestmark = pytest.mark.usefixtures("shop")

TEE = {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2}  # 2 x 2500, shop_a (800)
SOCKS = {"product_id": "prd_socks", "sku_id": "sku_socks", "quantity": 2}  # 2 x 1000, shop_a (600)
BANK = {"product_id": "prd_bank", "sku_id": "sku_bank", "quantity": 1}  # 9900, shop_b (1000)
OUT = {"reason": "out_of_stock", "note": "Sold out this morning."}


def approved(api, *lines, user=ALICE, channel="balance") -> dict:
    """A paid, approved order of `lines`, paid exactly from a topped-up wallet (balance 0 after)."""
    created = api.post("/orders", {"items": list(lines), "payment_channel": channel}, user=user).body
    top_up(api, user, created["charges"]["total_fen"])
    assert api.post(f"/orders/{created['order_id']}/pay", user=user).status == 200
    result = api.post(f"/staff/orders/{created['order_id']}/approve", user=REVIEWER)
    assert result.status == 200, result.body
    return result.body


def balance(api, user=ALICE) -> int:
    return api.get("/wallet", user=user).body["balance_fen"]


def entries(api, user=ALICE) -> list[tuple[str, int]]:
    return [(e["kind"], e["amount_fen"]) for e in api.get("/wallet?limit=100", user=user).body["entries"]]


def unavailable(api, item_id, body=OUT, key=None, user=REVIEWER):
    headers = {"Idempotency-Key": key} if key else None
    return api.post(f"/staff/items/{item_id}/unavailable", body, user=user, headers=headers)


def test_an_unavailable_item_is_cancelled_refunded_with_its_shipping_and_its_order_closes(api):
    order = approved(api, TEE)
    item_id = order["items"][0]["item_id"]
    assert balance(api) == 0
    result = unavailable(api, item_id)
    assert result.status == 200, result.body
    assert result.body["status"] == "cancelled"
    assert result.body["refunded_fen"] == result.body["paid_fen"] == 5000
    marked = result.body["unavailable"]
    assert marked["reason"] == "out_of_stock" and marked["note"] == "Sold out this morning."
    assert (marked["refunded_fen"], marked["shipping_refunded_fen"]) == (5000, 800)
    assert balance(api) == 5800  # everything paid: goods and the shop's domestic shipping
    assert entries(api)[:2] == [("domestic_shipping_refund", 800), ("item_refund", 5000)]
    mine = api.get(f"/orders/{order['order_id']}", user=ALICE).body
    assert mine["status"] == "cancelled" and mine["items"][0]["status"] == "cancelled"
    assert "marked_by" not in mine["items"][0]["unavailable"]  # staff ids stay with staff
    [email] = [e for e in sent_emails(ALICE) if e["template"] == "item_unavailable"]
    assert email["data"]["refund"] == "¥58.00" and email["data"]["reason"] == "the shop has run out of stock"
    assert email["data"]["closed"]
    assert api.get("/staff/items?status=purchasing", user=REVIEWER).body["items"] == []


def test_a_shops_shipping_comes_back_only_with_its_last_live_item_and_the_order_proceeds(api):
    order = approved(api, TEE, SOCKS, BANK)  # shop_a ships TEE and SOCKS for 800; shop_b BANK for 1000
    tee, socks, bank = (i["item_id"] for i in order["items"])
    assert unavailable(api, tee).body["unavailable"]["shipping_refunded_fen"] == 0  # SOCKS still comes
    assert balance(api) == 5000
    bought = api.post(
        f"/staff/items/{bank}/purchase",
        {"merchant_order_no": "TM-1", "actual_unit_price_fen": 9900},
        user=REVIEWER,
    )
    assert bought.status == 200 and bought.body["status"] == "purchased"
    last = unavailable(api, socks, {"reason": "delisted"})
    assert last.status == 200, last.body
    assert last.body["unavailable"] == {
        "reason": "delisted",
        "note": None,
        "marked_at": last.body["unavailable"]["marked_at"],
        "marked_by": api.user_id(REVIEWER),
        "refunded_fen": 2000,
        "shipping_refunded_fen": 800,
    }
    assert balance(api) == 5000 + 2000 + 800
    staff = api.get(f"/staff/orders/{order['order_id']}", user=REVIEWER).body
    assert staff["status"] == "approved"  # one item purchased, two unavailable: it proceeds
    assert staff["refunded_fen"] == 7800
    assert [i["status"] for i in staff["items"]] == ["cancelled", "cancelled", "purchased"]
    # the purchased item may still turn out unavailable before it ships: its shipping comes back then
    assert unavailable(api, bank, {"reason": "merchant_refused"}).status == 200
    assert balance(api) == 5000 + 2000 + 800 + 9900 + 1000
    assert api.get(f"/orders/{order['order_id']}", user=ALICE).body["status"] == "cancelled"


def test_a_cheaper_purchase_then_unavailable_refunds_only_what_is_left(api):
    order = approved(api, TEE)
    item_id = order["items"][0]["item_id"]
    body = {"merchant_order_no": "TB-1", "actual_unit_price_fen": 2300}  # 400 refunded at purchase
    assert api.post(f"/staff/items/{item_id}/purchase", body, user=REVIEWER).status == 200
    result = unavailable(api, item_id, {"reason": "merchant_refused"})
    assert result.status == 200, result.body
    assert result.body["unavailable"]["refunded_fen"] == 4600
    assert result.body["refunded_fen"] == result.body["paid_fen"] == 5000
    assert balance(api) == 5800


def test_the_customer_may_still_cancel_the_rest_of_an_order_with_an_unavailable_item(api):
    order = approved(api, TEE, BANK)
    tee = order["items"][0]["item_id"]
    assert unavailable(api, tee).status == 200
    cancelled = api.post(f"/orders/{order['order_id']}/cancel", user=ALICE)
    assert cancelled.status == 200, cancelled.body
    assert cancelled.body["status"] == "cancelled"
    assert balance(api) == order["charges"]["total_fen"]  # everything, once
    assert [i["refunded_fen"] for i in cancelled.body["items"]] == [5000, 9900]


def test_bad_input_is_a_4xx_that_changes_nothing(api):
    order = approved(api, TEE)
    item_id = order["items"][0]["item_id"]
    for body in ({}, {"reason": "bored"}, {"reason": "other", "note": "x" * 501}, {"reason": 1}):
        result = unavailable(api, item_id, body)
        assert result.status == 400, (body, result.body)
    assert unavailable(api, "itm_nope").status == 404
    assert unavailable(api, item_id, user=WAREHOUSE).status == 403
    assert unavailable(api, item_id, user=ALICE).status == 403
    item = api.get(f"/items/{item_id}", user=ALICE).body
    assert item["status"] == "purchasing" and item["unavailable"] is None
    assert balance(api) == 0
    assert not [e for e in sent_emails(ALICE) if e["template"] == "item_unavailable"]


def test_only_an_item_being_bought_or_bought_and_not_shipped_can_be_unavailable(api):
    created = api.post("/orders", {"items": [TEE], "payment_channel": "balance"}, user=ALICE).body
    item_id = created["items"][0]["item_id"]
    assert unavailable(api, item_id).status == 409  # not paid, not approved: the customer cancels
    order = approved(api, BANK)
    bank = order["items"][0]["item_id"]
    api.post(
        f"/staff/items/{bank}/purchase",
        {"merchant_order_no": "M", "actual_unit_price_fen": 9900},
        user=REVIEWER,
    )
    shipped = api.post(
        f"/staff/items/{bank}/domestic-shipment",
        {"carrier": "SF", "tracking_no": "SF12345678"},
        user=REVIEWER,
    )
    assert shipped.status == 200
    refused = unavailable(api, bank)
    assert refused.status == 409 and "shipped_domestic" in refused.body["error"]["message"]
    assert balance(api) == 0


def test_a_replay_answers_the_same_and_refunds_once(api):
    order = approved(api, TEE)
    item_id = order["items"][0]["item_id"]
    first = unavailable(api, item_id, key="unavail-1")
    again = unavailable(api, item_id, key="unavail-1")
    assert first.status == again.status == 200
    assert again.body == first.body and again.headers.get("Idempotent-Replayed") == "true"
    assert unavailable(api, item_id, key="unavail-2").status == 409  # a new request: already cancelled
    assert balance(api) == 5800
    assert len([e for e in sent_emails(ALICE) if e["template"] == "item_unavailable"]) == 1


def test_unavailable_losing_the_race_to_a_shipment_is_a_409_that_moves_no_money(api, monkeypatch):
    """The item was read purchasing; the purchase and the shop's shipment commit before the refund:
    the unit re-runs from fresh reads and refuses (the goods are on their way)."""
    order = approved(api, TEE)
    item_id = order["items"][0]["item_id"]
    staff_id = api.user_id(REVIEWER)
    read = cancellation.with_account  # the item and its siblings are read there
    raced = []

    def read_then_lose(*args, **kwargs):
        if not raced:
            raced.append(True)
            purchasing.record_purchase(item_id, staff_id, "TB-9", 2500)
            purchasing.record_domestic_shipment(item_id, staff_id, "SF", "SF99999999")
        return read(*args, **kwargs)

    monkeypatch.setattr(cancellation, "with_account", read_then_lose)
    result = unavailable(api, item_id)
    assert result.status == 409, result.body
    assert balance(api) == 0
    assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "shipped_domestic"


def test_unavailable_racing_a_cheaper_purchase_refunds_what_is_left_once(api, monkeypatch):
    order = approved(api, TEE)
    item_id = order["items"][0]["item_id"]
    staff_id = api.user_id(REVIEWER)
    real = purchase_exceptions.cancel_with_refund
    raced = []

    def purchase_first(work, order, items, item, *args, **kwargs):
        if not raced:  # the purchase commits after this unit read the item: its transaction loses
            raced.append(True)
            purchasing.record_purchase(item_id, staff_id, "TB-8", 2000)  # 1000 refunded
        return real(work, order, items, item, *args, **kwargs)

    monkeypatch.setattr(purchase_exceptions, "cancel_with_refund", purchase_first)
    result = unavailable(api, item_id)
    assert result.status == 200, result.body
    assert result.body["unavailable"]["refunded_fen"] == 4000  # re-run: what the purchase left
    assert balance(api) == 5800
    assert sorted(entries(api)) == sorted(
        [
            ("top_up", 5800),
            ("order_payment", -5800),
            ("price_difference_refund", 1000),
            ("item_refund", 4000),
            ("domestic_shipping_refund", 800),
        ]
    )


def test_a_purchase_losing_the_race_to_unavailable_is_a_409(api, monkeypatch):
    order = approved(api, TEE)
    item_id = order["items"][0]["item_id"]
    staff_id = api.user_id(REVIEWER)
    real = purchasing.settle
    raced = []

    def unavailable_first(*args, **kwargs):
        if not raced:
            raced.append(True)
            purchase_exceptions.mark_unavailable(item_id, staff_id, "out_of_stock", None)
        return real(*args, **kwargs)

    monkeypatch.setattr(purchasing, "settle", unavailable_first)
    body = {"merchant_order_no": "TB-7", "actual_unit_price_fen": 2000}
    result = api.post(f"/staff/items/{item_id}/purchase", body, user=REVIEWER)
    assert result.status == 409, result.body
    assert balance(api) == 5800  # the unavailable refund only; no price-difference refund on top


def test_two_items_of_one_shop_unavailable_at_once_refund_the_shipping_once(api, monkeypatch):
    order = approved(api, TEE, SOCKS)
    tee, socks = (i["item_id"] for i in order["items"])
    staff_id = api.user_id(REVIEWER)
    real = purchase_exceptions.cancel_with_refund
    raced = []

    def sibling_first(work, order, items, item, *args, **kwargs):
        if not raced:  # both read the other as live: without the sibling check neither refunds shipping
            raced.append(True)
            purchase_exceptions.mark_unavailable(socks, staff_id, "delisted", None)
        return real(work, order, items, item, *args, **kwargs)

    monkeypatch.setattr(purchase_exceptions, "cancel_with_refund", sibling_first)
    assert unavailable(api, tee).status == 200
    assert balance(api) == order["charges"]["total_fen"] == 5000 + 2000 + 800
    assert [k for k, _ in entries(api)].count("domestic_shipping_refund") == 1
    assert api.get(f"/orders/{order['order_id']}", user=ALICE).body["status"] == "cancelled"


def test_another_customers_item_is_not_refunded_to_the_reviewer(api):
    order = approved(api, TEE, user=BOB)
    assert unavailable(api, order["items"][0]["item_id"]).status == 200
    assert balance(api, BOB) == 5800 and balance(api, ALICE) == 0


# --- a replacement SKU of the same product ----------------------------------------------------------------

WHITE = {"sku_id": "sku_tee_white_l", "note": "Black is sold out; the white one is the same tee."}


def offer(api, item_id, body=WHITE, user=REVIEWER):
    return api.post(f"/staff/items/{item_id}/replacement", body, user=user)


def test_staff_offer_a_replacement_sku_in_stock_and_the_customer_is_emailed(api):
    order = approved(api, {**TEE, "quantity": 3})  # white L: 3 in stock at 2700
    item_id = order["items"][0]["item_id"]
    result = offer(api, item_id)
    assert result.status == 200, result.body
    replacement = result.body["replacement"]
    assert replacement["state"] == "offered" and replacement["sku_id"] == "sku_tee_white_l"
    assert replacement["unit_price_fen"] == 2700 and replacement["difference_fen"] == 600
    assert replacement["props"] == {"color": "white", "size": "L"}
    assert result.body["status"] == "purchasing"
    waiting = api.get("/staff/items?status=awaiting_replacement", user=REVIEWER).body["items"]
    assert [i["item_id"] for i in waiting] == [item_id]
    assert api.get("/staff/items?status=purchasing", user=REVIEWER).body["items"] == []
    [email] = [e for e in sent_emails(ALICE) if e["template"] == "replacement_offered"]
    assert email["data"]["offered"] == "color white, size L" and email["data"]["difference"] == "¥6.00"
    assert "offered_by" not in api.get(f"/items/{item_id}", user=ALICE).body["replacement"]
    # while the customer decides, nobody buys it
    body = {"merchant_order_no": "TB-1", "actual_unit_price_fen": 2500}
    assert api.post(f"/staff/items/{item_id}/purchase", body, user=REVIEWER).status == 409
    assert offer(api, item_id).status == 409  # one open offer at a time


def test_a_replacement_must_be_another_sku_of_the_product_in_stock(api):
    order = approved(api, {**TEE, "quantity": 4})
    item_id = order["items"][0]["item_id"]
    short = offer(api, item_id)  # only 3 white L for 4 ordered
    assert short.status == 409 and short.body["error"]["code"] == "out_of_stock"
    assert offer(api, item_id, {"sku_id": "sku_tee_black_m"}).status == 400  # the ordered SKU
    assert offer(api, item_id, {"sku_id": "sku_socks"}).status == 400  # another product's
    assert offer(api, item_id, {}).status == 400
    assert offer(api, item_id, user=WAREHOUSE).status == 403
    assert api.get(f"/items/{item_id}", user=ALICE).body["replacement"] is None
    assert not [e for e in sent_emails(ALICE) if e["template"] == "replacement_offered"]


def test_accepting_a_dearer_replacement_charges_the_difference_and_the_item_is_bought_as_it(api):
    order = approved(api, {**TEE, "quantity": 3})
    item_id = order["items"][0]["item_id"]
    offer(api, item_id)
    assert api.post(f"/items/{item_id}/replacement/accept", user=BOB).status == 404
    short = api.post(f"/items/{item_id}/replacement/accept", user=ALICE)
    assert short.status == 409 and short.body["error"]["code"] == "insufficient_funds"  # 600 more, 0 held
    assert api.get(f"/items/{item_id}", user=ALICE).body["sku_id"] == "sku_tee_black_m"
    top_up(api, ALICE, 1000)
    accepted = api.post(f"/items/{item_id}/replacement/accept", user=ALICE)
    assert accepted.status == 200, accepted.body
    body = accepted.body
    assert (body["sku_id"], body["unit_price_fen"], body["props"]) == (
        "sku_tee_white_l",
        2700,
        {"color": "white", "size": "L"},
    )
    assert body["replacement"]["state"] == "accepted" and body["replacement"]["settlement"] == "charged"
    assert body["paid_fen"] == 8100 and balance(api) == 400
    assert [i["item_id"] for i in api.get("/staff/items?status=purchasing", user=REVIEWER).body["items"]] == [
        item_id
    ]
    assert api.post(f"/items/{item_id}/replacement/accept", user=ALICE).status == 409
    bought = api.post(
        f"/staff/items/{item_id}/purchase",
        {"merchant_order_no": "TB-2", "actual_unit_price_fen": 2700},
        user=REVIEWER,
    )
    assert bought.status == 200 and bought.body["purchase"]["price_difference_fen"] == 0
    # everything paid for it comes back if it still turns out unavailable
    assert unavailable(api, item_id).body["unavailable"]["refunded_fen"] == 8100
    assert balance(api) == 400 + 8100 + 800


def test_accepting_a_cheaper_replacement_refunds_the_difference(api):
    order = approved(api, {"product_id": "prd_tee", "sku_id": "sku_tee_white_l", "quantity": 2})
    item_id = order["items"][0]["item_id"]
    assert offer(api, item_id, {"sku_id": "sku_tee_black_m"}).status == 200
    accepted = api.post(f"/items/{item_id}/replacement/accept", user=ALICE)
    assert accepted.status == 200, accepted.body
    assert accepted.body["replacement"]["settlement"] == "refunded"
    assert accepted.body["refunded_fen"] == 400 and balance(api) == 400
    cancelled = api.post(f"/orders/{order['order_id']}/cancel", user=ALICE)  # not bought yet: allowed
    assert cancelled.status == 200, cancelled.body
    assert balance(api) == order["charges"]["total_fen"]  # all of it back, once


def test_declining_a_replacement_refunds_as_unavailable_does(api):
    order = approved(api, {**TEE, "quantity": 3})
    item_id = order["items"][0]["item_id"]
    offer(api, item_id)
    headers = {"Idempotency-Key": "decline-1"}
    declined = api.post(f"/items/{item_id}/replacement/decline", user=ALICE, headers=headers)
    assert declined.status == 200, declined.body
    assert declined.body["status"] == "cancelled" and declined.body["replacement"]["state"] == "declined"
    assert balance(api) == 7500 + 800
    again = api.post(f"/items/{item_id}/replacement/decline", user=ALICE, headers=headers)
    assert again.body == declined.body and balance(api) == 8300
    assert api.post(f"/items/{item_id}/replacement/decline", user=ALICE).status == 409
    assert api.get(f"/orders/{order['order_id']}", user=ALICE).body["status"] == "cancelled"


def test_marking_unavailable_withdraws_an_open_offer(api):
    order = approved(api, {**TEE, "quantity": 3})
    item_id = order["items"][0]["item_id"]
    offer(api, item_id)
    result = unavailable(api, item_id)
    assert result.status == 200 and result.body["replacement"]["state"] == "withdrawn"
    assert api.post(f"/items/{item_id}/replacement/accept", user=ALICE).status == 409
    assert balance(api) == 8300


# --- a replacement offer's answer deadline ---------------------------------------------------------------

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def sweep(at: datetime) -> dict:
    clock.set_now(at)
    return storage_sweep.run()


def emails(template, to=ALICE) -> list[dict]:
    return [e for e in sent_emails(to) if e["template"] == template]


def test_a_replacement_offer_has_an_answer_deadline_with_a_reminder_and_expires_into_a_refund(api):
    clock.set_now(T0)
    order = approved(api, {**TEE, "quantity": 3})
    item_id = order["items"][0]["item_id"]
    offered = offer(api, item_id).body["replacement"]
    due = clock.iso(T0 + timedelta(days=7))
    assert offered["due_at"] == due
    [email] = emails("replacement_offered")
    assert email["data"]["due_at"] == due
    row = Item.get(item_id, consistent_read=True)
    assert row.feedback_due_at == due and row.feedback_key.startswith("2026-12-08#")  # on the sweep's index
    assert row.awaiting_by is None  # not a stored item's decision: off the warehouse's awaiting list

    assert sweep(T0 + timedelta(days=4)).get("replacement_reminded", 0) == 0  # not within 2 days yet
    assert sweep(T0 + timedelta(days=5, hours=1))["replacement_reminded"] == 1
    assert sweep(T0 + timedelta(days=5, hours=2)).get("replacement_reminded", 0) == 0  # once
    [reminder] = emails("replacement_reminder")
    assert reminder["data"]["due_at"] == due and reminder["data"]["refund"] == "¥75.00"
    assert balance(api) == 0 and api.get(f"/items/{item_id}", user=ALICE).body["status"] == "purchasing"

    ran = sweep(T0 + timedelta(days=7, minutes=1))
    assert ran["replacement_expired"] == 1, ran
    item = api.get(f"/items/{item_id}", user=ALICE).body
    assert item["status"] == "cancelled" and item["replacement"]["state"] == "expired"
    assert item["replacement"]["decided_at"] == clock.iso(T0 + timedelta(days=7, minutes=1))
    assert balance(api) == 7500 + 800  # declined for the customer: the goods and the shop's shipping back
    assert sorted(entries(api)[:2]) == [("domestic_shipping_refund", 800), ("item_refund", 7500)]
    assert api.get(f"/orders/{order['order_id']}", user=ALICE).body["status"] == "cancelled"
    [expired] = emails("replacement_expired")
    assert expired["data"]["refund"] == "¥83.00" and expired["data"]["closed"]
    assert api.get("/staff/items?status=awaiting_replacement", user=REVIEWER).body["items"] == []
    assert Item.get(item_id, consistent_read=True).feedback_key is None  # off the index
    again = sweep(T0 + timedelta(days=8))
    assert again.get("replacement_expired", 0) == 0 and balance(api) == 8300  # nothing twice
    assert len(emails("replacement_expired")) == 1
    assert api.post(f"/items/{item_id}/replacement/accept", user=ALICE).status == 409


@pytest.mark.parametrize("answer", ["accept", "decline", "unavailable"])
def test_an_answered_or_withdrawn_offer_leaves_the_deadline_index_and_the_sweep_moves_nothing(api, answer):
    clock.set_now(T0)
    order = approved(api, {**TEE, "quantity": 3})
    item_id = order["items"][0]["item_id"]
    offer(api, item_id)
    top_up(api, ALICE, 600)  # the dearer SKU's difference
    if answer == "unavailable":
        assert unavailable(api, item_id).status == 200
    else:
        assert api.post(f"/items/{item_id}/replacement/{answer}", user=ALICE).status == 200
    row = Item.get(item_id, consistent_read=True)
    assert (row.feedback_key, row.feedback_due_at) == (None, None)
    before = (balance(api), api.get(f"/items/{item_id}", user=ALICE).body)
    ran = sweep(T0 + timedelta(days=8))
    assert not {k: v for k, v in ran.items() if k.startswith("replacement_")}, ran
    assert (balance(api), api.get(f"/items/{item_id}", user=ALICE).body) == before


def test_the_replacement_deadline_and_reminder_are_configuration_and_policy(api, monkeypatch):
    monkeypatch.setenv("REPLACEMENT_ANSWER_DAYS", "3")
    monkeypatch.setenv("REPLACEMENT_REMINDER_DAYS", "1")
    clock.set_now(T0)
    item_id = approved(api, {**TEE, "quantity": 3})["items"][0]["item_id"]
    assert offer(api, item_id).body["replacement"]["due_at"] == clock.iso(T0 + timedelta(days=3))
    rules = {r["key"]: r for r in api.get("/policies").body["rules"]}
    assert (
        rules["replacement_answer_days"]["value"] == 3
        and "decline it for you" in rules["replacement_answer_days"]["text"]
    )
    assert rules["replacement_reminder_days"]["value"] == 1
    assert sweep(T0 + timedelta(days=1, hours=23)).get("replacement_reminded", 0) == 0
    assert sweep(T0 + timedelta(days=2, hours=1))["replacement_reminded"] == 1
    assert sweep(T0 + timedelta(days=3, minutes=1))["replacement_expired"] == 1


# --- a partial purchase, and the shop's actual freight ------------------------------------------------


def purchase(api, item_id, **terms):
    body = {"merchant_order_no": "TB-5", "actual_unit_price_fen": 2500, **terms}
    return api.post(f"/staff/items/{item_id}/purchase", body, user=REVIEWER)


def test_a_shop_selling_fewer_units_refunds_the_rest_and_records_what_was_bought(api):
    order = approved(api, TEE)
    item_id = order["items"][0]["item_id"]
    for bad in (3, 0, -1, "1"):
        assert purchase(api, item_id, quantity_purchased=bad).status == 400, bad
    assert balance(api) == 0
    result = purchase(api, item_id, quantity_purchased=1, actual_unit_price_fen=2400)
    assert result.status == 200, result.body
    body = result.body
    assert body["status"] == "purchased" and body["quantity_purchased"] == 1 and body["quantity"] == 2
    assert body["purchase"]["short_refund_fen"] == 2500 and body["purchase"]["price_difference_fen"] == -100
    assert body["refunded_fen"] == 2600 and balance(api) == 2600
    assert sorted(entries(api))[:2] == [("item_refund", 2500), ("order_payment", -5800)]
    # what is left of it comes back if the shop still fails to ship it
    assert unavailable(api, item_id).body["unavailable"]["refunded_fen"] == 2400
    assert balance(api) == 5800


def test_higher_freight_within_the_consent_threshold_is_charged_on_the_orders_shipping(api):
    order = approved(api, TEE)  # goods 5000: the threshold is 250 (5%)
    item_id = order["items"][0]["item_id"]
    top_up(api, ALICE, 300)
    result = purchase(api, item_id, actual_domestic_shipping_fen=1000)  # 200 over the 800 paid
    assert result.status == 200, result.body
    assert result.body["purchase"]["shipping_difference_fen"] == 200
    assert result.body["purchase"]["settlement"] == "charged" and result.body["paid_fen"] == 5000
    assert balance(api) == 100 and entries(api)[0] == ("domestic_shipping_charge", -200)
    refund = unavailable(api, item_id).body["unavailable"]
    assert (refund["refunded_fen"], refund["shipping_refunded_fen"]) == (5000, 1000)  # the freight paid
    assert balance(api) == 6100


def test_freight_over_the_threshold_waits_for_the_customer_and_settles_on_payment(api):
    order = approved(api, TEE)
    item_id = order["items"][0]["item_id"]
    preview = api.post(
        f"/staff/items/{item_id}/purchase-preview",
        {"actual_unit_price_fen": 2500, "actual_domestic_shipping_fen": 1200, "quantity_purchased": 2},
        user=REVIEWER,
    )
    assert preview.status == 200, preview.body
    assert preview.body["shipping_difference_fen"] == 400 and preview.body["short_refund_fen"] == 0
    assert preview.body["decision"]["settlement"] == "awaiting_confirmation"
    assert preview.body["decision"]["consent_threshold_fen"] == 250
    result = purchase(api, item_id, actual_domestic_shipping_fen=1200)
    assert result.body["status"] == "purchasing" and result.body["price_difference_due_fen"] == 400
    assert [e["template"] for e in sent_emails(ALICE)][-1] == "price_difference_confirm"
    top_up(api, ALICE, 400)
    paid = api.post(f"/items/{item_id}/pay-difference", user=ALICE)
    assert paid.status == 200 and paid.body["status"] == "purchased", paid.body
    assert paid.body["paid_fen"] == 5000 and balance(api) == 0
    assert entries(api)[0] == ("domestic_shipping_charge", -400)
    assert unavailable(api, item_id).body["unavailable"]["shipping_refunded_fen"] == 1200


def test_lower_freight_is_refunded_and_a_cheaper_price_nets_against_higher_freight(api):
    order = approved(api, TEE, SOCKS)  # one parcel from shop_a: 800 paid
    tee, socks = (i["item_id"] for i in order["items"])
    lower = purchase(api, tee, actual_domestic_shipping_fen=500)
    assert lower.body["purchase"]["settlement"] == "refunded" and balance(api) == 300
    assert entries(api)[0] == ("domestic_shipping_refund", 300)
    # the same parcel's freight, recorded again with the second item: measured against what is left
    netted = api.post(
        f"/staff/items/{socks}/purchase",
        {"merchant_order_no": "TB-6", "actual_unit_price_fen": 900, "actual_domestic_shipping_fen": 700},
        user=REVIEWER,
    )
    assert netted.status == 200, netted.body
    bought = netted.body["purchase"]
    assert (bought["price_difference_fen"], bought["shipping_difference_fen"]) == (-200, 200)
    assert bought["settlement"] == "none" and balance(api) == 300  # 200 back on goods, 200 on freight
    shop = api.get(f"/staff/orders/{order['order_id']}", user=REVIEWER).body
    assert shop["refunded_fen"] == 300 + 200 and shop["paid_fen"] == 7800 + 200


def test_actual_freight_is_bounded_input(api):
    order = approved(api, TEE)
    item_id = order["items"][0]["item_id"]
    for bad in (-1, 100_000_001, "800", 1.5):
        assert purchase(api, item_id, actual_domestic_shipping_fen=bad).status == 400, bad
    assert api.get(f"/items/{item_id}", user=ALICE).body["purchase"] is None and balance(api) == 0
