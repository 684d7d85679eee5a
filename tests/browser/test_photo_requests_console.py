"""The warehouse's photo-request queue in a real browser (issue 23): a customer paid for extra photos of a
stored item; the warehouse opens the request, cannot mark it done before a new photo is up, uploads one
(straight to S3, ingested from the photo queue) and marks it done; it leaves the queue."""

from __future__ import annotations

import io
import re
import uuid

from PIL import Image, ImageDraw
from playwright.sync_api import expect

from tests.browser import flows


def _photo() -> bytes:
    img = Image.new("RGB", (800, 600), (240, 236, 228))
    draw = ImageDraw.Draw(img)
    draw.rectangle((150, 100, 650, 500), fill=(120, 40, 40))
    draw.text((180, 120), "collar label", fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def test_the_warehouse_delivers_paid_extra_photos_from_its_queue(console, http):
    item = flows.stored_item(http)
    flows.top_up(http, 5_000)
    asked = flows.ok(
        http.call(
            "POST",
            f"/items/{item['item_id']}/photo-requests",
            user=flows.CUSTOMER,
            json={"note": "The collar label, close up please."},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        ),
        201,
    )
    request_id = asked["request_id"]
    page = console.page
    console.sign_in(flows.WAREHOUSE)
    page.get_by_role("link", name="Photo requests").click()
    expect(page.locator("main h1")).to_have_text("Photo requests")
    row = page.locator(f"tr[data-id='{request_id}']")
    expect(row).to_contain_text("The collar label, close up please.")
    expect(row).to_contain_text("in_warehouse")
    row.get_by_role("link", name=item["title"]).click()
    page.wait_for_url(re.compile(rf"#/photo-requests/{request_id}$"))
    expect(page.locator("main h1")).to_have_text(f"Photos of {item['title']}")

    page.get_by_role("button", name="Mark done").click()  # no new photo yet: refused, said plainly
    expect(page.get_by_role("alert").filter(has_text="No photo")).to_contain_text("Not possible right now")

    page.get_by_label("QC photos (camera or files)").set_input_files(
        files=[{"name": "collar.jpg", "mimeType": "image/jpeg", "buffer": _photo()}]
    )
    page.get_by_role("button", name="Upload photos").click()
    expect(page.get_by_role("img", name=re.compile("QC photo 1"))).to_be_visible(timeout=30_000)
    console.shot("photo-request")
    page.get_by_role("button", name="Mark done").click()
    page.wait_for_url(re.compile(r"#/photo-requests$"))
    expect(page.locator("main h1")).to_have_text("Photo requests")
    expect(page.locator(f"tr[data-id='{request_id}']")).to_have_count(0)
    queue = flows.ok(http.call("GET", "/staff/photo-requests", user=flows.WAREHOUSE, params={"limit": 100}))
    assert request_id not in {r["request_id"] for r in queue["items"]}
