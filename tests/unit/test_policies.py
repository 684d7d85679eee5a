"""The rules table (chalicelib.policies): every value is the one the code applies, read where the code
reads it, and docs/policies.md is what it generates (`make docs`)."""

from __future__ import annotations

from pathlib import Path

from chalicelib import config, policies
from chalicelib.jobs.storage_sweep import reminder_days
from chalicelib.rules import storage as storage_rules
from chalicelib.rules.shipping import auto_confirm_days

POLICIES = Path(__file__).resolve().parents[2] / "docs" / "policies.md"


def values() -> dict:
    return {r.key: r.value for r in policies.rules()}


def test_docs_policies_is_the_generated_table():
    assert POLICIES.read_text() == policies.markdown(), "run `make docs`"


def test_each_value_is_the_one_the_code_applies():
    found = values()
    assert found["storage_days"] == storage_rules.STORAGE_DAYS == 90  # the seed's 90 days
    assert found["exceptional_parcel_days"] == storage_rules.EXCEPTIONAL_PARCEL_DAYS == 30
    assert found["reminder_days"] == ",".join(str(d) for d in sorted(reminder_days(), reverse=True))
    assert found["auto_confirm_days"] == auto_confirm_days()
    assert found["price_difference_consent_fen"] == config.get_int("PRICE_DIFFERENCE_CONFIRM_FEN")
    assert found["storage_extension_fen"] == config.get_int("STORAGE_EXTENSION_FEN")


def test_a_stage_override_is_the_value_in_force(monkeypatch):
    monkeypatch.setenv("REMINDER_DAYS", "14,3,1")
    monkeypatch.setenv("PRICE_DIFFERENCE_CONFIRM_FEN", "5000")
    found = {r.key: r for r in policies.rules()}
    assert found["reminder_days"].value == "14,3,1"
    assert "14, 3 and 1 days before the storage deadline" in found["reminder_days"].text
    assert found["price_difference_consent_fen"].value == 5000
    assert "¥50.00" in found["price_difference_consent_fen"].text


def test_every_rule_has_a_plain_sentence_and_the_seeds_notices_are_there():
    keys = [r.key for r in policies.rules()]
    assert len(keys) == len(set(keys))
    assert all(r.text.endswith(".") and r.unit for r in policies.rules())
    notices = {n.key for n in policies.NOTICES}
    assert {"shelf_life", "inspection_scope", "assumed_agreed", "third_party"} <= notices


def test_the_storefront_rules_a_customer_asks_about_are_all_listed():
    keys = set(values())
    assert {
        "storage_days",
        "reminder_days",
        "exceptional_parcel_days",
        "feedback_days",
        "feedback_reminder_days",
        "review_working_hours",
        "merchant_ships_in_days",
        "domestic_transit_days",
        "price_difference_consent_percent",
        "price_difference_consent_fen",
        "storage_extension_fen",
        "package_service_fee_fen",
    } <= keys
    assert any(k.startswith("bank_fee_") for k in keys) and any(k.startswith("service_") for k in keys)
    found = values()
    assert found["feedback_days"] == config.get_int("FEEDBACK_DAYS") == 7
    assert found["feedback_reminder_days"] == config.get_int("FEEDBACK_REMINDER_DAYS") == 2


def test_the_notices_quote_the_seed():
    text = {n.key: n.text for n in policies.NOTICES}
    assert "shelf life" in text["shelf_life"].lower()
    assert "colour, size error and performance" in text["inspection_scope"]
    assert "reached an agreement with the merchant" in text["assumed_agreed"]
    assert "intellectual property" in text["third_party"]
