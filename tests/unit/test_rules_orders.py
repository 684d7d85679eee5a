"""Seed rules for steps 2-3: order amount and the review SLA on the China working calendar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.rules.calendar import add_working_hours, is_workday
from chalicelib.rules.charges import Line, channels, order_charges


def utc(*args):
    return datetime(*args, tzinfo=UTC)


class TestReviewWithinWorkingHours:
    def test_inside_the_working_day(self):
        # Thursday 2026-11-26 10:00 Shanghai = 02:00 UTC -> 13:00 Shanghai
        assert add_working_hours(utc(2026, 11, 26, 2, 0), 3) == utc(2026, 11, 26, 5, 0)

    def test_spills_into_the_next_working_day(self):
        # Thursday 17:00 Shanghai: 1 h today, 2 h Friday from 09:00 -> Friday 11:00 Shanghai
        assert add_working_hours(utc(2026, 11, 26, 9, 0), 3) == utc(2026, 11, 27, 3, 0)

    def test_friday_evening_waits_for_monday(self):
        # Friday 2026-11-27 20:00 Shanghai -> Monday 2026-11-30 12:00 Shanghai
        assert add_working_hours(utc(2026, 11, 27, 12, 0), 3) == utc(2026, 11, 30, 4, 0)

    def test_before_opening_starts_at_nine(self):
        # Thursday 06:30 Shanghai -> 12:00 Shanghai
        assert add_working_hours(utc(2026, 11, 25, 22, 30), 3) == utc(2026, 11, 26, 4, 0)

    def test_national_day_holiday_is_skipped(self):
        # 2026-09-30 17:00 Shanghai; Oct 1-7 are holidays -> Oct 8 (Thursday, workday) 11:00
        assert is_workday(datetime(2026, 10, 8).date())
        assert add_working_hours(utc(2026, 9, 30, 9, 0), 3) == utc(2026, 10, 8, 3, 0)

    def test_make_up_saturday_is_a_workday(self):
        # 2026-02-14 is a Saturday worked in exchange for the Spring Festival holiday
        assert is_workday(datetime(2026, 2, 14).date())
        # Friday 2026-02-13 17:00 Shanghai -> Saturday 2026-02-14 11:00 Shanghai
        assert add_working_hours(utc(2026, 2, 13, 9, 0), 3) == utc(2026, 2, 14, 3, 0)

    def test_year_without_a_holiday_table_falls_back_to_weekdays(self):
        assert is_workday(datetime(2031, 1, 6).date())  # a Monday
        assert not is_workday(datetime(2031, 1, 4).date())  # a Saturday

    @given(
        st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 1), timezones=st.just(UTC))
    )
    def test_due_is_after_payment_and_inside_working_hours(self, paid):
        due = add_working_hours(paid, 3)
        assert due > paid
        local = due.astimezone(add_working_hours.__globals__["SHANGHAI"])
        assert (9, 0) <= (local.hour, local.minute) <= (18, 0)
        assert is_workday(local.date())


class TestOrderAmount:
    def test_total_is_product_plus_domestic_shipping_plus_bank_fee(self):
        lines = [Line(1999, 2, "shop_a", 800), Line(500, 1, "shop_a", 600), Line(12000, 1, "shop_b", 1000)]
        charges = order_charges(lines, channels()["paypal"])
        assert charges.product_fen == 1999 * 2 + 500 + 12000
        assert charges.domestic_shipping_fen == 800 + 1000  # once per shop
        # PayPal 4.4% of (16498 + 1800) = 805.112 -> 805, plus 230 fixed
        assert charges.bank_fee_fen == 805 + 230
        assert charges.total_fen == charges.product_fen + charges.domestic_shipping_fen + charges.bank_fee_fen

    def test_balance_has_no_bank_fee(self):
        charges = order_charges([Line(1000, 1, "s", 500)], channels()["balance"])
        assert charges.bank_fee_fen == 0 and charges.total_fen == 1500

    def test_channels_come_from_configuration(self, monkeypatch):
        monkeypatch.setenv(
            "PAYMENT_CHANNELS",
            '[{"channel": "wechat", "name": "WeChat Pay", "percent": "0.6", "fixed_fen": 0}]',
        )
        assert list(channels()) == ["wechat"]
        assert channels()["wechat"].fee_fen(10000) == 60

    @given(
        st.lists(
            st.tuples(
                st.integers(1, 10**7), st.integers(1, 500), st.sampled_from("abc"), st.integers(0, 5000)
            ),
            min_size=1,
            max_size=20,
        ),
        st.sampled_from(["balance", "alipay", "card", "paypal"]),
    )
    def test_charges_are_exact_integers(self, raw, channel):
        charges = order_charges([Line(*r) for r in raw], channels()[channel])
        values = charges.as_json().values()
        assert all(isinstance(v, int) and v >= 0 for v in values)
        assert charges.total_fen == charges.product_fen + charges.domestic_shipping_fen + charges.bank_fee_fen


@pytest.mark.parametrize("amount", [1, 99, 100, 12345])
def test_fee_is_zero_for_balance(amount):
    assert channels()["balance"].fee_fen(amount) == 0
