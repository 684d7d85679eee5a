"""The unit tier stays fast: its modules and the root conftest import neither moto nor the app.

Checked in a fresh process (this one may have loaded the integration tier's tests/stack_env.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

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
