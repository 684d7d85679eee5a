"""The packer's screen for packing without surprises (issue 24), in Chromium against the local stack: the
server's preview of a difference over the consent threshold, the package waiting for the customer with
its answer deadline, a rehearsal, and the customer's repack note. Screenshots: packing-consent-preview,
packing-awaiting-difference, packing-rehearsed, packing-repack-note."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.browser import flows
from tests.browser.test_console import _photo

HEAVY = {"Final weight (g)": "2300", "Length (cm)": "40", "Width (cm)": "30", "Height (cm)": "20"}


def fill_pack_form(page, measures: dict) -> None:
    pack = page.get_by_role("form", name="Pack")
    for label, value in measures.items():
        pack.get_by_label(label).fill(value)


def open_package(console, package_id: str) -> None:
    console.sign_in(flows.WAREHOUSE)
    console.go("#/packing")
    console.page.get_by_role("link", name=re.compile(package_id[-8:])).click()


def test_a_difference_over_the_threshold_shows_the_package_waiting_for_the_customer(console, http):
    package = flows.paid_package(http)
    pid = package["package_id"]
    page = console.page
    open_package(console, pid)
    fill_pack_form(page, HEAVY)
    preview = page.get_by_role("form", name="Pack").locator(".preview")
    expect(preview).to_contain_text("over the ¥")
    expect(preview).to_contain_text("waits for the customer")
    expect(preview).to_have_class(re.compile(r"\bwait\b"))
    console.shot("packing-consent-preview")
    page.get_by_role("button", name="Confirm packed").click()

    waiting = page.get_by_role("region", name="Waiting for the customer")
    expect(waiting).to_contain_text("more than paid")
    expect(waiting).to_contain_text("They answer by")
    expect(waiting).to_contain_text("Do not ship it")
    expect(page.locator(".facts .status")).to_have_text("awaiting_difference")
    expect(page.get_by_role("form", name="Ship")).to_have_count(0)
    console.shot("packing-awaiting-difference")
    server = flows.ok(http.call("GET", f"/staff/packages/{pid}", user=flows.WAREHOUSE))
    assert server["status"] == "awaiting_difference" and server["answer_due_at"]

    # the customer pays the difference: the package is ready to ship
    flows.ok(
        http.call(
            "POST",
            f"/packages/{pid}/pay-difference",
            user=flows.CUSTOMER,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    )
    page.reload()
    expect(page.get_by_role("form", name="Ship")).to_be_visible()
    expect(page.get_by_role("region", name="Waiting for the customer")).to_have_count(0)


def test_a_rehearsal_and_the_customers_repack_note_reach_the_packer(console, http):
    package = flows.paid_package(http, services=("rehearsal",))
    pid = package["package_id"]
    page = console.page
    open_package(console, pid)
    expect(page.get_by_role("region", name="Rehearsal ordered")).to_contain_text(
        "photograph the packed parcel"
    )
    fill_pack_form(page, HEAVY)
    preview = page.get_by_role("form", name="Pack").locator(".preview")
    expect(preview).to_contain_text("Rehearsal: no money moves")
    page.get_by_role("button", name="Confirm packed").click()

    rehearsed = page.get_by_role("region", name="Rehearsal: waiting for the customer")
    expect(rehearsed).to_contain_text("2300 g")
    expect(rehearsed).to_contain_text("They answer by")
    expect(page.locator(".facts .status")).to_have_text("rehearsed")
    # the packer photographs the packed parcel: the customer's GET /packages/{id}/photos shows it
    page.get_by_label("Photos of the packed parcel (camera or files)").set_input_files(
        files=[{"name": "parcel.jpg", "mimeType": "image/jpeg", "buffer": _photo()}]
    )
    page.get_by_role("button", name="Upload photos").click()
    expect(page.get_by_role("img", name=re.compile("Parcel photo 1"))).to_be_visible(timeout=30_000)
    seen = flows.ok(http.call("GET", f"/packages/{pid}/photos", user=flows.CUSTOMER))
    assert len(seen["items"]) == 1
    console.shot("packing-rehearsed")

    note = "Please take the hoodie out of its retail box and add a moisture-proof bag."
    flows.ok(http.call("POST", f"/packages/{pid}/repack", user=flows.CUSTOMER, json={"note": note}))
    console.go("#/packing")
    row = page.get_by_role("region", name="To pack").get_by_role("row").filter(has_text=pid[-8:])
    expect(row).to_contain_text("repack asked")
    row.get_by_role("link", name=re.compile("Repack")).click()
    asked = page.get_by_role("region", name="The customer asks for a repack")
    expect(asked.locator(".repack-note")).to_have_text(note)
    expect(asked).to_contain_text("2300 g, 40×30×20 cm")
    expect(page.get_by_role("form", name="Pack")).to_be_visible()
    console.shot("packing-repack-note")
