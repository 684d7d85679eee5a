"""A TypeScript storefront's first move: `openapi-typescript` (7.13, pinned in tools/openapi-typescript,
installed by `make contract-tools`, which `make test` runs) turns docs/openapi.json into a .d.ts. Every
success answer must come out typed: an operation whose 2xx body is a bare `{"type": "object"}` becomes
`Record<string, never>`, a type nothing can be read from.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ROOT

DOCUMENT = ROOT / "docs" / "openapi.json"
UNTYPED = "Record<string, never>"


@pytest.fixture(scope="module")
def dts(contract_types) -> str:
    return contract_types.read_text()


def _blocks(text: str, header: str, indent: int) -> dict[str, str]:
    """name -> body of each member `name: ...` at `indent` spaces inside `export interface <header> {`."""
    start = text.index(f"export interface {header} {{")
    end = text.index("\n}\n", start)
    members: dict[str, str] = {}
    name = None
    opener = re.compile(rf"^ {{{indent}}}([\w\"-]+)\??: (.*)$")
    for line in text[start:end].splitlines()[1:]:
        found = opener.match(line)
        if found:
            name = found.group(1).strip('"')
            members[name] = found.group(2) + "\n"
        elif name is not None:
            members[name] += line + "\n"
    return members


def success_types(text: str) -> dict[str, list[str]]:
    """operationId -> the TypeScript type of each of its 2xx JSON bodies."""
    found: dict[str, list[str]] = {}
    for operation, body in _blocks(text, "operations", 4).items():
        responses = body[body.index("        responses: {") :]
        for status, answer in re.findall(r"^ {12}(\d{3}): (.*?)(?=^ {12}\d{3}: |\Z)", responses, re.M | re.S):
            if status.startswith("2"):
                content = re.search(r'"application/json": (.*?);\n {16}\};', answer, re.S)
                found.setdefault(operation, []).append(content.group(1) if content else "")
    return found


def untyped_components(text: str) -> set[str]:
    """Component schemas whose type holds a `Record<string, never>`, directly or through another one."""
    schemas = _blocks(text[text.index("export interface components") :], "components", 4)["schemas"]
    members = _blocks(
        "export interface components {\n" + schemas.split("\n", 1)[1] + "\n}\n", "components", 8
    )
    bad = {name for name, body in members.items() if UNTYPED in body}
    while True:
        more = {
            name
            for name, body in members.items()
            if name not in bad and any(f'components["schemas"]["{b}"]' in body for b in bad)
        }
        if not more:
            return bad
        bad |= more


def untyped_operations(text: str) -> list[str]:
    bad_components = untyped_components(text)
    return sorted(
        operation
        for operation, types in success_types(text).items()
        if any(
            UNTYPED in t or any(f'components["schemas"]["{name}"]' in t for name in bad_components)
            for t in types
        )
    )


def test_openapi_typescript_gives_every_success_answer_a_type(dts):
    assert untyped_operations(dts) == []


def _untyped_schema(schema, components: dict, seen: frozenset = frozenset()) -> bool:
    """Whether a JSON Schema holds an object nothing is said about (`{"type": "object"}` alone)."""
    if isinstance(schema, list):
        return any(_untyped_schema(s, components, seen) for s in schema)
    if not isinstance(schema, dict):
        return False
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[-1]
        return name not in seen and _untyped_schema(components[name], components, seen | {name})
    types = schema.get("type")
    is_object = types == "object" or (isinstance(types, list) and "object" in types)
    described = any(
        k in schema
        for k in ("properties", "additionalProperties", "patternProperties", "allOf", "anyOf", "oneOf")
    )
    if is_object and not described:
        return True
    return any(
        _untyped_schema(v, components, seen) for k, v in schema.items() if k not in ("examples", "example")
    )


def typed_operations(doc: dict) -> tuple[list[str], list[str]]:
    """(operations whose every 2xx answer is typed or empty, the others)."""
    components = doc["components"]["schemas"]
    typed, untyped = [], []
    for item in doc["paths"].values():
        for op in item.values():
            answers = [r for status, r in op["responses"].items() if status.startswith("2")]
            schemas = [c.get("schema") for r in answers for c in r.get("content", {}).values()]
            ok = bool(answers) and all(s is not None and not _untyped_schema(s, components) for s in schemas)
            (typed if ok else untyped).append(op["operationId"])
    return sorted(typed), sorted(untyped)


def test_every_operation_has_a_typed_success_schema():
    doc = json.loads(DOCUMENT.read_text())
    operations = sum(len(item) for item in doc["paths"].values())
    typed, untyped = typed_operations(doc)
    assert untyped == []
    assert len(typed) == operations == 117


def test_the_two_untyped_checks_agree(dts):
    """The TypeScript view and the JSON Schema view name the same operations (neither check is vacuous)."""
    _, untyped = typed_operations(json.loads(DOCUMENT.read_text()))
    assert untyped_operations(dts) == untyped
