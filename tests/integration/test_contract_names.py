"""What every mainstream client generator needs from the document's names (issue 16)."""

from __future__ import annotations

import re
from collections import Counter

from chalicelib import openapi


def operations(doc: dict) -> list[tuple[str, str, dict]]:
    return [(method.upper(), path, op) for path, item in doc["paths"].items() for method, op in item.items()]


def test_component_names_are_plain_identifiers_and_unique():
    doc = openapi.document()
    for kind, components in doc["components"].items():
        bad = [name for name in components if not openapi.COMPONENT_NAME.fullmatch(name)]
        assert bad == [], kind
        folded = Counter(name.lower() for name in components)
        assert [name for name, n in folded.items() if n > 1] == [], kind  # also unique on a case-blind disk


def test_a_component_schema_is_titled_by_its_own_name():
    """openapi-python-client names a class by `title`: two components titled alike collide."""
    schemas = openapi.document()["components"]["schemas"]
    assert {name: s["title"] for name, s in schemas.items() if s.get("title", name) != name} == {}


def test_every_operation_has_a_unique_operation_id():
    ids = Counter(op.get("operationId") for _, _, op in operations(openapi.document()))
    assert None not in ids
    assert [name for name, n in ids.items() if n > 1] == []
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in ids)


def test_every_operation_has_one_tag_described_at_the_top_level():
    doc = openapi.document()
    described = {tag["name"]: tag.get("description") for tag in doc["tags"]}
    assert all(described.values()), described
    for method, path, op in operations(doc):
        assert len(op.get("tags", [])) == 1, (method, path)
        assert op["tags"][0] in described, (method, path, op["tags"])
    used = {op["tags"][0] for _, _, op in operations(doc)}
    assert sorted(set(described) - used) == []  # no tag without operations
