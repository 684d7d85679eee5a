"""Every `error.code` the code base can answer is in chalicelib.errors.CODES, and the contract's Error schema
lists exactly those: a storefront can switch on the enum. Codes are found in the source (a code written
anywhere the answer is built), not in a hand-kept list."""

from __future__ import annotations

import ast
from pathlib import Path

from chalicelib import openapi
from chalicelib.errors import CODES
from infra.template import GATEWAY_RESPONSES
from tests.conftest import ROOT

SOURCES = [
    ROOT / "app.py",
    *sorted((ROOT / "chalicelib").rglob("*.py")),
    *sorted((ROOT / "infra").rglob("*.py")),
]
# functions whose string literals are error codes (a status -> code table, an error body's first argument)
CODE_TABLES = {"normalize_errors"}
ERROR_BODIES = {"error_body", "_error_template"}


def raised_codes(path: Path) -> set[str]:
    """`code="..."` keywords, `code = "..."` class attributes, and the codes of the error-body builders."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "code" and isinstance(node.value, ast.Constant):
            found.add(node.value.value)
        elif isinstance(node, ast.ClassDef):
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "code" for t in statement.targets)
                    and isinstance(statement.value, ast.Constant)
                ):
                    found.add(statement.value.value)
        elif isinstance(node, ast.FunctionDef) and node.name in CODE_TABLES:
            found |= {
                n.value
                for d in ast.walk(node)
                if isinstance(d, ast.Dict)
                for n in d.values
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            }
            found |= {
                call.args[1].value
                for call in ast.walk(node)
                if isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "get"
                and len(call.args) == 2
                and isinstance(call.args[1], ast.Constant)
            }
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ERROR_BODIES
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(node.args[0].value)
    return found


def test_every_code_the_code_base_answers_is_in_errors_codes():
    found = set().union(*(raised_codes(p) for p in SOURCES)) | {code for _, _, code, _ in GATEWAY_RESPONSES}
    assert {"validation_error", "price_changed", "method_not_allowed", "payload_too_large"} <= found
    assert found - set(CODES) == set()


def test_every_code_in_errors_codes_is_answered_somewhere():
    """No dead entry: the enum promises only codes a client can meet."""
    found = set().union(*(raised_codes(p) for p in SOURCES)) | {code for _, _, code, _ in GATEWAY_RESPONSES}
    assert set(CODES) - found == set()


def test_the_error_schema_lists_the_codes_as_an_enum():
    code = openapi.ERROR_SCHEMA["properties"]["error"]["properties"]["code"]
    assert code["enum"] == list(CODES)


def test_the_scan_finds_a_code_raised_in_a_new_module(tmp_path):
    """Not vacuous: a keyword code and a class attribute code are both found."""
    module = tmp_path / "m.py"
    module.write_text(
        "from chalicelib.errors import Conflict\n"
        "class Gone(Conflict):\n    code = 'gone_for_good'\n"
        "def f():\n    raise Conflict('x', code='brand_new')\n"
    )
    assert raised_codes(module) == {"gone_for_good", "brand_new"}
