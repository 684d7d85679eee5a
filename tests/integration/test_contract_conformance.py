"""Every answer a test receives is checked against the OpenAPI document (tests/contract.py)."""

from __future__ import annotations

import json

import pytest
import requests
from chalice.local import LocalGateway

from tests import contract
from tests.contract import Contract, ContractViolation

DOC = {
    "openapi": "3.1.0",
    "paths": {
        "/things/{thing_id}": {
            "get": {
                "operationId": "get_thing",
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                    },
                    "404": {"$ref": "#/components/responses/NotFound"},
                },
            },
            "delete": {"operationId": "delete_thing", "responses": {"204": {"description": "done"}}},
        },
        "/things/special": {
            "get": {
                "operationId": "special",
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {}}}}},
            }
        },
    },
    "components": {
        "schemas": {
            "Thing": {
                "type": "object",
                "required": ["thing_id", "price_fen"],
                "properties": {
                    "thing_id": {"type": "string"},
                    "price_fen": {"type": "integer"},
                    "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    }
                },
            },
        },
        "responses": {
            "NotFound": {
                "description": "nf",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
    },
}
JSON = {"Content-Type": "application/json"}
ERROR = json.dumps({"error": {"code": "not_found", "message": "No such thing."}})


def check(method, path, status, body, headers=JSON):
    Contract(DOC).check(method, path, status, headers, body)


def test_a_documented_answer_passes():
    check("GET", "/things/t1?x=1", 200, json.dumps({"thing_id": "t1", "price_fen": 5, "tags": {"a": "b"}}))
    check("GET", "/things/t1", 404, ERROR)
    check("DELETE", "/things/t1", 204, b"")
    check("OPTIONS", "/anything", 200, b"")  # CORS preflights are the gateway's


def test_an_undocumented_status_fails():
    with pytest.raises(ContractViolation, match="undocumented status"):
        check("GET", "/things/t1", 409, ERROR)


def test_an_undocumented_field_fails():
    with pytest.raises(ContractViolation, match="price_cny"):
        check("GET", "/things/t1", 200, json.dumps({"thing_id": "t1", "price_fen": 5, "price_cny": "0.05"}))


def test_a_wrong_type_or_missing_field_fails():
    with pytest.raises(ContractViolation, match="price_fen"):
        check("GET", "/things/t1", 200, json.dumps({"thing_id": "t1", "price_fen": "5"}))
    with pytest.raises(ContractViolation, match="price_fen"):
        check("GET", "/things/t1", 200, json.dumps({"thing_id": "t1"}))


def test_an_error_body_must_be_the_one_error_schema():
    with pytest.raises(ContractViolation, match="error"):
        check("GET", "/things/t1", 404, json.dumps({"message": "Not Found"}))
    with pytest.raises(ContractViolation, match="not JSON"):
        check("GET", "/things/t1", 404, "<html>Not Found</html>")


def test_a_body_where_none_is_documented_fails():
    with pytest.raises(ContractViolation, match="promises none"):
        check("DELETE", "/things/t1", 204, "{}")


def test_a_wrong_content_type_fails():
    with pytest.raises(ContractViolation, match="Content-Type"):
        check("GET", "/things/t1", 200, "{}", headers={"Content-Type": "text/html"})


def test_literal_path_segments_win_over_parameters():
    check("GET", "/things/special", 200, json.dumps([1, 2]))  # the schema of /things/special, not Thing


def test_an_undocumented_route_may_only_answer_a_gateway_error():
    check("GET", "/nowhere", 404, ERROR)
    check("POST", "/things/t1", 405, ERROR)
    check("HEAD", "/things/t1", 405, b"")  # an answer to HEAD has no body
    with pytest.raises(ContractViolation, match="no operation"):
        check("GET", "/nowhere", 200, "{}")


def test_every_transport_is_hooked_for_the_whole_session():
    assert getattr(LocalGateway.handle_request, "__contract_hook__", False)
    assert getattr(requests.Session.send, "__contract_hook__", False)


def test_an_in_process_answer_the_document_does_not_promise_fails_the_test(api, monkeypatch):
    real = contract.contract()
    doc = json.loads(json.dumps(real.doc))
    del doc["paths"]["/health"]["get"]["responses"]["200"]
    monkeypatch.setattr(contract, "contract", lambda: Contract(doc))
    with pytest.raises(ContractViolation, match=r"health.*undocumented status"):
        api.get("/health")
    with contract.exempt("this test checks the exemption itself"):
        assert api.get("/health").status == 200


def test_the_real_document_accepts_real_answers(api):
    assert api.get("/health").status == 200
    assert api.get("/me").status == 401
    assert api.get("/orders/ord_missing", user="alice@example.com").status == 404
