"""The breaking-change guard of the API contract.

docs/contract/openapi-released.json is the document as last released (`make contract-release` writes
it from the code). The document the code generates now is compared with it: whatever a client
generated from the released copy relies on and the new one no longer has is a breaking change, and
must be recorded in CHANGELOG.md, under `## Unreleased`, `### Contract`, one bullet per change, spelled
exactly as `breaking_changes()` spells it (tests/integration/test_contract_changes.py checks both ways):

    - removed: path /orders/{order_id}/cancel
    - removed: POST /orders/{order_id}/cancel
    - renamed: operationId of GET /orders (was list_orders)
    - removed: GET /orders query parameter status
    - removed: POST /orders request field items[].remark
    - removed: GET /orders/{order_id} response field items[].purchase.merchant_order_no
    - removed: GET /orders/{order_id} response field status enum value cancelled
    - removed: schema OrderStatus enum value cancelled

A renamed path, field or enum value is a removal (and an addition). Additions are never breaking. A
removed path is one line (not one per operation and field under it); so is a removed field.

    .venv/bin/python -m infra.contract            # the breaking changes against the released copy
    .venv/bin/python -m infra.contract --release  # released copy := the current document; CHANGELOG's
                                                  # `## Unreleased` becomes `## <version> (<date>)`
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RELEASED = ROOT / "docs" / "contract" / "openapi-released.json"
CHANGELOG = ROOT / "CHANGELOG.md"
BULLET = re.compile(r"^- ((?:removed|renamed): .+?)\s*$")
UNRELEASED = "## Unreleased"
EMPTY_SECTION = "### Contract\n\nNo breaking change.\n"


# --- what a client relies on -------------------------------------------------------------------------


def _resolve(schema: Any, doc: dict, seen: frozenset[str]) -> tuple[Any, frozenset[str]]:
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        ref = schema["$ref"]
        if ref in seen or not ref.startswith("#/"):
            return {}, seen
        seen = seen | {ref}
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest} if rest else target
    return schema, seen


def fields(schema: Any, doc: dict, prefix: str = "", seen: frozenset[str] = frozenset()) -> set[str]:
    """Every field path a schema documents (`a`, `a.b`, `items[].c`, `tags.*`) and every enum value
    (`<path> enum value <v>`, the root's as `enum value <v>`)."""
    schema, seen = _resolve(schema, doc, seen)
    if not isinstance(schema, dict):
        return set()
    out: set[str] = set()
    at = f"{prefix} " if prefix else ""
    for value in schema.get("enum", []) + ([schema["const"]] if "const" in schema else []):
        if value is not None:
            out.add(f"{at}enum value {value}")
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, []):
            out |= fields(branch, doc, prefix, seen)
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        out.add(path)
        out |= fields(sub, doc, path, seen)
    if isinstance(schema.get("additionalProperties"), dict):
        out |= fields(schema["additionalProperties"], doc, f"{prefix}.*" if prefix else "*", seen)
    if "items" in schema:
        out |= fields(schema["items"], doc, f"{prefix}[]", seen)
    return out


def _json_schemas(holder: dict, doc: dict) -> list[Any]:
    holder, _ = _resolve(holder, doc, frozenset())
    return [media.get("schema", {}) for media in (holder or {}).get("content", {}).values()]


def surface(doc: dict) -> dict[str, set[str]]:
    """The contract as a client sees it: {"paths", "operations": {"GET /x"}, "ids": {"GET /x id"},
    "facts": {"GET /x response field a.b", ...}}."""
    out: dict[str, set[str]] = {"paths": set(), "operations": set(), "ids": set(), "facts": set()}
    for path, item in doc.get("paths", {}).items():
        out["paths"].add(path)
        for method, op in item.items():
            if method.startswith("x-") or not isinstance(op, dict) or "responses" not in op:
                continue
            name = f"{method.upper()} {path}"
            out["operations"].add(name)
            out["ids"].add(f"{name} {op.get('operationId')}")
            for parameter in op.get("parameters", []):
                parameter, _ = _resolve(parameter, doc, frozenset())
                if parameter.get("in") in ("query", "header"):
                    where = f"{name} {parameter['in']} parameter {parameter['name']}"
                    out["facts"].add(where)
                    out["facts"] |= {f"{where} {f}" for f in fields(parameter.get("schema", {}), doc)}
            if "requestBody" in op:
                for schema in _json_schemas(op["requestBody"], doc):
                    out["facts"] |= {f"{name} request field {f}" for f in fields(schema, doc)}
            for status, response in op["responses"].items():
                if status.startswith("2"):
                    for schema in _json_schemas(response, doc):
                        out["facts"] |= {f"{name} response field {f}" for f in fields(schema, doc)}
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        # a generated client's enum types (the lifecycle's statuses) are there even before a field uses them
        if isinstance(schema, dict) and "enum" in schema:
            out["facts"] |= {f"schema {name} enum value {v}" for v in schema["enum"] if v is not None}
    # a bare `enum value x` of a root schema reads "... response field enum value x"
    out["facts"] = {f.replace(" field enum value ", " enum value ") for f in out["facts"]}
    return out


def breaking_changes(released: dict, current: dict) -> list[str]:
    """What a client generated from `released` relies on and `current` no longer has, one line each."""
    old, new = surface(released), surface(current)
    changes = [f"removed: path {p}" for p in sorted(old["paths"] - new["paths"])]
    gone_ops = old["operations"] - new["operations"]
    changes += [f"removed: {o}" for o in sorted(gone_ops) if o.split(" ", 1)[1] in new["paths"]]
    new_ids = {i.rsplit(" ", 1)[0]: i.rsplit(" ", 1)[1] for i in new["ids"]}
    for entry in sorted(old["ids"]):
        operation, operation_id = entry.rsplit(" ", 1)
        if operation in new_ids and new_ids[operation] != operation_id:
            changes.append(f"renamed: operationId of {operation} (was {operation_id})")
    gone = old["facts"] - new["facts"]
    for fact in sorted(gone):
        method, path, _ = fact.split(" ", 2)
        if f"{method} {path}" in gone_ops:
            continue
        parent = _parent(fact)
        if parent is not None and parent in gone:
            continue  # its field (or parameter) is gone: one line for both
        changes.append(f"removed: {fact}")
    return changes


def _parent(fact: str) -> str | None:
    """The fact a fact lies under: `X field a.b` -> `X field a`, `X field a enum value v` -> `X field a`."""
    if " enum value " in fact:
        head = fact.split(" enum value ", 1)[0]
        return head if re.search(r" (field|parameter) \S+$", head) else None
    found = re.match(r"^(.* field )(.+)$", fact)
    if not found:
        return None
    parent = re.sub(r"\.[^.]+$", "", found.group(2)) if "." in found.group(2) else ""
    parent = re.sub(r"(\[\]|\.\*)+$", "", parent)
    return found.group(1) + parent if parent else None


# --- the changelog -----------------------------------------------------------------------------------


def recorded(text: str) -> list[str]:
    """The bullets of the `### Contract` part of CHANGELOG's `## Unreleased` section."""
    section = _unreleased(text)
    if section is None:
        return []
    contract = re.search(r"^### Contract\s*$(.*?)(?=^### |\Z)", section, re.M | re.S)
    if not contract:
        return []
    return [m.group(1) for line in contract.group(1).splitlines() if (m := BULLET.match(line))]


def _unreleased(text: str) -> str | None:
    found = re.search(rf"^{re.escape(UNRELEASED)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    return found.group(1) if found else None


def released_document() -> dict:
    return json.loads(RELEASED.read_text())


def current_document() -> dict:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import app  # noqa: F401  (registers every route)
    from chalicelib import openapi

    return openapi.document()


def release(now: datetime | None = None) -> str:
    """Released copy := the current document; CHANGELOG's Unreleased section becomes the version's."""
    from chalicelib import openapi

    doc = current_document()
    text = CHANGELOG.read_text() if CHANGELOG.exists() else "# Changelog\n"
    version = doc["info"]["version"]
    if f"\n## {version} (" in text:
        raise SystemExit(f"CHANGELOG.md already has {version}: bump VERSION in chalicelib/openapi.py first")
    if RELEASED.exists():
        missing = sorted(set(breaking_changes(released_document(), doc)) - set(recorded(text)))
        if missing:
            raise SystemExit(
                "breaking changes not in CHANGELOG.md's Unreleased section:\n- " + "\n- ".join(missing)
            )
    RELEASED.parent.mkdir(parents=True, exist_ok=True)
    RELEASED.write_text(openapi.render(doc))
    stamp = f"## {version} ({(now or datetime.now(UTC)):%Y-%m-%d})"
    if _unreleased(text) is not None:  # the heading line, not a mention of it in the prose
        heading = re.compile(rf"^{re.escape(UNRELEASED)}[ \t]*$", re.M)
        text = heading.sub(f"{UNRELEASED}\n\n{EMPTY_SECTION}\n{stamp}", text, count=1)
    else:
        text = text.rstrip("\n") + f"\n\n{UNRELEASED}\n\n{EMPTY_SECTION}\n{stamp}\n"
    CHANGELOG.write_text(text)
    return f"wrote {RELEASED.relative_to(ROOT)}; CHANGELOG.md: {stamp.removeprefix('## ')}"


def main(argv: list[str]) -> int:
    if "--release" in argv:
        print(release())
        return 0
    changes = breaking_changes(released_document(), current_document())
    noted = set(recorded(CHANGELOG.read_text()))
    for change in changes:
        print(f"- {change}" + ("" if change in noted else "    (not in CHANGELOG.md)"))
    if not changes:
        print(f"no breaking change against {RELEASED.relative_to(ROOT)}")
    return 0 if set(changes) <= noted else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
