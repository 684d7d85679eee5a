"""PayPal for the tests: its HTTP API replayed from fixtures built on its published OpenAPI specification
(tests/fixtures/payments/SOURCES.md) by the loopback replay server, and webhook deliveries signed the way
PayPal signs them, checked by a verify-webhook-signature endpoint that checks them the way PayPal does.

    with FakePayPal(monkeypatch) as paypal:
        order_id = paypal.next_order()                 # the order the next create answers
        ...POST /wallet/top-ups {"channel": "paypal"}...
        paypal.answer_capture(order_id, payment, fee=330)
        ...POST /payments/{id}/capture...
        paypal.deliver(api, "PAYMENT.CAPTURE.COMPLETED", paypal.capture(order_id))

Signing (developer.paypal.com/api/rest/webhooks/rest/, "Verify the signature"): PayPal signs
`<transmission id>|<transmission time>|<webhook id>|<CRC32 of the raw body, decimal>` with SHA256withRSA
and sends PAYPAL-TRANSMISSION-ID/-TIME/-SIG (base64), PAYPAL-CERT-URL and PAYPAL-AUTH-ALGO. The fake keeps
an RSA key and signs each delivery (`infra.local.paypal_sim.Signer`, which the local stack's PayPal
simulator signs with too; the fixture helpers and the event envelope are that module's as well), and its
verify endpoint answers SUCCESS only when the signature checks against the body delivered with that
transmission id, that body is the `webhook_event` it was sent, and the `webhook_id` is the one the
signature was made for.
"""

from __future__ import annotations

import copy
import json

from chalicelib.providers import paypal_provider, secrets
from infra.local.paypal_sim import FIXTURES, VERIFY, Signer, envelope, fixture, money, new_paypal_id
from tests.replay_server import Answer, Received, ReplayServer

__all__ = ["FIXTURES", "FakePayPal", "fixture", "money", "new_paypal_id"]

CLIENT_ID = "AbPayPalTestClientId" + "x" * 20
CLIENT_SECRET = "EPayPalTestClientSecret" + "y" * 20
WEBHOOK_ID = "1JE4291016473214C"  # the webhook id of PayPal's verify-webhook-signature example
CERT_URL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270"


class _Server(ReplayServer):
    """The replay server, with PayPal's verify-webhook-signature answered by checking the signature."""

    def __init__(self, fake: FakePayPal) -> None:
        super().__init__()
        self.fake = fake

    def _next(self, method: str, path: str, received: Received) -> Answer:
        if (method, path) != ("POST", VERIFY):
            return super()._next(method, path, received)
        with self._lock:
            self.requests.append(received)
        status = "SUCCESS" if self.fake.checks(json.loads(received.body)) else "FAILURE"
        return Answer(200, json.dumps({"verification_status": status}).encode(), "application/json", 0.0)


class FakePayPal:
    def __init__(self, monkeypatch, channels: tuple[str, ...] = ("paypal",), others: dict | None = None):
        self.server = _Server(self)
        self.monkeypatch = monkeypatch
        self.providers = {**(others or {}), **{c: "paypal" for c in channels}}
        self.signer = Signer(CERT_URL)  # PayPal's signing, shared with the local stack's simulator
        self.captures: dict[str, dict] = {}  # order id -> its capture resource

    def __enter__(self) -> FakePayPal:
        self.server.__enter__()
        self.monkeypatch.setenv("PAYMENT_PROVIDERS", json.dumps(self.providers))
        self.monkeypatch.setenv("PAYPAL_CLIENT_ID", CLIENT_ID)
        self.monkeypatch.setenv("PAYPAL_CLIENT_SECRET", CLIENT_SECRET)
        self.monkeypatch.setenv("PAYPAL_WEBHOOK_ID", WEBHOOK_ID)
        self.monkeypatch.setenv("PAYPAL_API_BASE", self.server.url)
        secrets.reset()
        paypal_provider._clients.clear()  # a fresh OAuth token from this server
        self.server.add("POST", "/v1/oauth2/token", 200, json.dumps(fixture("oauth_token")))
        return self

    def __exit__(self, *exc) -> None:
        paypal_provider._clients.clear()
        self.server.__exit__(*exc)

    # --- the API's answers ---------------------------------------------------------------------

    def next_order(self) -> str:
        """Queue the answer of the next order create; its id."""
        order = fixture("order_created")
        order_id = new_paypal_id()
        order["id"] = order_id
        for link in order["links"]:
            link["href"] = link["href"].replace("5O190127TN364715T", order_id)
        self.server.add("POST", "/v2/checkout/orders", 201, json.dumps(order))
        return order_id

    def failing(self, path: str = "/v2/checkout/orders", status: int = 500) -> None:
        error = (
            fixture("error_500")
            if (FIXTURES / "error_500.json").exists()
            else {"name": "INTERNAL_SERVER_ERROR"}
        )
        self.server.add("POST", path, status, json.dumps(error))

    def created(self) -> list[dict]:
        """The JSON bodies of every order create the SDK sent, with their PayPal-Request-Id."""
        return self._sent("/v2/checkout/orders")

    def capture_calls(self, order_id: str) -> list[dict]:
        return self._sent(f"/v2/checkout/orders/{order_id}/capture")

    def refunds_asked(self) -> list[dict]:
        return [
            {**r, "capture_id": r["path"].split("/")[-2]}
            for r in self._sent(None)
            if r["path"].startswith("/v2/payments/captures/") and r["path"].endswith("/refund")
        ]

    def _sent(self, path: str | None) -> list[dict]:
        return [
            {
                **(json.loads(r.body) if r.body else {}),
                "paypal-request-id": r.headers.get("paypal-request-id"),
                "path": r.path,
            }
            for r in self.server.requests
            if r.method == "POST" and (path is None or r.path == path) and r.path != "/v1/oauth2/token"
        ]

    def capture(
        self,
        order_id: str,
        payment: dict,
        *,
        amount: int | None = None,
        code: str | None = None,
        fee: int | None = None,
        status: str = "COMPLETED",
    ) -> dict:
        """The capture resource of `order_id` (what PAYMENT.CAPTURE.* events carry, and what
        GET /v2/payments/captures/<id> answers from now on)."""
        capture = copy.deepcopy(self.captures.get(order_id) or fixture("capture"))
        capture_id = capture["id"] if order_id in self.captures else new_paypal_id()
        cur = code or payment["charged_currency"]
        got = payment["charged_amount"] if amount is None else amount
        capture.update(
            id=capture_id,
            status=status,
            amount=money(got, cur),
            invoice_id=payment["payment_id"],
            custom_id=payment["payment_id"],
            supplementary_data={"related_ids": {"order_id": order_id}},
        )
        capture["seller_receivable_breakdown"] = {  # paypal_fee is optional in the schema: none given
            "gross_amount": money(got, cur),
            "net_amount": money(got - (fee or 0), cur),
        }
        if fee is not None:
            capture["seller_receivable_breakdown"]["paypal_fee"] = money(fee, cur)
        if status != "COMPLETED":
            del capture[
                "seller_receivable_breakdown"
            ]  # "not available for transactions that are in pending state"
        for link in capture["links"]:
            link["href"] = (
                link["href"].replace("3C679366HH908993F", capture_id).replace("5O190127TN364715T", order_id)
            )
        self.captures[order_id] = capture
        self.server.add("GET", f"/v2/payments/captures/{capture_id}", 200, json.dumps(capture))
        return capture

    def answer_capture(self, order_id: str, payment: dict, *, first: int | None = None, **kw) -> dict:
        """Queue the capture call's answer: the order COMPLETED with its capture; `first`: an HTTP status
        answered once before it (a failure, then the retry's answer)."""
        capture = self.capture(order_id, payment, **kw)
        order = fixture("order_captured")
        order["id"] = order_id
        inner = {k: v for k, v in capture.items() if k != "supplementary_data"}
        order["purchase_units"][0]["payments"]["captures"] = [inner]
        order["purchase_units"][0]["reference_id"] = payment["payment_id"]
        body = json.dumps(order)
        path = f"/v2/checkout/orders/{order_id}/capture"
        if first is None:
            self.server.add("POST", path, 201, body)
        else:
            error = json.dumps(
                {"name": "INTERNAL_SERVER_ERROR", "message": "An internal server error occurred."}
            )
            self.server.add("POST", path, [first, 201], [error, body])
        return capture

    def answer_refunds(self, *parts: tuple[str, int, str]) -> None:
        """Queue refund answers: (capture id, amount in minor units, currency) each."""
        for capture_id, amount, code in parts:
            refund = fixture("refund")
            refund.update(id=new_paypal_id(), amount=money(amount, code), status="COMPLETED")
            self.server.add("POST", f"/v2/payments/captures/{capture_id}/refund", 201, json.dumps(refund))

    # --- events ----------------------------------------------------------------------------------

    def approved(self, order_id: str, payment: dict) -> dict:
        order = fixture("order_created")
        order.update(id=order_id, status="APPROVED")
        order["purchase_units"] = [
            {
                "reference_id": payment["payment_id"],
                "custom_id": payment["payment_id"],
                "amount": money(payment["charged_amount"], payment["charged_currency"]),
            }
        ]
        return order

    def refunded(self, capture: dict, amount: int, code: str, custom_id: str | None = None) -> dict:
        refund = fixture("refund")
        refund.update(id=new_paypal_id(), amount=money(amount, code))
        if custom_id:
            refund["custom_id"] = custom_id
        refund["links"][1]["href"] = f"https://api-m.sandbox.paypal.com/v2/payments/captures/{capture['id']}"
        return refund

    def dispute(
        self, capture: dict, amount: int, code: str, dispute_id: str = "PP-D-1", outcome: str | None = None
    ) -> dict:
        dispute = fixture("dispute")
        dispute.update(dispute_id=dispute_id, dispute_amount=money(amount, code))
        dispute["disputed_transactions"][0].update(
            seller_transaction_id=capture["id"], gross_amount=capture["amount"], custom=capture["custom_id"]
        )
        if outcome:
            dispute.update(
                status="RESOLVED",
                dispute_outcome={"outcome_code": outcome, "amount_refunded": money(amount, code)},
            )
        return dispute

    def event(self, event_type: str, resource: dict, event_id: str | None = None) -> bytes:
        return envelope(event_type, resource, event_id)

    def sign(
        self, raw: bytes, webhook_id: str = WEBHOOK_ID, time: str = "2026-12-06T10:00:00Z"
    ) -> dict[str, str]:
        """The transmission headers PayPal sends with `raw`."""
        return self.signer.sign(raw, webhook_id, time)

    def checks(self, asked: dict) -> bool:
        """What PayPal's verify-webhook-signature decides for the request `asked`."""
        return self.signer.checks(asked)

    def deliver(
        self,
        api,
        event_type: str,
        resource: dict,
        *,
        event_id: str | None = None,
        raw: bytes | None = None,
        headers: dict | None = None,
        path: str = "/payments/webhooks/paypal",  # the path the storefront contract names
    ):
        body = raw if raw is not None else self.event(event_type, resource, event_id)
        sent = self.sign(body) if headers is None else headers
        return api.call("POST", path, raw=body.decode(), headers=sent)
