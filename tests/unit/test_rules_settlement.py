"""The settlement rule (rules.settlement): one decision for a purchase price difference, a packing
difference and the console's preview of both. Pure, no AWS."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.rules.settlement import (
    Decision,
    Difference,
    Settlement,
    decide,
    needs_balance,
    purchase_consent_threshold_fen,
)


class TestAPurchaseDifference:
    def test_a_dearer_price_within_the_threshold_is_charged_silently_from_the_wallet(self):
        assert decide(Difference(600, consent_threshold_fen=890), balance_fen=10_000) == Decision(
            Settlement.CHARGED, charge_fen=600
        )

    def test_a_difference_exactly_at_the_threshold_needs_no_consent(self):
        assert (
            decide(Difference(890, consent_threshold_fen=890), balance_fen=890).settlement
            == Settlement.CHARGED
        )

    def test_a_dearer_price_over_the_threshold_waits_for_the_customers_consent_whatever_the_balance(self):
        decision = decide(Difference(891, consent_threshold_fen=890), balance_fen=1_000_000)
        assert decision == Decision(Settlement.AWAITING_CONFIRMATION, due_fen=891)
        assert decision.waits_for_customer

    def test_a_charge_the_wallet_cannot_cover_waits_for_the_customer_to_pay(self):
        decision = decide(Difference(600, consent_threshold_fen=890), balance_fen=599)
        assert decision == Decision(Settlement.AWAITING_PAYMENT, due_fen=600)
        assert decision.waits_for_customer

    def test_a_cheaper_price_is_refunded_at_most_what_may_still_be_refunded(self):
        assert decide(Difference(-500, consent_threshold_fen=890, refundable_fen=300)) == Decision(
            Settlement.REFUNDED, refund_fen=300
        )
        assert decide(Difference(-500, refundable_fen=9_000)).refund_fen == 500

    def test_the_same_price_moves_no_money(self):
        assert decide(Difference(0, consent_threshold_fen=890)) == Decision(Settlement.NONE)


class TestThePurchaseConsentThreshold:
    def test_is_the_lower_of_the_percentage_of_the_paid_price_and_the_fixed_cap(self):
        assert purchase_consent_threshold_fen(17_800, Decimal("5"), 10_000) == 890
        assert purchase_consent_threshold_fen(1_000_000, Decimal("5"), 10_000) == 10_000

    def test_rounds_half_up_to_the_fen(self):
        assert purchase_consent_threshold_fen(10, Decimal("5"), 10_000) == 1  # 0.5 fen


class TestAPackingDifference:
    def test_packing_asks_no_consent_however_large_the_charge(self):
        assert decide(Difference(500_000), balance_fen=500_000) == Decision(
            Settlement.CHARGED, charge_fen=500_000
        )

    def test_a_short_wallet_leaves_the_difference_due(self):
        assert decide(Difference(1_074), balance_fen=0) == Decision(
            Settlement.AWAITING_PAYMENT, due_fen=1_074
        )

    def test_a_lighter_package_is_refunded_in_full(self):
        assert decide(Difference(-2_000)) == Decision(Settlement.REFUNDED, refund_fen=2_000)


class TestTheWalletIsReadOnlyWhenItDecides:
    def test_refunds_nothing_and_over_threshold_charges_need_no_balance(self):
        assert not needs_balance(Difference(-1))
        assert not needs_balance(Difference(0))
        assert not needs_balance(Difference(900, consent_threshold_fen=890))

    def test_a_charge_without_consent_needs_the_balance(self):
        assert needs_balance(Difference(1, consent_threshold_fen=890))
        assert needs_balance(Difference(1))
        with pytest.raises(ValueError):
            decide(Difference(1))


@given(
    amount=st.integers(-(10**7), 10**7),
    threshold=st.none() | st.integers(0, 10**6),
    refundable=st.none() | st.integers(0, 10**7),
    balance=st.integers(0, 10**7),
)
def test_a_difference_is_charged_refunded_or_left_due_never_two_of_them(
    amount, threshold, refundable, balance
):
    difference = Difference(amount, threshold, refundable)
    decision = decide(difference, balance if needs_balance(difference) else None)
    moved = [x for x in (decision.charge_fen, decision.refund_fen, decision.due_fen) if x]
    assert len(moved) <= 1 and all(x > 0 for x in moved)
    if amount > 0:
        assert decision.charge_fen + decision.due_fen == amount  # owed money is never forgiven
        assert decision.charge_fen <= balance  # never charges what the wallet does not hold
    else:
        assert decision.charge_fen == decision.due_fen == 0
        assert decision.refund_fen <= -amount
        assert refundable is None or decision.refund_fen <= refundable
