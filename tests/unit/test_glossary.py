"""The status glossary of docs/data-model.md: every status of the lifecycle table has its meaning, and the
section is what the table and the meanings generate (`make docs`)."""

from __future__ import annotations

from pathlib import Path

from chalicelib import glossary
from chalicelib.lifecycle import LIFECYCLES

DATA_MODEL = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"


def test_every_status_of_the_table_has_a_meaning_and_no_meaning_outlives_its_status():
    assert set(glossary.MEANING) == set(LIFECYCLES)
    for key, machine in LIFECYCLES.items():
        assert set(glossary.MEANING[key]) == set(machine.statuses), key
        assert all(text.endswith(".") and len(text) > 20 for text in glossary.MEANING[key].values()), key


def test_the_data_model_carries_the_glossary_as_generated():
    text = DATA_MODEL.read_text()
    assert glossary.MARK_START in text and glossary.with_section(text) == text, "run `make docs`"


def test_the_glossary_says_what_leads_to_a_status_and_who_may_take_it():
    section = glossary.markdown()
    assert "| `in_warehouse` |" in section
    row = next(line for line in section.splitlines() if line.startswith("| `abandoned` | Not packaged"))
    assert "abandon (system)" in row and "destroy (warehouse)" in row
