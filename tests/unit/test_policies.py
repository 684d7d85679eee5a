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
