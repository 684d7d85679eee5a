"""The inspection screen and the customer's feedback (issue 23) in Chromium against the local stack:
electronics pass only with an arrival photo, which the customer then confirms from; the screen shows
the customer's latest remark and its earlier versions. Screenshot: inspection-electronics."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser import flows
from tests.browser.flows import ok
from tests.browser.test_console import _photo


def test_electronics_need_an_arrival_photo_for_user_confirmation_and_the_latest_remark_is_shown(
    console, http
):
    item, tracking = flows.shipped_to_warehouse(http)
    item_id = item["item_id"]
    changed = ok(
        http.call("PATCH", f"/items/{item_id}", user=flows.CUSTOMER, json={"remark": "Size L please"})
    )
    assert changed["remark"] == "Size L please"
    ok(http.call("POST", "/staff/inbound", user=flows.WAREHOUSE, json={"tracking_no": tracking}), 201)

    page = console.page
    console.sign_in(flows.WAREHOUSE)
    console.go(f"#/inspection/{item_id}")
    expect(page.get_by_role("heading", name=re.compile("^Inspect "))).to_be_visible()
    remark = page.locator("dd.remark")
    expect(remark).to_contain_text("Size L please")
    remark.get_by_text("1 earlier version").click()
    expect(remark.locator("ol li")).to_contain_text("Navy, size as on the label")

    form = page.get_by_role("form", name="Inspection")
    form.get_by_role("radio", name="Electronics").check()
    expect(form.locator("#arrival-photo-rule")).to_be_visible()
    form.get_by_label(re.compile("^Not powered on")).check()
    form.get_by_label("Performance discrepancy").check()  # recorded, outside the inspection's scope
    form.get_by_label("Weight (g)").fill("320")
    form.get_by_label("Length (cm)").fill("15")
    form.get_by_label("Width (cm)").fill("8")
    form.get_by_label("Height (cm)").fill("3")
    form.get_by_role("button", name="Save inspection").click()
    expect(form.get_by_role("alert")).to_contain_text("upload at least one arrival photo")
    console.shot("inspection-electronics")

    page.get_by_label("QC photos (camera or files)").set_input_files(
        files=[{"name": "arrival.jpg", "mimeType": "image/jpeg", "buffer": _photo()}]
    )
    page.get_by_role("button", name="Upload photos").click()
    expect(page.get_by_role("img", name=re.compile("QC photo 1"))).to_be_visible(timeout=30_000)
    form.get_by_role("button", name="Save inspection").click()
    saved = page.get_by_role("status").filter(has_text="Inspection saved")
    expect(saved).to_contain_text("awaiting_confirmation")
    expect(saved).to_contain_text("Waiting for the customer until")

    confirmed = ok(http.call("POST", f"/items/{item_id}/confirm", user=flows.CUSTOMER))
    assert confirmed["status"] == "in_warehouse" and confirmed["storage"]["days_left"] == 90
    assert confirmed["inspection"]["outside_scope"] == ["performance"]
