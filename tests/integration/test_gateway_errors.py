"""In AWS, the answers API Gateway gives itself (unknown route, other method, throttling, body too large,
integration timeout, token errors, default 4xx/5xx) follow the contract's error shape: read from the
packaged template (`make package`'s out/sam.json, built in-process)."""

from __future__ import annotations

import json

import pytest

from infra import chalice_sam, template


@pytest.fixture(scope="module")
def api() -> dict:
    app = chalice_sam.load_app()
    packaged = template.packaged("prod", app=app)
    return packaged["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]


EXPECTED = {
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found"),  # API Gateway's answer to an unknown route
    "UNAUTHORIZED": (401, "unauthorized"),
    "EXPIRED_TOKEN": (401, "unauthorized"),
    "INVALID_SIGNATURE": (401, "unauthorized"),
    "ACCESS_DENIED": (403, "forbidden"),
    "THROTTLED": (429, "too_many_requests"),
    "REQUEST_TOO_LARGE": (413, "payload_too_large"),
    "INTEGRATION_TIMEOUT": (504, "timeout"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "unsupported_media_type"),
    "DEFAULT_4XX": (None, "bad_request"),
    "DEFAULT_5XX": (None, "internal_error"),
}


def test_every_gateway_response_is_the_contracts_json_error(api):
    responses = api["x-amazon-apigateway-gateway-responses"]
    assert set(EXPECTED) <= set(responses)
    for response_type, (status, code) in EXPECTED.items():
        response = responses[response_type]
        assert response.get("statusCode") == status, response_type
        assert response["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/json'"
        body = json.loads(response["responseTemplates"]["application/json"])
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, response_type
        assert body["error"]["code"] == code and body["error"]["message"], response_type
    for response in responses.values():  # DEFAULT_4XX/5XX keep API Gateway's status; the rest are explicit
        assert json.loads(response["responseTemplates"]["application/json"])["error"]["code"]


def test_every_path_answers_other_methods_405_with_allow(api):
    for path, operations in api["paths"].items():
        methods = {m.upper() for m in operations if m in template.HTTP_METHODS}
        other = operations["x-amazon-apigateway-any-method"]
        integration = other["x-amazon-apigateway-integration"]
        assert integration["type"] == "mock", path  # answered by API Gateway, never the Lambda
        response = integration["responses"]["default"]
        assert response["statusCode"] == "405"
        allow = response["responseParameters"]["method.response.header.Allow"].strip("'").split(", ")
        assert set(allow) == methods | {"OPTIONS"}, path
        body = json.loads(response["responseTemplates"]["application/json"].rpartition("\n")[2])
        assert body["error"]["code"] == "method_not_allowed"
        assert "Allow" in other["responses"]["405"]["headers"]


def test_the_routes_still_reach_the_function(api):
    """The ANY methods shadow no route: every route keeps its Lambda integration."""
    for path, operations in api["paths"].items():
        for method in operations:
            if method in template.HTTP_METHODS:
                uri = json.dumps(operations[method]["x-amazon-apigateway-integration"]["uri"])
                assert "${APIHandler.Arn}" in uri, (method, path)


def test_a_browser_on_another_origin_can_read_api_gateways_own_errors(api):
    for response_type, response in api["x-amazon-apigateway-gateway-responses"].items():
        parameters = response["responseParameters"]
        assert parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == (
            "method.request.header.Origin"
        ), response_type
        assert parameters["gatewayresponse.header.Vary"] == "'Origin'", response_type


def test_a_browser_on_another_origin_can_read_the_405(api):
    """The 405 is a mock integration, not a gateway response: its template echoes Origin itself."""
    for path, operations in api["paths"].items():
        other = operations["x-amazon-apigateway-any-method"]
        template_text = other["x-amazon-apigateway-integration"]["responses"]["default"]["responseTemplates"][
            "application/json"
        ]
        assert "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)" in template_text
        assert "$input.params().header.get('Origin')" in template_text, path
        assert "#set($context.responseOverride.header.Vary = 'Origin')" in template_text, path
        assert {"Access-Control-Allow-Origin", "Vary"} <= set(other["responses"]["405"]["headers"]), path
