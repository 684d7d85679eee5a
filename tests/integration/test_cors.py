"""CORS: browsers call the API from the origins the stage allows (CORS_ALLOWED_ORIGINS), never `*` in
prod. An allowed origin gets itself back in Access-Control-Allow-Origin, any other origin gets no
allow-origin header; every response varies by Origin; preflights are answered by the app on every path.
"""

from __future__ import annotations

import re

import pytest

from chalicelib.web import PREFLIGHT_PATHS, ROUTES
from tests.integration.conftest import ALICE

DEV_ORIGINS = [
    "http://localhost:3000",
    "http://localhost:5173",
    "http://127.0.0.1:3000",
    "http://127.0.0.1:5173",
    "http://localhost:8080",  # the staff console
    "http://127.0.0.1:8080",
]


def _vary(result) -> set[str]:
    return {v.strip().lower() for v in result.headers.get("Vary", "").split(",")}


def test_the_local_and_test_stages_allow_the_common_dev_origins_and_the_staff_console():
    import json

    from tests.conftest import ROOT

    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    for stage in ("local", "test"):
        origins = stages[stage]["environment_variables"]["CORS_ALLOWED_ORIGINS"].split(",")
        assert set(DEV_ORIGINS) <= set(origins), stage
        assert "*" not in origins
    assert "CORS_ALLOWED_ORIGINS" not in stages["prod"]["environment_variables"]  # the stack parameter


@pytest.mark.parametrize("origin", DEV_ORIGINS)
def test_an_allowed_origin_gets_itself_back_and_may_read_idempotent_replayed(api, origin):
    result = api.get("/me", user=ALICE, headers={"Origin": origin})
    assert result.status == 200
    assert result.headers["Access-Control-Allow-Origin"] == origin
    assert "Idempotent-Replayed" in result.headers["Access-Control-Expose-Headers"]
    assert "origin" in _vary(result)


def test_another_origin_gets_no_allow_origin_header(api):
    for origin in ("https://evil.example", "http://localhost:3001", "null", "http://localhost:3000/"):
        result = api.get("/health", headers={"Origin": origin})
        assert result.status == 200
        assert "Access-Control-Allow-Origin" not in result.headers, origin
        assert "origin" in _vary(result)
    no_origin = api.get("/health")
    assert "Access-Control-Allow-Origin" not in no_origin.headers and "origin" in _vary(no_origin)


def test_errors_carry_the_cors_headers_so_the_storefront_can_read_them(api):
    origin = "http://localhost:5173"
    for result in (
        api.get("/me", headers={"Origin": origin}),  # 401 from the route
        api.post("/health", body={}, headers={"Origin": origin}),  # 405 from Chalice itself
        api.get("/orders?cursor=zzz", user=ALICE, headers={"Origin": origin}),  # 400
    ):
        assert result.status >= 400
        assert result.headers.get("Access-Control-Allow-Origin") == origin, result.status
        assert "error" in result.body


def test_a_preflight_from_an_allowed_origin_allows_the_storefront_headers(api):
    result = api.call(
        "OPTIONS",
        "/orders/ord_x/pay",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert result.status == 204
    assert result.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    allowed = {h.strip().lower() for h in result.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert "POST" in result.headers["Access-Control-Allow-Methods"]
    assert "Idempotent-Replayed" in result.headers["Access-Control-Expose-Headers"]
    assert int(result.headers["Access-Control-Max-Age"]) == 7200  # Chromium's ceiling: fewest preflights
    assert "origin" in _vary(result)


def test_a_preflight_from_another_origin_allows_nothing(api):
    result = api.call(
        "OPTIONS",
        "/wallet/top-ups",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert result.status == 204
    assert not any(h.lower().startswith("access-control-allow") for h in result.headers)


def test_every_path_answers_its_preflight_without_a_token(api):
    assert {spec.path for spec in ROUTES} == PREFLIGHT_PATHS
    for path in sorted(PREFLIGHT_PATHS):
        concrete = re.sub(r"\{(\w+)\}", r"\1_x", path)
        result = api.call(
            "OPTIONS",
            concrete,
            headers={"Origin": "http://127.0.0.1:8080", "Access-Control-Request-Method": "GET"},
        )
        assert result.status == 204, path
        methods = {spec.method for spec in ROUTES if spec.path == path}
        assert set(result.headers["Access-Control-Allow-Methods"].replace(" ", "").split(",")) == methods | {
            "OPTIONS"
        }, path


def test_the_deployed_console_origin_is_allowed_with_the_stage_list(monkeypatch):
    from chalicelib import config

    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://shop.example")
    monkeypatch.setenv("CONSOLE_ORIGIN", "https://d111111abcdef8.cloudfront.net")
    assert config.cors_allowed_origins() == {"https://shop.example", "https://d111111abcdef8.cloudfront.net"}


def test_the_console_origin_the_template_writes_to_ssm_is_allowed_and_a_missing_one_is_not(
    stack, monkeypatch
):
    from chalicelib import aws, web

    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://shop.example")
    monkeypatch.delenv("CONSOLE_ORIGIN", raising=False)
    monkeypatch.setenv("CONSOLE_ORIGIN_PARAMETER", "/procure-test/console-origin")
    console = "https://d111111abcdef8.cloudfront.net"
    monkeypatch.setattr(web, "_console_origin", None)
    assert web._allowed_origin(console) is None  # not written yet (the first deploy): the list only
    assert web._allowed_origin("https://shop.example") == "https://shop.example"
    aws.client("ssm").put_parameter(Name="/procure-test/console-origin", Value=console, Type="String")
    monkeypatch.setattr(web, "_console_origin", None)  # a new container
    assert web._allowed_origin(console) == console
    assert web._allowed_origin("https://evil.example") is None
