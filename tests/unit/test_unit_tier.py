"""The tiers: the unit tier imports neither moto nor the app (checked in a fresh process: this one may
have loaded the integration tier's tests/stack_env.py); the local stack's tiers share one xdist worker."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, xdist_group

UNIT = ROOT / "tests" / "unit"
FORBIDDEN = ("moto", "app", "tests.stack_env", "chalice.test")


def test_the_unit_tier_imports_neither_moto_nor_the_app():
    modules = sorted(f"tests.unit.{p.stem}" for p in UNIT.glob("test_*.py"))
    script = (
        "import importlib, json, sys\n"
        "import tests.conftest\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in {FORBIDDEN!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert len(modules) > 10
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_the_local_stack_tiers_go_to_one_worker_and_module_built_worlds_stay_whole():
    e2e = "tests/e2e/test_journey.py::test_the_whole_journey"
    browser = "tests/browser/test_console.py::test_sign_in[admin]"
    assert xdist_group(e2e) == xdist_group(browser) == "local_stack"
    matrix = "tests/integration/test_auth_matrix.py"  # its module-scoped world is seeded once
    assert xdist_group(f"{matrix}::test_the_matrix[GET /me]") == xdist_group(f"{matrix}::test_x") == matrix
    plain = "tests/integration/test_wallet.py::test_new_wallet_is_empty"
    assert xdist_group(plain) == plain
