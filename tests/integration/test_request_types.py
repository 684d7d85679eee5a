"""A storefront types its requests with what openapi-typescript (default flags) generates from
docs/openapi.json: every JSON body the README sends with curl, and every body `make demo`
(infra/local/demo.py) sends, must pass `tsc --strict --noEmit` as the type of its operation's request body.
An optional field typed as required (`items: null` in the order body) fails here.

Values the demo computes at run time (a product id out of an answer) are `any`: the check is on which fields
are sent, their names and the literal values written out.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
from pathlib import Path

from tests.conftest import ROOT

DOCUMENT = ROOT / "docs" / "openapi.json"
README = ROOT / "README.md"
DEMO = ROOT / "infra" / "local" / "demo.py"
TSC = ROOT / "tools" / "console-check" / "node_modules" / ".bin" / "tsc"
UNKNOWN = "(null as any)"


def _operations() -> dict[tuple[str, re.Pattern], str]:
    """(METHOD, path pattern) -> operationId, for every operation with a JSON request body."""
    doc = json.loads(DOCUMENT.read_text())
    found = {}
    for path, item in doc["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")
        for method, op in item.items():
            if "requestBody" in op:
                found[(method.upper(), pattern)] = op["operationId"]
    return found


def operation_of(method: str, path: str) -> str:
    """The operationId for a concrete path (`/orders/ord_1/pay`); an unknown one fails the test."""
    path = path.split("?", 1)[0]
    matches = [op for (m, pattern), op in _operations().items() if m == method and pattern.match(path)]
    assert len(matches) == 1, f"{method} {path}: {matches or 'no operation with a JSON body'}"
    return matches[0]


# --- the README: curl -d '<json>' (shell variables stand for ids, inside JSON strings) -------------------


def readme_bodies(text: str) -> list[tuple[str, str, str]]:
    """(where, operationId, JSON text) of every `curl ... -d` in the README's sh blocks."""
    lines: list[tuple[int, str]] = []  # (README line, one shell line with its continuations joined)
    for block in re.finditer(r"```sh\n(.*?)```", text, re.S):
        first = text[: block.start(1)].count("\n") + 1
        for offset, line in enumerate(block.group(1).split("\n")):
            if lines and lines[-1][1].endswith("\\"):
                lines[-1] = (lines[-1][0], lines[-1][1][:-1] + " " + line)
            else:
                lines.append((first + offset, line))
    variables: dict[str, str] = {}
    found = []
    for number, line in lines:
        words = shlex.split(line, comments=True)
        assignment = re.match(r"^(\w+)=(.*)$", words[0]) if len(words) == 1 else None
        if assignment:
            variables[assignment.group(1)] = assignment.group(2)
        if "curl" not in line or "-d" not in words:
            continue
        data = words[words.index("-d") + 1]
        data = re.sub(r"^\$(\w+)$", lambda m: variables[m.group(1)], data)
        method = words[words.index("-X") + 1] if "-X" in words else "POST"
        url = next(w for w in words if w.startswith(("$API/", "http://127.0.0.1:8000/")))
        path = "/" + url.split("/", 1)[1] if url.startswith("$API") else "/" + url.split("/", 3)[3]
        found.append((f"README.md line {number}: {method} {path}", operation_of(method, path), data))
    return found


# --- make demo: api.call(METHOD, path, ..., body=...) ----------------------------------------------------


def _path_of(node: ast.expr) -> str:
    if isinstance(node, ast.Constant):
        return node.value
    assert isinstance(node, ast.JoinedStr), ast.dump(node)
    return "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)


def _typescript(node: ast.expr, names: dict[str, ast.expr]) -> str:
    """A Python literal as a TypeScript expression; a name bound to a literal is that literal."""
    if isinstance(node, ast.Dict):
        pairs = []
        for key, value in zip(node.keys, node.values, strict=True):
            assert isinstance(key, ast.Constant) and isinstance(key.value, str), ast.dump(node)
            pairs.append(f"{json.dumps(key.value)}: {_typescript(value, names)}")
        return "{" + ", ".join(pairs) + "}"
    if isinstance(node, ast.List | ast.Tuple):
        return "[" + ", ".join(_typescript(v, names) for v in node.elts) + "]"
    if isinstance(node, ast.ListComp):
        return f"[{_typescript(node.elt, names)}]"
    if isinstance(node, ast.Constant):
        return json.dumps(node.value)
    if isinstance(node, ast.JoinedStr):
        return "(String() as string)"
    if isinstance(node, ast.Name) and node.id in names:
        return _typescript(names[node.id], names)
    return UNKNOWN


def _bindings(tree: ast.AST) -> dict[str, ast.expr]:
    """Names assigned once, to a dict or list literal or a constant (ADDRESS, order_body)."""
    seen: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            seen.setdefault(node.targets[0].id, []).append(node.value)
    literal = (ast.Dict, ast.List, ast.Constant)
    return {
        name: values[0]
        for name, values in seen.items()
        if len(values) == 1 and isinstance(values[0], literal)
    }


def demo_bodies(text: str) -> list[tuple[str, str, str]]:
    """(where, operationId, TypeScript literal) of every `api.call(..., body=...)` in the demo."""
    tree = ast.parse(text)
    names = _bindings(tree)
    found = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "call"
        ):
            continue
        body = next((k.value for k in node.keywords if k.arg == "body"), None)
        if body is None or len(node.args) < 2:
            continue
        method, path = node.args[0].value, _path_of(node.args[1])
        literal = _typescript(body, names)
        assert literal != UNKNOWN, f"demo.py line {node.lineno}: a body that is no literal"
        found.append(
            (f"infra/local/demo.py line {node.lineno}: {method} {path}", operation_of(method, path), literal)
        )
    return found


# --- the type check ----------------------------------------------------------------------------------------


def type_errors(types: Path, bodies: list[tuple[str, str, str]], directory: Path) -> str:
    """tsc --strict --noEmit over one `const` per body, typed as its operation's JSON request body."""
    lines = [
        'import type { operations } from "./api";',
        'type Body<Op extends keyof operations> = NonNullable<operations[Op]["requestBody"]>'
        '["content"]["application/json"];',
    ]
    for number, (where, operation, literal) in enumerate(bodies):
        lines += [f"// {where}", f'export const body{number}: Body<"{operation}"> = {literal};']
    (directory / "api.d.ts").write_text(types.read_text())
    (directory / "bodies.ts").write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [str(TSC), "--strict", "--noEmit", "--target", "ES2022", str(directory / "bodies.ts")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return "" if done.returncode == 0 else done.stdout + done.stderr + "\n".join(lines)


def test_no_request_body_field_a_client_may_omit_carries_a_default():
    """openapi-typescript (default flags) types a property with a `default` as always present."""
    doc = json.loads(DOCUMENT.read_text())
    schemas = doc["components"]["schemas"]
    bodies = {
        op["requestBody"]["content"]["application/json"]["schema"].get("$ref", "").rsplit("/", 1)[-1]
        for item in doc["paths"].values()
        for op in item.values()
        if "requestBody" in op
    }
    reached, todo = set(), [schemas[name] for name in bodies if name]
    while todo:
        value = todo.pop()
        for ref in re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(value)):
            if ref not in reached:
                reached.add(ref)
                todo.append(schemas[ref])
    reached |= {name for name in bodies if name}
    assert len(reached) >= 25
    defaults = [
        f"{name}.{field}"
        for name in sorted(reached)
        for field, schema in schemas[name].get("properties", {}).items()
        if field not in schemas[name].get("required", []) and "default" in schema
    ]
    assert defaults == []


def test_the_readme_sends_its_json_bodies_to_operations_that_take_one():
    bodies = readme_bodies(README.read_text())
    assert {op for _, op, _ in bodies} >= {"add_cart_item", "quote_order", "create_order", "save_preferences"}
    assert all(isinstance(json.loads(data), dict) for _, _, data in bodies)


def test_the_demo_sends_its_bodies_to_operations_that_take_one():
    operations = {op for _, op, _ in demo_bodies(DEMO.read_text())}
    assert {"add_cart_item", "create_order", "create_package", "inspect_item", "pack_package"} <= operations


def test_every_readme_and_demo_request_body_type_checks_against_the_generated_types(contract_types, tmp_path):
    assert TSC.exists(), "TypeScript is not installed: `make console-tools`"
    bodies = readme_bodies(README.read_text()) + demo_bodies(DEMO.read_text())
    assert type_errors(contract_types, bodies, tmp_path) == ""


def test_the_type_check_fails_on_a_body_the_contract_refuses(contract_types, tmp_path):
    """Not vacuous: a missing required field, an unknown one and a wrong literal type each fail."""
    wrong = [
        ("no payment_channel", "create_order", '{"cart_item_ids": ["c"]}'),
        (
            "unknown field",
            "add_cart_item",
            '{"product_id": "p", "sku_id": "s", "quantity": 1, "colour": "red"}',
        ),
        ("a string quantity", "add_cart_item", '{"product_id": "p", "sku_id": "s", "quantity": "1"}'),
    ]
    for case in wrong:
        assert "error TS" in type_errors(contract_types, [case], tmp_path), case[0]


def _admits_null(field: dict) -> bool:
    return field.get("type") == "null" or any(_admits_null(s) for s in field.get("anyOf", ()))


def test_a_request_field_is_nullable_in_the_contract_exactly_when_the_server_accepts_null():
    """A type that says `| null` where the server answers 400 (or the reverse) misleads the storefront."""
    from chalicelib.typed import ValidationError, twin
    from tests.integration.test_request_examples import MODELS, _examples

    wrong = []
    for model in MODELS:
        example = _examples(model)[0]
        for name, field in twin(model).model_json_schema()["properties"].items():
            try:
                model.model_validate({**example, name: None})
                accepted = True
            except ValidationError as exc:
                accepted = not any(error["loc"][:1] == (name,) for error in exc.errors())
            if accepted != _admits_null(field):
                wrong.append(f"{model.__name__}.{name}")
    assert len(MODELS) >= 25
    assert wrong == []
