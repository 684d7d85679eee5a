"""The staff console in a real browser (Debian's Chromium) against the real local stack: sign-in per
group, the first-password challenge, review and purchasing, inbound scanning, inspection with a photo,
packing and shipping, destruction after a sweep, and a customer refused. Screenshots of the main screens
are written to .local/screenshots/ (docs/screenshots/ with UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta

import boto3
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from chalicelib import clock
from tests.browser import flows
from tests.browser.conftest import PASSWORD
from tests.e2e.test_journey import run_job


def test_a_customer_who_signs_in_gets_the_staff_only_page(console):
    console.sign_in(flows.CUSTOMER)
    page = console.page
    expect(page.get_by_role("heading", name="Staff only")).to_be_visible()
    expect(page.get_by_text("a customer account")).to_be_visible()
    expect(page.locator("#nav a")).to_have_count(0)  # no staff screen is offered
    console.shot("staff-only")
    page.get_by_role("button", name="Sign out").first.click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_wrong_password_is_refused_in_plain_words(console):
    console.open()
    console.shot("sign-in", full_page=False)
    console.sign_in(flows.REVIEWER, "Wrong-pass-1!")
    expect(console.page.get_by_role("alert")).to_have_text("Wrong email or password.")


def test_each_staff_group_sees_only_its_screens(console):
    page = console.page
    expected = {
        flows.REVIEWER: ({"Review queue", "Purchasing", "After-sales", "Messages", "Claims"}, "Review queue"),
        flows.WAREHOUSE: (
            {
                "Inbound scan",
                "Exceptional parcels",
                "Inspection",
                "Packing",
                "Photo requests",
                "Destruction",
                "After-sales",
                "Messages",
                "Claims",
            },
            "Inbound scan",
        ),
        flows.ADMIN: (
            {
                "Dashboard",
                "Review queue",
                "Purchasing",
                "Inbound scan",
                "Exceptional parcels",
                "Inspection",
                "Packing",
                "Photo requests",
                "Destruction",
                "After-sales",
                "Messages",
                "Claims",
            },
            "Dashboard",
        ),
    }
    for user, (screens, first) in expected.items():
        console.sign_in(user)
        expect(page.locator("main h1")).to_have_text(first)
        assert set(page.locator("#nav a").all_inner_texts()) == screens
        # tokens are kept for the session only
        stored = page.evaluate("JSON.parse(sessionStorage.getItem('procure.console.session'))")
        assert stored["id_token"] and stored["refresh_token"]
        assert page.evaluate("localStorage.length") == 0
        if user == flows.ADMIN:
            expect(page.locator(".tile").first).to_be_visible()
            console.shot("dashboard")
        if user == flows.REVIEWER:
            console.go("#/inbound")  # a warehouse screen by its address
            expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_the_session_is_refreshed_with_the_refresh_token(console):
    console.sign_in(flows.WAREHOUSE)
    page = console.page
    expect(page.locator("main h1")).to_have_text("Inbound scan")
    before = page.evaluate("JSON.parse(sessionStorage.getItem('procure.console.session'))")
    after = page.evaluate("import('./js/auth.js').then(m => m.refresh())")
    assert after["id_token"] and after["refresh_token"] == before["refresh_token"]
    console.go("#/packing")  # the API accepts the refreshed token
    expect(page.locator("main h1")).to_have_text("Packing")


def test_a_staff_account_created_by_an_administrator_chooses_its_password_at_first_sign_in(
    console, local_stack
):
    idp = boto3.client(
        "cognito-idp",
        endpoint_url=local_stack["aws_endpoint_url"],
        region_name=local_stack["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    username = f"new-{uuid.uuid4().hex[:8]}@procure.example"
    idp.admin_create_user(
        UserPoolId=local_stack["user_pool_id"],
        Username=username,
        TemporaryPassword="Temp-pass-2026!",
        UserAttributes=[{"Name": "email", "Value": username}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )
    idp.admin_add_user_to_group(
        UserPoolId=local_stack["user_pool_id"], Username=username, GroupName="warehouse"
    )
    page = console.page
    console.sign_in(username, "Temp-pass-2026!")
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("Fresh-pass-2026!")
    page.get_by_label("Repeat new password").fill("Fresh-pass-2027!")
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The two passwords differ.")
    page.get_by_label("Repeat new password").fill("Fresh-pass-2026!")
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.locator("main h1")).to_have_text("Inbound scan")
    page.get_by_role("button", name="Sign out").click()
    console.sign_in(username, "Fresh-pass-2026!")  # the new password is the one that works now
    expect(page.locator("main h1")).to_have_text("Inbound scan")


def test_a_reviewer_approves_then_buys_cheaper_and_records_the_shipment(console, http):
    order = flows.paid_order(http, remark="Navy, size L as on the label")
    item = order["items"][0]
    page = console.page
    console.sign_in(flows.REVIEWER)
    row = page.locator(f"tr[data-order-id='{order['order_id']}']")
    expect(row).to_be_visible()
    expect(row.locator(".countdown")).to_have_text(re.compile(r"working time left|overdue by"))
    row.get_by_role("link").click()
    expect(page.get_by_role("heading", name=re.compile("^Order"))).to_be_visible()
    expect(page.get_by_text("Navy, size L as on the label")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("page$")).first).to_have_attribute(
        "href", re.compile("^https?://")
    )

    # a double click sends one approval
    approvals = []
    page.on(
        "request",
        lambda r: approvals.append(r) if r.method == "POST" and r.url.endswith("/approve") else None,
    )
    page.get_by_role("button", name="Approve order").dblclick()
    form = page.get_by_role("form", name=f"Purchase {item['title']}")
    expect(form).to_be_visible()
    assert len(approvals) == 1

    # the preview is the server's settlement decision, shown before submitting
    previews = []
    page.on("request", lambda r: previews.append(r) if r.url.endswith("/purchase-preview") else None)
    price = form.get_by_label("Actual unit price (¥)")
    preview = form.locator(".preview")
    # 1 fen dearer per unit: within the consent threshold, charged silently from the wallet
    price.fill(f"{(item['unit_price_fen'] + 1) / 100:.2f}")
    expect(preview).to_contain_text("more than paid: charged from the customer's wallet")
    # twice the price: over the consent threshold, the item waits for the customer (the old
    # JavaScript copy of the rule said "charged" here)
    price.fill(f"{item['unit_price_fen'] * 2 / 100:.2f}")
    expect(preview).to_contain_text("the item waits for the customer to pay or decline it")
    expect(preview).to_have_class(re.compile(r"\bwait\b"))
    console.shot("order-purchase-consent")
    # buying 1.00 cheaper per unit: refunded
    actual = item["unit_price_fen"] - 100
    form.get_by_label("Merchant order no").fill("TB-20261130-77")
    price.fill(f"{actual / 100:.2f}")
    refund = item["quantity"] * 100
    expect(preview).to_contain_text(f"¥{refund // 100}.{refund % 100:02d} cheaper than paid: refunded")
    asked = flows.ok(
        http.call(
            "POST",
            f"/staff/items/{item['item_id']}/purchase-preview",
            user=flows.REVIEWER,
            json={"actual_unit_price_fen": actual},
        )
    )
    assert asked["decision"]["refund_fen"] == refund and previews  # what the screen showed = the server
    console.shot("order-purchase")
    form.get_by_role("button", name="Record purchase").click()

    shipment = page.get_by_role("form", name=f"Domestic shipment of {item['title']}")
    expect(shipment).to_be_visible()
    shipment.get_by_label("Carrier").fill("SF Express")
    shipment.get_by_label("Tracking no").fill("SF" + uuid.uuid4().hex[:10].upper())
    shipment.get_by_role("button", name="Record shipment").click()
    expect(page.locator(f"tr[data-item-id='{item['item_id']}'] .status")).to_have_text("shipped_domestic")

    wallet = flows.ok(http.call("GET", "/wallet", user=flows.CUSTOMER))
    assert any(e["amount_fen"] == refund and e["ref"] == item["item_id"] for e in wallet["entries"]), wallet


def test_overdue_orders_are_highlighted_and_the_countdown_counts_china_working_hours(console, http):
    order = flows.paid_order(http)
    page = console.page
    late = clock.iso(clock.now() - timedelta(hours=2))

    def overdue_first(route):  # the API's answer, with this order's deadline two hours ago
        body = route.fetch().json()
        for row in body["items"]:
            if row["order_id"] == order["order_id"]:
                row.update(review_due_at=late, overdue=True)
        route.fulfill(json=body)

    page.route(re.compile(r"/staff/orders\?status=pending_review"), overdue_first)
    console.sign_in(flows.REVIEWER)
    row = page.locator(f"tr[data-order-id='{order['order_id']}']")
    expect(row).to_have_class(re.compile(r"\boverdue\b"))
    expect(row.locator(".countdown")).to_have_text(re.compile(r"^overdue by 2 h 0\d min$"))
    expect(page.locator(".summary strong")).to_have_text(re.compile(r"^[1-9]\d* overdue$"))
    expect(page.locator("main tbody tr").first).to_have_attribute("data-order-id", order["order_id"])
    console.shot("review-queue")
    working = page.evaluate(
        """import('./js/worktime.js').then(m => [
            m.workingMs(new Date('2026-11-27T17:00:00+08:00'), new Date('2026-11-30T10:00:00+08:00')),
            m.workingMs(new Date('2026-11-28T08:00:00+08:00'), new Date('2026-11-29T20:00:00+08:00')),
            m.workingMs(new Date('2026-11-30T08:00:00+08:00'), new Date('2026-11-30T12:30:00+08:00')),
        ])"""
    )
    assert working == [2 * 3600_000, 0, 3.5 * 3600_000]  # Friday 17-18 + Monday 9-10; a weekend; from 9:00


def test_a_reviewer_rejects_with_a_reason_and_an_empty_reason_is_explained(console, http):
    order = flows.paid_order(http)
    page = console.page
    console.sign_in(flows.REVIEWER)
    console.go(f"#/orders/{order['order_id']}")
    reject = page.get_by_role("form", name="Reject order")
    reject.get_by_role("button", name="Reject and refund").click()
    expect(reject.get_by_role("alert")).to_have_text("Say why the order is rejected.")
    reject.get_by_label("Reason for rejecting").fill("The shop no longer sells this colour.")
    reject.get_by_role("button", name="Reject and refund").click()
    expect(page.locator(".facts .status")).to_have_text("rejected")


def test_a_warehouse_user_scans_a_known_and_an_unknown_parcel(console, http):
    item, tracking = flows.shipped_to_warehouse(http)
    page = console.page
    console.sign_in(flows.WAREHOUSE)
    scan = page.get_by_label("Tracking number (scan)")
    expect(scan).to_be_focused()
    scan.fill(tracking)
    scan.press("Enter")  # what a keyboard-wedge scanner sends
    feedback = page.locator(".scan-feedback")
    expect(feedback.locator(".verdict")).to_have_text("Matched")
    expect(feedback).to_contain_text(item["title"])
    expect(feedback).to_have_class(re.compile(r"\bok\b"))
    expect(scan).to_have_value("")
    expect(scan).to_be_focused()  # ready for the next parcel
    console.shot("inbound-matched")

    page.keyboard.type("JD" + uuid.uuid4().hex[:12].upper())
    page.keyboard.press("Enter")
    expect(feedback.locator(".verdict")).to_have_text("Exceptional")
    expect(feedback).to_have_class(re.compile(r"\bwarn\b"))

    page.keyboard.type(tracking)
    page.keyboard.press("Enter")
    expect(feedback.locator(".verdict")).to_have_text("Already received")
    expect(feedback).to_have_class(re.compile(r"\binfo\b"))

    page.keyboard.type("??")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Please check the form")
    console.go("#/parcels")
    expect(page.get_by_role("heading", name="Exceptional parcels")).to_be_visible()


def _photo() -> bytes:
    img = Image.new("RGB", (800, 600), (235, 235, 240))
    draw = ImageDraw.Draw(img)
    draw.rectangle((200, 120, 600, 480), fill=(30, 60, 120))
    draw.text((230, 140), "QC", fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def test_a_warehouse_user_inspects_with_an_uploaded_photo_that_then_appears(console, http):
    item = flows.received_item(http)
    page = console.page
    console.sign_in(flows.WAREHOUSE)
    console.go("#/inspection")
    page.get_by_role("link", name=item["title"]).first.click()
    page.wait_for_url(re.compile(r"#/inspection/"))
    console.go(f"#/inspection/{item['item_id']}")
    expect(page.get_by_role("heading", name=f"Inspect {item['title']}")).to_be_visible()

    page.get_by_label("QC photos (camera or files)").set_input_files(
        files=[{"name": "front.jpg", "mimeType": "image/jpeg", "buffer": _photo()}]
    )
    page.get_by_role("button", name="Upload photos").click()
    expect(page.get_by_role("img", name=re.compile("QC photo 1"))).to_be_visible(timeout=30_000)
    expect(page.locator(".uploads")).to_contain_text("front.jpg: added.")

    form = page.get_by_role("form", name="Inspection")
    form.get_by_label("Apparel").check()
    form.get_by_label("Weight (g)").fill("640")
    form.get_by_label("Length (cm)").fill("34")
    form.get_by_label("Width (cm)").fill("26")
    form.get_by_label("Height (cm)").fill("7")
    form.get_by_role("button", name="Save inspection").click()
    expect(form.get_by_role("alert")).to_have_text("Apparel: enter the size on the label or tag.")
    form.get_by_label("Size on the label or tag").fill("L")
    form.get_by_label("Colour").select_option("issue")  # out of scope for apparel: recorded, still a pass
    console.shot("inspection")
    form.get_by_role("button", name="Save inspection").click()
    expect(page.get_by_role("status").filter(has_text="Inspection saved")).to_contain_text("in_warehouse")
    page.get_by_role("link", name="Print label").click()
    label = page.locator("article.label")
    expect(label.get_by_role("img", name=f"Code 128 barcode of {item['item_id']}")).to_be_visible()
    expect(label).to_contain_text(item["title"])


def test_a_warehouse_user_packs_with_the_final_charge_shown_then_ships_and_prints_a_label(console, http):
    package = flows.paid_package(http)
    page = console.page
    console.sign_in(flows.WAREHOUSE)
    console.go("#/packing")
    page.get_by_role("link", name=re.compile(package["package_id"][-8:])).click()
    pack = page.get_by_role("form", name="Pack")
    pack.get_by_label("Final weight (g)").fill("2300")
    pack.get_by_label("Length (cm)").fill("40")
    pack.get_by_label("Width (cm)").fill("30")
    pack.get_by_label("Height (cm)").fill("20")
    preview = pack.locator(".preview")
    expect(preview).to_contain_text("final ¥")
    expect(preview).to_contain_text("paid ¥")
    expect(preview).to_contain_text(re.compile("charged from the customer's wallet|refunded|no money moves"))
    shown_final = re.search(r"final ¥([\d,]+\.\d\d)", preview.inner_text()).group(1)
    console.shot("packing")
    pack.get_by_role("button", name="Confirm packed").click()

    ship = page.get_by_role("form", name="Ship")
    expect(ship).to_be_visible()
    packed = flows.ok(http.call("GET", f"/staff/packages/{package['package_id']}", user=flows.WAREHOUSE))
    assert (
        f"{packed['total_fen'] // 100:,}.{packed['total_fen'] % 100:02d}" == shown_final
    )  # preview = server
    ship.get_by_label("Tracking no").fill("1Z" + uuid.uuid4().hex[:12].upper())
    ship.get_by_role("button", name="Ship package").click()
    expect(page.locator(".facts .status")).to_have_text("shipped")

    page.get_by_role("link", name="Print package label").click()
    label = page.locator("article.label")
    expect(label.get_by_role("img", name=f"Code 128 barcode of {package['package_id']}")).to_be_visible()
    box = label.bounding_box()
    assert abs(box["width"] - 4 * 96) < 2 and abs(box["height"] - 6 * 96) < 2  # 4 x 6 in at 96 px/in
    console.shot("label")


def forget_sweep_history(stack: dict) -> None:
    import boto3

    from infra.local.env import stage_environment

    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack["aws_endpoint_url"],
        region_name=stack["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    table = stage_environment("local")["TABLE_PREFIX"] + "-jobs"
    dynamodb.delete_item(TableName=table, Key={"job": {"S": "storage_sweep"}})


def test_an_abandoned_item_is_destroyed_after_the_sweep_with_a_confirmation(console, http):
    item = flows.stored_item(http)
    expires = clock.parse_iso(item["storage"]["expires_at"])
    # earlier tests on this stack ran the sweep at later dates (time travel), so its checkpoint may already
    # be past this item's deadline day: start this run from a fresh history (it then looks 30 days back)
    forget_sweep_history(http.stack)
    run_job("storage_sweep", expires + timedelta(hours=1))
    page = console.page
    console.sign_in(flows.WAREHOUSE)
    console.go("#/destruction")
    row = page.locator(f"tr[data-id='{item['item_id']}']")
    expect(row).to_be_visible()
    console.shot("destruction")
    confirm = row.get_by_role("button", name="Confirm: physically destroyed")
    expect(confirm).to_be_hidden()  # one click never destroys
    row.get_by_role("button", name="Destroy…").click()
    expect(confirm).to_be_focused()
    confirm.click()
    expect(page.locator(f"tr[data-id='{item['item_id']}']")).to_have_count(0)
    stored = flows.ok(http.call("GET", f"/items/{item['item_id']}", user=flows.CUSTOMER))
    assert stored["status"] == "destroyed"


def test_the_main_screens_fit_a_768_px_tablet_and_every_control_is_labelled(console, http):
    flows.paid_order(http)
    page = console.page
    page.set_viewport_size({"width": 768, "height": 1024})
    console.sign_in(flows.ADMIN)
    for screen, heading in [
        ("#/review", "Review queue"),
        ("#/inbound", "Inbound scan"),
        ("#/packing", "Packing"),
        ("#/destruction", "Destruction queue"),
        ("#/dashboard", "Dashboard"),
    ]:
        console.go(screen)
        expect(page.locator("main h1")).to_have_text(heading)
        assert page.evaluate("document.documentElement.scrollWidth") <= 768, screen
        unlabelled = page.evaluate(
            """[...document.querySelectorAll('main input, main select, main textarea')]
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.outerHTML)"""
        )
        assert unlabelled == [], (screen, unlabelled)
    console.go("#/review")
    expect(page.locator("main h1")).to_have_text("Review queue")
    expect(page.locator("main table")).to_be_visible()
    console.shot("review-queue-tablet", full_page=False)
    assert PASSWORD  # the demo password the fixtures sign in with


def test_a_warehouse_user_assigns_an_exceptional_parcel_to_the_customer_who_identified_it(console, http):
    tracking = "ZT" + uuid.uuid4().hex[:12].upper()
    parcel = flows.ok(
        http.call("POST", "/staff/inbound", user=flows.WAREHOUSE, json={"tracking_no": tracking}), 201
    )
    page = console.page
    console.sign_in(flows.WAREHOUSE)
    console.go("#/parcels")
    card = page.locator(f"section[data-parcel-id='{parcel['parcel_id']}']")
    card.get_by_label("Customer email").fill("nobody@example.com")
    card.get_by_role("button", name="Assign").click()
    expect(card.get_by_role("alert")).to_contain_text(
        "No customer has that email address."
    )  # next to the form
    card.get_by_label("Customer email").fill(flows.CUSTOMER)
    card.get_by_label("Description (optional)").fill("Blue phone case, declared by chat")
    card.get_by_role("button", name="Assign").click()
    expect(page.locator(f"section[data-parcel-id='{parcel['parcel_id']}']")).to_have_count(0)


def test_an_after_sales_case_is_resolved_with_a_refund(console, http):
    item = flows.stored_item(http)
    case = flows.ok(
        http.call(
            "POST",
            "/after-sales",
            user=flows.CUSTOMER,
            json={"item_id": item["item_id"], "type": "refund", "reason": "Two stitches loose on the sleeve"},
        ),
        201,
    )
    page = console.page
    console.sign_in(flows.REVIEWER)
    console.go("#/after-sales")
    card = page.locator(f"section[data-case-id='{case['case_id']}']")
    expect(card).to_contain_text("Two stitches loose on the sleeve")
    card.get_by_label("Refund amount (¥)").fill("5.00")
    card.get_by_label("Note to the customer").fill("Partial refund for the loose stitches.")
    card.get_by_role("button", name="Resolve").click()
    expect(page.locator(f"section[data-case-id='{case['case_id']}']")).to_have_count(0)
    wallet = flows.ok(http.call("GET", "/wallet", user=flows.CUSTOMER))
    assert any(e["amount_fen"] == 500 for e in wallet["entries"][:5]), wallet["entries"][:5]
