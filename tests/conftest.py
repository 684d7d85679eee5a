"""Test environment: the `test` stage's variables, fake credentials, no endpoint override.

Set before anything imports the app: PynamoDB reads table names when models are defined.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

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

import moto  # noqa: E402,F401  (moto must hook botocore before any client exists)
import pytest  # noqa: E402

from infra.local import moto_atomic  # noqa: E402

moto_atomic.apply()

# app.py imports each route module on its first request (cold starts); tests want the whole route table
# (web.ROUTES) and every route of the code on the app, even before chalicelib/route_index.py is
# regenerated. tests/integration/test_operations.py checks the lazy path in a fresh process.
import app as _application  # noqa: E402
from chalicelib import clock, routing  # noqa: E402

routing.load_all(_application.app)

# every answer a test receives is checked against the OpenAPI document (tests/contract.py)
from tests import contract  # noqa: E402

contract.install()


@pytest.fixture(autouse=True)
def _real_clock():
    clock.set_now(None)
    yield
    clock.set_now(None)
