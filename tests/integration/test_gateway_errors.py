"""In AWS, the answers API Gateway gives itself (unknown route, other method, throttling, body too large,
integration timeout, token errors, default 4xx/5xx) follow the contract's error shape: read from the
packaged template (`make package`'s out/sam.json, built in-process)."""

from __future__ import annotations

import json
import re

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


def test_every_preflight_is_answered_by_api_gateway_never_the_lambda(api):
    """Issue 27: an OPTIONS is a mock integration on every path: 0 Lambda invocations per preflight."""
    assert api["paths"]
    for path, operations in api["paths"].items():
        integration = operations["options"]["x-amazon-apigateway-integration"]
        assert integration["type"] == "mock", path
        assert not set(template.PROXY_ONLY_KEYS) & set(integration), path  # nothing of the proxy is left
        assert "APIHandler" not in json.dumps(operations["options"]), path
        assert set(operations["options"]["responses"]) == {"204"}, path
    packaged = {"Resources": {"RestAPI": {"Properties": {"DefinitionBody": api}}}}
    assert template.lambda_preflights(packaged) == []


def test_the_gateway_preflight_grants_what_the_apps_preflight_grants_to_the_stacks_origins_only(api):
    """The mock sends the headers of chalicelib/web.py's OPTIONS view (which answers locally), to an Origin
    listed in CorsAllowedOrigins only; Max-Age is the browsers' ceiling."""
    from chalicelib.web import CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE_SECONDS

    for path, operations in api["paths"].items():
        methods = {m.upper() for m in operations if m in template.HTTP_METHODS}
        allow = ", ".join(sorted(methods | {"OPTIONS"}))
        response = operations["options"]["x-amazon-apigateway-integration"]["responses"]["default"]
        assert response["statusCode"] == "204"
        assert response["responseParameters"]["method.response.header.Allow"] == f"'{allow}'", path
        vtl = response["responseTemplates"]["application/json"]["Fn::Sub"]
        lines = vtl.splitlines()
        opened = lines.index(next(line for line in lines if line.startswith('#if("$!origin" != ""')))
        closed = lines.index("#end")
        condition = lines[opened]
        assert '$allowed.contains(",$origin,")' in condition and '!$origin.contains(",")' in condition
        assert f'#set($allowed = ",${{{template.CORS_ORIGINS_PARAMETER}}},")' in lines[:opened]
        granted = dict(
            re.fullmatch(r"#set\(\$context\.responseOverride\.header\.([\w-]+) = (.+)\)", line).groups()
            for line in lines[opened + 1 : closed]
        )
        assert granted == {
            "Access-Control-Allow-Origin": "$origin",
            "Access-Control-Allow-Methods": f"'{allow}'",
            "Access-Control-Allow-Headers": f"'{', '.join(CORS_ALLOW_HEADERS)}'",
            "Access-Control-Expose-Headers": f"'{', '.join(CORS_EXPOSE_HEADERS)}'",
            "Access-Control-Max-Age": "'7200'",
        }, path
        assert CORS_MAX_AGE_SECONDS == 7200  # Chromium's ceiling (Firefox allows 24 h)
        assert lines[closed + 1 :] == ["#set($context.responseOverride.header.Vary = 'Origin')"], path
        declared = set(operations["options"]["responses"]["204"]["headers"])
        assert set(granted) | {"Allow", "Vary"} <= declared, path


def test_a_package_whose_preflights_reach_the_lambda_fails_verification():
    """Chalice renders the app's OPTIONS views as Lambda proxies; the merge cannot drop the proxy's uri,
    so `make package` finalizes out/sam.json and --verify refuses it otherwise."""
    app = chalice_sam.load_app()
    merged = chalice_sam.merge(template.build("prod", app=app), chalice_sam.chalice_template("prod", app))
    assert template.lambda_preflights(merged)  # the merge alone leaves the Lambda's uri in each mock
    assert template.lambda_preflights(template.finalize(merged)) == []
    chalice_only = chalice_sam.chalice_template("prod", app)
    assert len(template.lambda_preflights(chalice_only)) == len(
        chalice_only["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    )
