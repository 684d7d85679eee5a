"""Test environment: the `test` stage's variables, fake credentials, no endpoint override; the tiers' markers.

Set before anything imports the app: PynamoDB reads table names when models are defined. Nothing here
imports moto or the app: the unit tier runs without them (tests/stack_env.py loads them for the tiers
that need them: integration, e2e, browser).
"""

from __future__ import annotations

import functools
import json
import os
import re
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
LOCAL_STACK = ("tests/e2e/", "tests/browser/")
MODULE_FIXTURE = re.compile(r"scope=\"(module|class)\"")


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = _path(item.nodeid)
        tier = next((name for prefix, name in TIERS.items() if path.startswith(prefix)), None)
        if tier:
            item.add_marker(tier)
        if path in SLOW_FILES:
            item.add_marker(SLOW_FILES[path])


def _path(nodeid: str) -> str:
    return nodeid.split("::")[0]


@functools.cache
def _builds_once_per_module(path: str) -> bool:
    """A module whose fixtures build something once (a seeded stack, a generated client)."""
    file = ROOT / path
    return file.suffix == ".py" and file.exists() and bool(MODULE_FIXTURE.search(file.read_text()))


def xdist_group(nodeid: str) -> str:
    """The unit of work one xdist worker takes whole: the local stack's tiers, a module that builds its
    world once, else the test alone (spread like `--dist load`)."""
    path = _path(nodeid)
    if path.startswith(LOCAL_STACK):
        return "local_stack"
    return path if _builds_once_per_module(path) else nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup` by our own groups: xdist 3.8 marks a group by editing `item._nodeid`, which
    pytest 9 no longer reads, so its xdist_group markers group nothing. The controller sees only node
    ids, so the groups are derived from them (xdist_group above)."""
    from xdist.scheduler import LoadScopeScheduling

    class Grouped(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid)

    return Grouped(config, log)


@pytest.fixture(autouse=True)
def _real_clock():
    clock.set_now(None)
    yield
    clock.set_now(None)
