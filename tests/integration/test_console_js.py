"""The staff console's JavaScript is checked without a build step: ESLint, and `tsc --checkJs` with
`// @ts-check` in every file against the types openapi-typescript generates from docs/openapi.json
(the console reads each answer as its schema, `@type {Schemas["StaffPackage"]}`, so a field the contract
does not have, or a null it allows, is an error). Tools pinned in tools/console-check (`make console-tools`,
which `make test` runs) and tools/openapi-typescript; `make console-check` runs the same by hand.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import ROOT

CONSOLE_JS = ROOT / "console" / "js"
TOOLS = ROOT / "tools" / "console-check"
ESLINT = TOOLS / "node_modules" / ".bin" / "eslint"
TSC = TOOLS / "node_modules" / ".bin" / "tsc"


def _run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def _tsconfig(directory: Path, types: Path, extra: list[Path] = ()) -> Path:
    """tools/console-check/tsconfig.json with the contract types at `types` (and `extra` files)."""
    config = directory / "tsconfig.json"
    base = TOOLS / "tsconfig.json"
    include = [str(CONSOLE_JS / "**" / "*.js"), str(TOOLS / "console-globals.d.ts"), *map(str, extra)]
    config.write_text(
        json.dumps(
            {
                "extends": str(base),
                "compilerOptions": {"paths": {"procure-api": [str(types)]}},
                "include": include,
            }
        )
    )
    return config


def test_every_console_script_starts_with_ts_check():
    scripts = sorted(CONSOLE_JS.rglob("*.js"))
    assert len(scripts) >= 8
    unchecked = [str(p.relative_to(ROOT)) for p in scripts if p.read_text().splitlines()[0] != "// @ts-check"]
    assert unchecked == []


def test_eslint_finds_nothing_in_the_console():
    assert ESLINT.exists(), "ESLint is not installed: `make console-tools` (part of `make test`)"
    done = _run(ESLINT, "-c", TOOLS / "eslint.config.mjs", "--max-warnings", "0", CONSOLE_JS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_console_type_checks_against_the_contracts_types(contract_types, tmp_path):
    assert TSC.exists(), "TypeScript is not installed: `make console-tools` (part of `make test`)"
    done = _run(TSC, "-p", _tsconfig(tmp_path, contract_types))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_type_check_fails_on_a_field_the_contract_does_not_have(contract_types, tmp_path):
    """Not vacuous: the schemas resolve, so reading an undocumented field or an unchecked null fails."""
    wrong = tmp_path / "wrong.js"
    wrong.write_text(
        "// @ts-check\n"
        '/** @typedef {import("procure-api").components["schemas"]} Schemas */\n'
        '/** @param {Schemas["PackPreview"]} answer */\n'
        "export const total = (answer) => answer.price.final_fen;\n"
        '/** @param {Schemas["StaffOrderDetail"]} o */\n'
        "export const first = (o) => o.items[0].product_id.length;\n"
    )
    done = _run(TSC, "-p", _tsconfig(tmp_path, contract_types, [wrong]))
    assert done.returncode != 0
    assert "Property 'final_fen' does not exist" in done.stdout, done.stdout
    assert "is possibly 'null'" in done.stdout, done.stdout
