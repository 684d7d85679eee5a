"""The breaking-change guard: the generated document against the released copy (infra/contract.py)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from infra import contract
from infra.contract import breaking_changes, recorded

BASE = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1.0.0"},
    "paths": {
        "/orders": {
            "get": {
                "operationId": "list_orders",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["open", "closed"]},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}},
                    }
                },
            },
            "post": {
                "operationId": "create_order",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "items": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {"sku_id": {}, "remark": {}},
                                        },
                                    }
                                },
                            }
                        }
                    }
                },
                "responses": {"201": {"$ref": "#/components/responses/OrderAnswer"}},
            },
        },
        "/orders/{order_id}/cancel": {"post": {"operationId": "cancel_order", "responses": {"204": {}}}},
    },
    "components": {
        "schemas": {
            "Page": {
                "type": "object",
                "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}}},
            },
            "Order": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string"},
                    "status": {"$ref": "#/components/schemas/OrderStatus"},
                    "purchase": {
                        "anyOf": [
                            {"type": "object", "properties": {"merchant_order_no": {}, "paid_fen": {}}},
                            {"type": "null"},
                        ]
                    },
                },
            },
            "OrderStatus": {"type": "string", "enum": ["pending", "cancelled"]},
        },
        "responses": {
            "OrderAnswer": {
                "description": "ok",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}},
            }
        },
    },
}


def changed(edit) -> list[str]:
    current = copy.deepcopy(BASE)
    edit(current)
    return breaking_changes(BASE, current)


def test_the_same_document_breaks_nothing():
    assert breaking_changes(BASE, copy.deepcopy(BASE)) == []


def test_additions_are_never_breaking():
    def add(doc):
        doc["paths"]["/wallet"] = {"get": {"operationId": "get_wallet", "responses": {"200": {}}}}
        doc["paths"]["/orders/{order_id}/cancel"]["get"] = {"operationId": "x", "responses": {"200": {}}}
        doc["components"]["schemas"]["Order"]["properties"]["total_fen"] = {"type": "integer"}
        doc["components"]["schemas"]["OrderStatus"]["enum"].append("shipped")
        doc["paths"]["/orders"]["get"]["parameters"].append({"name": "limit", "in": "query", "schema": {}})

    assert changed(add) == []


def test_a_removed_path_is_one_change():
    assert changed(lambda d: d["paths"].pop("/orders/{order_id}/cancel")) == [
        "removed: path /orders/{order_id}/cancel"
    ]


def test_a_removed_operation_is_one_change():
    assert changed(lambda d: d["paths"]["/orders"].pop("post")) == ["removed: POST /orders"]


def test_a_renamed_operation_id_is_breaking():
    def rename(doc):
        doc["paths"]["/orders"]["get"]["operationId"] = "orders"

    assert changed(rename) == ["renamed: operationId of GET /orders (was list_orders)"]


def test_a_removed_response_field_is_breaking_wherever_the_schema_is_used():
    def drop(doc):
        doc["components"]["schemas"]["Order"]["properties"]["purchase"]["anyOf"][0]["properties"].pop(
            "merchant_order_no"
        )

    assert changed(drop) == [
        "removed: GET /orders response field items[].purchase.merchant_order_no",
        "removed: POST /orders response field purchase.merchant_order_no",
    ]


def test_a_removed_field_is_one_change_not_one_per_field_under_it():
    assert changed(lambda d: d["components"]["schemas"]["Order"]["properties"].pop("purchase")) == [
        "removed: GET /orders response field items[].purchase",
        "removed: POST /orders response field purchase",
    ]


def test_a_renamed_request_field_is_breaking():
    def rename(doc):
        item = doc["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        fields = item["properties"]["items"]["items"]["properties"]
        fields["note"] = fields.pop("remark")

    assert changed(rename) == ["removed: POST /orders request field items[].remark"]


def test_a_removed_enum_value_is_breaking():
    def drop(doc):
        doc["components"]["schemas"]["OrderStatus"]["enum"].remove("cancelled")
        doc["paths"]["/orders"]["get"]["parameters"][0]["schema"]["enum"].remove("closed")

    assert changed(drop) == [
        "removed: GET /orders query parameter status enum value closed",
        "removed: GET /orders response field items[].status enum value cancelled",
        "removed: POST /orders response field status enum value cancelled",
        "removed: schema OrderStatus enum value cancelled",
    ]


def test_a_removed_query_parameter_is_breaking():
    assert changed(lambda d: d["paths"]["/orders"]["get"].pop("parameters")) == [
        "removed: GET /orders query parameter status"
    ]


CHANGELOG = """# Changelog

## Unreleased

### Contract

- removed: GET /orders query parameter status
- renamed: operationId of GET /orders (was list_orders)

### Other

- removed: not a contract line

## 1.0.0 (2026-11-30)

### Contract

- removed: path /old
"""


def test_only_the_unreleased_contract_bullets_are_recorded():
    assert recorded(CHANGELOG) == [
        "removed: GET /orders query parameter status",
        "renamed: operationId of GET /orders (was list_orders)",
    ]


def test_every_breaking_change_since_the_release_is_in_the_changelog_and_nothing_else():
    """The generated document against docs/contract/openapi-released.json; `make contract-changes` says
    the same."""
    changes = breaking_changes(contract.released_document(), contract.current_document())
    noted = recorded(contract.CHANGELOG.read_text())
    assert sorted(set(changes) - set(noted)) == [], "record these under CHANGELOG.md's Unreleased Contract"
    assert sorted(set(noted) - set(changes)) == [], "CHANGELOG.md records breaking changes that are not"


def test_a_release_moves_the_unreleased_section_under_the_version(tmp_path, monkeypatch):
    monkeypatch.setattr(contract, "RELEASED", tmp_path / "docs" / "contract" / "released.json")
    monkeypatch.setattr(contract, "CHANGELOG", tmp_path / "CHANGELOG.md")
    monkeypatch.setattr(contract, "ROOT", tmp_path)
    doc = copy.deepcopy(BASE)
    doc["info"]["version"] = "1.1.0"
    monkeypatch.setattr(contract, "current_document", lambda: doc)
    contract.CHANGELOG.write_text(CHANGELOG)
    contract.RELEASED.parent.mkdir(parents=True)
    contract.RELEASED.write_text(json.dumps(BASE))
    doc["paths"]["/orders"]["get"]["parameters"] = []  # recorded above

    contract.release(datetime(2026, 12, 1, tzinfo=UTC))

    assert json.loads(contract.RELEASED.read_text()) == doc
    text = contract.CHANGELOG.read_text()
    assert recorded(text) == []
    fresh = "## Unreleased\n\n### Contract\n\nNo breaking change.\n\n"
    assert fresh + "## 1.1.0 (2026-12-01)\n\n### Contract\n\n- removed: GET /orders query parameter" in text
    with pytest.raises(SystemExit, match=r"already has 1\.1\.0"):
        contract.release()


def test_a_release_leaves_a_mention_of_the_unreleased_heading_in_the_prose_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(contract, "RELEASED", tmp_path / "released.json")
    monkeypatch.setattr(contract, "CHANGELOG", tmp_path / "CHANGELOG.md")
    monkeypatch.setattr(contract, "ROOT", tmp_path)
    doc = copy.deepcopy(BASE)
    doc["info"]["version"] = "1.1.0"
    monkeypatch.setattr(contract, "current_document", lambda: doc)
    prose = "# Changelog\n\nBreaking changes go under `## Unreleased` (see below).\n\n"
    contract.CHANGELOG.write_text(prose + "## Unreleased\n\n### Contract\n\nNo breaking change.\n")
    contract.RELEASED.write_text(json.dumps(BASE))

    contract.release(datetime(2026, 12, 1, tzinfo=UTC))

    text = contract.CHANGELOG.read_text()
    assert text.startswith(
        prose + "## Unreleased\n\n### Contract\n\nNo breaking change.\n\n## 1.1.0 (2026-12-01)"
    )


def test_a_release_refuses_an_unrecorded_breaking_change(tmp_path, monkeypatch):
    monkeypatch.setattr(contract, "RELEASED", tmp_path / "released.json")
    monkeypatch.setattr(contract, "CHANGELOG", tmp_path / "CHANGELOG.md")
    doc = copy.deepcopy(BASE)
    doc["info"]["version"] = "1.1.0"
    doc["paths"].pop("/orders/{order_id}/cancel")
    monkeypatch.setattr(contract, "current_document", lambda: doc)
    contract.CHANGELOG.write_text("# Changelog\n\n## Unreleased\n\n### Contract\n\nNo breaking change.\n")
    contract.RELEASED.write_text(json.dumps(BASE))
    with pytest.raises(SystemExit, match=r"removed: path /orders/"):
        contract.release()
    assert json.loads(contract.RELEASED.read_text()) == BASE
