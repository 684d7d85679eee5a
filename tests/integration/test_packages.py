"""Seed steps 5-7 over HTTP: shipping lines, quotes, packages, payment, packing, shipping, receipt, rating.

Figures by hand (EMS: first 500 g ¥180, then ¥48 per 500 g, divisor 6000; service fee ¥15 a package +
¥2 per extra item; insurance 3 % of the declared value; reinforcement ¥15):
one T-shirt line (2 × ¥25 = ¥50 of goods) weighed at 1200 g in a 30×20×10 cm box:
volumetric 6000·1000/6000 = 1000 g, chargeable 1200 g, shipping 18000 + ceil(700/500)·4800 = 27600.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clock
from chalicelib.models.commerce import Item
from chalicelib.rules import storage as storage_rules
from infra.local.job import scheduled_event
from tests.integration.conftest import (
    ADMIN,
    ALICE,
    BOB,
    REVIEWER,
    WAREHOUSE,
    attach_photo,
    sent_emails,
    top_up,
)
from tests.integration.test_warehouse import BANK, TEE, inspection, received

pytestmark = pytest.mark.usefixtures("shop")

ADDRESS = {
    "name": "Alice Example",
    "phone": "+1 415 555 0100",
    "country": "US",
    "state": "CA",
    "city": "San Francisco",
    "postal_code": "94105",
    "line1": "1 Market St",
}
HEAVY = {"weight_g": 1200, "dims_cm": {"l": 30, "w": 20, "h": 10}}
SERVICES = ["insurance", "reinforcement"]
# EMS for HEAVY with SERVICES: 27600 shipping + 1500 service fee + (150 insurance + 1500 reinforcement)
HEAVY_EMS_TOTAL = 27600 + 1500 + 1650
ORDER_TOTAL = 5800  # 2 T-shirts at ¥25 + ¥8 domestic shipping


def stored(api, user=ALICE, items=(TEE,), tracking="YT1000001", measured=None, **inspect):
    """Items taken from an order to `in_warehouse` (or what `inspect` says) over HTTP."""
    ids = received(api, items=items, tracking=tracking, user=user)
    for item_id in ids:
        body = dict(inspection(**inspect), **(measured or HEAVY))
        if body["category"] == "electronics":  # they pass with an arrival photo the customer confirms
            attach_photo(item_id)
        result = api.post(f"/staff/items/{item_id}/inspection", body, user=WAREHOUSE)
        assert result.status == 200, result.body
        if result.body["status"] == "awaiting_confirmation":
            confirmed = api.post(f"/items/{item_id}/confirm", user=user)
            assert confirmed.status == 200, confirmed.body
    return ids


def balance(api, user=ALICE):
    return api.get("/wallet", user=user).body["balance_fen"]


def submit(api, item_ids, user=ALICE, line_id="ems", services=SERVICES, **extra):
    body = {"item_ids": item_ids, "address": ADDRESS, "line_id": line_id, "services": services, **extra}
    return api.post("/packages", body, user=user)


def paid_package(api, user=ALICE, **kw):
    item_ids = stored(api, user=user, **kw)
    package = submit(api, item_ids, user=user)
    assert package.status == 201, package.body
    paid = api.post(f"/packages/{package.body['package_id']}/pay", user=user)
    assert paid.status == 200, paid.body
    return paid.body


def perform_services(api, package_id, user=WAREHOUSE):
    """What a packer does before packing: tick off every paid service still to do."""
    package = api.get(f"/staff/packages/{package_id}", user=user)
    for work in package.body.get("service_work", []) if package.status == 200 else []:
        if work["status"] == "to_do":
            path = f"/staff/packages/{package_id}/services/{work['service']}/perform"
            assert api.post(path, {}, user=user).status == 200


def pack(api, package_id, weight_g, dims, user=WAREHOUSE):
    """Pack as a packer does: the paid services ticked off first (tests/integration/test_package_services.py
    packs without them)."""
    perform_services(api, package_id, user=user)
    return api.post(f"/staff/packages/{package_id}/pack", {"weight_g": weight_g, "dims_cm": dims}, user=user)


def raw_item(item_id):
    return Item.get(item_id, consistent_read=True)


class TestShippingLines:
    def test_lines_are_public_and_filtered_by_country(self, api):
        lines = api.get("/shipping-lines?country=US")
        assert lines.status == 200
        by_id = {line["line_id"]: line for line in lines.body["items"]}
        assert {"ems", "china_post_sal", "dhl_express", "fedex_ip", "special_battery_air"} <= set(by_id)
        for line in by_id.values():
            for key in (
                "name",
                "carrier",
                "first_weight_g",
                "first_fee_fen",
                "step_weight_g",
                "step_fee_fen",
                "volumetric_divisor",
                "max_weight_g",
                "restrictions",
                "est_days",
            ):
                assert key in line
            assert line["volumetric_divisor"] in (5000, 6000, 8000)
            assert isinstance(line["first_fee_fen"], int) and isinstance(line["step_fee_fen"], int)
        assert "battery" in by_id["dhl_express"]["restrictions"]
        assert "battery" not in by_id["special_battery_air"]["restrictions"]
        assert [line["line_id"] for line in api.get("/shipping-lines?country=br").body["items"]] == [
            line["line_id"] for line in api.get("/shipping-lines?country=BR").body["items"]
        ]
        assert "special_battery_air" not in {
            line["line_id"] for line in api.get("/shipping-lines?country=BR").body["items"]
        }
        assert api.get("/shipping-lines?country=XX").body["items"] == []
        assert len(api.get("/shipping-lines").body["items"]) >= 5
        for bad in ("USA", "1", "u$"):
            assert api.get(f"/shipping-lines?country={bad}").status == 400

    def test_services_catalog_for_signed_in_users(self, api):
        assert api.get("/package-services").status == 401
        body = api.get("/package-services", user=ALICE).body
        names = {s["service"] for s in body["services"]}
        assert {"insurance", "reinforcement", "remove_packaging", "extra_photos", "vacuum"} <= names
        assert body["service_fee"]["package_fen"] == 1500


class TestQuote:
    def test_quote_lists_every_line_that_may_carry_the_items(self, api):
        [item_id] = stored(api)
        result = api.post(
            "/packages/quote", {"item_ids": [item_id], "country": "US", "services": SERVICES}, user=ALICE
        )
        assert result.status == 200, result.body
        quotes = {q["line_id"]: q for q in result.body["quotes"]}
        assert set(quotes) == {
            "ems",
            "china_post_sal",
            "dhl_express",
            "fedex_ip",
            "sf_international",
            "special_battery_air",
        }
        ems = quotes["ems"]
        assert ems["chargeable_weight_g"] == 1200
        assert ems["shipping_fen"] == 27600
        assert ems["service_fee_fen"] == 1500
        assert ems["services_fen"] == 1650
        assert ems["total_fen"] == HEAVY_EMS_TOTAL
        # DHL: volumetric 6000·1000/5000 = 1200 g too: 26000 + 2·6800
        assert quotes["dhl_express"]["shipping_fen"] == 26000 + 2 * 6800
        # SAL: first 1000 g ¥95, then ¥75 per kg
        assert quotes["china_post_sal"]["shipping_fen"] == 9500 + 7500
        for quote in result.body["quotes"]:
            assert (
                quote["total_fen"] == quote["shipping_fen"] + quote["service_fee_fen"] + quote["services_fen"]
            )
        totals = [q["total_fen"] for q in result.body["quotes"]]
        assert totals == sorted(totals)
        assert result.body["declared_value_fen"] == 5000
        # quoting changes nothing
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "in_warehouse"

    def test_a_battery_item_is_quoted_only_on_the_battery_line(self, api):
        [stored_bank] = stored(api, items=(BANK,), category="electronics")  # passed, but flagged battery
        quotes = api.post("/packages/quote", {"item_ids": [stored_bank], "country": "US"}, user=ALICE).body
        assert [q["line_id"] for q in quotes["quotes"]] == ["special_battery_air"]
        assert any("battery" in u["reason"] for u in quotes["unavailable"])
        # nowhere to go where the battery line does not deliver
        assert (
            api.post("/packages/quote", {"item_ids": [stored_bank], "country": "BR"}, user=ALICE).body[
                "quotes"
            ]
            == []
        )
        refused = submit(api, [stored_bank], line_id="ems")
        assert refused.status == 400
        assert api.get(f"/items/{stored_bank}", user=ALICE).body["status"] == "in_warehouse"
        accepted = submit(api, [stored_bank], line_id="special_battery_air")
        assert accepted.status == 201, accepted.body

    def test_a_not_transportable_battery_travels_only_on_the_line_accepting_it(self, api):
        [item_id] = stored(
            api, items=(BANK,), result="not_transportable", category="electronics", hazards=["battery"]
        )
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "not_transportable"
        quotes = api.post("/packages/quote", {"item_ids": [item_id], "country": "GB"}, user=ALICE).body
        assert [q["line_id"] for q in quotes["quotes"]] == ["special_battery_air"]
        assert submit(api, [item_id], line_id="dhl_express").status == 400
        package = submit(api, [item_id], line_id="special_battery_air")
        assert package.status == 201
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "in_package"
        cancelled = api.post(f"/packages/{package.body['package_id']}/cancel", user=ALICE)
        assert cancelled.status == 200
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "not_transportable"

    def test_a_quote_to_a_country_no_line_serves_is_400_not_an_empty_list(self, api):
        [item_id] = stored(api)
        result = api.post("/packages/quote", {"item_ids": [item_id], "country": "XX"}, user=ALICE)
        assert result.status == 400, result.body
        assert "XX" in result.body["error"]["message"]

    def test_quote_needs_own_stored_items(self, api):
        [item_id] = stored(api)
        assert api.post("/packages/quote", {"item_ids": [item_id], "country": "US"}, user=BOB).status == 404
        assert (
            api.post("/packages/quote", {"item_ids": ["itm_nope"], "country": "US"}, user=ALICE).status == 404
        )
        for body in (
            {"item_ids": [], "country": "US"},
            {"item_ids": [item_id], "country": "USA"},
            {"item_ids": [item_id, item_id], "country": "US"},
            {"item_ids": [item_id], "country": "US", "services": ["gift_wrap"]},
            {"item_ids": [item_id], "country": "US", "services": ["insurance", "insurance"]},
            {"item_ids": [item_id], "country": "US", "shipping_fen": 1},
            {"item_ids": [item_id], "country": "US", "declared_value_fen": -1},
            {"item_ids": [item_id], "country": "US", "declared_value_fen": "100"},
            {"item_ids": item_id, "country": "US"},
        ):
            assert api.post("/packages/quote", body, user=ALICE).status == 400, body
        assert api.post("/packages/quote", {"item_ids": [item_id], "country": "US"}).status == 401


class TestPackageFlow:
    def test_quote_submit_pay_pack_lower_ship_confirm_and_review(self, api):
        clock.set_now(datetime(2026, 11, 20, 4, 0, tzinfo=UTC))
        [item_id] = stored(api)
        expires = api.get(f"/items/{item_id}", user=ALICE).body["storage"]["expires_at"]
        assert raw_item(item_id).deadline_key is not None
        quote = api.post(
            "/packages/quote", {"item_ids": [item_id], "country": "US", "services": SERVICES}, user=ALICE
        ).body
        ems_quote = next(q for q in quote["quotes"] if q["line_id"] == "ems")

        created = submit(api, [item_id], address=dict(ADDRESS, country="us", line2=" Suite 5 "))
        assert created.status == 201, created.body
        package = created.body
        package_id = package["package_id"]
        assert package["status"] == "pending_payment"
        for key in ("chargeable_weight_g", "shipping_fen", "service_fee_fen", "services_fen", "total_fen"):
            assert package[key] == ems_quote[key]
        assert package["total_fen"] == HEAVY_EMS_TOTAL
        assert package["address"]["country"] == "US" and package["address"]["line2"] == "Suite 5"
        # the storage clock stops: still listed in storage, no deadline entry for the sweep
        item = api.get(f"/items/{item_id}", user=ALICE).body
        assert item["status"] == "in_package" and item["package_id"] == package_id
        assert item["storage"]["expires_at"] == expires and item["storage"]["clock_running"] is False
        raw = raw_item(item_id)
        assert raw.deadline_key is None and raw.stored_by is not None

        # pay with an Idempotency-Key: a retry replays, money moves once
        before = balance(api)
        assert before == 50000 - ORDER_TOTAL
        key = {"Idempotency-Key": "pay-package-1"}
        paid = api.post(f"/packages/{package_id}/pay", user=ALICE, headers=key)
        assert paid.status == 200 and paid.body["status"] == "paid", paid.body
        again = api.post(f"/packages/{package_id}/pay", user=ALICE, headers=key)
        assert again.status == 200 and again.headers.get("Idempotent-Replayed") == "true"
        assert again.body == paid.body
        assert api.post(f"/packages/{package_id}/pay", user=ALICE).status == 409
        assert balance(api) == before - HEAVY_EMS_TOTAL
        kinds = [e["kind"] for e in api.get("/wallet", user=ALICE).body["entries"]]
        assert kinds.count("package_payment") == 1

        queue = api.get("/staff/packages?status=paid", user=WAREHOUSE)
        assert queue.status == 200
        assert [p["package_id"] for p in queue.body["items"]] == [package_id]
        assert queue.body["items"][0]["items"][0]["item_id"] == item_id

        # packed lighter and smaller: 900 g, 25×20×10 (volumetric 834 g) -> 22800 shipping: ¥48 refunded
        packed = pack(api, package_id, 900, {"l": 25, "w": 20, "h": 10})
        assert packed.status == 200, packed.body
        body = packed.body
        assert body["status"] == "packed"
        assert body["chargeable_weight_g"] == 900 and body["shipping_fen"] == 22800
        assert body["total_fen"] == 22800 + 1500 + 1650
        assert body["packed"]["settlement"] == "refunded" and body["packed"]["difference_fen"] == -4800
        assert body["estimate"]["total_fen"] == HEAVY_EMS_TOTAL
        assert body["paid_fen"] - body["refunded_fen"] == body["total_fen"] and body["due_fen"] == 0
        assert balance(api) == before - HEAVY_EMS_TOTAL + 4800
        assert pack(api, package_id, 900, {"l": 25, "w": 20, "h": 10}).status == 409
        assert api.post(f"/packages/{package_id}/cancel", user=ALICE).status == 409
        assert api.get("/staff/packages?status=paid", user=WAREHOUSE).body["items"] == []
        assert [
            p["package_id"] for p in api.get("/staff/packages?status=packed", user=WAREHOUSE).body["items"]
        ] == [package_id]

        assert (
            api.post(f"/packages/{package_id}/review", {"rating": 5, "comment": "early"}, user=ALICE).status
            == 409
        )
        shipped = api.post(
            f"/staff/packages/{package_id}/ship",
            {"carrier": "DHL", "tracking_no": "jd 0123 4567"},
            user=WAREHOUSE,
        )
        assert shipped.status == 200, shipped.body
        assert shipped.body["status"] == "shipped"
        email = sent_emails(ALICE)[-1]
        assert email["template"] == "package_shipped"
        assert email["data"]["tracking_no"] == "JD01234567"
        assert "JD01234567" in email["data"]["tracking_url"] and email["data"]["tracking_url"].startswith(
            "https://www.dhl.com/"
        )
        mine = api.get(f"/packages/{package_id}", user=ALICE).body
        assert mine["tracking"] == {
            "carrier": "DHL",
            "tracking_no": "JD01234567",
            "tracking_url": email["data"]["tracking_url"],
        }
        item = api.get(f"/items/{item_id}", user=ALICE).body
        assert item["status"] == "shipped" and item["storage"] is None
        assert raw_item(item_id).stored_by is None and raw_item(item_id).deadline_key is None
        assert api.get("/warehouse/items", user=ALICE).body["items"] == []
        assert (
            api.post(
                f"/staff/packages/{package_id}/ship",
                {"carrier": "DHL", "tracking_no": "JD999999"},
                user=WAREHOUSE,
            ).status
            == 409
        )

        confirmed = api.post(f"/packages/{package_id}/confirm-receipt", user=ALICE)
        assert confirmed.status == 200 and confirmed.body["status"] == "delivered"
        assert confirmed.body["delivery_confirmed_by"] == "customer"
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "delivered"
        assert api.post(f"/packages/{package_id}/confirm-receipt", user=ALICE).status == 409

        review = api.post(
            f"/packages/{package_id}/review", {"rating": 5, "comment": "Fast and safe"}, user=ALICE
        )
        assert review.status == 201 and review.body["rating"] == 5
        assert (
            api.post(f"/packages/{package_id}/review", {"rating": 1, "comment": "x"}, user=ALICE).status
            == 409
        )
        final = api.get(f"/packages/{package_id}", user=ALICE).body
        assert final["review"]["rating"] == 5 and final["review"]["comment"] == "Fast and safe"
        listed = api.get("/packages", user=ALICE).body
        assert [p["package_id"] for p in listed["items"]] == [package_id] and listed["next_cursor"] is None
        assert api.get("/packages", user=BOB).body["items"] == []

    def test_pack_heavier_is_charged_from_the_wallet(self, api):
        package = paid_package(api, user=BOB)
        before = balance(api, BOB)
        # 1600 g in 30×25×12 (volumetric 1500 g): 18000 + 3·4800 = 32400 shipping, ¥48 more
        packed = pack(api, package["package_id"], 1600, {"l": 30, "w": 25, "h": 12})
        assert packed.status == 200, packed.body
        assert packed.body["shipping_fen"] == 32400
        assert packed.body["packed"]["settlement"] == "charged" and packed.body["due_fen"] == 0
        assert balance(api, BOB) == before - 4800
        kinds = [e["kind"] for e in api.get("/wallet", user=BOB).body["entries"]]
        assert kinds[0] == "package_difference_charge"
        assert packed.body["paid_fen"] == HEAVY_EMS_TOTAL + 4800

    def test_pack_heavier_with_a_short_balance_waits_for_the_customer(self, api):
        package = paid_package(api)
        package_id = package["package_id"]
        before = balance(api)
        assert before == 50000 - ORDER_TOTAL - HEAVY_EMS_TOTAL
        # 5000 g: 18000 + 9·4800 = 61200 shipping, 33600 more than paid; the wallet holds 13450
        packed = pack(api, package_id, 5000, {"l": 40, "w": 30, "h": 20})
        assert packed.status == 200, packed.body
        assert packed.body["status"] == "packed" and packed.body["due_fen"] == 33600
        assert packed.body["packed"]["settlement"] == "awaiting_payment"
        assert balance(api) == before
        assert sent_emails(ALICE)[-1]["template"] == "package_payment_due"
        waiting = api.get("/staff/packages?status=awaiting_payment", user=WAREHOUSE).body["items"]
        assert [p["package_id"] for p in waiting] == [package_id]
        ship = {"carrier": "EMS", "tracking_no": "EE123456789CN"}
        assert api.post(f"/staff/packages/{package_id}/ship", ship, user=WAREHOUSE).status == 409
        short = api.post(f"/packages/{package_id}/pay-difference", user=ALICE)
        assert short.status == 409 and short.body["error"]["code"] == "insufficient_funds"
        assert api.post(f"/packages/{package_id}/pay-difference", user=BOB).status == 404
        top_up(api, ALICE, 30000)
        paid = api.post(
            f"/packages/{package_id}/pay-difference", user=ALICE, headers={"Idempotency-Key": "d1"}
        )
        assert paid.status == 200 and paid.body["due_fen"] == 0, paid.body
        assert balance(api) == before + 30000 - 33600
        assert api.post(f"/packages/{package_id}/pay-difference", user=ALICE).status == 409
        shipped = api.post(f"/staff/packages/{package_id}/ship", ship, user=WAREHOUSE)
        assert shipped.status == 200 and shipped.body["tracking"]["tracking_url"].startswith(
            "https://t.17track.net/"
        )

    def test_pay_with_a_short_balance_is_insufficient_funds(self, api):
        [item_id] = stored(api)
        package = submit(api, [item_id]).body
        # drain the wallet: an order paid from the balance
        order = api.post(
            "/orders",
            {
                "items": [{"product_id": "prd_bank", "sku_id": "sku_bank", "quantity": 4}],
                "payment_channel": "balance",
            },
            user=ALICE,
        ).body
        assert api.post(f"/orders/{order['order_id']}/pay", user=ALICE).status == 200
        assert balance(api) < package["total_fen"]
        before = balance(api)
        result = api.post(
            f"/packages/{package['package_id']}/pay", user=ALICE, headers={"Idempotency-Key": "k"}
        )
        assert result.status == 409 and result.body["error"]["code"] == "insufficient_funds"
        assert balance(api) == before
        assert api.get(f"/packages/{package['package_id']}", user=ALICE).body["status"] == "pending_payment"


class TestCancel:
    def test_cancel_returns_items_to_storage_with_their_original_deadline(self, api):
        start = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
        clock.set_now(start)
        [item_id] = stored(api)
        original = raw_item(item_id)
        assert original.storage_expires_at == "2027-02-18T04:00:00Z"
        clock.set_now(start + timedelta(days=30))
        package = paid_package_for(api, [item_id])
        assert raw_item(item_id).deadline_key is None
        before = balance(api)
        clock.set_now(start + timedelta(days=40))
        cancelled = api.post(
            f"/packages/{package['package_id']}/cancel", user=ALICE, headers={"Idempotency-Key": "c1"}
        )
        assert cancelled.status == 200 and cancelled.body["status"] == "cancelled", cancelled.body
        assert balance(api) == before + HEAVY_EMS_TOTAL
        assert cancelled.body["refunded_fen"] == HEAVY_EMS_TOTAL
        item = raw_item(item_id)
        assert item.status == "in_warehouse" and item.package_id is None
        assert item.storage_expires_at == original.storage_expires_at
        assert (
            item.deadline_key
            == original.deadline_key
            == storage_rules.deadline_key(clock.parse_iso(original.storage_expires_at), item_id)
        )
        assert api.get(f"/items/{item_id}", user=ALICE).body["storage"]["days_left"] == 50
        assert api.post(f"/packages/{package['package_id']}/cancel", user=ALICE).status == 409
        assert api.post(f"/packages/{package['package_id']}/pay", user=ALICE).status == 409
        assert api.get("/staff/packages?status=paid", user=WAREHOUSE).body["items"] == []
        # the item can go into a new package
        assert submit(api, [item_id]).status == 201

    def test_cancel_an_unpaid_package_refunds_nothing(self, api):
        [item_id] = stored(api)
        package = submit(api, [item_id]).body
        before = balance(api)
        cancelled = api.post(f"/packages/{package['package_id']}/cancel", user=ALICE)
        assert cancelled.status == 200 and balance(api) == before
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "in_warehouse"


def paid_package_for(api, item_ids, user=ALICE):
    package = submit(api, item_ids, user=user)
    assert package.status == 201, package.body
    paid = api.post(f"/packages/{package.body['package_id']}/pay", user=user)
    assert paid.status == 200, paid.body
    return paid.body


class TestRules:
    def test_concurrent_submissions_of_the_same_item_one_wins(self, api):
        [item_id] = stored(api)
        api.token(ALICE)
        with ThreadPoolExecutor(max_workers=10) as pool:
            results = list(pool.map(lambda _: submit(api, [item_id]), range(10)))
        statuses = sorted(r.status for r in results)
        assert statuses.count(201) == 1 and statuses.count(409) == 9, statuses
        winner = next(r for r in results if r.status == 201)
        assert api.get(f"/items/{item_id}", user=ALICE).body["package_id"] == winner.body["package_id"]
        assert len(api.get("/packages", user=ALICE).body["items"]) == 1

    def test_an_item_in_an_open_package_cannot_join_another(self, api):
        ids = stored(api, items=(TEE, BANK), category="general")
        tee, bank = ids
        assert submit(api, [tee], services=[]).status == 201
        second = submit(api, [tee, bank], line_id="special_battery_air", services=[])
        assert second.status == 409
        assert api.get(f"/items/{bank}", user=ALICE).body["status"] == "in_warehouse"

    def test_items_not_in_storage_cannot_be_packed(self, api):
        [item_id] = received(api)  # received, not yet inspected
        assert submit(api, [item_id]).status == 409

    def test_another_customers_package_is_not_found(self, api):
        package = paid_package(api)
        package_id = package["package_id"]
        assert api.get(f"/packages/{package_id}", user=BOB).status == 404
        for action in ("pay", "cancel", "confirm-receipt", "pay-difference"):
            assert api.post(f"/packages/{package_id}/{action}", user=BOB).status == 404, action
        assert (
            api.post(f"/packages/{package_id}/review", {"rating": 5, "comment": ""}, user=BOB).status == 404
        )
        assert api.get("/packages/pkg_nope", user=ALICE).status == 404
        [bob_item] = stored(api, user=BOB, tracking="YT2000002")
        assert submit(api, [bob_item], user=ALICE).status == 404
        assert api.get(f"/items/{bob_item}", user=BOB).body["status"] == "in_warehouse"

    def test_packing_and_shipping_need_the_warehouse_group(self, api):
        package = paid_package(api)
        package_id = package["package_id"]
        dims = {"weight_g": 1000, "dims_cm": {"l": 10, "w": 10, "h": 10}}
        ship = {"carrier": "DHL", "tracking_no": "1234567890"}
        for user in (ALICE, REVIEWER):
            assert api.get("/staff/packages?status=paid", user=user).status == 403
            assert api.post(f"/staff/packages/{package_id}/pack", dims, user=user).status == 403
            assert api.post(f"/staff/packages/{package_id}/ship", ship, user=user).status == 403
        assert api.post(f"/staff/packages/{package_id}/pack", dims).status == 401
        assert api.get(f"/packages/{package_id}", user=ALICE).body["status"] == "paid"
        assert (
            api.post(f"/staff/packages/{package_id}/ship", ship, user=WAREHOUSE).status == 409
        )  # not packed
        perform_services(api, package_id, user=ADMIN)
        assert api.post(f"/staff/packages/{package_id}/pack", dims, user=ADMIN).status == 200
        assert api.post("/staff/packages/pkg_nope/pack", dims, user=WAREHOUSE).status == 404
        assert api.get("/staff/packages?status=shipped", user=WAREHOUSE).status == 400

    def test_bad_bodies_change_nothing(self, api):
        [item_id] = stored(api)
        good = {"item_ids": [item_id], "address": ADDRESS, "line_id": "ems"}

        def without(field):
            return {k: v for k, v in ADDRESS.items() if k != field}

        bad = [
            {},
            {**good, "item_ids": []},
            {**good, "item_ids": [item_id, item_id]},
            {**good, "line_id": "teleport"},
            {**good, "services": ["gift_wrap"]},
            {**good, "total_fen": 1},
            {**good, "status": "paid"},
            {**good, "user_id": "someone"},
            {**good, "declared_value_fen": -5},
            {**good, "address": "1 Market St"},
            {**good, "address": {**ADDRESS, "country": "USA"}},
            {**good, "address": {**ADDRESS, "country": "KP"}},  # not served by EMS
            {**good, "address": {**ADDRESS, "phone": "call me"}},
            {**good, "address": {**ADDRESS, "postal_code": "<>"}},
            {**good, "address": {**ADDRESS, "name": "   "}},
            {**good, "address": {**ADDRESS, "extra": "x"}},
            {**good, "address": {**ADDRESS, "postal_code": 94105}},
        ]
        bad += [{**good, "address": without(field)} for field in ADDRESS]
        for body in bad:
            result = api.post("/packages", body, user=ALICE)
            assert result.status == 400, (body, result.body)
            assert result.body["error"]["code"] == "validation_error"
        assert api.post("/packages", raw="{not json", user=ALICE).status == 400
        assert api.get("/packages", user=ALICE).body["items"] == []
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "in_warehouse"

        package = paid_package_for(api, [item_id])
        package_id = package["package_id"]
        for body in (
            {},
            {"weight_g": 0, "dims_cm": {"l": 1, "w": 1, "h": 1}},
            {"weight_g": "900", "dims_cm": {"l": 1, "w": 1, "h": 1}},
            {"weight_g": 900, "dims_cm": {"l": 1, "w": 1}},
            {"weight_g": 900, "dims_cm": {"l": 1, "w": 1, "h": -1}},
            {"weight_g": 900, "dims_cm": {"l": 1, "w": 1, "h": 1}, "total_fen": 0},
            {"weight_g": 900.5, "dims_cm": {"l": 1, "w": 1, "h": 1}},
        ):
            assert api.post(f"/staff/packages/{package_id}/pack", body, user=WAREHOUSE).status == 400, body
        assert api.get(f"/packages/{package_id}", user=ALICE).body["status"] == "paid"
        assert pack(api, package_id, 900, {"l": 10, "w": 10, "h": 10}).status == 200
        for body in (
            {},
            {"carrier": "DHL"},
            {"carrier": "", "tracking_no": "1234567"},
            {"carrier": "DHL", "tracking_no": "<script>"},
            {"carrier": "DHL", "tracking_no": "123"},
            {"carrier": "DHL", "tracking_no": "1234567", "status": "delivered"},
        ):
            assert api.post(f"/staff/packages/{package_id}/ship", body, user=WAREHOUSE).status == 400, body
        assert api.get(f"/packages/{package_id}", user=ALICE).body["status"] == "packed"
        api.post(
            f"/staff/packages/{package_id}/ship", {"carrier": "FedEx", "tracking_no": "7777"}, user=WAREHOUSE
        )
        api.post(f"/packages/{package_id}/confirm-receipt", user=ALICE)
        for body in (
            {"rating": 0, "comment": ""},
            {"rating": 6, "comment": ""},
            {"rating": "5", "comment": ""},
            {"rating": 5},
            {"rating": 4.5, "comment": ""},
            {"rating": 5, "comment": "x" * 2001},
        ):
            assert api.post(f"/packages/{package_id}/review", body, user=ALICE).status == 400, body
        assert api.get(f"/packages/{package_id}", user=ALICE).body["review"] is None


class TestAutoConfirmAndSweep:
    def _shipped(self, api, when):
        clock.set_now(when)
        package = paid_package(api)
        package_id = package["package_id"]
        assert pack(api, package_id, 1200, {"l": 30, "w": 20, "h": 10}).status == 200
        ship = {"carrier": "EMS", "tracking_no": "EE123456789CN"}
        assert api.post(f"/staff/packages/{package_id}/ship", ship, user=WAREHOUSE).status == 200
        return package_id

    def test_a_package_shipped_20_days_ago_is_confirmed_once(self, api, app_module):
        shipped_at = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
        package_id = self._shipped(api, shipped_at)
        assert (
            api.get(f"/packages/{package_id}", user=ALICE).body["auto_confirm_at"] == "2026-12-21T06:00:00Z"
        )
        clock.set_now(shipped_at + timedelta(days=19, hours=23))
        result = app_module.auto_confirm_receipt(scheduled_event(clock.now_iso()), None)
        assert result["confirmed"] == 0
        assert api.get(f"/packages/{package_id}", user=ALICE).body["status"] == "shipped"
        # the job did not run for a week; the next run catches up
        clock.set_now(shipped_at + timedelta(days=27))
        emails_before = len(sent_emails(ALICE))
        result = app_module.auto_confirm_receipt(scheduled_event(clock.now_iso()), None)
        assert result["confirmed"] == 1 and result["failed"] == 0
        package = api.get(f"/packages/{package_id}", user=ALICE).body
        assert package["status"] == "delivered" and package["delivery_confirmed_by"] == "auto"
        assert all(i["status"] == "delivered" for i in package["items"])
        assert sent_emails(ALICE)[-1]["template"] == "package_auto_confirmed"
        again = app_module.auto_confirm_receipt(scheduled_event(clock.now_iso()), None)
        assert again["confirmed"] == 0
        assert len(sent_emails(ALICE)) == emails_before + 1
        assert api.post(f"/packages/{package_id}/confirm-receipt", user=ALICE).status == 409
        assert (
            api.post(f"/packages/{package_id}/review", {"rating": 4, "comment": ""}, user=ALICE).status == 201
        )

    def test_a_package_the_customer_confirmed_is_left_alone(self, api, app_module):
        shipped_at = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
        package_id = self._shipped(api, shipped_at)
        assert api.post(f"/packages/{package_id}/confirm-receipt", user=ALICE).status == 200
        clock.set_now(shipped_at + timedelta(days=21))
        result = app_module.auto_confirm_receipt(scheduled_event(clock.now_iso()), None)
        assert result["confirmed"] == 0 and result["failed"] == 0
        assert api.get(f"/packages/{package_id}", user=ALICE).body["delivery_confirmed_by"] == "customer"

    def test_the_storage_sweep_never_abandons_a_packaged_item(self, api, app_module):
        start = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
        clock.set_now(start)
        [item_id] = stored(api)
        package = submit(api, [item_id]).body
        clock.set_now(start + timedelta(days=95))
        app_module.storage_sweep(scheduled_event(clock.now_iso()), None)
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "in_package"
        assert api.post(f"/packages/{package['package_id']}/pay", user=ALICE).status == 200


def test_package_lists_are_paginated_and_bad_cursors_are_400(api):
    start = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    clock.set_now(start)
    tee, bank = stored(api, items=(TEE, BANK))
    first = submit(api, [tee], services=[]).body
    clock.set_now(start + timedelta(minutes=1))  # created_at orders the list
    second = submit(
        api,
        [bank],
        line_id="special_battery_air",
        services=["insurance"],
        customs={
            "lines": [{"description_en": "Power bank 10000 mAh", "quantity": 1, "unit_value_fen": 20000}]
        },
    )
    assert second.status == 201 and second.body["services_breakdown"] == {"insurance": 600}
    page = api.get("/packages?limit=1", user=ALICE).body
    assert [p["package_id"] for p in page["items"]] == [second.body["package_id"]] and page["next_cursor"]
    rest = api.get(f"/packages?limit=1&cursor={page['next_cursor']}", user=ALICE).body
    assert [p["package_id"] for p in rest["items"]] == [first["package_id"]]
    assert api.get("/packages?limit=0", user=ALICE).status == 400
    assert api.get("/packages?cursor=%%%", user=ALICE).status == 400
    import base64
    import json

    bad = base64.urlsafe_b64encode(json.dumps({"0": {"package_id": 5}}).encode()).decode()
    assert api.get(f"/staff/packages?cursor={bad}", user=WAREHOUSE).status == 400
