"""Insurance claims in the staff console (issue 22): warehouse staff see an open claim with the customer's
evidence photo and approve it; the compensation reaches the customer's wallet."""

from __future__ import annotations

import io
import time

from playwright.sync_api import expect

from tests.browser import flows


def _png() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (480, 320), (205, 170, 120))
    draw = ImageDraw.Draw(img)
    draw.polygon([(40, 60), (440, 30), (420, 290), (60, 270)], outline=(90, 60, 30), width=8)
    draw.line([(120, 80), (300, 250)], fill=(60, 40, 20), width=12)  # the crushed corner
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def _photos_ingested(http, claim_id: str, deadline_s: float = 20.0) -> list:
    """The claim's evidence once the S3-triggered ingestion attached it (locally within seconds)."""
    stop = time.monotonic() + deadline_s
    while True:
        mine = flows.ok(http.call("GET", "/claims", user=flows.CUSTOMER, params={"limit": 100}))["items"]
        photos = next(c["photos"] for c in mine if c["claim_id"] == claim_id)
        if photos or time.monotonic() > stop:
            return photos
        time.sleep(0.5)


def test_warehouse_staff_see_a_claim_with_its_evidence_and_approve_it(console, http):
    claim = flows.claimed_package(http, photo=_png())
    assert _photos_ingested(http, claim["claim_id"]), "the evidence photo was not ingested"
    page = console.page
    console.sign_in(flows.WAREHOUSE)
    page.locator("#nav").get_by_role("link", name="Claims").click()
    expect(page.get_by_role("heading", name="Insurance claims", level=1)).to_be_visible()
    card = page.locator(f"section[data-claim-id='{claim['claim_id']}']")
    expect(card).to_contain_text("The carton arrived crushed and the hoodie is torn")
    expect(card).to_contain_text("Damaged · package")
    evidence = card.get_by_role("img", name="Evidence photo 1")
    expect(evidence).to_be_visible()
    expect(evidence).to_have_js_property("complete", True)
    assert evidence.evaluate("img => img.naturalWidth") > 0  # the thumbnail really loaded
    console.shot("claims-queue")

    card.get_by_label("Note to the customer").fill("")
    card.get_by_role("button", name="Resolve").click()
    expect(card.get_by_role("alert")).to_contain_text("Write a note for the customer.")
    card.get_by_label("Compensation (¥)").fill("12.50")
    card.get_by_label("Note to the customer").fill("The photos show the crushed carton.")
    card.get_by_role("button", name="Resolve").click()
    expect(page.locator(f"section[data-claim-id='{claim['claim_id']}']")).to_have_count(0)
    wallet = flows.ok(http.call("GET", "/wallet", user=flows.CUSTOMER))
    entry = wallet["entries"][0]
    assert (entry["kind"], entry["amount_fen"], entry["ref"]) == (
        "claim_compensation",
        1250,
        claim["claim_id"],
    )
