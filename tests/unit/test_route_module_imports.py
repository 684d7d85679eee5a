"""What a route module's import loads: the services its other views use are imported by those views, so a
first request (a Lambda cold start) pays only for what its own route needs (issue 27)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def loaded_after(module: str, candidates: tuple[str, ...]) -> list[str]:
    """Which of `candidates` are in sys.modules after a fresh process imports `module`."""
    script = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps(sorted(m for m in {candidates!r} if m in sys.modules)))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_the_warehouse_routes_load_no_inspection_feedback_photo_wallet_or_idempotency_module():
    # the scan needs none of them: inspection (feedback, photos), the customer's views (users), a unit of
    # work without ledger legs, emails or an Idempotency-Key (wallet, outbox, idempotency)
    later = (
        "chalicelib.feedback",
        "chalicelib.photos",
        "chalicelib.photos_ready",
        "chalicelib.photo_urls",
        "chalicelib.users",
        "chalicelib.wallet",
        "chalicelib.idempotency",
        "chalicelib.models.outbox",
        "chalicelib.rules.notices",
    )
    assert loaded_after("chalicelib.api.warehouse", later) == []
    # the check itself sees a module that is loaded
    assert loaded_after("chalicelib.warehouse", ("chalicelib.uow", "chalicelib.feedback")) == [
        "chalicelib.uow"
    ]


def test_stripping_staff_ids_from_a_customer_answer_loads_no_response_model():
    # web.route strips them from every signed-in customer's answer: a wallet or a message answer must not
    # load the item response models (pydantic classes) to do it
    assert loaded_after("chalicelib.responses.redact", ("chalicelib.responses.items", "pydantic")) == []
    from chalicelib.responses.redact import without_staff_ids

    body = {"items": [{"item_id": "i1", "purchased_by": "staff-1", "qc": {"inspected_by": "staff-2"}}]}
    assert without_staff_ids(body) == {"items": [{"item_id": "i1", "qc": {}}]}
    web = (ROOT / "chalicelib" / "web.py").read_text()
    assert "chalicelib.responses.redact import without_staff_ids" in web
    assert "chalicelib.responses.items import without_staff_ids" not in web
