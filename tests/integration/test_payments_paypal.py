"""PayPal Orders v2 through the payment port: an order per top-up, order and package payment, captured once
(the storefront's capture and the CHECKOUT.ORDER.APPROVED webhook racing, a retry after a failure), its
verified webhooks applied once in any order, refunds, disputes and withdrawals. PayPal's HTTP API is
replayed from fixtures (tests/paypal_fake.py, tests/fixtures/payments/SOURCES.md)."""

from __future__ import annotations

import json

import pytest

from chalicelib import currency
from tests.integration.conftest import ADMIN, ALICE, BOB, REVIEWER, sent_emails
from tests.integration.test_currencies import fresh_rates
from tests.paypal_fake import WEBHOOK_ID, FakePayPal


@pytest.fixture
def paypal(monkeypatch, stack):
    fresh_rates(USD="0.14")  # a CNY customer is charged in USD at the rate in force
    with FakePayPal(monkeypatch) as fake:
        yield fake


def wallet(api, user=ALICE):
    return api.get("/wallet", user=user).body


def paypal_top_up(api, paypal, amount_fen=10000, user=ALICE, query=""):
    order_id = paypal.next_order()
    created = api.post(f"/wallet/top-ups{query}", {"amount_fen": amount_fen, "channel": "paypal"}, user=user)
    assert created.status == 201, created.body
    return order_id, created.body


def captured_top_up(api, paypal, amount_fen=10000, fee=None):
    order_id, payment = paypal_top_up(api, paypal, amount_fen)
    paypal.answer_capture(order_id, payment, fee=fee)
    done = api.post(f"/payments/{payment['payment_id']}/capture", user=ALICE)
    assert done.status == 200 and done.body["status"] == "succeeded", done.body
    return order_id, payment, paypal.captures[order_id]


def attention(api):
    return {p["payment_id"]: p for p in api.get("/staff/payments", user=ADMIN).body["items"]}


def usd(fen: int) -> int:
    return currency.to_minor(fen, currency.rate_in_force("USD").rate, 2)


class TestCreate:
    def test_a_paypal_top_up_is_an_order_whose_approve_link_the_answer_carries(self, api, paypal):
        order_id, payment = paypal_top_up(api, paypal, 10000)
        assert payment["provider"] == "paypal" and payment["checkout_url"].endswith(f"token={order_id}")
        assert (
            payment["approve_url"] == payment["checkout_url"]
        )  # the contract's name (the storefront contract)
        assert "client_secret" not in payment
        # CNY is not a currency PayPal charges cross-border: USD at the rate in force
        charge = 10000 + payment["fee_fen"]
        assert (payment["charged_currency"], payment["charged_amount"]) == ("USD", usd(charge))
        [sent] = paypal.created()
        assert sent["intent"] == "CAPTURE"
        [unit] = sent["purchase_units"]
        assert unit["custom_id"] == payment["payment_id"] and unit["invoice_id"] == payment["payment_id"]
        assert unit["amount"] == {"currency_code": "USD", "value": f"{usd(charge) / 100:.2f}"}
        assert sent["paypal-request-id"] == f"create-{payment['payment_id']}"
        assert wallet(api)["balance_fen"] == 0  # nothing until PayPal captured it
        assert api.get(f"/payments/{payment['payment_id']}", user=ALICE).body["checkout_url"]
        assert api.get(f"/payments/{payment['payment_id']}", user=BOB).status == 404

    def test_a_currency_paypal_takes_is_charged_at_the_rate_snapshotted_on_the_top_up(self, api, paypal):
        fresh_rates(EUR="0.13", JPY="21")
        _order, payment = paypal_top_up(api, paypal, 10000, query="?currency=JPY")
        rate = payment["fx_snapshot"]["rate"]
        expected = currency.to_minor(10000 + payment["fee_fen"], rate, 0)
        assert (payment["charged_currency"], payment["charged_amount"]) == ("JPY", expected)
        [sent] = paypal.created()
        assert sent["purchase_units"][0]["amount"] == {"currency_code": "JPY", "value": str(expected)}

    def test_korean_won_is_not_a_paypal_currency_so_usd_is_charged(self, api, paypal):
        _order, payment = paypal_top_up(api, paypal, 10000, query="?currency=KRW")
        assert payment["charged_currency"] == "USD"
        # the contract's names say what PayPal charges, not the KRW the customer reads the rest in
        assert payment["display_currency"]["code"] == "KRW"
        assert (payment["currency"], payment["amount_minor"]) == ("USD", payment["charged_amount"])

    def test_paypal_down_is_a_503_and_nothing_is_stored_nor_a_secret_shown(self, api, paypal):
        paypal.failing()
        result = api.post("/wallet/top-ups", {"amount_fen": 10000, "channel": "paypal"}, user=ALICE)
        assert result.status == 503 and result.body["error"]["code"] == "provider_unavailable"
        assert "PayPalTest" not in str(result.body)
        assert wallet(api)["entries"] == []

    def test_an_order_paid_through_paypal_is_captured_and_goes_to_review(self, api, paypal, shop):
        from tests.integration.test_orders import order

        created = order(api, channel="paypal")
        order_id = paypal.next_order()
        paid = api.post(f"/orders/{created['order_id']}/pay", user=ALICE)
        assert paid.status == 200, paid.body
        payment = paid.body["payment"]
        assert payment["checkout_url"].endswith(order_id)
        assert payment["charged_amount"] == usd(created["charges"]["total_fen"])
        paypal.answer_capture(order_id, payment)
        done = api.post(f"/payments/{payment['payment_id']}/capture", user=ALICE)
        assert done.status == 200 and done.body["status"] == "succeeded", done.body
        assert api.get(f"/orders/{created['order_id']}", user=ALICE).body["status"] == "pending_review"


class TestSecrets:
    def test_the_keys_come_from_the_stacks_secret_and_are_never_logged(
        self, api, paypal, monkeypatch, caplog
    ):
        from chalicelib import aws
        from chalicelib.providers import secrets
        from tests.paypal_fake import CLIENT_ID, CLIENT_SECRET

        arn = aws.client("secretsmanager").create_secret(
            Name="procure-test/marketplace-credentials",
            SecretString=json.dumps(
                {
                    "PAYPAL_CLIENT_ID": CLIENT_ID,
                    "PAYPAL_CLIENT_SECRET": CLIENT_SECRET,
                    "PAYPAL_WEBHOOK_ID": WEBHOOK_ID,
                }
            ),
        )["ARN"]
        for name in ("PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET", "PAYPAL_WEBHOOK_ID"):
            monkeypatch.delenv(name)
        monkeypatch.setenv("SOURCE_CREDENTIALS_SECRET", arn)
        secrets.reset()
        order_id, payment = paypal_top_up(api, paypal, 10000)
        paypal.answer_capture(order_id, payment)
        done = paypal.deliver(api, "CHECKOUT.ORDER.APPROVED", paypal.approved(order_id, payment))
        assert done.status == 200 and not done.body["duplicate"]
        [token] = [r for r in paypal.server.requests if r.path == "/v1/oauth2/token"]
        assert token.headers["authorization"].startswith("Basic ")  # the client id and secret, as OAuth asks
        assert CLIENT_SECRET not in caplog.text and CLIENT_ID not in caplog.text
        secrets.reset()


class TestCapture:
    def test_the_capture_credits_once_with_paypals_actual_fee(self, api, paypal):
        fee = usd(330)  # PayPal's fee in the charged currency, worth what the charge was worth per cent
        _order, payment, _capture = captured_top_up(api, paypal, 10000, fee=fee)
        fee_fen = round(fee * payment["charge_fen"] / payment["charged_amount"])
        state = wallet(api)
        assert state["balance_fen"] == 10000 + payment["fee_fen"] - fee_fen
        kinds = {e["kind"]: e["amount_fen"] for e in state["entries"]}
        assert kinds == {"top_up": 10000, "bank_fee_adjustment": payment["fee_fen"] - fee_fen}
        shown = api.get(f"/payments/{payment['payment_id']}", user=ALICE).body
        assert shown["provider_fee_fen"] == fee_fen and "checkout_url" not in shown
        assert "approve_url" not in shown

    def test_a_capture_retried_after_a_failure_captures_once_with_one_request_id(self, api, paypal):
        order_id, payment = paypal_top_up(api, paypal, 10000)
        paypal.answer_capture(order_id, payment, first=500)
        path = f"/payments/{payment['payment_id']}/capture"
        assert api.post(path, user=ALICE).status == 503
        assert wallet(api)["balance_fen"] == 0
        assert api.post(path, user=ALICE).body["status"] == "succeeded"
        again = api.post(path, user=ALICE)  # done: answered as it is, PayPal not asked again
        assert again.status == 200 and again.body["status"] == "succeeded"
        calls = paypal.capture_calls(order_id)
        assert len(calls) == 2
        assert {c["paypal-request-id"] for c in calls} == {f"capture-{payment['payment_id']}"}
        assert wallet(api)["balance_fen"] == 10000

    def test_the_approval_webhook_captures_when_the_customer_does_not_come_back(self, api, paypal):
        order_id, payment = paypal_top_up(api, paypal, 10000)
        paypal.answer_capture(order_id, payment)
        first = paypal.deliver(api, "CHECKOUT.ORDER.APPROVED", paypal.approved(order_id, payment))
        assert first.status == 200 and not first.body["duplicate"], first.body
        # the storefront's capture and the redelivered approval come late: nothing more
        assert (
            api.post(f"/payments/{payment['payment_id']}/capture", user=ALICE).body["status"] == "succeeded"
        )
        late = paypal.deliver(api, "CHECKOUT.ORDER.APPROVED", paypal.approved(order_id, payment))
        assert late.body["duplicate"]
        assert len(paypal.capture_calls(order_id)) == 1
        assert wallet(api)["balance_fen"] == 10000

    def test_a_capture_before_the_customer_approved_is_a_409_that_credits_nothing(self, api, paypal):
        order_id, payment = paypal_top_up(api, paypal, 10000)
        error = {"name": "UNPROCESSABLE_ENTITY", "details": [{"issue": "ORDER_NOT_APPROVED"}]}
        paypal.server.add("POST", f"/v2/checkout/orders/{order_id}/capture", 422, json.dumps(error))
        early = api.post(f"/payments/{payment['payment_id']}/capture", user=ALICE)
        assert early.status == 409, early.body
        assert api.get(f"/payments/{payment['payment_id']}", user=ALICE).body["status"] == "requires_action"
        assert wallet(api)["balance_fen"] == 0

    def test_someone_elses_payment_cannot_be_captured(self, api, paypal):
        _order, payment = paypal_top_up(api, paypal, 10000)
        assert api.post(f"/payments/{payment['payment_id']}/capture", user=BOB).status == 404

    def test_a_declined_capture_frees_the_order_to_be_paid_again(self, api, paypal, shop):
        from tests.integration.test_orders import order

        created = order(api, channel="paypal")
        order_id = paypal.next_order()
        payment = api.post(f"/orders/{created['order_id']}/pay", user=ALICE).body["payment"]
        paypal.answer_capture(order_id, payment, status="DECLINED")
        declined = api.post(f"/payments/{payment['payment_id']}/capture", user=ALICE)
        assert declined.status == 200 and declined.body["status"] == "declined"
        assert api.get(f"/orders/{created['order_id']}", user=ALICE).body["payment"] is None


class TestWebhook:
    def test_capture_completed_credits_once_delivered_twice_late_and_out_of_order(self, api, paypal):
        order_id, payment = paypal_top_up(api, paypal, 10000)
        capture = paypal.capture(order_id, payment, fee=usd(300))
        # a denial that overtook the completion, then the completion twice, then the denial again
        denied = paypal.capture(order_id, payment, status="DENIED")
        completed = paypal.capture(order_id, payment, fee=usd(300))
        assert denied["id"] == completed["id"] == capture["id"]
        first = paypal.deliver(api, "PAYMENT.CAPTURE.COMPLETED", completed, event_id="WH-A")
        again = paypal.deliver(api, "PAYMENT.CAPTURE.COMPLETED", completed, event_id="WH-A")
        late = paypal.deliver(api, "PAYMENT.CAPTURE.DENIED", denied, event_id="WH-B")
        assert (first.status, again.status, late.status) == (200, 200, 200)
        assert not first.body["duplicate"] and again.body["duplicate"] and late.body["duplicate"]
        fee_fen = round(usd(300) * payment["charge_fen"] / payment["charged_amount"])
        assert wallet(api)["balance_fen"] == 10000 + payment["fee_fen"] - fee_fen
        assert api.get(f"/payments/{payment['payment_id']}", user=ALICE).body["status"] == "succeeded"

    def test_a_denied_capture_declines_the_payment_and_a_later_completion_still_credits(self, api, paypal):
        order_id, payment = paypal_top_up(api, paypal, 10000)
        denied = paypal.deliver(
            api, "PAYMENT.CAPTURE.DENIED", paypal.capture(order_id, payment, status="DENIED")
        )
        assert denied.status == 200 and not denied.body["duplicate"]
        assert api.get(f"/payments/{payment['payment_id']}", user=ALICE).body["status"] == "declined"
        paypal.deliver(api, "PAYMENT.CAPTURE.COMPLETED", paypal.capture(order_id, payment))
        assert wallet(api)["balance_fen"] == 10000

    def test_an_amount_or_currency_other_than_asked_is_not_credited_and_staff_see_it(self, api, paypal):
        order_id, payment = paypal_top_up(api, paypal, 10000)
        short = paypal.capture(order_id, payment, amount=payment["charged_amount"] - 1)
        result = paypal.deliver(api, "PAYMENT.CAPTURE.COMPLETED", short)
        assert result.status == 200 and result.body["flagged"] == "amount_mismatch"
        other = paypal.capture(order_id, payment, code="EUR")
        assert paypal.deliver(api, "PAYMENT.CAPTURE.COMPLETED", other).body["flagged"] == "amount_mismatch"
        assert wallet(api)["balance_fen"] == 0
        assert attention(api)[payment["payment_id"]]["attention"] == "amount_mismatch"

    def test_bad_signatures_are_refused_and_change_nothing(self, api, paypal, monkeypatch):
        order_id, payment = paypal_top_up(api, paypal, 10000)
        capture = paypal.capture(order_id, payment)
        body = paypal.event("PAYMENT.CAPTURE.COMPLETED", capture)
        good = paypal.sign(body)
        tampered = body.replace(b'"custom_id": "', b'"custom_id": "x')
        forged = {**good, "PAYPAL-TRANSMISSION-SIG": paypal.sign(b"other")["PAYPAL-TRANSMISSION-SIG"]}
        missing = {k: v for k, v in good.items() if k != "PAYPAL-CERT-URL"}
        other_hook = paypal.sign(body, webhook_id="8PT597110X687430L")
        bad = [
            paypal.deliver(api, "", {}, raw=tampered, headers=good),
            paypal.deliver(api, "", {}, raw=body, headers=forged),
            paypal.deliver(api, "", {}, raw=body, headers=missing),
            paypal.deliver(api, "", {}, raw=body, headers={}),
            paypal.deliver(api, "", {}, raw=body, headers=other_hook),
        ]
        assert [r.status for r in bad] == [400] * len(bad)
        assert {r.body["error"]["code"] for r in bad} == {"invalid_signature"}
        assert wallet(api)["balance_fen"] == 0
        # what was sent to PayPal's verification: our webhook id and the event as received
        verified = [r for r in paypal.server.requests if r.path.endswith("verify-webhook-signature")]
        assert verified and all(b'"webhook_id": "' + WEBHOOK_ID.encode() in r.body for r in verified)
        monkeypatch.setenv("PAYPAL_WEBHOOK_ID", "")  # unconfigured: refused, never trusted
        assert paypal.deliver(api, "", {}, raw=body, headers=good).status == 400
        monkeypatch.setenv("PAYPAL_WEBHOOK_ID", WEBHOOK_ID)
        assert paypal.deliver(api, "", {}, raw=body, headers=good).status == 200
        assert wallet(api)["balance_fen"] == 10000

    def test_other_event_types_are_acknowledged(self, api, paypal):
        result = paypal.deliver(api, "BILLING.SUBSCRIPTION.CREATED", {"id": "I-1"})
        assert result.status == 200 and result.body == {
            "received": True,
            "ignored": "BILLING.SUBSCRIPTION.CREATED",
        }


class TestRefundsAndDisputes:
    def test_a_refund_at_paypal_debits_the_wallet_once_per_refund(self, api, paypal):
        _order, payment, capture = captured_top_up(api, paypal, 10000)
        charged = payment["charged_amount"]
        part = paypal.refunded(capture, charged // 2, "USD")
        first = paypal.deliver(api, "PAYMENT.CAPTURE.REFUNDED", part, event_id="WH-R1")
        expected = round(payment["charge_fen"] * (charged // 2) / charged)
        assert first.status == 200 and first.body["debited_fen"] == expected, first.body
        assert paypal.deliver(api, "PAYMENT.CAPTURE.REFUNDED", part, event_id="WH-R1").body["duplicate"]
        assert paypal.deliver(api, "PAYMENT.CAPTURE.REFUNDED", part, event_id="WH-R2").body["duplicate"]
        balance = 10000 - expected  # the top-up brought its amount; the customer paid the fee on top
        assert wallet(api)["balance_fen"] == balance
        # a reversal of the rest takes what the wallet holds, never below zero; staff see what is owed
        rest = paypal.refunded(capture, charged - charged // 2, "USD")
        reversed_ = paypal.deliver(api, "PAYMENT.CAPTURE.REVERSED", rest)
        taken = payment["charge_fen"] - expected
        assert (reversed_.body["debited_fen"], reversed_.body["owed_fen"]) == (balance, taken - balance)
        assert wallet(api)["balance_fen"] == 0
        assert attention(api)[payment["payment_id"]]["owed_fen"] == taken - balance

    def test_a_refund_that_overtakes_its_capture_is_refused_for_redelivery(self, api, paypal):
        order_id, payment = paypal_top_up(api, paypal, 10000)
        capture = paypal.capture(order_id, payment)
        early = paypal.deliver(api, "PAYMENT.CAPTURE.REFUNDED", paypal.refunded(capture, 100, "USD"))
        assert early.status == 409
        assert wallet(api)["balance_fen"] == 0

    def test_a_dispute_holds_the_amount_once_and_a_won_dispute_gives_it_back(self, api, paypal):
        _order, payment, capture = captured_top_up(api, paypal, 10000)
        before = wallet(api)["balance_fen"]
        half = payment["charged_amount"] // 2
        held = round(payment["charge_fen"] * half / payment["charged_amount"])
        dispute = paypal.dispute(capture, half, "USD", "PP-D-1")
        first = paypal.deliver(api, "CUSTOMER.DISPUTE.CREATED", dispute, event_id="WH-D1")
        again = paypal.deliver(api, "CUSTOMER.DISPUTE.CREATED", dispute, event_id="WH-D2")
        assert first.body["debited_fen"] == held and again.body["duplicate"]
        assert first.body["dispute_status"] == "OPEN"  # PayPal's own status while it is open
        assert wallet(api)["balance_fen"] == before - held
        shown = attention(api)[payment["payment_id"]]
        assert shown["attention"] == "disputed"
        assert [(d["dispute_id"], d["state"], d["status"]) for d in shown["disputes"]] == [
            ("PP-D-1", "open", "OPEN")
        ]
        won = paypal.dispute(capture, half, "USD", "PP-D-1", outcome="RESOLVED_SELLER_FAVOUR")
        resolved = paypal.deliver(api, "CUSTOMER.DISPUTE.RESOLVED", won, event_id="WH-D3")
        assert resolved.status == 200 and resolved.body["released_fen"] == held, resolved.body
        assert paypal.deliver(api, "CUSTOMER.DISPUTE.RESOLVED", won, event_id="WH-D3").body["duplicate"]
        assert paypal.deliver(api, "CUSTOMER.DISPUTE.RESOLVED", won, event_id="WH-D4").body["duplicate"]
        assert paypal.deliver(api, "CUSTOMER.DISPUTE.CREATED", dispute, event_id="WH-D5").body["duplicate"]
        assert wallet(api)["balance_fen"] == before
        assert wallet(api)["entries"][0]["kind"] == "dispute_release"
        # staff see how it ended, as for Stripe's disputes
        shown = attention(api)[payment["payment_id"]]
        assert shown["attention"] == "dispute_won" and shown["disputed_fen"] == 0
        [decided] = shown["disputes"]
        assert (decided["state"], decided["status"], decided["held_fen"]) == ("won", "won", held)
        assert decided["decided_at"]

    def test_a_lost_dispute_keeps_the_hold_final(self, api, paypal):
        _order, payment, capture = captured_top_up(api, paypal, 10000)
        before = wallet(api)["balance_fen"]
        opened = paypal.deliver(
            api, "CUSTOMER.DISPUTE.CREATED", paypal.dispute(capture, 100, "USD", "PP-D-2")
        )
        held = opened.body["debited_fen"]
        assert held > 0
        lost = paypal.dispute(capture, 100, "USD", "PP-D-2", outcome="RESOLVED_BUYER_FAVOUR")
        result = paypal.deliver(api, "CUSTOMER.DISPUTE.RESOLVED", lost)
        assert result.status == 200 and not result.body["duplicate"], result.body
        assert result.body["dispute_status"] == "lost" and "released_fen" not in result.body
        won_late = paypal.dispute(capture, 100, "USD", "PP-D-2", outcome="RESOLVED_SELLER_FAVOUR")
        assert paypal.deliver(api, "CUSTOMER.DISPUTE.RESOLVED", won_late).body["duplicate"]  # final
        assert wallet(api)["balance_fen"] == before - held
        shown = attention(api)[payment["payment_id"]]
        assert shown["attention"] == "dispute_lost" and shown["disputes"][0]["state"] == "lost"


class TestDisputeDecidedBeforeItOpened:
    """A resolution that overtakes its creation is applied at once, as Stripe's closed is: it does not
    wait on PayPal's redelivery. The late creation, and any repeat, change nothing."""

    def test_lost_first_takes_the_debit_once_and_the_late_creation_changes_nothing(self, api, paypal):
        _order, payment, capture = captured_top_up(api, paypal, 10000)
        before = wallet(api)["balance_fen"]
        lost = paypal.dispute(capture, 100, "USD", "PP-D-3", outcome="RESOLVED_BUYER_FAVOUR")
        first = paypal.deliver(api, "CUSTOMER.DISPUTE.RESOLVED", lost, event_id="WH-L1")
        taken = round(payment["charge_fen"] * 100 / payment["charged_amount"])
        assert first.status == 200 and not first.body["duplicate"], first.body
        assert (first.body["debited_fen"], first.body["dispute_status"]) == (taken, "lost")
        again = [
            paypal.deliver(api, "CUSTOMER.DISPUTE.RESOLVED", lost, event_id="WH-L1"),  # delivered twice
            paypal.deliver(api, "CUSTOMER.DISPUTE.RESOLVED", lost),  # a new event for the same decision
            paypal.deliver(api, "CUSTOMER.DISPUTE.CREATED", paypal.dispute(capture, 100, "USD", "PP-D-3")),
        ]
        assert all(r.status == 200 and r.body["duplicate"] for r in again), [r.body for r in again]
        assert wallet(api)["balance_fen"] == before - taken
        assert [e["kind"] for e in wallet(api)["entries"]].count("dispute_hold") == 1
        shown = attention(api)[payment["payment_id"]]
        assert shown["attention"] == "dispute_lost" and shown["disputed_fen"] == taken
        assert [(d["state"], d["amount_fen"], d["held_fen"]) for d in shown["disputes"]] == [
            ("lost", taken, taken)
        ]

    def test_won_first_holds_nothing_ever(self, api, paypal):
        _order, payment, capture = captured_top_up(api, paypal, 10000)
        before = wallet(api)["balance_fen"]
        won = paypal.dispute(capture, 100, "USD", "PP-D-4", outcome="CANCELED_BY_BUYER")
        first = paypal.deliver(api, "CUSTOMER.DISPUTE.RESOLVED", won)
        assert first.status == 200 and not first.body["duplicate"] and "debited_fen" not in first.body
        late = paypal.deliver(api, "CUSTOMER.DISPUTE.CREATED", paypal.dispute(capture, 100, "USD", "PP-D-4"))
        assert late.status == 200 and late.body["duplicate"], late.body
        assert wallet(api)["balance_fen"] == before
        [shown] = attention(api)[payment["payment_id"]]["disputes"]
        assert (shown["state"], shown["amount_fen"], shown["held_fen"]) == ("won", 0, 0)

    def test_a_resolution_before_the_capture_is_known_is_refused_for_redelivery(self, api, paypal):
        order_id, payment = paypal_top_up(api, paypal, 10000)
        capture = paypal.capture(order_id, payment)  # PayPal captured; our capture call has not run yet
        lost = paypal.dispute(capture, 100, "USD", "PP-D-5", outcome="RESOLVED_BUYER_FAVOUR")
        assert paypal.deliver(api, "CUSTOMER.DISPUTE.RESOLVED", lost).status == 409
        assert wallet(api)["balance_fen"] == 0


class TestPackages:
    def test_a_package_is_paid_through_paypal_and_joins_the_packing_queue(
        self, api, monkeypatch, shop, stack
    ):
        from tests.integration.test_packages import stored, submit

        package = submit(api, stored(api)).body
        before = wallet(api)["balance_fen"]
        fresh_rates(USD="0.14")
        with FakePayPal(monkeypatch) as paypal:
            order_id = paypal.next_order()
            path = f"/packages/{package['package_id']}/checkout"
            created = api.post(path, {"channel": "paypal"}, user=ALICE)
            assert created.status == 201, created.body
            payment = created.body
            assert payment["purpose"] == "package" and payment["checkout_url"].endswith(order_id)
            paypal.answer_capture(order_id, payment)
            done = paypal.deliver(api, "CHECKOUT.ORDER.APPROVED", paypal.approved(order_id, payment))
            assert done.status == 200, done.body
            late = paypal.deliver(api, "PAYMENT.CAPTURE.COMPLETED", paypal.capture(order_id, payment))
            assert late.body["duplicate"]
        assert api.get(f"/packages/{package['package_id']}", user=ALICE).body["status"] == "paid"
        state = wallet(api)
        assert state["balance_fen"] == before
        assert [(e["kind"], e["amount_fen"]) for e in state["entries"][:2]] == [
            ("package_payment", -package["total_fen"]),
            ("payment_received", package["total_fen"]),
        ]

    def test_a_package_checkout_charged_in_the_settlement_currency_makes_three_dynamodb_requests(
        self, api, monkeypatch, shop, stack
    ):
        """The rate PayPal is charged at (USD for a CNY customer) comes from the currency riders that the
        package read carried: no read of its own (issue 27: <= 3 requests per customer route)."""
        from bench import api_cost
        from tests.integration.test_packages import stored, submit

        package = submit(api, stored(api)).body
        fresh_rates(USD="0.14")
        api_cost.COUNTER.install()
        with FakePayPal(monkeypatch) as paypal:
            paypal.next_order()
            with api_cost.COUNTER.measure() as calls:
                path = f"/packages/{package['package_id']}/checkout"
                created = api.post(path, {"channel": "paypal"}, user=ALICE)
        assert created.status == 201, created.body
        assert created.body["charged_currency"] == "USD"
        # the package (its riders), its payment by the id derived from the package (none yet), the payment
        assert [c.operation for c in calls if not c.for_key] == ["BatchGetItem", "BatchGetItem", "PutItem"]


class TestWithdrawals:
    def test_a_withdrawal_is_refunded_across_a_paypal_and_a_stripe_payment_once(
        self, api, monkeypatch, stack
    ):
        from tests.stripe_fake import FakeStripe

        fresh_rates(USD="0.14")
        with (
            FakeStripe(monkeypatch, channels=("card",)) as stripe,
            FakePayPal(monkeypatch, others={"card": "stripe"}) as paypal,
        ):
            ref = stripe.next_intent()
            card = api.post("/wallet/top-ups", {"amount_fen": 10000, "channel": "card"}, user=ALICE).body
            stripe.deliver(api, "payment_intent.succeeded", stripe.succeeded(ref, card))
            _order, pp, capture = captured_top_up(api, paypal, 5000)
            withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 12000}, user=ALICE).body
            pp_part = round(5000 * pp["charged_amount"] / pp["charge_fen"])
            paypal.answer_refunds((capture["id"], pp_part, "USD"))
            stripe.answer_refunds((7000, "CNY"))
            path = f"/staff/withdrawals/{withdrawal['withdrawal_id']}/approve"
            approved = api.post(path, user=REVIEWER)
            assert approved.status == 200, approved.body
            parts = [(r["payment_id"], r["provider"], r["amount_fen"]) for r in approved.body["refunds"]]
            assert parts == [(pp["payment_id"], "paypal", 5000), (card["payment_id"], "stripe", 7000)]
            [sent] = paypal.refunds_asked()
            key = f"withdrawal-{withdrawal['withdrawal_id']}-{pp['payment_id']}"
            assert sent["capture_id"] == capture["id"] and sent["paypal-request-id"] == key
            assert sent["amount"] == {"currency_code": "USD", "value": f"{pp_part / 100:.2f}"}
            assert sent["custom_id"] == withdrawal["withdrawal_id"]
            assert api.post(path, user=REVIEWER).status == 409
            balance = wallet(api)["balance_fen"]
            # PayPal's event about our own refund changes nothing more
            echo = paypal.refunded(capture, pp_part, "USD", custom_id=withdrawal["withdrawal_id"])
            assert paypal.deliver(api, "PAYMENT.CAPTURE.REFUNDED", echo).status == 200
            assert wallet(api)["balance_fen"] == balance
            assert api.get(f"/payments/{pp['payment_id']}", user=ALICE).body["refunded_fen"] == 5000

    def test_a_refund_paypal_refuses_for_good_is_back_in_the_wallet_once(self, api, paypal):
        """PayPal's 422 (developer.paypal.com/api/payments/v2/errors: CAPTURE_FULLY_REFUNDED) refuses the
        part for good: its amount returns to the wallet and the withdrawal ends partly refunded."""
        _order, _pp, capture = captured_top_up(api, paypal, 5000)
        withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 4000}, user=ALICE).body
        assert wallet(api)["balance_fen"] == 1000
        error = {"name": "UNPROCESSABLE_ENTITY", "details": [{"issue": "CAPTURE_FULLY_REFUNDED"}]}
        paypal.server.add("POST", f"/v2/payments/captures/{capture['id']}/refund", 422, json.dumps(error))
        path = f"/staff/withdrawals/{withdrawal['withdrawal_id']}/approve"
        approved = api.post(path, user=REVIEWER)
        assert approved.status == 200, approved.body
        assert approved.body["status"] == "partly_refunded" and approved.body["returned_fen"] == 4000
        assert approved.body["refunds"] == []
        assert wallet(api)["balance_fen"] == 5000
        assert api.post(path, user=REVIEWER).status == 409
        assert wallet(api)["balance_fen"] == 5000 and len(paypal.refunds_asked()) == 1

    def test_a_dashboard_refund_during_an_approval_is_taken_from_the_wallet_once(
        self, api, paypal, monkeypatch
    ):
        """A refund made on PayPal's dashboard while our part of the same capture is booked, then our part
        refused for good: PayPal reports each refund alone, so the dashboard's is taken once by its id,
        and taking our part off neither hides it nor takes it again."""
        from chalicelib.providers.paypal_provider import PayPalProvider

        _order, _pp, capture = captured_top_up(api, paypal, 5000)
        withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 4000}, user=ALICE).body
        dashboard = paypal.refunded(capture, usd(1000), "USD")
        reports = []
        real_refund = PayPalProvider.refund

        def dashboard_refund_first(provider, payment, amount, key):
            for _ in range(2):
                reports.append(paypal.deliver(api, "PAYMENT.CAPTURE.REFUNDED", dashboard, event_id="WH-1"))
            return real_refund(provider, payment, amount, key)

        monkeypatch.setattr(PayPalProvider, "refund", dashboard_refund_first)
        error = {"name": "UNPROCESSABLE_ENTITY", "details": [{"issue": "REFUND_AMOUNT_EXCEEDED"}]}
        paypal.server.add("POST", f"/v2/payments/captures/{capture['id']}/refund", 422, json.dumps(error))
        approved = api.post(f"/staff/withdrawals/{withdrawal['withdrawal_id']}/approve", user=REVIEWER)
        assert approved.status == 200 and approved.body["status"] == "partly_refunded", approved.body
        assert [r.status for r in reports] == [200, 200] and reports[1].body["duplicate"]
        taken = reports[0].body["debited_fen"]
        assert abs(taken - 1000) <= 1
        again = paypal.deliver(api, "PAYMENT.CAPTURE.REFUNDED", dashboard, event_id="WH-2")  # resent
        assert again.status == 200 and again.body["duplicate"]
        assert wallet(api)["balance_fen"] == 5000 - taken
        assert [e["kind"] for e in wallet(api)["entries"]].count("provider_refund") == 1

    @pytest.mark.parametrize(
        "issue",
        [
            "REFUND_FAILED_INSUFFICIENT_FUNDS",
            "PENDING_CAPTURE",
            "TRANSACTION_DISPUTED",
            "PAYEE_ACCOUNT_RESTRICTED",
        ],
    )
    def test_a_refund_paypal_cannot_make_now_waits_for_another_approval(self, api, paypal, issue):
        """PayPal's 422s that pass (payments_payment_v2.json `captures.refund-422`: our PayPal balance short,
        REFUND_FAILED_INSUFFICIENT_FUNDS; a pending capture; an open case; our account restricted) leave
        the withdrawal refunding with its money held, not back in the wallet; the next approval asks again
        under a new PayPal-Request-Id (PayPal may answer a known one with its refusal) and refunds once."""
        _order, pp, capture = captured_top_up(api, paypal, 5000)
        withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 4000}, user=ALICE).body
        error = {"name": "UNPROCESSABLE_ENTITY", "details": [{"issue": issue, "description": "x"}]}
        part = round(4000 * pp["charged_amount"] / pp["charge_fen"])
        paypal.server.add("POST", f"/v2/payments/captures/{capture['id']}/refund", 422, json.dumps(error))
        path = f"/staff/withdrawals/{withdrawal['withdrawal_id']}/approve"
        for _ in range(2):  # not now, and not now again
            later = api.post(path, user=REVIEWER)
            assert later.status == 503 and later.body["error"]["code"] == "provider_unavailable", later.body
            assert issue in later.body["error"]["message"]
        [waiting] = api.get("/staff/withdrawals", user=REVIEWER).body["items"]
        assert waiting["status"] == "refunding" and waiting["refunds"] == []
        assert wallet(api)["balance_fen"] == 1000  # held, not returned
        paypal.answer_refunds((capture["id"], part, "USD"))
        approved = api.post(path, user=REVIEWER)
        assert approved.status == 200 and approved.body["status"] == "refunded", approved.body
        key = f"withdrawal-{withdrawal['withdrawal_id']}-{pp['payment_id']}"
        assert [r["paypal-request-id"] for r in paypal.refunds_asked()] == [key, f"{key}-1", f"{key}-2"]
        assert {r["custom_id"] for r in paypal.refunds_asked()} == {withdrawal["withdrawal_id"]}
        assert wallet(api)["balance_fen"] == 1000
        assert api.post(path, user=REVIEWER).status == 409
        assert [e["template"] for e in sent_emails(ALICE)] == ["withdrawal_refunded"]

    @pytest.mark.parametrize(
        "issue",
        ["CAPTURE_FULLY_REFUNDED", "REFUND_TIME_LIMIT_EXCEEDED", "REFUND_NOT_ALLOWED", "SOMETHING_NEW"],
    )
    def test_a_refund_paypal_refuses_for_good_ends_partly_refunded(self, api, paypal, issue):
        _order, _pp, capture = captured_top_up(api, paypal, 5000)
        withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 4000}, user=ALICE).body
        error = {"name": "UNPROCESSABLE_ENTITY", "details": [{"issue": issue}]}
        paypal.server.add("POST", f"/v2/payments/captures/{capture['id']}/refund", 422, json.dumps(error))
        approved = api.post(f"/staff/withdrawals/{withdrawal['withdrawal_id']}/approve", user=REVIEWER)
        assert approved.status == 200 and approved.body["status"] == "partly_refunded", approved.body
        assert wallet(api)["balance_fen"] == 5000
        [email] = sent_emails(ALICE)
        assert email["template"] == "withdrawal_partly_refunded" and email["data"]["refunds"] == []
        assert email["data"]["returned_parts"][0]["reason"]
        from tests.integration.test_payments_stripe import rendered

        text = rendered(email)
        assert "refused to refund your withdrawal of ¥40.00, so ¥40.00 is back in your wallet" in text


def test_the_paypal_provider_loads_without_stripes_sdk():
    """A PayPal path's cold start pays for PayPal's SDK only (the credentials have their own module)."""
    import subprocess
    import sys

    probe = "import sys, chalicelib.providers.paypal_provider; print('stripe' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
