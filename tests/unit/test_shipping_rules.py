"""The shipping price rule: chargeable weight, the line fee, service fee, value-added services, lines."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.rules import shipping as rules

LINES = rules.lines()
EMS = LINES["ems"]
DHL = LINES["dhl_express"]
SAL = LINES["china_post_sal"]
BATTERY_LINE = LINES["special_battery_air"]
FEE = rules.ServiceFeeRule(package_fen=1500, per_extra_item_fen=200, percent_of_shipping=Decimal("0"))
CATALOG = {s.service: s for s in (rules.Service.from_json(d) for d in rules.DEFAULT_SERVICES)}


def shipment(weight_g=1200, volume_cm3=6000, item_count=1, declared_value_fen=5000):
    return rules.Shipment(weight_g, volume_cm3, item_count, declared_value_fen)


class TestWorkedExamples:
    def test_heavier_than_its_volume(self):
        # EMS: volumetric 6000·1000/6000 = 1000 g < 1200 g actual; 18000 + ceil(700/500)·4800
        price = rules.price(EMS, shipment(), (), FEE, CATALOG)
        assert (price.volumetric_weight_g, price.chargeable_weight_g) == (1000, 1200)
        assert price.shipping_fen == 27600
        assert price.service_fee_fen == 1500 and price.services_fen == 0
        assert price.total_fen == 29100

    def test_bulky_parcel_pays_for_its_volume(self):
        # DHL: a 60×40×40 cm box of 2 kg pillows: 96000·1000/5000 = 19200 g chargeable
        price = rules.price(DHL, shipment(weight_g=2000, volume_cm3=60 * 40 * 40), (), FEE, CATALOG)
        assert price.chargeable_weight_g == 19200
        assert price.shipping_fen == 26000 + 38 * 6800  # ceil(18700/500) = 38 steps

    def test_economy_line_divisor_8000_and_a_kilo_first_weight(self):
        price = rules.price(SAL, shipment(weight_g=900, volume_cm3=30 * 20 * 10), (), FEE, CATALOG)
        assert price.volumetric_weight_g == 750 and price.chargeable_weight_g == 900
        assert price.shipping_fen == 9500

    def test_volumetric_weight_rounds_up_to_the_gram(self):
        assert rules.volumetric_weight_g(25 * 20 * 10, 6000) == 834  # 833.33...
        assert rules.volumetric_weight_g(0, 5000) == 0

    def test_exactly_on_a_step_boundary(self):
        assert rules.shipping_fee_fen(EMS, 500) == 18000
        assert rules.shipping_fee_fen(EMS, 501) == 18000 + 4800
        assert rules.shipping_fee_fen(EMS, 1000) == 18000 + 4800
        assert rules.shipping_fee_fen(EMS, 1) == 18000

    def test_services_and_consolidation_fee(self):
        chosen = ["insurance", "reinforcement", "remove_packaging", "extra_photos", "vacuum"]
        price = rules.price(EMS, shipment(item_count=3, declared_value_fen=12345), chosen, FEE, CATALOG)
        # insurance 3% of 12345 = 370.35 -> 370; reinforcement 1500; remove packaging 3·200; photos 3·600
        assert price.service_lines == {
            "insurance": 370,
            "reinforcement": 1500,
            "remove_packaging": 600,
            "extra_photos": 1800,
            "vacuum": 1000,
        }
        assert price.services_fen == 370 + 1500 + 600 + 1800 + 1000
        assert price.service_fee_fen == 1500 + 2 * 200
        assert price.total_fen == price.shipping_fen + price.service_fee_fen + price.services_fen

    def test_insurance_rounds_half_up_once(self):
        assert CATALOG["insurance"].fee(1, 50) == 2  # 1.5 -> 2
        assert CATALOG["insurance"].fee(1, 49) == 1  # 1.47 -> 1

    def test_percent_of_shipping_service_fee(self):
        rule = rules.ServiceFeeRule(0, 0, Decimal("5"))
        assert rule.fee_fen(27610, 1) == 1381  # 1380.5 -> 1381

    def test_unknown_or_repeated_services_are_refused(self):
        with pytest.raises(rules.RuleError):
            rules.price(EMS, shipment(), ["gift_wrap"], FEE, CATALOG)
        with pytest.raises(rules.RuleError):
            rules.price(EMS, shipment(), ["vacuum", "vacuum"], FEE, CATALOG)
        with pytest.raises(rules.RuleError):
            rules.price(EMS, shipment(weight_g=-1), [], FEE, CATALOG)


class TestLines:
    def test_at_least_five_realistic_lines(self):
        assert len(LINES) >= 5
        for line in LINES.values():
            assert line.volumetric_divisor in (5000, 6000, 8000)
            assert line.countries and all(len(c) == 2 and c.isupper() for c in line.countries)
            assert line.first_fee_fen > 0 and line.step_fee_fen > 0 and line.max_weight_g >= 20000

    def test_only_the_special_line_carries_batteries(self):
        carriers = [
            line.line_id for line in LINES.values() if not rules.refusal(line, "US", 500, {"battery"})
        ]
        assert carriers == ["special_battery_air"]

    def test_refusals(self):
        assert "does not deliver" in rules.refusal(BATTERY_LINE, "BR", 500, set())
        assert "liquid" in rules.refusal(BATTERY_LINE, "US", 500, {"battery", "liquid"})
        assert "at most" in rules.refusal(BATTERY_LINE, "US", 20001, set())
        assert rules.refusal(BATTERY_LINE, "us", 20000, {"battery", "magnet"}) is None
        assert all(rules.refusal(line, "US", 100, {"other"}) for line in LINES.values())

    def test_lines_are_configuration(self, monkeypatch):
        custom = [dict(rules.DEFAULT_LINES[0], line_id="ems_eu", countries=["DE"], first_fee_fen=1)]
        monkeypatch.setenv("SHIPPING_LINES", json.dumps(custom))
        monkeypatch.setenv("PACKAGE_SERVICE_FEE", json.dumps({"package_fen": 0, "per_extra_item_fen": 0}))
        monkeypatch.setenv(
            "VALUE_ADDED_SERVICES",
            json.dumps([{"service": "insurance", "unit": "declared_value", "percent": "2"}]),
        )
        assert list(rules.lines()) == ["ems_eu"]
        price = rules.price(rules.lines()["ems_eu"], shipment(weight_g=100, volume_cm3=0), ["insurance"])
        assert price.shipping_fen == 1 and price.service_fee_fen == 0 and price.services_fen == 100

    def test_a_snapshot_prices_like_the_line_it_was_taken_from(self):
        line, fee_rule, catalog = rules.from_snapshot(rules.rates_snapshot(EMS, ["insurance"]))
        assert line == EMS and set(catalog) == {"insurance"}
        assert rules.price(line, shipment(), ["insurance"], fee_rule, catalog) == rules.price(
            EMS, shipment(), ["insurance"]
        )

    def test_tracking_urls(self):
        assert rules.tracking_url("DHL Express", "JD0123").endswith("tracking-id=JD0123")
        assert rules.tracking_url("FedEx", "7777").startswith("https://www.fedex.com/")
        assert rules.tracking_url("EMS", "EE1CN") == "https://t.17track.net/en#nums=EE1CN"


# --- properties ------------------------------------------------------------------------------------------

lines_st = st.sampled_from(list(LINES.values()))
weights = st.integers(min_value=0, max_value=100_000)
volumes = st.integers(min_value=0, max_value=300 * 300 * 300)
services_st = st.lists(st.sampled_from(sorted(CATALOG)), unique=True)
shipments = st.builds(
    rules.Shipment,
    weight_g=weights,
    volume_cm3=volumes,
    item_count=st.integers(min_value=1, max_value=50),
    declared_value_fen=st.integers(min_value=0, max_value=10_000_000),
)
fee_rules = st.builds(
    rules.ServiceFeeRule,
    package_fen=st.integers(0, 10_000),
    per_extra_item_fen=st.integers(0, 1_000),
    percent_of_shipping=st.decimals(min_value=0, max_value=20, places=2),
)


@given(lines_st, shipments, services_st, fee_rules)
def test_chargeable_weight_is_never_below_actual_or_volumetric(line, parcel, chosen, fee_rule):
    price = rules.price(line, parcel, chosen, fee_rule, CATALOG)
    assert price.chargeable_weight_g >= parcel.weight_g
    assert price.chargeable_weight_g * line.volumetric_divisor >= parcel.volume_cm3 * 1000
    assert price.chargeable_weight_g in (parcel.weight_g, price.volumetric_weight_g)


@given(lines_st, shipments, services_st, fee_rules)
def test_totals_are_the_sum_of_their_parts_and_all_integers(line, parcel, chosen, fee_rule):
    price = rules.price(line, parcel, chosen, fee_rule, CATALOG)
    as_json = price.as_json()
    for key, value in as_json.items():
        if key != "services_breakdown":
            assert type(value) is int, key
    assert all(type(v) is int and v >= 0 for v in price.service_lines.values())
    assert price.services_fen == sum(price.service_lines.values())
    assert as_json["total_fen"] == price.shipping_fen + price.service_fee_fen + price.services_fen
    assert set(price.service_lines) == set(chosen)
    assert price.shipping_fen >= line.first_fee_fen


@given(lines_st, shipments, services_st, fee_rules, weights, volumes)
def test_fees_are_monotone_in_weight_and_volume(line, parcel, chosen, fee_rule, more_weight, more_volume):
    heavier = rules.Shipment(
        parcel.weight_g + more_weight,
        parcel.volume_cm3 + more_volume,
        parcel.item_count,
        parcel.declared_value_fen,
    )
    light = rules.price(line, parcel, chosen, fee_rule, CATALOG)
    heavy = rules.price(line, heavier, chosen, fee_rule, CATALOG)
    assert heavy.chargeable_weight_g >= light.chargeable_weight_g
    assert heavy.shipping_fen >= light.shipping_fen
    assert heavy.service_fee_fen >= light.service_fee_fen
    assert heavy.total_fen >= light.total_fen


@given(lines_st, st.integers(min_value=0, max_value=200_000))
def test_shipping_fee_matches_the_formula(line, chargeable):
    import math

    expected = line.first_fee_fen + math.ceil(
        max(0, chargeable - line.first_weight_g) / line.step_weight_g
    ) * (line.step_fee_fen)
    assert rules.shipping_fee_fen(line, chargeable) == expected


@given(
    lines_st, shipments, st.sets(st.sampled_from(rules.RESTRICTED_GOODS)), st.sampled_from(["US", "GB", "BR"])
)
def test_a_line_carries_goods_only_without_its_restrictions(line, parcel, goods, country):
    reason = rules.refusal(line, country, parcel.weight_g, goods)
    can = (
        line.serves(country) and not (goods & set(line.restrictions)) and parcel.weight_g <= line.max_weight_g
    )
    assert (reason is None) == can
