"""What the integration, e2e and browser tiers load before their tests: moto hooking botocore, the app
with its whole route table, and the contract check on every answer. The unit tier never imports this.

Imported once per process (each xdist worker has its own); importing it again is free.
"""

from __future__ import annotations

import moto  # noqa: F401  (moto must hook botocore before any client exists)

from infra.local import moto_atomic

moto_atomic.apply()

# app.py imports each route module on its first request (cold starts); tests want the whole route table
# (web.ROUTES) and every route of the code on the app, even before chalicelib/route_index.py is
# regenerated. tests/integration/test_operations.py checks the lazy path in a fresh process.
import app as _application  # noqa: E402
from chalicelib import routing  # noqa: E402

routing.load_all(_application.app)

# every answer a test receives is checked against the OpenAPI document (tests/contract.py)
from tests import contract  # noqa: E402

contract.install()
