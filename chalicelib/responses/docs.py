"""The responses of GET /openapi.json (the OpenAPI document itself, described loosely, by name) and of
GET /policies (chalicelib.policies)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal, Self

from chalicelib import policies
from chalicelib.responses.base import Out
from chalicelib.typed import ConfigDict, Field


class OpenApiDocument(Out):
    """This API's OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "openapi": "3.1.0",
                    "info": {"title": "Procurement API", "version": "1.0.0"},
                    "paths": {},
                    "components": {"schemas": {}},
                }
            ]
        },
    )

    openapi: Literal["3.1.0"]
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any] = Field(description="Schemas, security schemes and shared responses.")


class PolicyRule(Out):
    """One business rule: its value in force, the value's unit, and the rule in plain English."""

    key: str = Field(description="Stable identifier, e.g. storage_days.")
    value: int | str = Field(description="The value in force: a number, or text such as 7,1 or 3.0% + 150.")
    unit: str
    text: str = Field(description="The rule in plain English, with the value in it.")


class PolicyNotice(Out):
    """A notice the customer should see (the seed's wording)."""

    key: str = Field(description="shelf_life, inspection_scope, assumed_agreed, third_party...")
    text: str


class Policies(Out):
    """The rules in force and the notices, as docs/policies.md shows them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rules": [
                        {
                            "key": "storage_days",
                            "value": 90,
                            "unit": "days",
                            "text": "Goods are stored free for 90 days from the In Warehouse status.",
                        },
                        {
                            "key": "reminder_days",
                            "value": "7,1",
                            "unit": "days before the deadline",
                            "text": "We email a reminder 7 and 1 days before the storage deadline.",
                        },
                    ],
                    "notices": [
                        {
                            "key": "shelf_life",
                            "text": "Storage does not cover shelf life: perishables may expire while stored.",
                        }
                    ],
                }
            ]
        }
    )

    rules: list[PolicyRule]
    notices: list[PolicyNotice]

    @classmethod
    def of(cls, rules: list[policies.Rule], notices: list[policies.Notice]) -> Self:
        return cls.build(rules=[asdict(r) for r in rules], notices=[asdict(n) for n in notices])
