"""The staff console's settlement previews: the server answers what a purchase or a packing would settle,
by the same rule the commit applies, and the preview itself changes nothing."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ALICE, REVIEWER, WAREHOUSE
from tests.integration.test_packages import HEAVY_EMS_TOTAL, pack, paid_package
from tests.integration.test_packages import balance as package_balance
from tests.integration.test_review import _approved, balance

pytestmark = pytest.mark.usefixtures("shop")


def preview_purchase(api, item_id, price, user=REVIEWER):
    return api.post(f"/staff/items/{item_id}/purchase-preview", {"actual_unit_price_fen": price}, user=user)


@pytest.mark.parametrize(
    ("price", "top_up_fen", "settlement", "moved"),
    [
        (2300, 50000, "refunded", {"refund_fen": 400}),  # 2 T-shirts listed at ¥25
        (2500, 50000, "none", {}),
        (2600, 50000, "charged", {"charge_fen": 200}),  # within 5% of the ¥50 paid for the goods
        (2600, 5800, "awaiting_payment", {"due_fen": 200}),  # the wallet is empty after paying
        (2700, 50000, "awaiting_confirmation", {"due_fen": 400}),  # over the ¥2.50 threshold
    ],
)
def test_a_purchase_preview_is_what_recording_the_purchase_then_settles(
    api, price, top_up_fen, settlement, moved
):
    order = _approved(api, top_up_fen=top_up_fen)
    item_id = order["items"][0]["item_id"]
    before = balance(api)

    preview = preview_purchase(api, item_id, price)
    assert preview.status == 200, preview.body
    decision = preview.body["decision"]
    expected = {"charge_fen": 0, "refund_fen": 0, "due_fen": 0, **moved}
    assert decision == {
        "difference_fen": (price - 2500) * 2,
        "consent_threshold_fen": 250,
        "settlement": settlement,
        **expected,
    }
    assert preview.body["listed_unit_price_fen"] == 2500 and preview.body["quantity"] == 2
    assert balance(api) == before  # the preview moved no money
    assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "purchasing"

    recorded = api.post(
        f"/staff/items/{item_id}/purchase",
        {"merchant_order_no": "TB-P", "actual_unit_price_fen": price},
        user=REVIEWER,
    )
    assert recorded.status == 200, recorded.body
    assert recorded.body["purchase"]["settlement"] == settlement
    assert recorded.body["price_difference_due_fen"] == expected["due_fen"]
    assert balance(api) == before - expected["charge_fen"] + expected["refund_fen"]
    assert preview_purchase(api, item_id, price).status == 409  # nothing left to preview once recorded


def test_a_purchase_preview_needs_the_reviewer_group_and_an_existing_item(api):
    order = _approved(api)
    item_id = order["items"][0]["item_id"]
    assert preview_purchase(api, item_id, 2500, user=ALICE).status == 403
    assert preview_purchase(api, item_id, 2500, user=WAREHOUSE).status == 403
    assert preview_purchase(api, "itm_missing", 2500).status == 404
    bad = api.post(f"/staff/items/{item_id}/purchase-preview", {"actual_unit_price_fen": -1}, user=REVIEWER)
    assert bad.status == 400


@pytest.mark.parametrize(
    ("weight_g", "dims", "settlement", "difference_fen"),
    [
        (1200, {"l": 30, "w": 20, "h": 10}, "none", 0),  # as quoted
        (1600, {"l": 30, "w": 25, "h": 12}, "charged", 4800),  # one more 500 g step
        (500, {"l": 20, "w": 20, "h": 10}, "refunded", -4800),  # one 500 g step fewer
    ],
)
def test_a_pack_preview_is_what_packing_then_charges_and_settles(
    api, weight_g, dims, settlement, difference_fen
):
    package = paid_package(api)
    package_id = package["package_id"]
    before = package_balance(api)
    body = {"weight_g": weight_g, "dims_cm": dims}

    preview = api.post(f"/staff/packages/{package_id}/pack-preview", body, user=WAREHOUSE)
    assert preview.status == 200, preview.body
    assert preview.body["held_fen"] == HEAVY_EMS_TOTAL
    decision = preview.body["decision"]
    assert decision["settlement"] == settlement and decision["difference_fen"] == difference_fen
    assert decision["consent_threshold_fen"] == 5000  # the lower of 20 % of 30750 paid and ¥50
    assert package_balance(api) == before
    assert api.get(f"/staff/packages/{package_id}", user=WAREHOUSE).body["status"] == "paid"

    packed = pack(api, package_id, weight_g, dims)
    assert packed.status == 200, packed.body
    assert packed.body["packed"]["settlement"] == settlement
    assert packed.body["packed"]["difference_fen"] == difference_fen
    assert packed.body["total_fen"] == preview.body["price"]["total_fen"]
    assert packed.body["shipping_fen"] == preview.body["price"]["shipping_fen"]
    assert package_balance(api) == before - decision["charge_fen"] + decision["refund_fen"]


def test_a_pack_preview_over_the_consent_threshold_says_the_package_will_wait(api):
    package = paid_package(api)
    body = {"weight_g": 5000, "dims_cm": {"l": 40, "w": 30, "h": 20}}
    preview = api.post(f"/staff/packages/{package['package_id']}/pack-preview", body, user=WAREHOUSE)
    assert preview.status == 200, preview.body
    assert preview.body["decision"]["settlement"] == "awaiting_confirmation"
    assert preview.body["decision"]["due_fen"] == 33600 and preview.body["rehearsal"] is False


def test_a_pack_preview_with_a_short_wallet_says_the_package_will_wait(api):
    package = paid_package(api)
    # a power bank paid from the balance leaves ¥25.50 in the wallet, less than the ¥48 difference
    bank = {
        "items": [{"product_id": "prd_bank", "sku_id": "sku_bank", "quantity": 1}],
        "payment_channel": "balance",
    }
    order = api.post("/orders", bank, user=ALICE).body
    assert api.post(f"/orders/{order['order_id']}/pay", user=ALICE).status == 200
    body = {"weight_g": 1600, "dims_cm": {"l": 30, "w": 25, "h": 12}}
    preview = api.post(f"/staff/packages/{package['package_id']}/pack-preview", body, user=WAREHOUSE)
    assert preview.status == 200, preview.body
    assert preview.body["decision"]["settlement"] == "awaiting_payment"
    assert preview.body["decision"]["due_fen"] == 4800
    packed = pack(api, package["package_id"], body["weight_g"], body["dims_cm"]).body
    assert packed["status"] == "awaiting_difference" and packed["packed"]["settlement"] == "awaiting_payment"


def test_a_pack_preview_refuses_what_packing_refuses(api):
    package = paid_package(api)
    over = {"weight_g": 299_000, "dims_cm": {"l": 40, "w": 30, "h": 20}}
    assert (
        api.post(f"/staff/packages/{package['package_id']}/pack-preview", over, user=WAREHOUSE).status == 409
    )
    ok = {"weight_g": 1200, "dims_cm": {"l": 30, "w": 20, "h": 10}}
    assert api.post(f"/staff/packages/{package['package_id']}/pack-preview", ok, user=ALICE).status == 403
