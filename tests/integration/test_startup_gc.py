"""The cold start's garbage collector (chalicelib/startup.py): paused in a Lambda from `import app` to the
end of the first invocation, then the start's objects frozen and the collector on; untouched elsewhere."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys
import app
from chalice.test import Client
after_import = gc.isenabled()
with Client(app.app) as client:
    first = client.http.get('/health').status_code
    after_first = (gc.isenabled(), gc.get_freeze_count())
    client.http.get('/health')
    after_second = (gc.isenabled(), gc.get_freeze_count())
print(json.dumps([after_import, first, after_first, after_second]))
"""


def run(lambda_name: str | None) -> list:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    if lambda_name:
        env["AWS_LAMBDA_FUNCTION_NAME"] = lambda_name
        env["POWERTOOLS_TRACE_DISABLED"] = "true"  # no X-Ray daemon here
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_in_a_lambda_collection_waits_for_the_end_of_the_first_invocation_then_skips_the_start():
    after_import, status, (enabled_1, frozen_1), (enabled_2, frozen_2) = run("procure-api")
    assert after_import is False  # paused from app.py's first line
    assert status == 200
    assert enabled_1 is True and frozen_1 > 10_000  # the start's objects, out of every later collection
    # frozen once, not per invocation (the permanent generation only loses objects freed, or gains a
    # few that the collector starts tracking)
    assert enabled_2 is True and abs(frozen_2 - frozen_1) < 1_000


def test_outside_a_lambda_the_collector_is_never_touched():
    after_import, status, (enabled_1, frozen_1), _ = run(None)
    assert after_import is True and status == 200
    assert enabled_1 is True and frozen_1 == 0


def test_a_failing_first_invocation_still_resumes_the_collector(monkeypatch):
    import gc

    from chalicelib import startup

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "procure-api")
    monkeypatch.setattr(startup, "_paused", False)
    try:
        startup.pause()
        assert not gc.isenabled()

        def boom(event):
            raise RuntimeError("handler failed")

        with pytest.raises(RuntimeError):  # the handler's error goes on up, unchanged
            startup.middleware(object(), boom)
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()
