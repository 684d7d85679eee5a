"""infra/local/wsgi.py, the adapter `make run` serves under waitress: routes, the contract's 404/405 for
what API Gateway would refuse, and the app's own answers passed through unchanged (in-process)."""

from __future__ import annotations

import pytest
from werkzeug.test import Client as WsgiClient

from infra.local.wsgi import ChaliceWSGI, stage_config
from tests.conftest import ROOT


@pytest.fixture
def client(app_module) -> WsgiClient:
    return WsgiClient(ChaliceWSGI(app_module.app, stage_config(app_module.app, "test", str(ROOT))))


def test_a_route_answers_through_the_app(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json == {"status": "ok"}
    assert client.get("/me").json["error"]["code"] == "unauthorized"


def test_another_method_on_a_known_path_is_405_with_allow(client):
    for method in ("TRACE", "PUT", "PATCH", "DELETE", "HEAD", "PROPFIND"):
        response = client.open("/orders/ord_x/pay", method=method)
        assert response.status_code == 405, method
        assert response.headers["Allow"] == "OPTIONS, POST"
        assert response.headers["Content-Type"] == "application/json"
        if method != "HEAD":
            assert response.json["error"]["code"] == "method_not_allowed"


def test_an_unknown_path_is_404_not_found_with_or_without_a_token(client):
    for path in ("/nope", "/health/x", "/orders/ord_x/pay/now", "/"):
        for headers in ({}, {"Authorization": "Bearer x"}):
            response = client.get(path, headers=headers)
            assert response.status_code == 404, path
            assert response.json == {"error": {"code": "not_found", "message": "No such route."}}


def test_a_cors_preflight_is_answered_by_the_app(client):
    response = client.open("/orders", method="OPTIONS", headers={"Origin": "http://localhost:5173"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_a_form_encoded_body_is_415_naming_the_content_type(client):
    response = client.post("/cart/items", data=b'{"a": 1}', content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in response.json["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nope", 404), ("POST", "/orders/ord_x/pay/now", 404), ("PUT", "/orders/ord_x/pay", 405)],
)
def test_the_servers_own_404_and_405_carry_cors_headers_for_an_allowed_origin(client, method, path, status):
    response = client.open(path, method=method, headers={"Origin": "http://localhost:5173"})
    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "Idempotent-Replayed" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers["Vary"]
    assert response.json["error"]["code"] in ("not_found", "method_not_allowed")
    other = client.open(path, method=method, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers and "Origin" in other.headers["Vary"]
