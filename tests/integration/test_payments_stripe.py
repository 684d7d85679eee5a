"""Stripe through the payment port: PaymentIntents per top-up and order, its signed webhooks applied once,
refunds and disputes that never make a balance negative. Stripe's HTTP API is replayed from its own
fixtures (tests/stripe_fake.py, tests/fixtures/payments/SOURCES.md)."""

from __future__ import annotations

import time

import pytest

from chalicelib import currency
from tests.integration.conftest import ADMIN, ALICE, BOB, REVIEWER, sent_emails, top_up
from tests.stripe_fake import FakeStripe, event, stripe_signature


@pytest.fixture
def stripe(monkeypatch, stack):
    with FakeStripe(monkeypatch) as fake:
        yield fake


def wallet(api, user=ALICE):
    return api.get("/wallet", user=user).body


def card_top_up(api, stripe, amount_fen=10000, channel="card", user=ALICE, query=""):
    ref = stripe.next_intent()
    created = api.post(f"/wallet/top-ups{query}", {"amount_fen": amount_fen, "channel": channel}, user=user)
    assert created.status == 201, created.body
    return ref, created.body


def settled_top_up(api, stripe, amount_fen=10000, fee=None):
    ref, payment = card_top_up(api, stripe, amount_fen)
    result = stripe.deliver(api, "payment_intent.succeeded", stripe.succeeded(ref, payment, fee=fee))
    assert result.status == 200 and not result.body["duplicate"], result.body
    return ref, payment


def attention(api):
    result = api.get("/staff/payments", user=ADMIN)
    assert result.status == 200, result.body
    return {p["payment_id"]: p for p in result.body["items"]}


class TestCreate:
    def test_a_card_top_up_is_a_payment_intent_whose_client_secret_the_answer_carries(self, api, stripe):
        ref, payment = card_top_up(api, stripe, 10000)
        assert payment["provider"] == "stripe" and payment["client_secret"].startswith(f"{ref}_secret_")
        assert (payment["charged_currency"], payment["charged_amount"]) == ("CNY", 10000 + 450)
        [sent] = stripe.created()
        assert sent["amount"] == "10450" and sent["currency"] == "cny"
        assert sent["payment_method_types[0]"] == "card"
        assert sent["metadata[payment_id]"] == payment["payment_id"]
        assert sent["idempotency-key"] == f"create-{payment['payment_id']}"
        assert wallet(api)["balance_fen"] == 0  # nothing until Stripe says it succeeded
        again = api.get(f"/payments/{payment['payment_id']}", user=ALICE).body
        assert again["client_secret"] == payment["client_secret"]
        assert api.get(f"/payments/{payment['payment_id']}", user=BOB).status == 404

    def test_the_customers_currency_is_charged_at_the_rate_snapshotted_on_the_top_up(self, api, stripe):
        from tests.integration.test_currencies import fresh_rates

        fresh_rates(USD="0.14")
        _ref, payment = card_top_up(api, stripe, 10000, query="?currency=USD")
        rate = payment["fx_snapshot"]["rate"]
        expected = currency.to_minor(10450, rate, 2)
        assert (payment["charged_currency"], payment["charged_amount"]) == ("USD", expected)
        [sent] = stripe.created()
        assert (sent["currency"], sent["amount"]) == ("usd", str(expected))

    def test_the_contracts_currency_and_amount_minor_are_what_is_charged_in_any_display_currency(
        self, api, stripe
    ):
        """The API contract: the payment carries `currency` and `amount_minor` actually charged. The display
        currency adds `<name>_minor` next to the other amounts but never rewrites the charged one."""
        from tests.integration.test_currencies import fresh_rates

        fresh_rates(USD="0.14", EUR="0.13")
        _ref, payment = card_top_up(api, stripe, 10000, query="?currency=USD")
        charged = currency.to_minor(10450, payment["fx_snapshot"]["rate"], 2)
        assert (payment["currency"], payment["amount_minor"]) == ("USD", charged)  # the fee included
        assert payment["charge_minor"] == charged  # charge_fen at the display (= charged) rate
        seen = api.get(f"/payments/{payment['payment_id']}?currency=EUR", user=ALICE).body
        assert seen["display_currency"]["code"] == "EUR"
        assert (seen["currency"], seen["amount_minor"]) == ("USD", charged)
        assert seen["charge_minor"] == currency.to_minor(10450, seen["display_currency"]["rate"], 2)
        plain = api.get(f"/payments/{payment['payment_id']}", user=ALICE).body
        assert (plain["currency"], plain["amount_minor"]) == ("USD", charged)
        assert "charge_minor" not in plain

    def test_alipay_and_wechat_pay_are_stripe_payment_methods_wechat_on_the_web(self, api, stripe):
        card_top_up(api, stripe, channel="alipay")
        card_top_up(api, stripe, channel="wechat_pay")
        alipay, wechat = stripe.created()
        assert alipay["payment_method_types[0]"] == "alipay"
        assert wechat["payment_method_types[0]"] == "wechat_pay"
        assert wechat["payment_method_options[wechat_pay][client]"] == "web"

    def test_stripe_down_is_a_503_and_nothing_is_stored(self, api, stripe):
        stripe.failing(500)
        result = api.post("/wallet/top-ups", {"amount_fen": 10000, "channel": "card"}, user=ALICE)
        assert result.status == 503 and result.body["error"]["code"] == "provider_unavailable"
        assert "sk_test" not in str(result.body)

    def test_an_order_on_the_card_channel_answers_the_client_secret_when_paid(self, api, stripe, shop):
        from tests.integration.test_orders import order

        created = order(api, channel="card")
        ref = stripe.next_intent()
        paid = api.post(f"/orders/{created['order_id']}/pay", user=ALICE)
        assert paid.status == 200, paid.body
        payment = paid.body["payment"]
        assert (
            payment["client_secret"].startswith(ref)
            and payment["charged_amount"] == created["charges"]["total_fen"]
        )


class TestWebhook:
    def test_the_contracts_webhook_path_and_the_first_one_are_one_endpoint(self, api, stripe):
        """The API contract names `POST /payments/webhooks/stripe`; endpoints registered at the first path
        (`/payments/stripe/webhook`) keep working, and an event through both is applied once."""
        ref, payment = card_top_up(api, stripe, 10000)
        obj = stripe.succeeded(ref, payment)
        first = stripe.deliver(api, "payment_intent.succeeded", obj, event_id="evt_p")
        again = stripe.deliver(
            api, "payment_intent.succeeded", obj, event_id="evt_p", path="/payments/stripe/webhook"
        )
        assert (first.status, again.status) == (200, 200)
        assert not first.body["duplicate"] and again.body["duplicate"]
        assert wallet(api)["balance_fen"] == 10000

    def test_payment_intent_succeeded_credits_once_however_often_it_arrives(self, api, stripe):
        ref, payment = card_top_up(api, stripe, 10000)
        obj = stripe.succeeded(ref, payment)
        first = stripe.deliver(api, "payment_intent.succeeded", obj, event_id="evt_a")
        again = stripe.deliver(api, "payment_intent.succeeded", obj, event_id="evt_a")
        other = stripe.deliver(api, "payment_intent.succeeded", obj, event_id="evt_b")
        assert (first.status, again.status, other.status) == (200, 200, 200)
        assert not first.body["duplicate"] and again.body["duplicate"] and other.body["duplicate"]
        assert wallet(api)["balance_fen"] == 10000
        shown = api.get(f"/payments/{payment['payment_id']}", user=ALICE).body
        assert shown["status"] == "succeeded" and "client_secret" not in shown

    def test_the_bank_fee_on_the_ledger_is_stripes_actual_fee(self, api, stripe):
        # quoted 3% + 150 = 450 on 10000; Stripe's balance transaction says it took 330
        _ref, payment = settled_top_up(api, stripe, 10000, fee=330)
        state = wallet(api)
        kinds = {e["kind"]: e["amount_fen"] for e in state["entries"]}
        assert kinds == {"top_up": 10000, "bank_fee_adjustment": 120}
        shown = api.get(f"/payments/{payment['payment_id']}", user=ALICE).body
        assert shown["provider_fee_fen"] == 330

    def test_a_fee_above_the_quote_is_never_charged_to_the_customer(self, api, stripe):
        _ref, payment = settled_top_up(api, stripe, 10000, fee=900)
        assert wallet(api)["balance_fen"] == 10000
        assert api.get(f"/payments/{payment['payment_id']}", user=ALICE).body["provider_fee_fen"] == 900

    def test_a_fee_in_another_currency_is_converted_at_what_the_charge_was_worth(self, api, stripe):
        from tests.integration.test_currencies import fresh_rates

        fresh_rates(USD="0.14")
        ref, payment = card_top_up(api, stripe, 10000, query="?currency=USD")
        fee = payment["charged_amount"] // 50  # 2 % in USD cents
        stripe.deliver(api, "payment_intent.succeeded", stripe.succeeded(ref, payment, fee=fee))
        shown = api.get(f"/payments/{payment['payment_id']}", user=ALICE).body
        assert shown["provider_fee_fen"] == round(fee * 10450 / payment["charged_amount"])

    def test_an_amount_other_than_asked_is_not_credited_and_staff_see_it(self, api, stripe):
        ref, payment = card_top_up(api, stripe, 10000)
        short = stripe.succeeded(ref, payment, amount=payment["charged_amount"] - 1)
        result = stripe.deliver(api, "payment_intent.succeeded", short)
        assert result.status == 200 and result.body["flagged"] == "amount_mismatch"
        other_currency = stripe.succeeded(ref, payment, currency="USD")
        assert (
            stripe.deliver(api, "payment_intent.succeeded", other_currency).body["flagged"]
            == "amount_mismatch"
        )
        assert wallet(api)["balance_fen"] == 0
        assert attention(api)[payment["payment_id"]]["attention"] == "amount_mismatch"

    def test_bad_signatures_are_refused_and_change_nothing(self, api, stripe):
        ref, payment = card_top_up(api, stripe, 10000)
        body = event("payment_intent.succeeded", stripe.succeeded(ref, payment))
        old = int(time.time()) - 301
        tampered = body.replace(b'"amount": 10450', b'"amount": 99999')
        bad = [
            stripe.deliver(api, "", {}, raw=body, secret="whsec_not_it"),
            stripe.deliver(api, "", {}, raw=body, timestamp=old),
            api.call("POST", "/payments/stripe/webhook", raw=body.decode()),
            api.call(
                "POST",
                "/payments/stripe/webhook",
                raw=tampered.decode(),
                headers={"Stripe-Signature": stripe_signature(body)},
            ),
            api.call(
                "POST", "/payments/stripe/webhook", raw=body.decode(), headers={"Stripe-Signature": "garbage"}
            ),
        ]
        assert [r.status for r in bad] == [400] * len(bad)
        assert {r.body["error"]["code"] for r in bad} == {"invalid_signature"}
        assert wallet(api)["balance_fen"] == 0

    def test_other_event_types_are_acknowledged(self, api, stripe):
        result = stripe.deliver(api, "customer.created", {"id": "cus_1", "object": "customer"})
        assert result.status == 200 and result.body == {"received": True, "ignored": "customer.created"}

    def test_a_failed_payment_frees_the_order_to_be_paid_again(self, api, stripe, shop):
        from tests.integration.test_orders import order

        created = order(api, channel="card")
        ref = stripe.next_intent()
        payment = api.post(f"/orders/{created['order_id']}/pay", user=ALICE).body["payment"]
        failed = stripe.deliver(
            api, "payment_intent.payment_failed", stripe.intent_event(ref, payment, "requires_payment_method")
        )
        assert failed.status == 200 and not failed.body["duplicate"]
        assert api.get(f"/payments/{payment['payment_id']}", user=ALICE).body["status"] == "declined"
        assert api.get(f"/orders/{created['order_id']}", user=ALICE).body["payment"] is None
        second_ref = stripe.next_intent()
        again = api.post(f"/orders/{created['order_id']}/pay", user=ALICE).body["payment"]
        assert again["payment_id"] != payment["payment_id"] and again["client_secret"].startswith(second_ref)
        done = stripe.deliver(api, "payment_intent.succeeded", stripe.succeeded(second_ref, again))
        assert done.status == 200
        assert api.get(f"/orders/{created['order_id']}", user=ALICE).body["status"] == "pending_review"
        late = stripe.deliver(
            api, "payment_intent.canceled", stripe.intent_event(second_ref, again, "canceled")
        )
        assert late.body["duplicate"]  # late: it succeeded meanwhile

    def test_a_success_after_a_failed_attempt_still_credits(self, api, stripe):
        ref, payment = card_top_up(api, stripe, 10000)
        stripe.deliver(
            api, "payment_intent.payment_failed", stripe.intent_event(ref, payment, "requires_payment_method")
        )
        assert stripe.deliver(api, "payment_intent.succeeded", stripe.succeeded(ref, payment)).status == 200
        assert wallet(api)["balance_fen"] == 10000


class TestRefundsAndDisputes:
    def test_a_refund_at_stripe_debits_the_wallet_once_in_any_order_of_events(self, api, stripe):
        ref, payment = settled_top_up(api, stripe, 10000)
        part = stripe.deliver(api, "charge.refunded", stripe.refunded(ref, payment, 3000), event_id="evt_r1")
        assert part.body["debited_fen"] == 3000
        # the whole charge back, its fee included: the wallet held only the top-up's 10000
        whole = stripe.deliver(
            api, "charge.refunded", stripe.refunded(ref, payment, 10450), event_id="evt_r2"
        )
        assert (whole.body["debited_fen"], whole.body["owed_fen"]) == (7000, 450)
        # redelivered and late (a smaller cumulative amount after a larger one): nothing more
        assert stripe.deliver(
            api, "charge.refunded", stripe.refunded(ref, payment, 3000), event_id="evt_r1"
        ).body["duplicate"]
        assert stripe.deliver(
            api, "charge.refunded", stripe.refunded(ref, payment, 3000), event_id="evt_r3"
        ).body["duplicate"]
        assert wallet(api)["balance_fen"] == 0
        assert [e["amount_fen"] for e in wallet(api)["entries"]] == [-7000, -3000, 10000]

    def test_a_refund_larger_than_the_balance_never_makes_it_negative_and_staff_see_what_is_owed(
        self, api, stripe
    ):
        ref, payment = settled_top_up(api, stripe, 10000)
        top_up(api, BOB, 1000, channel="paypal")  # someone else's money is not touched
        result = stripe.deliver(api, "charge.refunded", stripe.refunded(ref, payment, 10450))
        assert result.body["debited_fen"] == 10000 and result.body["owed_fen"] == 450
        assert wallet(api)["balance_fen"] == 0 and wallet(api, BOB)["balance_fen"] == 1000
        flagged = attention(api)[payment["payment_id"]]
        assert flagged["attention"] == "refund_exceeds_balance" and flagged["owed_fen"] == 450

    def test_a_dispute_holds_the_disputed_amount_once(self, api, stripe):
        ref, payment = settled_top_up(api, stripe, 10000)
        dispute = stripe.dispute(ref, payment, 5000, "dp_x")
        first = stripe.deliver(api, "charge.dispute.created", dispute, event_id="evt_d1")
        again = stripe.deliver(api, "charge.dispute.created", dispute, event_id="evt_d2")
        assert first.body["debited_fen"] == 5000 and again.body["duplicate"]
        assert wallet(api)["balance_fen"] == 5000
        entry = wallet(api)["entries"][0]
        assert entry["kind"] == "dispute_hold" and entry["amount_fen"] == -5000
        flagged = attention(api)[payment["payment_id"]]
        assert flagged["attention"] == "disputed" and flagged["disputed_fen"] == 5000
        [dispute] = flagged["disputes"]  # open in our books, Stripe's own status beside it
        assert (dispute["state"], dispute["status"]) == ("open", "needs_response")
        assert "decided_at" not in dispute

    def test_a_refund_that_overtakes_its_success_is_refused_for_redelivery(self, api, stripe):
        ref, payment = card_top_up(api, stripe, 10000)
        early = stripe.deliver(api, "charge.refunded", stripe.refunded(ref, payment, 10450))
        assert early.status == 409
        assert wallet(api)["balance_fen"] == 0

    def test_only_admins_see_the_attention_list(self, api, stripe):
        assert api.get("/staff/payments", user=ALICE).status == 403


class TestDisputeDecided:
    """charge.dispute.closed (won / lost), funds_withdrawn and funds_reinstated, in any order and number."""

    def deliver(self, api, stripe, ref, payment, event_type, status, amount=5000, event_id=None):
        obj = stripe.dispute(ref, payment, amount, "dp_won_or_lost", status=status)
        return stripe.deliver(api, event_type, obj, event_id=event_id)

    def test_a_dispute_won_gives_the_held_money_back_once(self, api, stripe):
        ref, payment = settled_top_up(api, stripe, 10000)
        self.deliver(api, stripe, ref, payment, "charge.dispute.created", "needs_response")
        self.deliver(api, stripe, ref, payment, "charge.dispute.funds_withdrawn", "needs_response")
        assert wallet(api)["balance_fen"] == 5000  # the same dispute's two openings hold once
        won = self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "won", event_id="evt_w")
        assert won.status == 200 and won.body["released_fen"] == 5000, won.body
        again = [
            self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "won", event_id="evt_w"),
            self.deliver(api, stripe, ref, payment, "charge.dispute.funds_reinstated", "won"),
            self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "won"),
        ]
        assert all(r.status == 200 and r.body["duplicate"] for r in again)
        state = wallet(api)
        assert state["balance_fen"] == 10000
        assert [(e["kind"], e["amount_fen"]) for e in state["entries"][:2]] == [
            ("dispute_release", 5000),
            ("dispute_hold", -5000),
        ]
        shown = attention(api)[payment["payment_id"]]
        assert shown["attention"] == "dispute_won" and shown["disputed_fen"] == 0
        [dispute] = shown["disputes"]
        assert (dispute["dispute_id"], dispute["state"], dispute["status"], dispute["held_fen"]) == (
            "dp_won_or_lost",
            "won",
            "won",
            5000,
        )

    def test_funds_reinstated_before_closed_is_the_win(self, api, stripe):
        ref, payment = settled_top_up(api, stripe, 10000)
        self.deliver(api, stripe, ref, payment, "charge.dispute.created", "under_review")
        back = self.deliver(api, stripe, ref, payment, "charge.dispute.funds_reinstated", "under_review")
        assert back.body["released_fen"] == 5000 and back.body["dispute_status"] == "won"
        assert self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "won").body["duplicate"]
        assert wallet(api)["balance_fen"] == 10000

    def test_a_dispute_lost_keeps_the_debit_final(self, api, stripe):
        ref, payment = settled_top_up(api, stripe, 10000)
        self.deliver(api, stripe, ref, payment, "charge.dispute.created", "needs_response")
        lost = self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "lost")
        assert lost.status == 200 and not lost.body["duplicate"] and lost.body["dispute_status"] == "lost"
        late = [
            self.deliver(api, stripe, ref, payment, "charge.dispute.funds_reinstated", "won"),
            self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "won"),
            self.deliver(api, stripe, ref, payment, "charge.dispute.created", "needs_response"),
        ]
        assert all(r.body["duplicate"] for r in late)
        assert wallet(api)["balance_fen"] == 5000
        shown = attention(api)[payment["payment_id"]]
        assert shown["attention"] == "dispute_lost" and shown["disputed_fen"] == 5000
        assert shown["disputes"][0]["status"] == "lost"

    def test_a_won_dispute_forgives_what_the_wallet_did_not_hold(self, api, stripe):
        ref, payment = settled_top_up(api, stripe, 10000)
        api.post("/wallet/withdrawals", {"amount_fen": 8000}, user=ALICE)  # 2000 left to hold
        opened = self.deliver(api, stripe, ref, payment, "charge.dispute.created", "needs_response")
        assert (opened.body["debited_fen"], opened.body["owed_fen"]) == (2000, 3000)
        won = self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "won")
        assert won.body["released_fen"] == 2000
        assert wallet(api)["balance_fen"] == 2000
        shown = attention(api)[payment["payment_id"]]
        assert shown["owed_fen"] == 0 and shown["disputed_fen"] == 0

    def test_closed_won_before_created_holds_nothing_ever(self, api, stripe):
        ref, payment = settled_top_up(api, stripe, 10000)
        first = self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "won")
        assert first.status == 200 and not first.body["duplicate"] and "debited_fen" not in first.body
        late = self.deliver(api, stripe, ref, payment, "charge.dispute.created", "needs_response")
        withdrawn = self.deliver(
            api, stripe, ref, payment, "charge.dispute.funds_withdrawn", "needs_response"
        )
        assert late.body["duplicate"] and withdrawn.body["duplicate"]
        assert wallet(api)["balance_fen"] == 10000
        assert attention(api)[payment["payment_id"]]["disputes"][0]["status"] == "won"

    def test_closed_lost_before_created_takes_the_debit_once(self, api, stripe):
        ref, payment = settled_top_up(api, stripe, 10000)
        first = self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "lost", event_id="evt_l")
        assert first.body["debited_fen"] == 5000 and first.body["dispute_status"] == "lost"
        late = [
            self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "lost", event_id="evt_l"),
            self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "lost"),
            self.deliver(api, stripe, ref, payment, "charge.dispute.created", "needs_response"),
            self.deliver(api, stripe, ref, payment, "charge.dispute.funds_withdrawn", "needs_response"),
        ]
        assert all(r.status == 200 and r.body["duplicate"] for r in late), [r.body for r in late]
        assert wallet(api)["balance_fen"] == 5000
        [shown] = attention(api)[payment["payment_id"]]["disputes"]
        assert (shown["state"], shown["held_fen"]) == ("lost", 5000) and shown["decided_at"]

    def test_an_inquiry_closed_gives_back_what_its_opening_held(self, api, stripe):
        ref, payment = settled_top_up(api, stripe, 10000)
        self.deliver(api, stripe, ref, payment, "charge.dispute.created", "warning_needs_response")
        closed = self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "warning_closed")
        assert closed.body["released_fen"] == 5000 and wallet(api)["balance_fen"] == 10000

    def test_a_decision_before_the_payments_success_is_refused_for_redelivery(self, api, stripe):
        ref, payment = card_top_up(api, stripe, 10000)
        early = self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "lost")
        assert early.status == 409 and wallet(api)["balance_fen"] == 0

    def test_a_payment_stays_disputed_while_any_of_its_disputes_is_open(self, api, stripe):
        ref, payment = settled_top_up(api, stripe, 10000)
        for dispute_id in ("dp_a", "dp_b"):
            obj = stripe.dispute(ref, payment, 2000, dispute_id, status="needs_response")
            stripe.deliver(api, "charge.dispute.created", obj)
        won = stripe.dispute(ref, payment, 2000, "dp_a", status="won")
        assert stripe.deliver(api, "charge.dispute.closed", won).body["released_fen"] == 2000
        shown = attention(api)[payment["payment_id"]]
        assert shown["attention"] == "disputed" and shown["disputed_fen"] == 2000
        lost = stripe.dispute(ref, payment, 2000, "dp_b", status="lost")
        stripe.deliver(api, "charge.dispute.closed", lost)
        shown = attention(api)[payment["payment_id"]]
        assert shown["attention"] == "dispute_lost"
        assert sorted((d["dispute_id"], d["state"]) for d in shown["disputes"]) == [
            ("dp_a", "won"),
            ("dp_b", "lost"),
        ]
        assert wallet(api)["balance_fen"] == 8000

    def test_a_closed_dispute_with_a_status_we_do_not_know_is_acknowledged_and_changes_nothing(
        self, api, stripe
    ):
        ref, payment = settled_top_up(api, stripe, 10000)
        self.deliver(api, stripe, ref, payment, "charge.dispute.created", "needs_response")
        odd = self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "charge_refunded")
        assert odd.status == 200 and odd.body == {"received": True, "ignored": "charge.dispute.closed"}
        assert attention(api)[payment["payment_id"]]["disputes"][0]["state"] == "open"

    def test_a_won_dispute_can_be_withdrawn_again_a_lost_one_cannot(self, api, stripe):
        ref, payment = settled_top_up(api, stripe, 10000)
        self.deliver(api, stripe, ref, payment, "charge.dispute.created", "needs_response")
        assert api.post("/wallet/withdrawals", {"amount_fen": 5001}, user=ALICE).status in (400, 409)
        self.deliver(api, stripe, ref, payment, "charge.dispute.closed", "won")
        assert api.post("/wallet/withdrawals", {"amount_fen": 10000}, user=ALICE).status == 201


class TestSimulatedProviderSpeaksStripe:
    """The local stack's simulated provider: PaymentIntents settled by Stripe's own signed events at
    Stripe's endpoint (what `make topup`, `make demo` and the e2e tests send)."""

    def test_a_simulated_top_up_is_settled_by_stripes_signed_event_once(self, api):
        created = api.post("/wallet/top-ups", {"amount_fen": 10000, "channel": "alipay"}, user=ALICE).body
        assert created["provider"] == "simulated" and created["provider_ref"].startswith("pi_sim_")
        from chalicelib.providers import simulated

        body = simulated.event("payment_intent.succeeded", simulated.payment_intent(created))
        headers = {"Stripe-Signature": stripe_signature(body)}
        first = api.call("POST", "/payments/stripe/webhook", raw=body.decode(), headers=headers)
        again = api.call("POST", "/payments/stripe/webhook", raw=body.decode(), headers=headers)
        assert first.status == 200 and not first.body["duplicate"], first.body
        assert again.status == 200 and again.body["duplicate"]
        assert wallet(api)["balance_fen"] == 10000
        assert api.get(f"/payments/{created['payment_id']}", user=ALICE).body["status"] == "succeeded"

    def test_its_events_are_signed_with_the_endpoint_secret_not_the_old_one(self, api):
        import os

        from chalicelib.providers import simulated

        created = api.post("/wallet/top-ups", {"amount_fen": 10000, "channel": "alipay"}, user=ALICE).body
        body = simulated.event("payment_intent.succeeded", simulated.payment_intent(created))
        old = simulated.sign_stripe(body, os.environ["PAYMENT_WEBHOOK_SECRET"])
        refused = api.call(
            "POST", "/payments/stripe/webhook", raw=body.decode(), headers={"Stripe-Signature": old}
        )
        assert refused.status == 400 and refused.body["error"]["code"] == "invalid_signature"
        assert wallet(api)["balance_fen"] == 0

    def test_its_payment_intent_and_event_have_stripes_fields_and_types(self, api):
        import json

        from chalicelib.providers import simulated
        from tests.stripe_fake import fixture

        created = api.post("/wallet/top-ups", {"amount_fen": 10000, "channel": "alipay"}, user=ALICE).body
        intent, reference = simulated.payment_intent(created), fixture("payment_intent")
        assert set(intent) <= set(reference), set(intent) - set(reference)
        for name, value in intent.items():
            if value is not None and reference[name] is not None:
                assert type(value) is type(reference[name]), name
        envelope = json.loads(simulated.event("payment_intent.succeeded", intent))
        assert set(envelope) == set(fixture("event"))
        assert envelope["object"] == "event" and envelope["data"]["object"]["object"] == "payment_intent"

    def test_a_failed_simulated_order_payment_frees_the_order(self, api, shop):
        from tests.integration.conftest import settle
        from tests.integration.test_orders import order

        created = order(api, channel="alipay")
        payment = api.post(f"/orders/{created['order_id']}/pay", user=ALICE).body["payment"]
        failed = settle(api, payment, "payment_intent.payment_failed")
        assert failed.status == 200 and not failed.body["duplicate"], failed.body
        assert api.get(f"/orders/{created['order_id']}", user=ALICE).body["payment"] is None

    def test_the_deprecated_x_signature_route_still_credits_once(self, api):
        from tests.integration.conftest import send_webhook

        created = api.post("/wallet/top-ups", {"amount_fen": 10000, "channel": "alipay"}, user=ALICE).body
        assert (
            send_webhook(api, created["payment_id"], created["charge_fen"], event_id="evt_old").status == 200
        )
        assert send_webhook(api, created["payment_id"], created["charge_fen"], event_id="evt_old").body[
            "duplicate"
        ]
        assert wallet(api)["balance_fen"] == 10000
        from chalicelib.openapi import document

        assert document()["paths"]["/payments/webhook"]["post"]["deprecated"] is True


class TestPackages:
    def test_a_package_is_paid_through_stripe_and_joins_the_packing_queue(
        self, api, monkeypatch, shop, stack
    ):
        from tests.integration.test_packages import stored, submit

        package = submit(api, stored(api)).body
        before = wallet(api)["balance_fen"]
        with FakeStripe(monkeypatch, channels=("card",)) as stripe:
            ref = stripe.next_intent()
            path = f"/packages/{package['package_id']}/checkout"
            created = api.post(path, {"channel": "card"}, user=ALICE)
            assert created.status == 201, created.body
            payment = created.body
            assert payment["purpose"] == "package" and payment["package_id"] == package["package_id"]
            assert payment["amount_fen"] == package["total_fen"] and payment["client_secret"].startswith(ref)
            assert payment["charge_fen"] == package["total_fen"] + payment["fee_fen"] > package["total_fen"]
            again = api.post(path, {"channel": "card"}, user=ALICE).body
            assert again["payment_id"] == payment["payment_id"] and len(stripe.created()) == 1
            assert api.post(path, {"channel": "card"}, user=BOB).status == 404
            done = stripe.deliver(api, "payment_intent.succeeded", stripe.succeeded(ref, payment))
            assert done.status == 200, done.body
            redelivered = stripe.deliver(api, "payment_intent.succeeded", stripe.succeeded(ref, payment))
            assert redelivered.body["duplicate"]
        shown = api.get(f"/packages/{package['package_id']}", user=ALICE).body
        assert shown["status"] == "paid"
        state = wallet(api)
        assert state["balance_fen"] == before
        assert [(e["kind"], e["amount_fen"]) for e in state["entries"][:2]] == [
            ("package_payment", -package["total_fen"]),
            ("payment_received", package["total_fen"]),
        ]
        assert api.post(path, {"channel": "card"}, user=ALICE).status == 409  # paid: nothing to collect

    def test_paying_a_package_with_an_external_channel_answers_the_payment_to_complete(
        self, api, monkeypatch, shop, stack
    ):
        """The API contract: `POST /packages/{package_id}/pay` with an external channel carries the payment
        the storefront completes; the package is paid once Stripe confirms it. No body is still the wallet."""
        from tests.integration.test_packages import stored, submit

        package = submit(api, stored(api)).body
        path = f"/packages/{package['package_id']}/pay"
        before = wallet(api)["balance_fen"]
        bad = api.post(path, {"channel": "cheque"}, user=ALICE)
        assert bad.status == 400 and "channel must be one of" in bad.body["error"]["message"]
        with FakeStripe(monkeypatch, channels=("card",)) as stripe:
            ref = stripe.next_intent()
            answered = api.post(path, {"channel": "card"}, user=ALICE)
            assert answered.status == 200, answered.body
            assert answered.body["status"] == package["status"]  # not paid until Stripe says so
            payment = answered.body["payment"]
            assert payment["client_secret"].startswith(ref) and payment["amount_fen"] == package["total_fen"]
            assert wallet(api)["balance_fen"] == before
            again = api.post(path, {"channel": "card"}, user=ALICE).body["payment"]
            assert again["payment_id"] == payment["payment_id"] and len(stripe.created()) == 1
            done = stripe.deliver(api, "payment_intent.succeeded", stripe.succeeded(ref, payment))
            assert done.status == 200, done.body
        assert api.get(path.removesuffix("/pay"), user=ALICE).body["status"] == "paid"
        assert wallet(api)["balance_fen"] == before
        assert api.post(path, user=ALICE).status == 409  # the wallet path, with no body: paid already

    def test_a_package_paid_through_the_simulated_provider_too(self, api, shop):
        from tests.integration.conftest import send_webhook
        from tests.integration.test_packages import stored, submit

        package = submit(api, stored(api)).body
        payment = api.post(
            f"/packages/{package['package_id']}/checkout", {"channel": "paypal"}, user=ALICE
        ).body
        assert send_webhook(api, payment["payment_id"], payment["charge_fen"]).status == 200
        assert api.get(f"/packages/{package['package_id']}", user=ALICE).body["status"] == "paid"


class TestWithdrawals:
    def test_a_withdrawal_is_refunded_across_several_payments_newest_first_once(self, api, stripe):
        first_ref, first = settled_top_up(api, stripe, 10000)
        second_ref, second = settled_top_up(api, stripe, 5000)
        asked = api.post("/wallet/withdrawals", {"amount_fen": 12000}, user=ALICE)
        assert asked.status == 201, asked.body
        withdrawal = asked.body
        assert withdrawal["status"] == "requested" and withdrawal["refunds"] == []
        assert wallet(api)["balance_fen"] == 3000  # held at once
        assert wallet(api)["entries"][0]["kind"] == "withdrawal"
        queue = api.get("/staff/withdrawals", user=REVIEWER).body["items"]
        assert [w["withdrawal_id"] for w in queue] == [withdrawal["withdrawal_id"]] and queue[0]["user_id"]
        stripe.answer_refunds((5000, "CNY"), (7000, "CNY"))
        path = f"/staff/withdrawals/{withdrawal['withdrawal_id']}/approve"
        approved = api.post(path, user=REVIEWER)
        assert approved.status == 200, approved.body
        assert approved.body["status"] == "refunded"
        parts = [(r["payment_id"], r["amount_fen"]) for r in approved.body["refunds"]]
        assert parts == [(second["payment_id"], 5000), (first["payment_id"], 7000)]
        sent = stripe.refunds_asked()
        assert [(r["payment_intent"], r["amount"]) for r in sent] == [
            (second_ref, "5000"),
            (first_ref, "7000"),
        ]
        assert (
            sent[0]["idempotency-key"] == f"withdrawal-{withdrawal['withdrawal_id']}-{second['payment_id']}"
        )
        assert api.post(path, user=REVIEWER).status == 409  # decided: never refunded twice
        assert api.get("/staff/withdrawals", user=REVIEWER).body["items"] == []
        # Stripe's own event about our refund changes nothing more
        echoed = stripe.deliver(api, "charge.refunded", stripe.refunded(first_ref, first, 7000))
        assert echoed.status == 200 and echoed.body["debited_fen"] == 0  # its total is recorded, no money
        assert wallet(api)["balance_fen"] == 3000
        assert api.get(f"/payments/{first['payment_id']}", user=ALICE).body["refunded_fen"] == 7000
        [email] = sent_emails(ALICE)  # once, the second approval (409) and the echo sent nothing
        assert email["template"] == "withdrawal_refunded"
        assert email["data"]["refunded"] == "¥120.00" and email["data"]["amount"] == "¥120.00"
        assert [(r["amount"], r["charged"]) for r in email["data"]["refunds"]] == [
            ("¥50.00", "¥50.00"),
            ("¥70.00", "¥70.00"),
        ]
        mine = api.get("/wallet/withdrawals", user=ALICE).body["items"]
        assert [w["status"] for w in mine] == ["refunded"] and api.get("/wallet/withdrawals", user=BOB).body[
            "items"
        ] == []

    def test_a_refund_goes_back_in_the_currency_and_at_the_rate_paid(self, api, stripe):
        from tests.integration.test_currencies import fresh_rates

        fresh_rates(USD="0.14")
        ref, payment = card_top_up(api, stripe, 10000, query="?currency=USD")
        stripe.deliver(api, "payment_intent.succeeded", stripe.succeeded(ref, payment))
        withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 10000}, user=ALICE).body
        expected = round(10000 * payment["charged_amount"] / 10450)
        stripe.answer_refunds((expected, "USD"))
        approved = api.post(f"/staff/withdrawals/{withdrawal['withdrawal_id']}/approve", user=REVIEWER).body
        [sent] = stripe.refunds_asked()
        assert sent["amount"] == str(expected)
        assert (
            approved["refunds"][0]["currency"] == "USD" and approved["refunds"][0]["amount_minor"] == expected
        )
        [email] = sent_emails(ALICE)
        assert email["data"]["refunds"][0]["charged"] == f"USD {expected / 100:.2f}"

    def test_more_than_the_payments_can_take_back_is_refused(self, api, stripe):
        settled_top_up(api, stripe, 10000, fee=330)  # 120 of the quoted fee back: not paid in by a card
        too_much = api.post("/wallet/withdrawals", {"amount_fen": 10120}, user=ALICE)
        assert too_much.status == 400 and "10000" in too_much.body["error"]["message"]
        assert api.post("/wallet/withdrawals", {"amount_fen": 10121}, user=ALICE).status == 409
        assert wallet(api)["balance_fen"] == 10120

    @pytest.mark.parametrize("meanwhile, status, balance", [(-9000, 409, 1000), (2000, 201, 6000)])
    def test_a_withdrawal_commits_on_the_balance_at_its_commit_not_at_its_check(
        self, api, stripe, monkeypatch, meanwhile, status, balance
    ):
        """The account read for the early check is the one the first commit is conditioned on: money that
        moves between them makes the commit re-read the balance, which then decides (never negative)."""
        from chalicelib import withdrawals
        from chalicelib.models.commerce import WalletAccount
        from chalicelib.wallet import account_key

        settled_top_up(api, stripe, 10000)
        real_plan = withdrawals.plan

        def plan_while_the_balance_moves(user_id, amount_fen):
            parts = real_plan(user_id, amount_fen)
            account = WalletAccount.get(*account_key(user_id), consistent_read=True)
            account.update(actions=[WalletAccount.balance_fen.add(meanwhile)])  # another request's movement
            return parts

        monkeypatch.setattr(withdrawals, "plan", plan_while_the_balance_moves)
        asked = api.post("/wallet/withdrawals", {"amount_fen": 6000}, user=ALICE)
        assert asked.status == status, asked.body
        assert wallet(api)["balance_fen"] == balance
        held = [e for e in wallet(api)["entries"] if e["kind"] == "withdrawal"]
        assert [e["balance_after_fen"] for e in held] == ([balance] if status == 201 else [])
        assert len(api.get("/wallet/withdrawals", user=ALICE).body["items"]) == (1 if status == 201 else 0)

    def test_a_rejected_withdrawal_returns_the_held_money(self, api, stripe):
        settled_top_up(api, stripe, 10000)
        withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 4000}, user=ALICE).body
        path = f"/staff/withdrawals/{withdrawal['withdrawal_id']}/reject"
        rejected = api.post(path, {"reason": "Disputed payment pending."}, user=REVIEWER)
        assert rejected.status == 200 and rejected.body["status"] == "rejected"
        assert wallet(api)["balance_fen"] == 10000
        assert wallet(api)["entries"][0]["kind"] == "withdrawal_reversal"
        assert api.post(path, {"reason": "again"}, user=REVIEWER).status == 409
        [email] = sent_emails(ALICE)
        assert email["template"] == "withdrawal_rejected"
        assert email["data"] == {
            "withdrawal_id": withdrawal["withdrawal_id"],
            "amount": "¥40.00",
            "reason": "Disputed payment pending.",
        }

    def test_stripe_down_at_approval_records_nothing_and_a_retry_refunds_once(self, api, stripe):
        settled_top_up(api, stripe, 10000)
        withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 4000}, user=ALICE).body
        path = f"/staff/withdrawals/{withdrawal['withdrawal_id']}/approve"
        stripe.failing(500)
        down = api.post(path, user=REVIEWER)
        assert down.status == 503, down.body
        assert api.get("/staff/withdrawals", user=REVIEWER).body["items"][0]["status"] == "refunding"
        stripe.answer_refunds((4000, "CNY"))
        assert api.post(path, user=REVIEWER).status == 200
        keys = {r["idempotency-key"] for r in stripe.refunds_asked()}
        assert keys == {
            f"withdrawal-{withdrawal['withdrawal_id']}-{r['payment_id']}"
            for r in api.get("/wallet/withdrawals", user=ALICE).body["items"][0]["refunds"]
        }
        assert wallet(api)["balance_fen"] == 6000


def card_name() -> str:
    from chalicelib.rules.charges import channels

    return channels()["card"].name


def rendered(email: dict) -> str:
    """An email's subject and text as SES renders its template (moto's Handlebars subset)."""
    from moto.ses.template import parse_template

    from chalicelib import emails

    subject, body = emails.TEMPLATES[email["template"]]
    return parse_template(subject, email["data"]) + "\n" + parse_template(body, email["data"])


def refund_body(amount: int, cur: str = "CNY") -> str:
    from tests.stripe_fake import fixture, ids, json

    refund = fixture("refund")
    refund.update(id="re_" + ids.new_id("x")[-24:], amount=amount, currency=cur.lower(), status="succeeded")
    return json.dumps(refund)


# Stripe's error object (docs.stripe.com/api/errors): an invalid_request_error refuses the refund for good
REFUSED = '{"error": {"type": "invalid_request_error", "code": "charge_already_refunded", "message": "no"}}'
DOWN = '{"error": {"type": "api_error", "message": "An unknown error occurred"}}'


class TestWithdrawalRefundsAgainstProviderEvents:
    """A withdrawal's refunds are booked on the payments before any provider is asked, so Stripe's
    cumulative charge.refunded about them, whenever it arrives, finds them known."""

    def two_payments_and_a_withdrawal(self, api, stripe):
        first_ref, first = settled_top_up(api, stripe, 10000)
        second_ref, second = settled_top_up(api, stripe, 5000)
        withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 12000}, user=ALICE).body
        path = f"/staff/withdrawals/{withdrawal['withdrawal_id']}/approve"
        return (first_ref, first), (second_ref, second), withdrawal, path

    def refunded_fen(self, api, payment):
        return api.get(f"/payments/{payment['payment_id']}", user=ALICE).body.get("refunded_fen", 0)

    def test_stripes_refund_event_inside_the_approval_debits_the_wallet_once(self, api, stripe, monkeypatch):
        from chalicelib.providers.stripe_provider import StripeProvider

        (first_ref, first), (second_ref, second), _withdrawal, path = self.two_payments_and_a_withdrawal(
            api, stripe
        )
        real_refund = StripeProvider.refund
        echoed = []

        def refund_then_event(provider, payment, amount, key):
            done = real_refund(provider, payment, amount, key)
            ref, paid = (
                (first_ref, first) if payment.payment_id == first["payment_id"] else (second_ref, second)
            )
            # Stripe's event about this refund, delivered before our approval has committed anything more
            echoed.append(stripe.deliver(api, "charge.refunded", stripe.refunded(ref, paid, amount.minor)))
            return done

        monkeypatch.setattr(StripeProvider, "refund", refund_then_event)
        stripe.answer_refunds((5000, "CNY"), (7000, "CNY"))
        approved = api.post(path, user=REVIEWER)
        assert approved.status == 200 and approved.body["status"] == "refunded", approved.body
        assert [e.status for e in echoed] == [200, 200]
        assert wallet(api)["balance_fen"] == 3000  # 15000 in, 12000 withdrawn: never taken a second time
        assert [e["kind"] for e in wallet(api)["entries"]].count("provider_refund") == 0
        assert (self.refunded_fen(api, second), self.refunded_fen(api, first)) == (5000, 7000)
        assert attention(api) == {}

    def test_an_approval_cut_short_by_stripe_is_finished_by_the_next_with_each_refund_once(self, api, stripe):
        (first_ref, first), (second_ref, second), withdrawal, path = self.two_payments_and_a_withdrawal(
            api, stripe
        )
        stripe.server.add("POST", "/v1/refunds", [200, 500], [refund_body(5000), DOWN])
        down = api.post(path, user=REVIEWER)
        assert down.status == 503, down.body
        [waiting] = api.get("/staff/withdrawals", user=REVIEWER).body["items"]
        assert waiting["status"] == "refunding" and [r["amount_fen"] for r in waiting["refunds"]] == [5000]
        assert "waiting" not in waiting  # an outage gave no answer: no provider's reason to show
        # Stripe's events meanwhile, twice and out of order: the booked refunds are known already
        for _ in range(2):
            for ref, paid, amount in ((first_ref, first, 7000), (second_ref, second, 5000)):
                assert (
                    stripe.deliver(api, "charge.refunded", stripe.refunded(ref, paid, amount)).status == 200
                )
        assert wallet(api)["balance_fen"] == 3000
        stripe.answer_refunds((7000, "CNY"))
        approved = api.post(path, user=REVIEWER)
        assert approved.status == 200 and approved.body["status"] == "refunded", approved.body
        keys = [r["idempotency-key"] for r in stripe.refunds_asked()]
        base = f"withdrawal-{withdrawal['withdrawal_id']}-"
        # the part refunded before the outage is never asked again (the SDK itself retries the 500s)
        assert keys[0] == base + second["payment_id"] and keys.count(base + second["payment_id"]) == 1
        assert set(keys[1:]) == {base + first["payment_id"]}
        assert [(r["payment_id"], r["amount_fen"]) for r in approved.body["refunds"]] == [
            (second["payment_id"], 5000),
            (first["payment_id"], 7000),
        ]
        assert api.post(path, user=REVIEWER).status == 409
        assert wallet(api)["balance_fen"] == 3000
        assert (self.refunded_fen(api, second), self.refunded_fen(api, first)) == (5000, 7000)
        assert api.get("/staff/withdrawals", user=REVIEWER).body["items"] == []
        assert [e["template"] for e in sent_emails(ALICE)] == ["withdrawal_refunded"]  # once, when finished

    def test_a_part_stripe_refuses_for_good_is_back_in_the_wallet_once(self, api, stripe):
        (first_ref, first), (_second_ref, second), _withdrawal, path = self.two_payments_and_a_withdrawal(
            api, stripe
        )
        stripe.server.add("POST", "/v1/refunds", [200, 400], [refund_body(5000), REFUSED])
        approved = api.post(path, user=REVIEWER)
        assert approved.status == 200, approved.body
        assert approved.body["status"] == "partly_refunded" and approved.body["returned_fen"] == 7000
        assert [r["payment_id"] for r in approved.body["refunds"]] == [second["payment_id"]]
        assert wallet(api)["balance_fen"] == 3000 + 7000
        assert [e["kind"] for e in wallet(api)["entries"]].count("withdrawal_reversal") == 1
        assert (self.refunded_fen(api, second), self.refunded_fen(api, first)) == (5000, 0)
        assert api.post(path, user=REVIEWER).status == 409  # decided: nothing returned twice
        [email] = sent_emails(ALICE)  # what was paid back, what returned to the wallet and why; once
        assert email["template"] == "withdrawal_partly_refunded"
        data = email["data"]
        assert (data["amount"], data["refunded"], data["returned"]) == ("¥120.00", "¥50.00", "¥70.00")
        assert [(r["amount"], r["method"]) for r in data["refunds"]] == [("¥50.00", card_name())]
        assert [(r["amount"], r["reason"]) for r in data["returned_parts"]] == [
            ("¥70.00", "the payment was already refunded in full")
        ]
        text = rendered(email)
        assert "refused the rest, so ¥70.00 is back in your wallet balance" in text
        assert f"- ¥50.00 (¥50.00) to your {card_name()} payment of 20" in text
        # a later refund of the first payment (made on Stripe's dashboard) is then taken back in full
        later = stripe.deliver(api, "charge.refunded", stripe.refunded(first_ref, first, 2000))
        assert later.status == 200 and not later.body["duplicate"]
        assert wallet(api)["balance_fen"] == 10000 - 2000
        assert len(stripe.refunds_asked()) == 2
        assert api.get("/staff/withdrawals", user=REVIEWER).body["items"] == []

    @pytest.mark.parametrize("ours", ["refused", "refunded"])
    def test_a_dashboard_refund_during_an_approval_is_taken_from_the_wallet_once(
        self, api, stripe, monkeypatch, ours
    ):
        """Staff refund 3000 of a charge on Stripe's dashboard after our booking of a 4000 part and before
        Stripe answers it: its charge.refunded (3000, below what we booked) moves no money then. When
        Stripe refuses our part, taking the part off takes the 3000 from the wallet (no other event comes);
        when Stripe refunds it, its report of 7000 does. Once, however often the reports come."""
        from chalicelib.providers.stripe_provider import StripeProvider

        ref, paid = settled_top_up(api, stripe, 10000)
        withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 4000}, user=ALICE).body
        real_refund = StripeProvider.refund
        dashboard = stripe.refunded(ref, paid, 3000)
        reports = []

        def dashboard_refund_first(provider, payment, amount, key):
            for _ in range(2):
                reports.append(stripe.deliver(api, "charge.refunded", dashboard, event_id="evt_dashboard"))
            return real_refund(provider, payment, amount, key)

        monkeypatch.setattr(StripeProvider, "refund", dashboard_refund_first)
        if ours == "refused":
            stripe.server.add("POST", "/v1/refunds", 400, REFUSED)
        else:
            stripe.answer_refunds((4000, "CNY"))
        path = f"/staff/withdrawals/{withdrawal['withdrawal_id']}/approve"
        approved = api.post(path, user=REVIEWER)
        assert approved.status == 200, approved.body
        assert [r.status for r in reports] == [200, 200]
        assert all(r.body.get("debited_fen", 0) == 0 for r in reports)  # hidden by the booked 4000 then
        if ours == "refused":
            assert approved.body["status"] == "partly_refunded" and approved.body["returned_fen"] == 4000
            assert wallet(api)["balance_fen"] == 10000 - 3000  # taken with the part taken off
            total, withdrawn = 3000, 0
        else:
            assert approved.body["status"] == "refunded"
            assert wallet(api)["balance_fen"] == 10000 - 4000
            ours_too = stripe.deliver(api, "charge.refunded", stripe.refunded(ref, paid, 7000))
            assert ours_too.status == 200 and ours_too.body["debited_fen"] == 3000, ours_too.body
            total, withdrawn = 7000, 4000
        for _ in range(2):  # the reports again, and late
            again = stripe.deliver(api, "charge.refunded", dashboard, event_id="evt_dashboard")
            late = stripe.deliver(api, "charge.refunded", stripe.refunded(ref, paid, total))
            assert again.status == late.status == 200 and again.body["duplicate"] and late.body["duplicate"]
        assert wallet(api)["balance_fen"] == 10000 - withdrawn - 3000
        assert [e["kind"] for e in wallet(api)["entries"]].count("provider_refund") == 1
        assert api.get(f"/payments/{paid['payment_id']}", user=ALICE).body["refunded_fen"] == total
        assert attention(api) == {}

    def test_a_refund_stripe_cannot_make_now_waits_for_another_approval_under_a_new_key(self, api, stripe):
        """Stripe's balance_insufficient (our Stripe balance short of the refund) passes: the withdrawal stays
        refunding with its money held; the next approval asks under a new idempotency key (Stripe replays a
        key's first answer, errors included) and refunds once. The other part is refunded meanwhile."""
        (_first_ref, first), (_second_ref, second), withdrawal, path = self.two_payments_and_a_withdrawal(
            api, stripe
        )
        short = (
            '{"error": {"type": "invalid_request_error", "code": "balance_insufficient", "message": "no"}}'
        )
        stripe.server.add("POST", "/v1/refunds", [200, 400], [refund_body(5000), short])
        later = api.post(path, user=REVIEWER)
        assert later.status == 503 and "balance_insufficient" in later.body["error"]["message"], later.body
        [waiting] = api.get("/staff/withdrawals", user=REVIEWER).body["items"]
        assert waiting["status"] == "refunding" and [r["amount_fen"] for r in waiting["refunds"]] == [5000]
        # staff see which part waits and why, not only in the 503 at the time
        assert waiting["waiting"] == [
            {
                "payment_id": first["payment_id"],
                "provider": "stripe",
                "amount_fen": 7000,
                "reason": "balance_insufficient",
                "tries": 1,
            }
        ]
        assert "waiting" not in api.get("/wallet/withdrawals", user=ALICE).body["items"][0]  # staff only
        assert wallet(api)["balance_fen"] == 3000 and sent_emails(ALICE) == []
        stripe.answer_refunds((7000, "CNY"))
        approved = api.post(path, user=REVIEWER)
        assert approved.status == 200 and approved.body["status"] == "refunded", approved.body
        assert "waiting" not in approved.body
        base = f"withdrawal-{withdrawal['withdrawal_id']}-"
        keys = [r["idempotency-key"] for r in stripe.refunds_asked()]
        assert keys == [
            base + second["payment_id"],
            base + first["payment_id"],
            base + first["payment_id"] + "-1",
        ]
        assert wallet(api)["balance_fen"] == 3000
        assert (self.refunded_fen(api, second), self.refunded_fen(api, first)) == (5000, 7000)
        assert [e["template"] for e in sent_emails(ALICE)] == ["withdrawal_refunded"]

    def test_our_refunds_carry_the_withdrawal_id_at_stripe(self, api, stripe):
        settled_top_up(api, stripe, 10000)
        withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 4000}, user=ALICE).body
        stripe.answer_refunds((4000, "CNY"))
        assert (
            api.post(f"/staff/withdrawals/{withdrawal['withdrawal_id']}/approve", user=REVIEWER).status == 200
        )
        [sent] = stripe.refunds_asked()
        assert sent["metadata[withdrawal_id]"] == withdrawal["withdrawal_id"]
