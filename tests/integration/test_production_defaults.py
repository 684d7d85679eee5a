"""Production defaults (issue 11, hole 11): outside the local and test stages the API refuses to serve
without its secrets (PAYMENT_WEBHOOK_SECRET, CURSOR_SECRET) or with `*` among its CORS origins: a
clear logged error and a 500 `configuration_error` from every route, checked once per process, at the
first request (so `chalice package`, which imports app.py without the stage's variables, still works).

chalice.test.Client applies the stage's variables from .chalice/config.json to every request, so these
tests run the app as the `prod` stage, whose config names no secrets (the stack parameters do).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from chalice.test import Client

from chalicelib import web
from infra import template
from tests import contract
from tests.conftest import ROOT

GOOD = {
    "PAYMENT_WEBHOOK_SECRET": "whsec_" + "p" * 32,
    "CURSOR_SECRET": "c" * 40,
    "CORS_ALLOWED_ORIGINS": "https://shop.example,https://console.shop.example",
}
# the 500 of a deployment refusing to serve: an operator's error, not an answer the contract documents
MISCONFIGURED = "a misconfigured deployment's 500 configuration_error"


@pytest.fixture
def prod(app_module, monkeypatch):
    """A client of the app as the prod stage; the configuration is checked afresh for each test."""

    def client(**variables: str | None) -> Client:
        for name, value in {**GOOD, **variables}.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        web.reset_configuration_check()
        return Client(app_module.app, stage_name="prod", project_dir=str(ROOT))

    yield client
    web.reset_configuration_check()


def _call(client: Client, method: str, path: str, headers: dict | None = None, body: str | None = None):
    response = client.http.request(
        method, path, headers={"Content-Type": "application/json", **(headers or {})}, body=body
    )
    return response.status_code, json.loads(response.body) if response.body else None, response.headers


@pytest.mark.parametrize("missing", ["CURSOR_SECRET", "PAYMENT_WEBHOOK_SECRET"])
def test_outside_local_and_test_a_missing_secret_refuses_every_route(prod, missing, caplog):
    with (
        prod(**{missing: None}) as client,
        caplog.at_level(logging.ERROR, logger="procure"),
        contract.exempt(MISCONFIGURED),
    ):
        for method, path in [
            ("GET", "/health"),
            ("GET", "/products/search?q=tee"),
            ("POST", "/payments/webhook"),
            ("GET", "/wallet"),
            ("OPTIONS", "/orders"),
        ]:
            status, body, _ = _call(client, method, path, body="{}" if method == "POST" else None)
            assert status == 500, (method, path)
            assert body["error"]["code"] == "configuration_error"
            assert f"{missing} is not set" in body["error"]["message"]
    refusals = [r for r in caplog.records if r.getMessage().startswith("refusing to serve")]
    assert len(refusals) == 1  # checked once per process
    assert refusals[0].problems == [f"{missing} is not set"] and refusals[0].stage == "prod"


def test_a_wildcard_origin_is_refused_in_prod(prod):
    with prod(CORS_ALLOWED_ORIGINS="*") as client, contract.exempt(MISCONFIGURED):
        status, body, _ = _call(client, "GET", "/health")
    assert status == 500 and "CORS_ALLOWED_ORIGINS" in body["error"]["message"]


def test_with_its_secrets_prod_serves_and_allows_only_its_configured_origins(prod):
    with prod() as client:
        status, body, headers = _call(client, "GET", "/health", {"Origin": "https://console.shop.example"})
        assert (status, body) == (200, {"status": "ok"})
        assert headers["Access-Control-Allow-Origin"] == "https://console.shop.example"
        for origin in ("http://localhost:3000", "https://evil.example"):
            _, _, headers = _call(client, "GET", "/health", {"Origin": origin})
            assert "Access-Control-Allow-Origin" not in headers, origin


def test_local_and_test_stages_serve_with_their_demo_settings(api):
    assert api.get("/health").status == 200


def test_importing_the_app_needs_no_stage_variables():
    """What `chalice package` does: import app.py in an environment without the stage's variables."""
    env = {k: v for k, v in os.environ.items() if k not in {"STAGE", *GOOD, "TABLE_PREFIX"}}
    env["STAGE"] = "prod"
    ran = subprocess.run(
        [sys.executable, "-c", "import app; print(len(app.app.routes))"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0, ran.stderr
    assert int(ran.stdout) > 10


def test_the_prod_template_takes_the_cursor_secret_and_the_origins_as_parameters():
    packaged = template.packaged("prod")
    parameters = packaged["Parameters"]
    cursor = parameters[template.CURSOR_SECRET_PARAMETER]
    assert cursor["NoEcho"] is True and cursor["MinLength"] >= 32 and "Default" not in cursor
    origins = parameters[template.CORS_ORIGINS_PARAMETER]
    assert "Default" not in origins
    variables = packaged["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["CURSOR_SECRET"] == {"Ref": template.CURSOR_SECRET_PARAMETER}
    assert variables["CORS_ALLOWED_ORIGINS"] == {"Ref": template.CORS_ORIGINS_PARAMETER}
    assert variables["PAYMENT_WEBHOOK_SECRET"] == {"Ref": template.WEBHOOK_SECRET_PARAMETER}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://shop.example", True),
        ("https://shop.example,https://console.shop.example:8443", True),
        ("*", False),
        ("https://*.shop.example", False),
        ("http://shop.example", False),
        ("https://shop.example/", False),
        ("https://shop.example, https://b.example", False),
        ("", False),
    ],
)
def test_the_origins_parameter_accepts_only_exact_https_origins(value, ok):
    import re

    assert bool(re.fullmatch(template.CORS_ORIGINS_PATTERN, value)) is ok


def test_the_prod_stage_collects_every_paying_channel_through_a_real_provider():
    from chalicelib.rules import charges

    stage = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["prod"]
    table = json.loads(stage["environment_variables"]["PAYMENT_PROVIDERS"])
    paying = {name for name, channel in charges.channels().items() if channel.channel != "balance"}
    assert paying and set(table) == paying
    assert set(table.values()) <= {"stripe", "paypal"}


def test_outside_local_and_test_a_channel_mapped_to_the_simulation_refuses_to_serve(monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("STAGE", "prod")
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PAYMENT_PROVIDERS", json.dumps({"card": "stripe", "paypal": "simulated"}))
    assert config.production_problems() == [
        "PAYMENT_PROVIDERS maps paypal to 'simulated', not a real provider (stripe, paypal)"
    ]
    monkeypatch.setenv("PAYMENT_PROVIDERS", "[1]")
    assert config.production_problems() == ["PAYMENT_PROVIDERS is not a JSON object"]
    monkeypatch.setenv("STAGE", "test")
    assert config.production_problems() == []


def test_outside_local_and_test_an_unnamed_channel_or_unknown_provider_collects_nothing(monkeypatch):
    """A deployed stack never falls back to the simulated provider: a 503 before anything is created."""
    from chalicelib import providers

    monkeypatch.setenv("PAYMENT_PROVIDERS", json.dumps({"card": "stripe", "alipay": "strpie"}))
    monkeypatch.setenv("STAGE", "prod")
    with pytest.raises(providers.ProviderUnavailable, match="wechat_pay is not configured"):
        providers.for_channel("wechat_pay")
    with pytest.raises(providers.ProviderUnavailable, match="'strpie' is not available"):
        providers.for_channel("alipay")
    with pytest.raises(providers.ProviderUnavailable):
        providers.get("simulated")
    assert providers.for_channel("card").name == "stripe"
    monkeypatch.setenv("STAGE", "test")  # the suite and the local stack keep their simulation
    assert providers.for_channel("wechat_pay").name == "simulated"
