"""`make demo`: the whole customer journey over HTTP against the running `make run`, step by step.

Search, cart, quote, order, a top-up settled by Stripe's signed
payment_intent.succeeded (the local simulated provider speaks Stripe's format), pay, staff review, a purchase
at a higher actual price (the difference charged from the wallet), the merchant's domestic shipment, the
warehouse's inbound scan, an inspection with a QC photo of each item uploaded through the presigned POST
and ingested from the photo queue, the parcel's photos-ready email (read from moto's SES), an inspection
issue the customer accepts (the customer's decision), storage days left, a package quote on two lines, the
package, its payment through PayPal (the local stack's PayPal: approve link, capture, PayPal's own signed
webhooks), packing heavier than quoted (over the consent threshold: the customer pays the
difference, the consent round trip), shipping, confirmation of receipt and rating, the storage sweep run as
`make job` runs it, at a later date, and then one exception journey: another order whose item the shop
cannot supply, marked unavailable by the reviewer and refunded (goods and domestic shipping) with the
customer's email. Every run makes new objects (fresh ids, tracking numbers and Idempotency-Keys), so it
can be rerun against the same stack. Exits non-zero at the first unexpected answer, printing it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import requests

from infra.local.env import ROOT, load_stack

ALICE = "alice@example.com"
REVIEWER = "reviewer@procure.example"
WAREHOUSE = "warehouse@procure.example"
ADDRESS = {
    "name": "Alice Example",
    "phone": "+1 415 555 0100",
    "country": "US",
    "state": "CA",
    "city": "San Francisco",
    "postal_code": "94105",
    "line1": "1 Market St",
}
PRICE_RISE_FEN = 300  # the merchant's actual unit price is ¥3.00 above the listing


class DemoError(SystemExit):
    pass


def cny(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


class Api:
    """The storefront's and the staff console's HTTP calls, signed in as the demo users."""

    def __init__(self, stack: dict):
        self.stack = stack
        self.base = stack["api_url"]
        self.session = requests.Session()
        self._tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self._tokens:
            user = next(u for u in self.stack["users"] if u["username"] == username)
            answer = self.session.post(
                self.stack["aws_endpoint_url"] + "/",
                headers={
                    "Content-Type": "application/x-amz-json-1.1",
                    "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
                },
                data=json.dumps(
                    {
                        "ClientId": self.stack["client_id"],
                        "AuthFlow": "USER_PASSWORD_AUTH",
                        "AuthParameters": {"USERNAME": username, "PASSWORD": user["password"]},
                    }
                ),
                timeout=30,
            )
            answer.raise_for_status()
            self._tokens[username] = answer.json()["AuthenticationResult"]["IdToken"]
        return self._tokens[username]

    def call(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        body: dict | None = None,
        data: bytes | None = None,
        headers: dict | None = None,
        params: dict | None = None,
        expect: int = 200,
    ) -> dict:
        all_headers = dict(headers or {})
        if user:
            all_headers["Authorization"] = f"Bearer {self.token(user)}"
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        response = self.session.request(
            method, self.base + path, data=data, headers=all_headers, params=params, timeout=60
        )
        if response.status_code != expect:
            raise DemoError(
                f"\n{method} {path} answered {response.status_code}, expected {expect}:\n{response.text}"
            )
        return response.json() if response.content else {}


def qc_photo() -> bytes:
    """A small JPEG standing in for the warehouse camera's picture."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (640, 480), (235, 235, 230))
    draw = ImageDraw.Draw(img)
    draw.rectangle((140, 90, 500, 400), fill=(40, 70, 140))
    draw.text((160, 110), f"QC {uuid.uuid4().hex[:8]}", fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def upload_photo(api: Api, item_id: str) -> tuple[dict, bytes]:
    """The warehouse's presigned POST of one QC photo of the item, straight to S3."""
    upload = api.call(
        "POST",
        f"/staff/items/{item_id}/photos",
        user=WAREHOUSE,
        body={"content_type": "image/jpeg"},
        expect=201,
    )
    picture = qc_photo()
    target = upload["upload"]
    sent = requests.post(
        target["url"], data=target["fields"], files={"file": ("qc.jpg", picture, "image/jpeg")}, timeout=30
    )
    if sent.status_code not in (200, 201, 204):
        raise DemoError(f"the presigned upload failed: {sent.status_code} {sent.text}")
    return upload, picture


def wait_for_photos(api: Api, item_id: str, since: float) -> None:
    """The photo queue's ingestion attaches the upload within seconds."""
    while time.monotonic() - since < 20:
        if api.call("GET", f"/items/{item_id}/photos", user=ALICE)["items"]:
            return
        time.sleep(0.2)
    raise DemoError(f"the QC photo of {item_id} was not ingested within 20 s")


def wait_for_email(template: str, value: str, stack: dict, key: str = "tracking_no") -> dict:
    """The email moto's SES accepted whose data has `key` = `value` (the parcel's tracking number, an
    item id): the outbox sends it within a second or two."""
    started = time.monotonic()
    while time.monotonic() - started < 20:
        dump = requests.get(stack["aws_endpoint_url"] + "/moto-api/data.json", timeout=30).json()
        for message in dump.get("ses", {}).get("TemplateMessage", []):
            data = json.loads(message.get("template_data") or "{}")
            named = str(message.get("template", "")).endswith(f"-{template}")
            if named and data.get(key) == value:
                return {"template": template, "to": message.get("destinations"), "data": data}
        time.sleep(0.5)
    raise DemoError(f"no {template} email for {key} {value} within 20 s")


def render_email(message: dict) -> str:
    """Subject and text as SES renders the template (moto's renderer); photo links cut short."""
    from moto.ses.template import parse_template

    from chalicelib import emails

    def text(value):  # moto's renderer joins strings only; SES's Handlebars prints numbers too
        if isinstance(value, dict):
            return {k: text(v) for k, v in value.items()}
        return [text(v) for v in value] if isinstance(value, list) else str(value)

    subject, body = emails.TEMPLATES[message["template"]]
    data = text(message["data"])
    to = ", ".join((message.get("to") or {}).get("ToAddresses", []))
    lines = [  # a presigned link's signature is long: shown up to its first parameter
        line.split("?", 1)[0] + "?X-Amz-…" if "?X-Amz-" in line else line
        for line in parse_template(body, data).strip().splitlines()
    ]
    return "\n".join([f"To: {to}", f"Subject: {parse_template(subject, data)}", *lines])


def run_job(job: str, now: str) -> dict:
    """`make job JOB=<job> NOW=<now>`'s mechanism: the scheduled handler once, with the clock at `now`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TABLE_", "PHOTO_", "USER_POOL"))}
    done = subprocess.run(
        [sys.executable, "-m", "infra.local.job", job, now],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise DemoError(f"make job JOB={job} NOW={now} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout[done.stdout.rfind("{\n") :])  # the result, after the job's log lines


def pay_package_with_paypal(api: Api, package_id: str) -> list[str]:
    """The package paid through PayPal on the local stack's PayPal (infra/local/paypal_sim.py), as a
    storefront does it: the order's approve link, the customer's approval there, the capture when PayPal
    sends the customer back; PayPal's own webhooks (CHECKOUT.ORDER.APPROVED, PAYMENT.CAPTURE.COMPLETED,
    verified through PayPal's verify-webhook-signature) arrive as well and change nothing more."""
    from infra.local import paypal_sim

    answer = api.call(
        "POST",
        f"/packages/{package_id}/pay",
        user=ALICE,
        body={"channel": "paypal"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    payment = answer["payment"]
    order_id = payment["provider_ref"]
    approved = requests.post(payment["approve_url"], data={"approve": "1"}, timeout=30)  # the page's button
    if approved.status_code != 200:
        raise DemoError(
            f"the local PayPal did not approve {order_id}: {approved.status_code} {approved.text}"
        )
    captured = api.call("POST", f"/payments/{payment['payment_id']}/capture", user=ALICE)
    try:
        events = paypal_sim.Simulator(api.stack["paypal_url"]).wait(
            order_id, "CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED"
        )
    except RuntimeError as exc:
        raise DemoError(str(exc)) from None
    package = api.call("GET", f"/packages/{package_id}", user=ALICE)
    balance = api.call("GET", "/wallet", user=ALICE)["balance_fen"]
    charged = paypal_sim.money(payment["charged_amount"], payment["charged_currency"])["value"]
    delivered = ", ".join(
        f"{e['event_type']} {e['deliveries'][0]['status']}"
        + (" (nothing more to do)" if e["deliveries"][0].get("answer", {}).get("duplicate") else "")
        for e in events
    )
    return [
        f"through PayPal: order {order_id}, {payment['charged_currency']} {charged} for "
        f"{cny(payment['amount_fen'])} + PayPal fee {cny(payment['fee_fen'])}",
        f"approve link {payment['approve_url']}",
        f"approved on the local PayPal; the storefront's capture on return: {captured['status']}",
        f"PayPal's signed webhooks: {delivered}",
        f"package {package['status']}; wallet {cny(balance)}",
    ]


def journey(api: Api, say: Callable[[str], None] = print) -> dict:
    """The whole journey; returns the ids it made."""
    from chalicelib import clock
    from chalicelib.providers import simulated

    steps = iter(range(1, 100))

    def step(title: str, *lines: str) -> None:
        say(f"{next(steps):>2}. {title}")
        for line in lines:
            say(f"      {line}")

    # --- the storefront ------------------------------------------------------------------------
    found = api.call("GET", "/products/search", params={"q": "hoodie"})["items"]
    product = api.call("GET", f"/products/{found[0]['product_id']}")
    quantity = max(1, product["min_quantity"])
    skus = [s for s in product["skus"] if s["stock"] >= quantity][:2]  # two colours or sizes

    def props(s: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in (s.get("props") or {}).items())

    step(
        'search "hoodie"',
        f"{len(found)} found; first: {product['title']} ({product['source']}, {product['product_id']})",
        *(f"SKU {s['sku_id']} ({props(s)}): {cny(s['price_fen'])}, {s['stock']} in stock" for s in skus),
    )

    cart_items = [
        api.call(
            "POST",
            "/cart/items",
            user=ALICE,
            body={"product_id": product["product_id"], "sku_id": s["sku_id"], "quantity": quantity},
            expect=201,
        )
        for s in skus
    ]
    step(
        "add to cart",
        *(
            f"{c['cart_item_id']}: {quantity} × {cny(s['price_fen'])} ({props(s)})"
            for c, s in zip(cart_items, skus, strict=True)
        ),
    )

    order_body = {"cart_item_ids": [c["cart_item_id"] for c in cart_items], "payment_channel": "balance"}
    charges = api.call("POST", "/orders/quote", user=ALICE, body=order_body)["charges"]
    step(
        "quote",
        f"goods {cny(charges['product_fen'])} + domestic shipping {cny(charges['domestic_shipping_fen'])} "
        f"+ bank fee {cny(charges['bank_fee_fen'])} = {cny(charges['total_fen'])}",
    )
    order = api.call("POST", "/orders", user=ALICE, body=order_body, expect=201)
    order_id = order["order_id"]
    by_sku = {i["sku_id"]: i["item_id"] for i in order["items"]}
    item_ids = [by_sku[s["sku_id"]] for s in skus]
    item_id = item_ids[0]  # travels in the package; the other one stays in storage
    step(
        "order",
        f"{order_id} {order['status']}, total {cny(order['charges']['total_fen'])}",
        f"items {', '.join(item_ids)}",
    )

    # --- money in: the provider's signed webhook ------------------------------------------------
    top_up_fen = order["charges"]["total_fen"] + 100_000
    top_up = api.call(
        "POST",
        "/wallet/top-ups",
        user=ALICE,
        body={"amount_fen": top_up_fen, "channel": "alipay"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        expect=201,
    )
    # the local stack's simulated provider speaks Stripe's format: we play Stripe's part
    event = simulated.event("payment_intent.succeeded", simulated.payment_intent(top_up))
    settled = api.call(
        "POST",
        "/payments/stripe/webhook",
        data=event,
        headers={
            "Stripe-Signature": simulated.sign_stripe(event, api.stack["stripe_webhook_secret"]),
            "Content-Type": "application/json",
        },
    )
    if settled.get("duplicate") is not False:
        raise DemoError(f"the signed payment_intent.succeeded did not credit the top-up: {settled}")
    balance = api.call("GET", "/wallet", user=ALICE)["balance_fen"]
    step(
        "top up through the signed webhook",
        f"{top_up['payment_id']} ({top_up['provider_ref']}): Stripe's payment_intent.succeeded, "
        f"Stripe-Signature; Alipay collects {cny(top_up['charge_fen'])} for {cny(top_up_fen)}",
        f"wallet {cny(balance)}",
    )

    paid = api.call(
        "POST", f"/orders/{order_id}/pay", user=ALICE, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    balance = api.call("GET", "/wallet", user=ALICE)["balance_fen"]
    step(
        "pay from the wallet",
        f"order {paid['status']}, review due {paid['review_due_at']}; wallet {cny(balance)}",
    )

    # --- staff: review, purchase, domestic shipment ---------------------------------------------
    approved = api.call("POST", f"/staff/orders/{order_id}/approve", user=REVIEWER)
    step("review", f"approved by reviewer: order {approved['status']}")

    merchant_order = "TB" + uuid.uuid4().hex[:12].upper()
    lines = []
    for n, (one, s) in enumerate(zip(item_ids, skus, strict=True)):
        actual = s["price_fen"] + (PRICE_RISE_FEN if n == 0 else 0)
        bought = api.call(
            "POST",
            f"/staff/items/{one}/purchase",
            user=REVIEWER,
            body={"merchant_order_no": merchant_order, "actual_unit_price_fen": actual},
        )
        purchase = bought["purchase"]
        lines.append(
            f"{one}: actual {cny(actual)} vs listed {cny(s['price_fen'])}, difference "
            f"{cny(purchase['price_difference_fen'])} {purchase['settlement']}"
        )
    balance = api.call("GET", "/wallet", user=ALICE)["balance_fen"]
    step(f"purchase at the merchant ({merchant_order})", *lines, f"wallet {cny(balance)}")

    tracking = "YT" + uuid.uuid4().hex[:12].upper()
    for one in item_ids:
        shipped = api.call(
            "POST",
            f"/staff/items/{one}/domestic-shipment",
            user=REVIEWER,
            body={"carrier": "YTO", "tracking_no": tracking},
        )
    step("domestic shipment", f"one YTO parcel {tracking}: items {shipped['status']}")

    # --- the warehouse ----------------------------------------------------------------------------
    parcel = api.call("POST", "/staff/inbound", user=WAREHOUSE, body={"tracking_no": tracking}, expect=201)
    step(
        "inbound scan", f"parcel {parcel['parcel_id']} {parcel['status']} to {', '.join(parcel['item_ids'])}"
    )

    uploaded = time.monotonic()
    uploads = [upload_photo(api, one) for one in item_ids]  # one QC photo of each item
    upload, picture = uploads[0]
    for one in item_ids:
        wait_for_photos(api, one, uploaded)
    checks = {"color": "ok", "damage": "ok", "stains": "ok", "size": "ok", "model": "n/a", "version": "n/a"}
    stained = {
        "color": "ok",
        "damage": "ok",
        "stains": "issue",
        "size": "ok",
        "model": "n/a",
        "version": "n/a",
    }
    # literal bodies: tests/integration/test_request_types.py type-checks them against the contract
    inspected = api.call(
        "POST",
        f"/staff/items/{item_id}/inspection",
        user=WAREHOUSE,
        body={
            "category": "apparel",
            "checks": checks,
            "label_size": "L",
            "weight_g": 650,
            "dims_cm": {"l": 35, "w": 25, "h": 8},
            "result": "pass",
        },
    )
    # the other item: a stain the customer decides about (accept, or an after-sales return or exchange)
    other = item_ids[1]
    flagged = api.call(
        "POST",
        f"/staff/items/{other}/inspection",
        user=WAREHOUSE,
        body={
            "category": "apparel",
            "checks": stained,
            "label_size": "L",
            "weight_g": 650,
            "dims_cm": {"l": 35, "w": 25, "h": 8},
            "result": "issue",
            "notes": "A small stain on the left cuff.",
        },
    )
    step(
        "inspection with a QC photo",
        f"{len(uploads)} photos ({upload['photo_id']}: {len(picture):,} bytes) uploaded by presigned POST, "
        f"ingested in {time.monotonic() - uploaded:.1f} s",
        f"{item_id} passed: 650 g, 35×25×8 cm; {inspected['status']}",
        f"{other}: {flagged['status']} ({flagged['inspection']['notes']}), the customer answers by "
        f"{flagged['feedback']['due_at']} or it is taken as accepted",
    )

    notice = wait_for_email("photos_ready", tracking, api.stack)
    step(
        "photos-ready email (one for the parcel, sent after the last inspection)",
        *render_email(notice).splitlines(),
    )

    accepted = api.call("POST", f"/items/{other}/accept", user=ALICE)
    step(
        "customer decision",
        f"{other} accepted as it is: {accepted['status']}, "
        f"{accepted['storage']['days_left']} storage days from now (not from its arrival)",
    )

    stored = {
        i["item_id"]: i
        for i in api.call("GET", "/warehouse/items", user=ALICE, params={"limit": 100})["items"]
    }
    storage = stored[item_id]["storage"]
    step("storage", f"{storage['days_left']} days left for each, until {storage['expires_at']}")

    # --- the package ------------------------------------------------------------------------------
    quotes = api.call("POST", "/packages/quote", user=ALICE, body={"item_ids": [item_id], "country": "US"})[
        "quotes"
    ]
    by_line = {q["line_id"]: q for q in quotes}
    shown = [by_line[line] for line in ("ems", "china_post_sal") if line in by_line] or quotes[:2]
    step(
        f"package quote to the US ({len(quotes)} lines carry it; two shown)",
        *(
            f"{q['line_id']:<15} chargeable {q['chargeable_weight_g']} g: shipping {cny(q['shipping_fen'])} "
            f"+ service fee {cny(q['service_fee_fen'])} = {cny(q['total_fen'])} "
            f"(at most {cny(q['max_charge_without_consent_fen'])} without asking)"
            for q in shown
        ),
    )
    line = shown[0]["line_id"]
    package = api.call(
        "POST",
        "/packages",
        user=ALICE,
        body={"item_ids": [item_id], "address": ADDRESS, "line_id": line},
        expect=201,
    )
    package_id = package["package_id"]
    step(
        "package",
        f"{package_id} on {line} with {item_id}: {package['status']}, {cny(package['total_fen'])}",
        f"{item_ids[1]} stays in storage",
    )

    step("pay the package", *pay_package_with_paypal(api, package_id))

    packed = api.call(
        "POST",
        f"/staff/packages/{package_id}/pack",
        user=WAREHOUSE,
        body={"weight_g": 720, "dims_cm": {"l": 40, "w": 30, "h": 12}},
    )
    settled = packed.get("packed") or {}
    waiting = (
        [
            f"over {cny(package['max_charge_without_consent_fen'])}, the most charged without asking: "
            f"{packed['status']}, the customer is emailed and answers by {packed.get('answer_due_at')} "
            "(pay the difference, or send the package back to storage)"
        ]
        if packed["status"] == "awaiting_difference"
        else [f"{packed['status']}"]
    )
    step(
        "pack",
        f"720 g in a 40×30×12 cm box, chargeable {packed['chargeable_weight_g']} g: final "
        f"{cny(packed['total_fen'])}, "
        f"difference {cny(settled.get('difference_fen', 0))} ({settled.get('settlement', 'none')})",
        *waiting,
    )

    # the consent round trip: the customer pays the difference (POST .../return-to-storage declines it)
    if packed["status"] == "awaiting_difference":
        consented = api.call(
            "POST",
            f"/packages/{package_id}/pay-difference",
            user=ALICE,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        balance = api.call("GET", "/wallet", user=ALICE)["balance_fen"]
        step(
            "pay the packing difference",
            f"{cny(settled.get('difference_fen', 0))} from the wallet: {consented['status']}, "
            f"{consented['packed']['settlement']}; wallet {cny(balance)}",
        )

    ship_no = "EE" + uuid.uuid4().hex[:9].upper() + "CN"
    shipped_package = api.call(
        "POST",
        f"/staff/packages/{package_id}/ship",
        user=WAREHOUSE,
        body={"carrier": "EMS", "tracking_no": ship_no},
    )
    tracking_info = shipped_package.get("tracking") or {}
    step(
        "ship", f"{shipped_package['status']}: EMS {ship_no} {tracking_info.get('tracking_url', '')}".rstrip()
    )

    confirmed = api.call("POST", f"/packages/{package_id}/confirm-receipt", user=ALICE)
    step("confirm receipt", f"package {confirmed['status']}")

    review = api.call(
        "POST",
        f"/packages/{package_id}/review",
        user=ALICE,
        body={"rating": 5, "comment": "Well packed, arrived in 9 days."},
        expect=201,
    )
    step("rate", f"{review['rating']}/5: {review['comment']}")

    # --- the storage policy, later --------------------------------------------------------------
    later = clock.iso(clock.parse_iso(storage["expires_at"]) - timedelta(days=7))
    result = run_job("storage_sweep", later)
    step(
        f"storage sweep at {later} (make job JOB=storage_sweep NOW={later})",
        f"reminder emails {result.get('reminder_emails', 0)}, items abandoned "
        f"{result.get('items_abandoned', 0)}, parcels abandoned {result.get('parcels_abandoned', 0)} "
        "(0 for items an earlier run already reminded or abandoned)",
    )

    # --- an exception journey: the shop cannot supply an approved item (issue 22) ---------------
    sku = skus[0]
    spare = api.call(
        "POST",
        "/orders",
        user=ALICE,
        body={
            "items": [{"product_id": product["product_id"], "sku_id": sku["sku_id"], "quantity": quantity}],
            "payment_channel": "balance",
        },
        expect=201,
    )
    spare_id, spare_item = spare["order_id"], spare["items"][0]["item_id"]
    api.call("POST", f"/orders/{spare_id}/pay", user=ALICE, headers={"Idempotency-Key": uuid.uuid4().hex})
    api.call("POST", f"/staff/orders/{spare_id}/approve", user=REVIEWER)
    balance = api.call("GET", "/wallet", user=ALICE)["balance_fen"]
    step(
        "exception: another order, paid and approved",
        f"{spare_id}: {quantity} × {props(sku)}, total {cny(spare['charges']['total_fen'])}",
        f"wallet {cny(balance)}",
    )
    gone = api.call(
        "POST",
        f"/staff/items/{spare_item}/unavailable",
        user=REVIEWER,
        body={"reason": "out_of_stock", "note": "The shop sold its last one this morning."},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    marked = gone["unavailable"]
    after = api.call("GET", "/wallet", user=ALICE)["balance_fen"]
    spare_now = api.call("GET", f"/orders/{spare_id}", user=ALICE)
    step(
        "exception: the shop is out of stock, the reviewer marks the item unavailable",
        f"{spare_item} {gone['status']}: goods {cny(marked['refunded_fen'])} + domestic shipping "
        f"{cny(marked['shipping_refunded_fen'])} refunded; order {spare_now['status']}",
        f"wallet {cny(balance)} -> {cny(after)}",
    )
    mail = render_email(wait_for_email("item_unavailable", spare_item, api.stack, key="item_id"))
    step("exception: the customer's email", *mail.splitlines())
    return {
        "order_id": order_id,
        "item_ids": item_ids,
        "package_id": package_id,
        "photo_id": upload["photo_id"],
        "unavailable_item_id": spare_item,
    }


def main() -> None:
    stack = load_stack()
    if os.environ.get("PROCURE_CONTRACT_CHECK"):  # run by a test: answers checked against the contract
        from tests import contract

        contract.install_in_subprocess(stack["api_url"])
    api = Api(stack)
    try:
        api.call("GET", "/health")
    except requests.RequestException:
        raise DemoError(f"The API at {stack['api_url']} does not answer: is `make run` up?") from None
    print(f"The journey against {stack['api_url']} (moto at {stack['aws_endpoint_url']}):")
    started = time.monotonic()
    journey(api)
    print(f"Done in {time.monotonic() - started:.1f} s.")


if __name__ == "__main__":
    main()
