"""GET /policies: the business's rules in force and the notices, public, the same table docs/policies.md
shows (both from chalicelib.policies)."""

from __future__ import annotations

from chalicelib import policies


def test_the_rules_in_force_are_public_with_a_sentence_each(api):
    answer = api.get("/policies")
    assert answer.status == 200, answer.body
    assert answer.body == policies.as_json()
    rules = {r["key"]: r for r in answer.body["rules"]}
    assert rules["storage_days"]["value"] == 90 and "90 days" in rules["storage_days"]["text"]
    assert rules["reminder_days"]["value"] == "7,1"
    notices = {n["key"] for n in answer.body["notices"]}
    assert {"shelf_life", "inspection_scope", "assumed_agreed", "third_party"} <= notices


def test_a_stage_that_changes_a_setting_answers_the_new_value(api, monkeypatch):
    monkeypatch.setenv("STORAGE_EXTENSION_FEN", "1500")
    rules = {r["key"]: r for r in api.get("/policies").body["rules"]}
    assert rules["storage_extension_fen"]["value"] == 1500
    assert "¥15.00 per item" in rules["storage_extension_fen"]["text"]
