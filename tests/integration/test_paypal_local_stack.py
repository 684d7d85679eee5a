"""The local stack's PayPal (infra/local/paypal_sim.py) with the real `paypal` provider pointed at it by
configuration, as `make run` wires them: a PayPal payment is an Orders v2 order with an approve link,
captured once the customer approved it, and settled by PayPal-format webhooks (PayPal's transmission
headers) that the adapter verifies through the simulator's verify-webhook-signature, as it verifies
PayPal's. The API is the in-process app; the simulator delivers over HTTP to a loopback bridge into it.
tests/e2e/test_paypal_e2e.py runs the same over the local stack itself."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from chalicelib.providers import paypal_provider, secrets
from infra.local import paypal_sim
from tests.integration.conftest import ADMIN, ALICE, REVIEWER
from tests.integration.test_currencies import fresh_rates


class Bridge:
    """PayPal's deliveries, received over HTTP and handed to the in-process app (one at a time)."""

    def __init__(self, api) -> None:
        bridge = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower().startswith("paypal-")}
                with bridge.lock:
                    if bridge.down:  # the API unreachable (a deploy, an outage): a 503 from its gateway
                        bridge.down -= 1
                        status, answer_body = 503, {"message": "Service Unavailable"}
                    else:
                        answer = api.call("POST", self.path, raw=body.decode(), headers=headers)
                        status, answer_body = answer.status, answer.body
                data = json.dumps(answer_body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.lock = threading.Lock()
        self.down = 0  # how many deliveries to answer 503 before reaching the API again
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_paypal(monkeypatch, stack, api):
    fresh_rates(USD="0.14")  # a CNY customer is charged in USD at the rate in force
    bridge = Bridge(api)
    # deliveries only when the test flushes: the test client must not serve two threads at once
    simulator = paypal_sim.PayPalSimulator(bridge.url + paypal_sim.WEBHOOK_PATH, background=False).start()
    simulator.bridge = bridge
    for name, value in paypal_sim.provider_environment(simulator.url).items():
        monkeypatch.setenv(name, value)
    secrets.reset()
    paypal_provider._clients.clear()
    yield simulator
    paypal_provider._clients.clear()
    simulator.stop()
    bridge.stop()


def wallet(api):
    return api.get("/wallet", user=ALICE).body


def top_up(api, simulator, amount_fen=10000):
    created = api.post("/wallet/top-ups", {"amount_fen": amount_fen, "channel": "paypal"}, user=ALICE)
    assert created.status == 201, created.body
    return created.body


def delivered(attempts):
    return [(a["headers"]["PAYPAL-AUTH-ALGO"], a["status"], a["answer"].get("duplicate")) for a in attempts]


def approve_and_deliver(simulator, payment, decline=False):
    simulator.approve(payment["provider_ref"], decline=decline)  # the approve page's button
    return simulator.flush()


def now(api, payment):
    """The payment as it is now (the capture route answers a payment that no longer waits as it is)."""
    return api.post(f"/payments/{payment['payment_id']}/capture", user=ALICE).body


def credited(api, payment) -> int:
    """What a collected top-up brought the wallet: its amount, and the part of the quoted fee PayPal's
    actual fee (3 % at the local PayPal) did not take (a bank_fee_adjustment)."""
    paid = now(api, payment)
    return paid["amount_fen"] + max(0, paid["fee_fen"] - paid["provider_fee_fen"])


def settled(api, simulator, amount_fen=10000):
    payment = top_up(api, simulator, amount_fen)
    approve_and_deliver(simulator, payment)
    return payment, simulator.orders[payment["provider_ref"]]["capture_id"]


def event_of(simulator, payment, event_type):
    held = simulator.orders[payment["provider_ref"]]
    (event_id,) = [e for e in held["events"] if simulator.events[e]["event_type"] == event_type]
    return event_id, simulator.events[event_id]


def token(simulator) -> str:
    answer = requests.post(
        simulator.url + "/v1/oauth2/token",
        auth=(paypal_sim.CLIENT_ID, paypal_sim.CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    assert answer.status_code == 200
    return answer.json()["access_token"]


def resend(simulator, event_id):
    answer = requests.post(
        f"{simulator.url}/v1/notifications/webhooks-events/{event_id}/resend",
        json={"webhook_ids": [paypal_sim.WEBHOOK_ID]},
        headers={"Authorization": f"Bearer {token(simulator)}"},
        timeout=10,
    )
    assert answer.status_code == 202 and answer.json()["id"] == event_id
    return simulator.flush()


class TestTopUp:
    def test_a_paypal_top_up_is_an_order_at_the_local_paypal_with_its_approve_link(self, api, local_paypal):
        payment = top_up(api, local_paypal)
        order_id = payment["provider_ref"]
        assert payment["provider"] == "paypal" and payment["status"] == "requires_action"
        assert payment["approve_url"] == f"{local_paypal.url}/checkoutnow?token={order_id}"
        assert payment["charged_currency"] == "USD"
        order = local_paypal.orders[order_id]["order"]
        assert order["status"] == "CREATED" and order["intent"] == "CAPTURE"
        assert order["purchase_units"][0]["custom_id"] == payment["payment_id"]
        assert paypal_sim.to_minor(order["purchase_units"][0]["amount"]) == payment["charged_amount"]
        page = requests.get(payment["approve_url"], timeout=10)
        assert page.status_code == 200 and "Pay now" in page.text

    def test_approval_sends_the_customer_back_to_the_return_url_with_the_order_as_token(
        self, api, local_paypal, monkeypatch
    ):
        monkeypatch.setenv("PAYPAL_RETURN_URL", "https://shop.example/paypal/return")
        payment = top_up(api, local_paypal)
        back = requests.post(payment["approve_url"], data={"approve": "1"}, allow_redirects=False, timeout=10)
        assert back.status_code == 303
        expected = f"https://shop.example/paypal/return?token={payment['provider_ref']}&PayerID="
        assert back.headers["Location"].startswith(expected)
        # the storefront's capture on that return credits it; PayPal's webhooks then change nothing
        done = api.post(f"/payments/{payment['payment_id']}/capture", user=ALICE)
        assert done.status == 200 and done.body["status"] == "succeeded"
        assert [a["answer"]["duplicate"] for a in local_paypal.flush()] == [True, True]
        assert wallet(api)["balance_fen"] == credited(api, payment)

    def test_the_approval_webhook_captures_and_the_completion_credits_once(self, api, local_paypal):
        payment = top_up(api, local_paypal, 10000)
        assert local_paypal.flush() == []  # nothing happens before the customer approves
        approved = requests.post(payment["approve_url"], data={"approve": "1"}, timeout=10)
        assert approved.status_code == 200 and "approved" in approved.text
        attempts = local_paypal.flush()
        # CHECKOUT.ORDER.APPROVED: the API captured the order (and credited it); PAYMENT.CAPTURE.COMPLETED,
        # which the capture made PayPal send, is then nothing new
        assert [json.loads(local_paypal.events[e]["raw"])["event_type"] for e in local_paypal.events] == [
            "CHECKOUT.ORDER.APPROVED",
            "PAYMENT.CAPTURE.COMPLETED",
        ]
        assert delivered(attempts) == [("SHA256withRSA", 200, False), ("SHA256withRSA", 200, True)]
        balance = credited(api, payment)
        assert wallet(api)["balance_fen"] == balance > 10000
        assert sorted(e["kind"] for e in wallet(api)["entries"]) == ["bank_fee_adjustment", "top_up"]
        # the storefront's capture on the customer's return: PayPal captured once, nothing more moves
        again = api.post(f"/payments/{payment['payment_id']}/capture", user=ALICE)
        assert again.status == 200 and again.body["status"] == "succeeded"
        assert again.body["provider_fee_fen"] > 0  # PayPal's fee on the capture
        assert wallet(api)["balance_fen"] == balance

    def test_the_storefronts_capture_before_approval_is_a_409_then_captures_after(self, api, local_paypal):
        payment = top_up(api, local_paypal, 10000)
        early = api.post(f"/payments/{payment['payment_id']}/capture", user=ALICE)
        assert early.status == 409
        assert wallet(api)["balance_fen"] == 0
        local_paypal.approve(payment["provider_ref"])
        done = api.post(f"/payments/{payment['payment_id']}/capture", user=ALICE)  # before any webhook
        assert done.status == 200 and done.body["status"] == "succeeded"
        assert delivered(local_paypal.flush()) == [("SHA256withRSA", 200, True), ("SHA256withRSA", 200, True)]
        assert wallet(api)["balance_fen"] == credited(api, payment)

    def test_a_delivery_sent_twice_is_credited_once(self, api, local_paypal):
        payment, _capture = settled(api, local_paypal, 10000)
        event_id, _event = event_of(local_paypal, payment, "PAYMENT.CAPTURE.COMPLETED")
        assert delivered(resend(local_paypal, event_id)) == [("SHA256withRSA", 200, True)]
        approval, _ = event_of(local_paypal, payment, "CHECKOUT.ORDER.APPROVED")
        assert resend(local_paypal, approval)[0]["status"] == 200
        assert wallet(api)["balance_fen"] == credited(api, payment)
        assert sorted(e["kind"] for e in wallet(api)["entries"]) == ["bank_fee_adjustment", "top_up"]

    def test_a_delivery_the_api_did_not_take_is_sent_again_and_credits_once(self, api, local_paypal):
        payment = top_up(api, local_paypal, 10000)
        local_paypal.bridge.down = 2
        local_paypal.approve(payment["provider_ref"])
        attempts = local_paypal.flush()  # the retries without their 1 s and 2 s waits
        assert [a["status"] for a in attempts] == [503, 503, 200, 200]
        order = local_paypal.orders[payment["provider_ref"]]
        approval = local_paypal.events[order["events"][0]]
        assert len({d["transmission_id"] for d in approval["deliveries"]}) == 3  # each attempt signed anew
        assert wallet(api)["balance_fen"] == credited(api, payment)
        assert sorted(e["kind"] for e in wallet(api)["entries"]) == ["bank_fee_adjustment", "top_up"]

    def test_a_declined_capture_fails_the_payment_and_credits_nothing(self, api, local_paypal):
        payment = top_up(api, local_paypal, 10000)
        attempts = approve_and_deliver(local_paypal, payment, decline=True)
        assert [local_paypal.events[e]["event_type"] for e in local_paypal.events] == [
            "CHECKOUT.ORDER.APPROVED",
            "PAYMENT.CAPTURE.DECLINED",
        ]
        assert all(a["status"] == 200 for a in attempts)
        answer = api.post(f"/payments/{payment['payment_id']}/capture", user=ALICE)
        assert answer.body["status"] == "declined"
        assert wallet(api)["balance_fen"] == 0


class TestSignatures:
    def test_bad_signatures_are_refused_and_change_nothing(self, api, local_paypal):
        paid, _capture = settled(api, local_paypal, 10000)
        _, completed = event_of(local_paypal, paid, "PAYMENT.CAPTURE.COMPLETED")
        real = completed["deliveries"][0]["headers"]
        waiting = top_up(api, local_paypal, 20000)
        # a completion of the unpaid top-up, as PayPal would word it, but not sent by PayPal
        forged_event = json.loads(completed["raw"])
        forged_event["id"] = "WH-FORGED0000000001"
        resource = forged_event["resource"]
        resource.update(custom_id=waiting["payment_id"], invoice_id=waiting["payment_id"])
        resource["amount"] = paypal_sim.money(waiting["charged_amount"], "USD")
        resource["supplementary_data"]["related_ids"]["order_id"] = waiting["provider_ref"]
        forged = json.dumps(forged_event).encode()
        other_key = paypal_sim.Signer(real["PAYPAL-CERT-URL"]).sign(forged, paypal_sim.WEBHOOK_ID)
        wrong_hook = local_paypal.signer.sign(forged, "8PT597110X687430L")
        cases = {
            "another key's signature": other_key,
            "a real delivery's headers on another body": real,
            "signed for another webhook": wrong_hook,
            "a signature of garbage": {**real, "PAYPAL-TRANSMISSION-SIG": "bm90IGEgc2lnbmF0dXJl"},
            "no transmission headers": {},
        }
        before = wallet(api)
        for why, headers in cases.items():
            answer = api.call("POST", paypal_sim.WEBHOOK_PATH, raw=forged.decode(), headers=headers)
            assert answer.status == 400, (why, answer.body)
            assert answer.body["error"]["code"] == "invalid_signature", why
        assert wallet(api) == before
        still = api.post(f"/payments/{waiting['payment_id']}/capture", user=ALICE)
        assert still.status == 409  # not captured, not credited: the customer has not approved it
        assert wallet(api) == before

    def test_the_local_paypal_answers_only_with_its_token(self, local_paypal):
        bare = requests.get(f"{local_paypal.url}/v2/checkout/orders/ABCDEFGHJKLMNPQRS", timeout=10)
        assert bare.status_code == 401 and bare.json()["name"] == "AUTHENTICATION_FAILURE"
        wrong = requests.post(
            local_paypal.url + "/v1/oauth2/token",
            auth=(paypal_sim.CLIENT_ID, "not-the-secret"),
            data={"grant_type": "client_credentials"},
            timeout=10,
        )
        assert wrong.status_code == 401 and "not-the-secret" not in wrong.text
        known = requests.get(
            f"{local_paypal.url}/v2/checkout/orders/ABCDEFGHJKLMNPQRS",
            headers={"Authorization": f"Bearer {token(local_paypal)}"},
            timeout=10,
        )
        assert known.status_code == 404 and known.json()["name"] == "RESOURCE_NOT_FOUND"


class TestOrders:
    def test_an_order_paid_through_paypal_goes_to_review_by_paypals_webhooks_alone(
        self, api, local_paypal, shop
    ):
        from tests.integration.test_orders import order

        created = order(api, channel="paypal")
        paid = api.post(f"/orders/{created['order_id']}/pay", user=ALICE)
        assert paid.status == 200, paid.body
        payment = paid.body["payment"]
        assert payment["approve_url"].startswith(local_paypal.url)
        assert api.get(f"/orders/{created['order_id']}", user=ALICE).body["status"] == "pending_payment"
        attempts = approve_and_deliver(local_paypal, payment)
        assert [a["status"] for a in attempts] == [200, 200]
        assert api.get(f"/orders/{created['order_id']}", user=ALICE).body["status"] == "pending_review"


class TestRefundsAndDisputes:
    def test_a_refund_made_at_paypal_debits_the_wallet_once(self, api, local_paypal):
        payment, capture_id = settled(api, local_paypal, 10000)
        balance = wallet(api)["balance_fen"]
        half = payment["charged_amount"] // 2
        refund = local_paypal.refund(capture_id, half)
        attempts = local_paypal.flush()
        expected = round(payment["charge_fen"] * half / payment["charged_amount"])
        assert [a["answer"]["debited_fen"] for a in attempts] == [expected]
        event_id = next(
            e for e in local_paypal.events if local_paypal.events[e]["event_type"].endswith("REFUNDED")
        )
        assert resend(local_paypal, event_id)[0]["answer"]["duplicate"] is True
        assert wallet(api)["balance_fen"] == balance - expected
        assert refund["status"] == "COMPLETED"

    def test_a_dispute_holds_once_and_a_won_one_gives_it_back(self, api, local_paypal):
        payment, capture_id = settled(api, local_paypal, 10000)
        balance = wallet(api)["balance_fen"]
        dispute = local_paypal.dispute(capture_id, payment["charged_amount"] // 2)
        held = local_paypal.flush()[0]["answer"]["debited_fen"]
        assert held > 0 and wallet(api)["balance_fen"] == balance - held
        flagged = {p["payment_id"]: p for p in api.get("/staff/payments", user=ADMIN).body["items"]}
        assert flagged[payment["payment_id"]]["attention"] == "disputed"
        local_paypal.resolve(dispute["dispute_id"], "RESOLVED_SELLER_FAVOUR")
        assert local_paypal.flush()[0]["answer"]["released_fen"] == held
        assert wallet(api)["balance_fen"] == balance

    def test_a_withdrawal_refunds_through_the_local_paypal_and_its_event_is_ours(self, api, local_paypal):
        _payment, capture_id = settled(api, local_paypal, 10000)
        balance = wallet(api)["balance_fen"]
        asked = api.post("/wallet/withdrawals", {"amount_fen": 4000}, user=ALICE)
        assert asked.status == 201, asked.body
        done = api.post(f"/staff/withdrawals/{asked.body['withdrawal_id']}/approve", user=REVIEWER)
        assert done.status == 200, done.body
        attempts = local_paypal.flush()  # PAYMENT.CAPTURE.REFUNDED of our own refund: known, ignored
        assert [a["status"] for a in attempts] == [200]
        assert attempts[0]["answer"].get("ignored") == "PAYMENT.CAPTURE.REFUNDED"
        assert local_paypal._refunded[capture_id] > 0
        assert wallet(api)["balance_fen"] == balance - 4000
