"""Test environment: the `test` stage's variables, fake credentials, no endpoint override; the tiers' markers.

Set before anything imports the app: PynamoDB reads table names when models are defined. Nothing here
imports moto or the app: the unit tier runs without them (tests/stack_env.py loads them for the tiers
that need them: integration, e2e, browser).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_config = json.loads((ROOT / ".chalice" / "config.json").read_text())
os.environ.update(_config["stages"]["test"]["environment_variables"])
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "ap-southeast-1",
        "AWS_REGION": "ap-southeast-1",
    }
)
for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "USER_POOL_ID", "USER_POOL_CLIENT_ID"):
    os.environ.pop(name, None)

from chalicelib import clock  # noqa: E402

# the tier a test belongs to is where it lives; the slow tiers are deselected by `make check`
TIERS = {
    "tests/unit/": "unit",
    "tests/integration/": "integration",
    "tests/e2e/": "e2e",
    "tests/browser/": "browser",
}
SLOW_FILES = {"tests/integration/test_schemathesis.py": "schemathesis"}
# the e2e and browser tiers share one local stack on fixed ports: one xdist worker runs them all, in order
LOCAL_STACK_TIERS = ("e2e", "browser")


@pytest.hookimpl(tryfirst=True)  # before xdist's loadgroup reads the xdist_group markers
def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
        tier = next((name for prefix, name in TIERS.items() if path.startswith(prefix)), None)
        if tier:
            item.add_marker(tier)
        if tier in LOCAL_STACK_TIERS:
            item.add_marker(pytest.mark.xdist_group("local_stack"))
        elif _uses_a_module_fixture(item):  # built once (a seeded stack, a generated client): one worker
            item.add_marker(pytest.mark.xdist_group(path))
        if path in SLOW_FILES:
            item.add_marker(SLOW_FILES[path])


def _uses_a_module_fixture(item) -> bool:
    definitions = getattr(item, "_fixtureinfo", None)
    return definitions is not None and any(
        defs[-1].scope in ("module", "class") for defs in definitions.name2fixturedefs.values() if defs
    )


@pytest.fixture(autouse=True)
def _real_clock():
    clock.set_now(None)
    yield
    clock.set_now(None)
