"""The packer's screen in Chromium (issue 24): the paid services as a checklist ticked off before packing,
and the CN22/CN23 printed with the package's 4x6 label (Code 128, the lines, the total, the sender and
the recipient) as its own 4x6 page. Screenshots: packing-checklist.png, customs-cn22.png, customs-cn23.png."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.browser import flows
from tests.browser.test_warehouse_floor import _printed

BRAZIL = {
    "name": "Joana Silva",
    "phone": "+55 11 5555 0100",
    "country": "BR",
    "state": "SP",
    "city": "Sao Paulo",
    "postal_code": "01310-100",
    "line1": "Avenida Paulista 1000",
}


def _paid_package(http, services=(), customs=None, address=None) -> dict:
    item = flows.stored_item(http)
    body = {
        "item_ids": [item["item_id"]],
        "line_id": "ems",
        "services": list(services),
        "address": address
        or {
            "name": "Bob Example",
            "phone": "+1 555 0100",
            "country": "US",
            "state": "CA",
            "city": "San Francisco",
            "postal_code": "94105",
            "line1": "1 Market St",
        },
    }
    if customs:
        body["customs"] = customs
    package = flows.ok(http.call("POST", "/packages", user=flows.CUSTOMER, json=body), 201)
    flows.top_up(http, package["total_fen"] + 50_000)
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    path = f"/packages/{package['package_id']}/pay"
    return flows.ok(http.call("POST", path, user=flows.CUSTOMER, headers=headers))


def test_the_packing_screen_lists_the_paid_services_as_a_checklist_packing_waits_for(console, http):
    package = _paid_package(http, services=["insurance", "reinforcement", "vacuum"])
    console.sign_in(flows.WAREHOUSE)
    expect(console.page.get_by_role("heading", name="Inbound scan")).to_be_visible()
    console.go(f"#/packages/{package['package_id']}")
    checklist = console.page.get_by_role("list", name="Paid services checklist")
    expect(checklist.locator("li")).to_have_count(2)  # insurance is no work for the packer
    expect(console.page.get_by_text("2 of 2 still to do")).to_be_visible()
    console.shot("packing-checklist")
    console.page.get_by_label("Note (reinforcement)").fill("Corner guards on all 8 corners")
    console.page.get_by_role("button", name="Done: reinforcement").click()
    expect(console.page.get_by_text("1 of 2 still to do")).to_be_visible()
    console.page.get_by_text("Cannot be done?").click()
    console.page.get_by_label("Why it cannot be done (vacuum)").fill("Rigid box: no vacuum bag fits")
    console.page.get_by_role("button", name="Could not do: refund ¥10.00").click()
    expect(console.page.get_by_text("All done: the package can be packed.")).to_be_visible()
    done = flows.ok(http.call("GET", f"/packages/{package['package_id']}", user=flows.CUSTOMER))
    assert {w["service"]: w["status"] for w in done["service_work"]} == {
        "reinforcement": "performed",
        "vacuum": "refunded",
    }
    console.shot("packing-checklist-done")


def test_a_cn22_prints_after_the_package_label_with_lines_total_sender_and_recipient(console, http):
    customs = {
        "lines": [
            {
                "description_en": "Hooded sweatshirt, cotton",
                "quantity": 1,
                "unit_value_fen": 8900,
                "hs_code": "611020",
            }
        ],
        "recipient_tax_id": "968.811.342-58",
    }
    package = _paid_package(http, customs=customs, address=BRAZIL)
    console.sign_in(flows.WAREHOUSE)
    expect(console.page.get_by_role("heading", name="Inbound scan")).to_be_visible()
    console.go(f"#/label/package/{package['package_id']}")
    form = console.page.get_by_role("article", name="Customs declaration CN22")
    expect(form).to_contain_text("CUSTOMS DECLARATION CN 22")
    for text in (
        "Hooded sweatshirt, cotton",
        "611020",
        "¥89.00",
        "Procure Sourcing Warehouse",
        "Joana Silva",
        "CPF 968.811.342-58",
    ):
        expect(form).to_contain_text(text)
    bars = form.locator("svg.barcode rect")
    assert bars.count() > 20  # JsBarcode drew the Code 128 of the package id
    console.shot("customs-cn22", full_page=True)
    pages, text = _printed(console.page)
    assert pages == 2  # the 4x6 label, then the CN22 on its own 4x6 page
    assert "CUSTOMS DECLARATION CN 22" in text and "Total value ¥89.00" in text
    assert text.count(package["package_id"]) == 2


def test_a_declaration_over_the_upu_limit_prints_a_cn23(console, http):
    dear = {
        "description_en": "Camera lens 50 mm",
        "quantity": 1,
        "unit_value_fen": 300_000,
        "hs_code": "900211",
    }
    package = _paid_package(http, customs={"lines": [dear]})
    console.sign_in(flows.WAREHOUSE)
    expect(console.page.get_by_role("heading", name="Inbound scan")).to_be_visible()
    console.go(f"#/label/package/{package['package_id']}")
    form = console.page.get_by_role("article", name="Customs declaration CN23")
    expect(form).to_contain_text("CUSTOMS DECLARATION CN 23")
    expect(form).to_contain_text("¥3,000.00")
    console.shot("customs-cn23", full_page=True)
