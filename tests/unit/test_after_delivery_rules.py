"""Issue 22's pure rules: claim windows and caps, the scope of after-sales after delivery, and the
auto-confirm delay of each shipping line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.rules import claims as rules
from chalicelib.rules import inspection, shipping

SHIPPED = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
PEERS = rules.Windows(damage_days=7, lost_grace_days=7, lost_window_days=45)


def window(kind, delivered=None, by_customer=False, longest=30):
    return rules.window(
        kind,
        PEERS,
        shipped_at=SHIPPED,
        delivered_at=delivered,
        confirmed_by_customer=by_customer,
        longest_estimate_days=longest,
    )


class TestClaimWindows:
    def test_damage_is_claimed_within_seven_days_of_delivery(self):
        delivered = SHIPPED + timedelta(days=10)
        w = window("damaged", delivered)
        assert (w.opens, w.closes) == (delivered, delivered + timedelta(days=7))
        assert rules.refusal("damaged", w, delivered + timedelta(days=7)) is None
        assert "closed" in rules.refusal("damaged", w, delivered + timedelta(days=7, seconds=1))

    def test_damage_needs_a_delivery(self):
        with pytest.raises(rules.ClaimRefused, match="once the package is delivered"):
            window("damaged")

    def test_a_loss_opens_after_the_longest_estimate_plus_the_grace_and_closes_45_days_after_shipping(self):
        w = window("lost", longest=15)
        assert w.opens == SHIPPED + timedelta(days=22) and w.closes == SHIPPED + timedelta(days=45)
        assert "late, not lost" in rules.refusal("lost", w, SHIPPED + timedelta(days=21))
        assert rules.refusal("lost", w, SHIPPED + timedelta(days=22)) is None

    def test_a_line_slower_than_the_loss_window_still_gets_a_window(self):
        w = window("lost", longest=40)  # opens at 47 days, past the 45
        assert w.closes == w.opens + timedelta(days=7)

    def test_seizure_opens_at_shipping(self):
        w = window("seized")
        assert w.opens == SHIPPED and rules.refusal("seized", w, SHIPPED + timedelta(hours=1)) is None

    @pytest.mark.parametrize("kind", ["lost", "seized"])
    def test_a_package_the_customer_confirmed_is_neither_lost_nor_seized(self, kind):
        with pytest.raises(rules.ClaimRefused, match="confirmed receiving"):
            window(kind, SHIPPED + timedelta(days=5), by_customer=True)
        # an auto-confirmed package may still be lost
        assert window(kind, SHIPPED + timedelta(days=35), by_customer=False)


class TestCompensation:
    def test_insured_value_is_goods_declared_plus_shipping(self):
        assert rules.insured_value_fen(5000, 27600) == 32600

    def test_the_cap_is_the_insured_value_less_earlier_compensation(self):
        assert rules.compensation_cap_fen(32600, 100, 0, [5000], 27600) == 32600
        assert rules.compensation_cap_fen(32600, 100, 2600, [5000], 27600) == 30000
        assert rules.compensation_cap_fen(32600, 50, 0, [5000], 27600) == 16300

    def test_the_cap_never_exceeds_what_was_paid_and_not_refunded(self):
        # goods declared above what was paid: the payment caps it
        assert rules.compensation_cap_fen(99999, 100, 0, [3000, 0], 1000) == 4000
        assert rules.compensation_cap_fen(99999, 100, 0, [], -5) == 0

    def test_the_split_takes_the_goods_first_then_the_shipping(self):
        assert rules.split(4500, [3000, 1000], 27600) == ([3000, 1000], 500)
        assert rules.split(2000, [3000, 1000], 27600) == ([2000, 0], 0)
        with pytest.raises(ValueError):
            rules.split(5000, [1000], 3000)


class TestAfterSalesScope:
    @pytest.mark.parametrize("issue", ["colour", "size_error", "performance"])
    def test_colour_size_error_and_performance_are_outside_the_inspection_scope(self, issue):
        assert issue in inspection.OUTSIDE_INSPECTION_SCOPE
        assert "not within the inspection scope" in inspection.after_delivery_refusal(issue)

    @pytest.mark.parametrize("issue", ["damage", "stains", "model", "version", "wrong_item", "other"])
    def test_what_the_inspection_checks_is_covered(self, issue):
        assert inspection.after_delivery_refusal(issue) is None


class TestAutoConfirmDays:
    def test_each_line_waits_its_longest_estimate_plus_the_margin(self, monkeypatch):
        monkeypatch.delenv("AUTO_CONFIRM_MARGIN_DAYS", raising=False)
        lines = shipping.lines()
        assert shipping.line_auto_confirm_days(lines["china_post_sal"]) == 35
        assert shipping.line_auto_confirm_days(lines["ems"]) == 20
        assert shipping.line_auto_confirm_days(lines["dhl_express"]) == 11
        monkeypatch.setenv("AUTO_CONFIRM_MARGIN_DAYS", "9")
        assert shipping.line_auto_confirm_days(lines["china_post_sal"]) == 39

    def test_a_line_without_an_estimate_uses_the_flat_days(self, monkeypatch):
        monkeypatch.delenv("AUTO_CONFIRM_DAYS", raising=False)
        line = shipping.Line.from_json({**shipping.DEFAULT_LINES[0], "est_days": ""})
        assert shipping.longest_estimate_days(line) is None
        assert shipping.line_auto_confirm_days(line) == 20
        single = shipping.Line.from_json({**shipping.DEFAULT_LINES[0], "est_days": "12"})
        assert shipping.longest_estimate_days(single) == 12
