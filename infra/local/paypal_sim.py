"""The local stack's PayPal: a loopback simulator of the PayPal REST API that `make run` points the real
`paypal` provider at (PAYPAL_API_BASE), so a PayPal payment on the local stack goes through the same
adapter code (chalicelib/providers/paypal_provider.py, the official `paypal-server-sdk`) as in AWS and is
settled by PayPal-format webhooks, verified by PayPal's verify-webhook-signature call.

Why a simulator of PayPal's API rather than a second simulated provider in chalicelib: PayPal's flow is
two-sided (the storefront sends the customer to an approve link, we capture, PayPal calls back), and its
webhooks are checked by calling PayPal, not by a shared secret we could sign with. Pointing the real
adapter at a loopback PayPal exercises every line a deployed stack runs; a stand-in inside chalicelib
would exercise none of it.

What it serves (PayPal's paths, shapes from PayPal's published specification: tests/fixtures/payments):
- `POST /v1/oauth2/token` (client credentials: the local stack's PAYPAL_CLIENT_ID/SECRET), and every API
  call below checks its Bearer token (401 AUTHENTICATION_FAILURE otherwise);
- Orders v2: `POST /v2/checkout/orders` (an order CREATED with its `approve` link), `GET .../{id}`,
  `POST .../{id}/capture` (422 ORDER_NOT_APPROVED before the customer approved, ORDER_ALREADY_CAPTURED
  after; COMPLETED with the capture, a `paypal_fee` in its breakdown);
- Payments v2: `GET /v2/payments/captures/{id}`, `POST .../{id}/refund` (REFUND_AMOUNT_EXCEEDED,
  CAPTURE_FULLY_REFUNDED); every POST honours `PayPal-Request-Id` (the same id answers the same);
- Webhooks v1: `POST /v1/notifications/verify-webhook-signature` (SUCCESS only for a delivery this
  simulator signed, with that body and webhook id), `GET /v1/notifications/webhooks-events/{id}` and
  `.../resend` (202: delivered again), and the signing certificate at the PAYPAL-CERT-URL it sends;
- the approve page (`GET /checkoutnow?token=<order id>`, the approve link): its button approves the order
  as the customer would, and PayPal's `CHECKOUT.ORDER.APPROVED` is delivered.

Events are delivered to the API's `POST /payments/webhooks/paypal` as PayPal delivers them: the event JSON
(`id`, `event_type`, `resource`...) with PAYPAL-TRANSMISSION-ID/-TIME/-SIG (SHA256withRSA over
`<transmission id>|<time>|<webhook id>|<CRC32 of the body>`), PAYPAL-CERT-URL and PAYPAL-AUTH-ALGO, in
order, each retried with backoff until the API answers 2xx (PayPal retries failed deliveries too).
`CHECKOUT.ORDER.APPROVED` on approval, `PAYMENT.CAPTURE.COMPLETED` (or `.DECLINED`) on capture,
`PAYMENT.CAPTURE.REFUNDED` on a refund, `CUSTOMER.DISPUTE.CREATED`/`.RESOLVED` for a dispute.

What only the simulator has, under `/simulator/` (what a buyer or PayPal's dashboard would do):
`POST /simulator/orders/{id}/approve` (`{"decline": true}`: its capture will be declined), `GET
/simulator/orders/{id}` (the order and its events with each delivery's status and answer), `POST
/simulator/captures/{id}/refund` (`{"amount_minor"}`: a refund made at PayPal, not asked by us), `POST
/simulator/captures/{id}/dispute` and `POST /simulator/disputes/{id}/resolve` (`{"outcome_code"}`), `GET
/simulator/events/{id}` (the raw body and headers of its deliveries). `Simulator` below is their client.

State is in memory (a restart of `make run` starts empty, as its DynamoDB does). No secret is logged or
answered: the client secret is only compared, tokens are random, deliveries carry no secret.
"""

from __future__ import annotations

import base64
import copy
import datetime
import heapq
import html
import json
import os
import re
import secrets
import threading
import time
import uuid
import zlib
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "payments" / "paypal"
HOST = "127.0.0.1"
# the local stack's PayPal app (not secrets of any real account: the simulator only compares them)
CLIENT_ID = "AbLocalPayPalSimulatorClientId00000000000"
CLIENT_SECRET = "ELocalPayPalSimulatorClientSecret0000000"  # noqa: S105 - a local demo value
WEBHOOK_ID = "0LOCALSIMWEBHOOK1"  # PayPal's webhook ids: 17 upper-case letters and digits
WEBHOOK_PATH = "/payments/webhooks/paypal"  # the path the API contract names
VERIFY = "/v1/notifications/verify-webhook-signature"
AUTH_ALGO = "SHA256withRSA"
# the fee PayPal reports on a capture: the specification's own capture example (3.00 on 100.00)
FEE_PERCENT = Decimal(3)
RETRY_SECONDS = (1, 2, 4, 8, 16)  # a failed delivery is tried again after each, then given up


def provider_environment(url: str, environ: dict | None = None) -> dict[str, str]:
    """What points the stack's real `paypal` provider at the simulator on `url`: the paypal channel mapped
    to it (the other channels stay as the stage maps them), its base URL and the local app's credentials."""
    try:
        table = json.loads((os.environ if environ is None else environ).get("PAYMENT_PROVIDERS") or "{}")
    except ValueError:
        table = {}
    return {
        "PAYMENT_PROVIDERS": json.dumps({**(table if isinstance(table, dict) else {}), "paypal": "paypal"}),
        "PAYPAL_API_BASE": url,
        "PAYPAL_CLIENT_ID": CLIENT_ID,
        "PAYPAL_CLIENT_SECRET": CLIENT_SECRET,
        "PAYPAL_WEBHOOK_ID": WEBHOOK_ID,
    }


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def minor_units(code: str) -> int:
    from chalicelib import currency

    return currency.minor_units(code)


def money(minor: int, code: str) -> dict:
    """Minor units as PayPal's money object ({"currency_code", "value": "104.50"})."""
    places = minor_units(code)
    return {
        "currency_code": code,
        "value": str(Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places))),
    }


def to_minor(amount: dict) -> int:
    return int(Decimal(str(amount["value"])).scaleb(minor_units(str(amount["currency_code"]))))


def new_paypal_id() -> str:
    """PayPal's ids: 17 upper-case letters and digits."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(17))


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(event_type: str, resource: dict, event_id: str | None = None, api: str = "") -> bytes:
    """A webhook event (notifications `event`, tests/fixtures/payments/paypal/event.json) around
    `resource`, as its raw body."""
    event = fixture("event")
    event_id = event_id or "WH-" + new_paypal_id()
    event.update(id=event_id, event_type=event_type, resource=resource, summary=event_type.lower())
    event["create_time"] = now_iso()
    event["resource_type"] = "dispute" if "DISPUTE" in event_type else event_type.split(".")[-2].lower()
    for link in event["links"]:
        link["href"] = link["href"].replace("8PT597110X687430LKGECATA", event_id)
        if api:
            link["href"] = link["href"].replace("https://api-m.sandbox.paypal.com", api)
    return json.dumps(event).encode()


class Signer:
    """PayPal's side of webhook signatures: signs each delivery with its RSA key as PayPal documents
    (developer.paypal.com/api/rest/webhooks/rest/, "Verify the signature") and decides a
    verify-webhook-signature request as PayPal does. Shared by the local simulator and the tests' fake."""

    def __init__(self, cert_url: str) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.cert_url = cert_url
        self.signed: dict[str, tuple[bytes, str]] = {}  # transmission id -> (raw body, webhook id)
        self._lock = threading.Lock()

    def certificate_pem(self) -> bytes:
        """A self-signed certificate of the signing key (what PAYPAL-CERT-URL serves)."""
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.local")])
        start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=365))
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    def sign(self, raw: bytes, webhook_id: str, time: str | None = None) -> dict[str, str]:
        """The transmission headers PayPal sends with `raw`."""
        transmission_id = str(uuid.uuid4())
        time = time or now_iso()
        message = f"{transmission_id}|{time}|{webhook_id}|{zlib.crc32(raw)}".encode()
        signature = self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        with self._lock:
            self.signed[transmission_id] = (raw, webhook_id)
        return {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": time,
            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
            "PAYPAL-CERT-URL": self.cert_url,
            "PAYPAL-AUTH-ALGO": AUTH_ALGO,
        }

    def checks(self, asked: dict) -> bool:
        """What PayPal's verify-webhook-signature decides for the request `asked`."""
        with self._lock:
            raw, _webhook_id = self.signed.get(str(asked.get("transmission_id")), (None, None))
        if (
            raw is None
            or json.loads(raw) != asked.get("webhook_event")
            or asked.get("auth_algo") != AUTH_ALGO
        ):
            return False
        message = "|".join(
            [
                str(asked["transmission_id"]),
                str(asked.get("transmission_time", "")),
                str(asked.get("webhook_id", "")),
                str(zlib.crc32(raw)),
            ]
        ).encode()
        try:
            self.key.public_key().verify(
                base64.b64decode(str(asked.get("transmission_sig", ""))),
                message,
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return False
        return True


class ApiError(Exception):
    """A PayPal error answer (the specification's `error` schema: name, message, details[].issue)."""

    def __init__(self, status: int, name: str, message: str, issue: str | None = None, description: str = ""):
        super().__init__(name)
        self.status = status
        self.body = {"name": name, "message": message, "debug_id": secrets.token_hex(7)}
        if issue:
            self.body["details"] = [{"issue": issue, "description": description or issue}]


def _not_found() -> ApiError:
    return ApiError(
        404,
        "RESOURCE_NOT_FOUND",
        "The specified resource does not exist.",
        "INVALID_RESOURCE_ID",
        "Specified resource ID does not exist. Please check the resource ID and try again.",
    )


def _unprocessable(issue: str, description: str) -> ApiError:
    return ApiError(
        422,
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed business validation.",
        issue,
        description,
    )


class PayPalSimulator:
    """The loopback PayPal: start(), then point PAYPAL_API_BASE at `url`; stop() at the end."""

    def __init__(
        self,
        webhook_url: str,
        *,
        host: str = HOST,
        port: int = 0,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        webhook_id: str = WEBHOOK_ID,
        background: bool = True,
    ) -> None:
        """`background`: deliver events from a thread of its own as they come (the local stack); else only
        when `flush()` is called (a test client that must not be called from two threads)."""
        self.webhook_url = webhook_url
        self.client_id, self.client_secret, self.webhook_id = client_id, client_secret, webhook_id
        self._lock = threading.RLock()
        self._tokens: set[str] = set()
        self.orders: dict[str, dict] = {}
        self.captures: dict[str, dict] = {}  # capture id -> the capture resource
        self.disputes: dict[str, dict] = {}
        self._refunded: dict[str, int] = {}  # capture id -> refunded so far, in minor units
        self.events: dict[str, dict] = {}  # event id -> {"raw", "event_type", "order_id", "deliveries"}
        self._answered: dict[tuple[str, str], tuple[int, dict]] = {}  # (path, PayPal-Request-Id) -> answer
        self._due: list[tuple[float, int, str]] = []  # (when, seq, event id): deliveries waiting
        self._seq = 0
        self._wake = threading.Condition()
        self._stopped = threading.Event()
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                simulator._handle(self)

            do_GET = do_POST = _serve

            def log_message(self, *args) -> None:  # quiet: and never a header or a body in a log
                pass

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://{host}:{self._httpd.server_address[1]}"
        self.signer = Signer(f"{self.url}/v1/notifications/certs/CERT-local-simulator")
        self._threads = [threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)]
        if background:
            self._threads.append(threading.Thread(target=self._deliver_forever, daemon=True))

    def start(self) -> PayPalSimulator:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        with self._wake:
            self._wake.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> PayPalSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- HTTP ------------------------------------------------------------------------------------

    ROUTES = (
        ("POST", r"/v1/oauth2/token", "_token", False),
        ("POST", r"/v2/checkout/orders", "_create_order", True),
        ("GET", r"/v2/checkout/orders/(?P<id>[A-Z0-9]+)", "_get_order", True),
        ("POST", r"/v2/checkout/orders/(?P<id>[A-Z0-9]+)/capture", "_capture", True),
        ("GET", r"/v2/payments/captures/(?P<id>[A-Z0-9]+)", "_get_capture", True),
        ("POST", r"/v2/payments/captures/(?P<id>[A-Z0-9]+)/refund", "_refund_api", True),
        ("POST", VERIFY, "_verify", True),
        ("GET", r"/v1/notifications/webhooks-events/(?P<id>[A-Z0-9-]+)", "_get_event", True),
        ("POST", r"/v1/notifications/webhooks-events/(?P<id>[A-Z0-9-]+)/resend", "_resend", True),
        ("GET", r"/v1/notifications/certs/(?P<id>[A-Za-z0-9-]+)", "_certificate", False),
        ("GET", r"/checkoutnow", "_approve_page", False),
        ("POST", r"/checkoutnow", "_approve_form", False),
        ("POST", r"/simulator/orders/(?P<id>[A-Z0-9]+)/approve", "_sim_approve", False),
        ("GET", r"/simulator/orders/(?P<id>[A-Z0-9]+)", "_sim_order", False),
        ("POST", r"/simulator/captures/(?P<id>[A-Z0-9]+)/refund", "_sim_refund", False),
        ("POST", r"/simulator/captures/(?P<id>[A-Z0-9]+)/dispute", "_sim_dispute", False),
        ("POST", r"/simulator/disputes/(?P<id>[A-Z0-9-]+)/resolve", "_sim_resolve", False),
        ("GET", r"/simulator/events/(?P<id>[A-Z0-9-]+)", "_sim_event", False),
    )

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        request = {
            "headers": {k.lower(): v for k, v in http.headers.items()},
            "query": {k: v[-1] for k, v in parse_qs(parts.query).items()},
            "body": body,
        }
        status, answer, content_type, extra = 404, _not_found().body, "application/json", {}
        try:
            for method, pattern, name, authed in self.ROUTES:
                found = re.fullmatch(pattern, parts.path)
                if method == http.command and found:
                    if authed:
                        self._authenticate(request["headers"])
                    result = getattr(self, name)(request, **found.groupdict())
                    status, answer = result[0], result[1]
                    if len(result) > 2:
                        content_type, extra = result[2], result[3] if len(result) > 3 else {}
                    break
        except ApiError as exc:
            status, answer = exc.status, exc.body
        except (ValueError, KeyError, TypeError):
            status, answer = (
                400,
                ApiError(
                    400,
                    "INVALID_REQUEST",
                    "Request is not well-formed, syntactically incorrect, or violates schema.",
                    "MALFORMED_REQUEST_JSON",
                    "The request JSON is not well formed.",
                ).body,
            )
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        try:
            http.send_response(status)
            http.send_header("Content-Type", content_type)
            http.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                http.send_header(name, value)
            http.end_headers()
            http.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _authenticate(self, headers: dict) -> None:
        scheme, _, token = (headers.get("authorization") or "").partition(" ")
        with self._lock:
            known = scheme == "Bearer" and token in self._tokens
        if not known:
            raise ApiError(
                401,
                "AUTHENTICATION_FAILURE",
                "Authentication failed due to missing authorization header, or invalid authentication "
                "credentials.",
            )

    def _idempotent(self, request: dict, path: str, make) -> tuple[int, dict]:
        """PayPal-Request-Id: a POST repeated with the same id answers what the first one answered."""
        key = request["headers"].get("paypal-request-id")
        with self._lock:
            if key and (path, key) in self._answered:
                return self._answered[(path, key)]
            answer = make()
            if key:
                self._answered[(path, key)] = answer
            return answer

    def _json(self, request: dict) -> dict:
        body = json.loads(request["body"] or b"{}")
        if not isinstance(body, dict):
            raise ValueError("not an object")
        return body

    # --- OAuth -----------------------------------------------------------------------------------

    def _token(self, request: dict):
        scheme, _, encoded = (request["headers"].get("authorization") or "").partition(" ")
        try:
            given = base64.b64decode(encoded).decode() if scheme == "Basic" else ""
        except ValueError:
            given = ""
        client_id, _, client_secret = given.partition(":")
        if not (
            secrets.compare_digest(client_id, self.client_id)
            and secrets.compare_digest(client_secret, self.client_secret)
        ):
            raise ApiError(
                401,
                "AUTHENTICATION_FAILURE",
                "Authentication failed due to missing authorization header, or invalid authentication "
                "credentials.",
            )
        token = fixture("oauth_token")
        token["access_token"] = "A21AA" + secrets.token_urlsafe(48)
        token["nonce"] = now_iso() + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token["access_token"])
        return 200, token

    # --- Orders v2 -------------------------------------------------------------------------------

    def _links(self, order_id: str) -> list[dict]:
        links = fixture("order_created")["links"]
        for link in links:
            link["href"] = (
                link["href"]
                .replace("5O190127TN364715T", order_id)
                .replace("https://api-m.sandbox.paypal.com", self.url)
                .replace("https://www.sandbox.paypal.com", self.url)
            )
        return links

    def _create_order(self, request: dict):
        asked = self._json(request)

        def make():
            units = asked.get("purchase_units")
            if asked.get("intent") != "CAPTURE" or not isinstance(units, list) or len(units) != 1:
                raise _unprocessable(
                    "INVALID_PARAMETER_VALUE",
                    "A parameter value is not valid.",  # one unit, intent CAPTURE
                )
            unit = units[0]
            to_minor(unit["amount"])  # a readable amount, or a 400
            order_id = new_paypal_id()
            order = fixture("order_created")
            order.update(
                id=order_id,
                create_time=now_iso(),
                purchase_units=[
                    {
                        "reference_id": unit.get("reference_id") or "default",
                        "amount": dict(unit["amount"]),
                        **{k: unit[k] for k in ("custom_id", "invoice_id", "description") if unit.get(k)},
                    }
                ],
                links=self._links(order_id),
            )
            self.orders[order_id] = {
                "order": order,
                "decline": False,
                "return_url": (asked.get("application_context") or {}).get("return_url"),
                "events": [],
            }
            return 201, copy.deepcopy(order)

        return self._idempotent(request, "/v2/checkout/orders", make)

    def _order(self, order_id: str) -> dict:
        found = self.orders.get(order_id)
        if found is None:
            raise _not_found()
        return found

    def _get_order(self, request: dict, id: str):
        with self._lock:
            return 200, copy.deepcopy(self._order(id)["order"])

    def approve(self, order_id: str, decline: bool = False) -> dict:
        """The customer approves the order on PayPal: it is APPROVED and CHECKOUT.ORDER.APPROVED is sent."""
        with self._lock:
            held = self._order(order_id)
            order = held["order"]
            if order["status"] != "CREATED":
                return copy.deepcopy(order)
            order["status"] = "APPROVED"
            order["update_time"] = now_iso()
            order["payer"] = copy.deepcopy(fixture("order_captured")["payer"])
            held["decline"] = decline
            self._emit("CHECKOUT.ORDER.APPROVED", copy.deepcopy(order), order_id)
            return copy.deepcopy(order)

    def _capture(self, request: dict, id: str):
        def make():
            held = self._order(id)
            order = held["order"]
            if order["status"] == "CREATED":
                raise _unprocessable(
                    "ORDER_NOT_APPROVED",
                    "Payer has not yet approved the Order for payment. Please redirect the payer to the "
                    "'rel':'approve' url returned as part of the HATEOAS links within the Create Order call.",
                )
            if order["status"] == "COMPLETED" or held.get("capture_id"):
                raise _unprocessable(
                    "ORDER_ALREADY_CAPTURED",
                    "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed.",
                )
            unit = order["purchase_units"][0]
            capture = self._new_capture(id, unit, "DECLINED" if held["decline"] else "COMPLETED")
            held["capture_id"] = capture["id"]
            order["status"] = "COMPLETED"
            order["update_time"] = now_iso()
            answer = fixture("order_captured")
            answer.update(id=id, create_time=order["create_time"], update_time=order["update_time"])
            answer["links"] = [link for link in self._links(id) if link["rel"] == "self"]
            inner = {k: v for k, v in capture.items() if k != "supplementary_data"}
            answer["purchase_units"] = [
                {"reference_id": unit["reference_id"], "payments": {"captures": [inner]}}
            ]
            order["purchase_units"][0]["payments"] = {"captures": [inner]}
            kind = "COMPLETED" if capture["status"] == "COMPLETED" else "DECLINED"
            self._emit(f"PAYMENT.CAPTURE.{kind}", copy.deepcopy(capture), id)
            return 201, answer

        return self._idempotent(request, f"/v2/checkout/orders/{id}/capture", make)

    def _new_capture(self, order_id: str, unit: dict, status: str) -> dict:
        capture_id = new_paypal_id()
        gross = to_minor(unit["amount"])
        code = unit["amount"]["currency_code"]
        fee = int((Decimal(gross) * FEE_PERCENT / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        capture = fixture("capture")
        capture.update(
            id=capture_id,
            status=status,
            amount=money(gross, code),
            invoice_id=unit.get("invoice_id"),
            custom_id=unit.get("custom_id"),
            supplementary_data={"related_ids": {"order_id": order_id}},
            create_time=now_iso(),
            update_time=now_iso(),
        )
        capture = {k: v for k, v in capture.items() if v is not None}
        if status == "COMPLETED":
            capture["seller_receivable_breakdown"] = {
                "gross_amount": money(gross, code),
                "paypal_fee": money(fee, code),
                "net_amount": money(gross - fee, code),
            }
        else:  # "not available for transactions that are in pending state" (nor declined ones)
            capture.pop("seller_receivable_breakdown", None)
        for link in capture["links"]:
            link["href"] = (
                link["href"]
                .replace("3C679366HH908993F", capture_id)
                .replace("5O190127TN364715T", order_id)
                .replace("https://api-m.sandbox.paypal.com", self.url)
            )
        self.captures[capture_id] = capture
        return capture

    # --- Payments v2 -----------------------------------------------------------------------------

    def _capture_of(self, capture_id: str) -> dict:
        found = self.captures.get(capture_id)
        if found is None:
            raise _not_found()
        return found

    def _get_capture(self, request: dict, id: str):
        with self._lock:
            return 200, copy.deepcopy(self._capture_of(id))

    def _refund_api(self, request: dict, id: str):
        asked = self._json(request)
        amount = asked.get("amount")

        def make():
            return 201, self.refund(id, to_minor(amount) if amount else None, asked.get("custom_id"))

        return self._idempotent(request, f"/v2/payments/captures/{id}/refund", make)

    def refund(self, capture_id: str, amount_minor: int | None = None, custom_id: str | None = None) -> dict:
        """A refund of the capture (all that is left when no amount): PAYMENT.CAPTURE.REFUNDED is sent."""
        with self._lock:
            capture = self._capture_of(capture_id)
            if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"):
                raise _unprocessable("REFUND_NOT_ALLOWED", "Capture cannot be refunded.")
            code = capture["amount"]["currency_code"]
            gross, done = to_minor(capture["amount"]), self._refunded.get(capture_id, 0)
            left = gross - done
            if left <= 0:
                raise _unprocessable("CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded")
            amount = left if amount_minor is None else int(amount_minor)
            if amount <= 0 or amount > left:
                raise _unprocessable(
                    "REFUND_AMOUNT_EXCEEDED",
                    "The refund amount must be less than or equal to the capture amount that has not yet "
                    "been refunded.",
                )
            self._refunded[capture_id] = done + amount
            capture["status"] = "REFUNDED" if done + amount == gross else "PARTIALLY_REFUNDED"
            refund = fixture("refund")
            refund_id = new_paypal_id()
            refund.update(
                id=refund_id,
                status="COMPLETED",
                amount=money(amount, code),
                invoice_id=capture.get("invoice_id"),
                create_time=now_iso(),
                update_time=now_iso(),
            )
            refund = {k: v for k, v in refund.items() if v is not None}
            if custom_id:
                refund["custom_id"] = custom_id
            refund["seller_payable_breakdown"] = {
                "gross_amount": money(amount, code),
                "paypal_fee": money(0, code),
                "net_amount": money(amount, code),
                "total_refunded_amount": money(done + amount, code),
            }
            refund["links"] = [
                {"href": f"{self.url}/v2/payments/refunds/{refund_id}", "rel": "self", "method": "GET"},
                {"href": f"{self.url}/v2/payments/captures/{capture_id}", "rel": "up", "method": "GET"},
            ]
            order_id = capture["supplementary_data"]["related_ids"]["order_id"]
            self._emit("PAYMENT.CAPTURE.REFUNDED", copy.deepcopy(refund), order_id)
            return refund

    # --- disputes (what a buyer opens at PayPal) ---------------------------------------------------

    def dispute(self, capture_id: str, amount_minor: int | None = None) -> dict:
        with self._lock:
            capture = self._capture_of(capture_id)
            code = capture["amount"]["currency_code"]
            amount = to_minor(capture["amount"]) if amount_minor is None else int(amount_minor)
            dispute = fixture("dispute")
            dispute_id = "PP-D-" + str(100000 + len(self.disputes))
            dispute.update(dispute_id=dispute_id, dispute_amount=money(amount, code))
            dispute["create_time"] = dispute["update_time"] = now_iso()
            dispute["disputed_transactions"][0].update(
                seller_transaction_id=capture_id,
                gross_amount=dict(capture["amount"]),
                invoice_number=capture.get("invoice_id"),
                custom=capture.get("custom_id"),
            )
            dispute["links"][0]["href"] = f"{self.url}/v1/customer/disputes/{dispute_id}"
            self.disputes[dispute_id] = dispute
            order_id = capture["supplementary_data"]["related_ids"]["order_id"]
            self._emit("CUSTOMER.DISPUTE.CREATED", copy.deepcopy(dispute), order_id)
            return copy.deepcopy(dispute)

    def resolve(self, dispute_id: str, outcome_code: str) -> dict:
        with self._lock:
            dispute = self.disputes.get(dispute_id)
            if dispute is None:
                raise _not_found()
            dispute.update(
                status="RESOLVED",
                update_time=now_iso(),
                dispute_outcome={"outcome_code": outcome_code, "amount_refunded": dispute["dispute_amount"]},
            )
            capture = self._capture_of(dispute["disputed_transactions"][0]["seller_transaction_id"])
            order_id = capture["supplementary_data"]["related_ids"]["order_id"]
            self._emit("CUSTOMER.DISPUTE.RESOLVED", copy.deepcopy(dispute), order_id)
            return copy.deepcopy(dispute)

    # --- webhooks --------------------------------------------------------------------------------

    def _emit(self, event_type: str, resource: dict, order_id: str) -> str:
        """Record an event and queue its delivery (callers hold the lock)."""
        raw = envelope(event_type, resource, api=self.url)
        event_id = json.loads(raw)["id"]
        self.events[event_id] = {"raw": raw, "event_type": event_type, "order_id": order_id, "deliveries": []}
        self.orders[order_id]["events"].append(event_id)
        self._queue(event_id, 0.0)
        return event_id

    def _queue(self, event_id: str, delay: float) -> None:
        with self._wake:
            self._seq += 1
            heapq.heappush(self._due, (time.monotonic() + delay, self._seq, event_id))
            self._wake.notify()

    def _deliver_forever(self) -> None:
        """One delivery at a time, in order (PayPal delivers in parallel; order is kinder to logs)."""
        while not self._stopped.is_set():
            with self._wake:
                while not self._stopped.is_set() and (not self._due or self._due[0][0] > time.monotonic()):
                    self._wake.wait(0.2 if not self._due else max(0.0, self._due[0][0] - time.monotonic()))
                if self._stopped.is_set():
                    return
                _, _, event_id = heapq.heappop(self._due)
            self.deliver(event_id)

    def flush(self, most: int = 50) -> list[dict]:
        """Deliver, in this thread, every queued event (retries included, without their wait) and those
        the deliveries cause (an approval's capture), at most `most` attempts."""
        attempts = []
        while len(attempts) < most:
            with self._wake:
                if not self._due:
                    return attempts
                _, _, event_id = heapq.heappop(self._due)
            attempts.append(self.deliver(event_id))
        return attempts

    def deliver(self, event_id: str, headers: dict | None = None) -> dict:
        """POST the event to the API once, signed anew (each transmission has its own id); a failure
        is tried again later, up to len(RETRY_SECONDS) more times."""
        with self._lock:
            event = self.events[event_id]
            raw = event["raw"]
        sent = headers or self.signer.sign(raw, self.webhook_id)
        # the headers carry no secret: a signature checks only with this simulator's key and one body
        attempt = {"transmission_id": sent["PAYPAL-TRANSMISSION-ID"], "at": now_iso(), "headers": sent}
        try:
            answer = requests.post(
                self.webhook_url, data=raw, headers={**sent, "Content-Type": "application/json"}, timeout=30
            )
            attempt["status"] = answer.status_code
            try:
                attempt["answer"] = answer.json()
            except ValueError:
                attempt["answer"] = answer.text[:300]
        except requests.RequestException as exc:
            attempt["status"], attempt["answer"] = None, type(exc).__name__
        with self._lock:
            event["deliveries"].append(attempt)
            failures = sum(1 for d in event["deliveries"] if not (d["status"] and 200 <= d["status"] < 300))
        ok = attempt["status"] is not None and 200 <= attempt["status"] < 300
        if not ok and failures <= len(RETRY_SECONDS) and not self._stopped.is_set():
            self._queue(event_id, RETRY_SECONDS[failures - 1])
        return attempt

    def _verify(self, request: dict):
        asked = self._json(request)
        ok = asked.get("webhook_id") == self.webhook_id and self.signer.checks(asked)
        return 200, {"verification_status": "SUCCESS" if ok else "FAILURE"}

    def _event_of(self, event_id: str) -> dict:
        found = self.events.get(event_id)
        if found is None:
            raise _not_found()
        return found

    def _get_event(self, request: dict, id: str):
        with self._lock:
            return 200, json.loads(self._event_of(id)["raw"])

    def _resend(self, request: dict, id: str):
        """PayPal's resend: the same event (same id and body) delivered again."""
        with self._lock:
            event = self._event_of(id)
        self._queue(id, 0.0)
        return 202, json.loads(event["raw"])

    def _certificate(self, request: dict, id: str):
        return 200, self.signer.certificate_pem(), "application/x-pem-file"

    # --- the approve page (the approve link) -----------------------------------------------------

    def _approve_page(self, request: dict):
        order_id = request["query"].get("token", "")
        with self._lock:
            held = self.orders.get(order_id)
            order = copy.deepcopy(held["order"]) if held else None
        if order is None:
            return (
                404,
                b"<!doctype html><title>PayPal</title><p>No such order.</p>",
                "text/html; charset=utf-8",
            )
        amount = order["purchase_units"][0]["amount"]
        what = html.escape(f"{amount['value']} {amount['currency_code']}")
        button = (
            f'<form method="post" action="/checkoutnow?token={html.escape(order_id)}">'
            '<button type="submit" name="approve" value="1">Pay now</button></form>'
            if order["status"] == "CREATED"
            else f"<p>This order is {html.escape(order['status'])}.</p>"
        )
        page = (
            "<!doctype html><meta charset=utf-8><title>PayPal (local simulator)</title>"
            f"<h1>PayPal, simulated on this machine</h1><p>Order {html.escape(order_id)}: {what}</p>{button}"
        )
        return 200, page.encode(), "text/html; charset=utf-8"

    def _approve_form(self, request: dict):
        order_id = request["query"].get("token", "")
        order = self.approve(order_id)
        with self._lock:
            back = self.orders[order_id].get("return_url")
        if back:  # PayPal sends the customer back with the order id as `token`
            joiner = "&" if "?" in back else "?"
            target = f"{back}{joiner}token={order_id}&PayerID={order['payer']['payer_id']}"
            return 303, b"", "text/html; charset=utf-8", {"Location": target}
        page = (
            "<!doctype html><meta charset=utf-8><title>PayPal (local simulator)</title>"
            f"<p>Order {html.escape(order_id)} approved. You can close this window.</p>"
        )
        return 200, page.encode(), "text/html; charset=utf-8"

    # --- the simulator's own controls ------------------------------------------------------------

    def _sim_approve(self, request: dict, id: str):
        return 200, self.approve(id, decline=bool(self._json(request).get("decline")))

    def _sim_order(self, request: dict, id: str):
        with self._lock:
            held = self._order(id)
            events = [self._event_view(e) for e in held["events"]]
            return 200, {"order": copy.deepcopy(held["order"]), "events": events}

    def _event_view(self, event_id: str) -> dict:
        event = self.events[event_id]
        deliveries = [{k: v for k, v in d.items()} for d in event["deliveries"]]
        return {
            "id": event_id,
            "event_type": event["event_type"],
            "delivered": any(d["status"] and 200 <= d["status"] < 300 for d in deliveries),
            "deliveries": deliveries,
        }

    def _sim_refund(self, request: dict, id: str):
        return 201, self.refund(id, self._json(request).get("amount_minor"))

    def _sim_dispute(self, request: dict, id: str):
        return 201, self.dispute(id, self._json(request).get("amount_minor"))

    def _sim_resolve(self, request: dict, id: str):
        return 200, self.resolve(id, str(self._json(request).get("outcome_code") or "RESOLVED_BUYER_FAVOUR"))

    def _sim_event(self, request: dict, id: str):
        with self._lock:
            event = self._event_of(id)
            view = self._event_view(id)
            view["raw"] = event["raw"].decode()
            return 200, view


class Simulator:
    """The local PayPal's client: what a buyer and PayPal's dashboard do, and waiting for deliveries.
    `make topup`, `make demo` and the tests use it; the URL is `paypal_url` in .local/stack.json."""

    def __init__(self, url: str, timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        answer = requests.request(method, self.url + path, json=body, timeout=self.timeout)
        if answer.status_code >= 400:
            raise RuntimeError(
                f"the local PayPal answered {method} {path} with {answer.status_code}: {answer.text}"
            )
        return answer.json()

    def approve(self, order_id: str, decline: bool = False) -> dict:
        return self._call("POST", f"/simulator/orders/{order_id}/approve", {"decline": decline})

    def order(self, order_id: str) -> dict:
        return self._call("GET", f"/simulator/orders/{order_id}")

    def event(self, event_id: str) -> dict:
        return self._call("GET", f"/simulator/events/{event_id}")

    def refund(self, capture_id: str, amount_minor: int | None = None) -> dict:
        return self._call("POST", f"/simulator/captures/{capture_id}/refund", {"amount_minor": amount_minor})

    def dispute(self, capture_id: str, amount_minor: int | None = None) -> dict:
        return self._call("POST", f"/simulator/captures/{capture_id}/dispute", {"amount_minor": amount_minor})

    def resolve(self, dispute_id: str, outcome_code: str) -> dict:
        return self._call("POST", f"/simulator/disputes/{dispute_id}/resolve", {"outcome_code": outcome_code})

    def wait(self, order_id: str, *event_types: str, count: int = 1, seconds: float = 30) -> list[dict]:
        """The order's events of these types once each has been acknowledged by the API (2xx), and at
        least `count` deliveries of the last type were attempted; a RuntimeError after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            events = self.order(order_id)["events"]
            found = [next((e for e in events if e["event_type"] == t), None) for t in event_types]
            if all(e and e["delivered"] for e in found) and len(found[-1]["deliveries"]) >= count:
                return found
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"PayPal's {', '.join(event_types)} for {order_id} not acknowledged: {events}"
                )
            time.sleep(0.1)
