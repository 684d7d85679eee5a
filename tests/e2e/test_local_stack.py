"""`make run` as a storefront developer meets it: real HTTP, real Cognito sign-in, the helper commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import requests

from tests.conftest import ROOT


def test_stack_file_describes_the_stack(local_stack):
    for key in (
        "api_url",
        "aws_endpoint_url",
        "region",
        "user_pool_id",
        "client_id",
        "bucket",
        "payment_webhook_secret",
        "stripe_webhook_secret",
        "paypal_url",
        "users",
    ):
        assert key in local_stack
    # the local PayPal's app secret is the stack's environment's, never in the stack file
    from infra.local import paypal_sim

    assert paypal_sim.CLIENT_SECRET not in json.dumps(local_stack)
    assert requests.get(local_stack["paypal_url"] + "/v2/checkout/orders/X", timeout=5).status_code == 401
    assert local_stack["api_url"] == "http://127.0.0.1:8000"
    assert local_stack["aws_endpoint_url"] == "http://127.0.0.1:5000"
    groups = [tuple(u["groups"]) for u in local_stack["users"]]
    assert groups.count(()) >= 2
    for group in ("reviewer", "warehouse", "admin"):
        assert (group,) in groups
    assert all("@" in u["username"] and u["password"] for u in local_stack["users"])


def test_health(http):
    response = http.call("GET", "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_sign_in_and_me(http):
    response = http.call("GET", "/me", user="alice@example.com")
    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.com"
    staff = http.call("GET", "/me", user="warehouse@procure.example").json()
    assert staff["groups"] == ["warehouse"]


def test_bad_tokens_are_401_not_5xx(http):
    assert http.call("GET", "/me").status_code == 401
    for header in ("Bearer nonsense", "Bearer a.b.c", "Bearer x.eyJzdWIiOiIxIn0.y"):
        response = http.call("GET", "/me", headers={"Authorization": header})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TABLE_", "PHOTO_", "USER_POOL"))}
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_token_helper_prints_a_working_token(http):
    done = _run("infra.local.token", "bob@example.com")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    response = http.call("GET", "/me", headers={"Authorization": f"Bearer {token}"})
    assert response.json()["email"] == "bob@example.com"


def test_job_helper_runs_a_scheduled_handler_at_now(http):
    done = _run("infra.local.job", "heartbeat", "2027-05-01T12:00:00Z")
    assert done.returncode == 0, done.stderr
    assert '"now": "2027-05-01T12:00:00Z"' in done.stdout
    unknown = _run("infra.local.job", "no_such_job", "2027-05-01T12:00:00Z")
    assert unknown.returncode != 0
    assert "Unknown job" in unknown.stderr


def test_topup_helper_credits_the_wallet_through_stripes_signed_event(http):
    before = http.call("GET", "/wallet", user="bob@example.com").json()["balance_fen"]
    done = _run("infra.local.topup", "bob@example.com", "12345", "")  # alipay: the Stripe-format simulation
    assert done.returncode == 0, done.stderr
    assert '"status": "requires_action"' in done.stdout
    assert '"provider_ref": "pi_sim_' in done.stdout  # a PaymentIntent, settled at Stripe's endpoint
    assert '"payment_intent.succeeded"' in done.stdout
    after = http.call("GET", "/wallet", user="bob@example.com").json()
    assert after["balance_fen"] == before + 12345
    assert after["entries"][0]["kind"] == "top_up"
    bad = _run("infra.local.topup", "bob@example.com", "lots", "")
    assert bad.returncode != 0 and "AMOUNT_FEN" in bad.stderr


def test_topup_helper_settles_a_paypal_top_up_through_paypals_own_webhooks(http):
    before = http.call("GET", "/wallet", user="bob@example.com").json()["balance_fen"]
    done = _run("infra.local.topup", "bob@example.com", "12345", "paypal")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["payment"]["provider"] == "paypal" and "approve_url" in answer["payment"]
    assert answer["settled_by"] == ["CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED"]
    after = http.call("GET", "/wallet", user="bob@example.com").json()
    # the top-up, and what PayPal's actual fee left of the quoted one (a bank_fee_adjustment)
    assert after["balance_fen"] == answer["balance_fen"] >= before + 12345
    assert {e["kind"] for e in after["entries"][:2]} <= {"top_up", "bank_fee_adjustment"}


def test_a_developers_running_stack_is_refused_not_reused(tmp_path):
    """The tests start their own stack; one that answers at the stack file's address is named, not used."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import pytest

    from tests.e2e import conftest as e2e

    class Health(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stack_file = tmp_path / "stack.json"
    stack_file.write_text(json.dumps({"api_url": f"http://127.0.0.1:{server.server_port}"}))
    try:
        with pytest.raises(pytest.fail.Exception, match=r"a local stack is running .*Stop it"):
            e2e.refuse_a_running_stack(stack_file)
    finally:
        server.shutdown()
        server.server_close()
    e2e.refuse_a_running_stack(stack_file)  # a stale file nothing answers at is no reason to refuse
