"""The API's own description: `GET /openapi.json` (public), generated from the route table; and the
business's rules in force, `GET /policies` (public), the table docs/policies.md is generated from."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.responses.docs import OpenApiDocument, Policies
from chalicelib.web import Req, route

bp = Blueprint(__name__)


@route(bp, "/openapi.json", public=True, response=OpenApiDocument)
def openapi_document(req: Req) -> dict:
    """This API's OpenAPI 3.1 document: every route, its auth, request body and error responses."""
    from chalicelib import openapi

    return openapi.document()


@route(bp, "/policies", public=True, response=Policies)
def business_policies(req: Req) -> dict:
    """Every business rule in force (storage days, reminders, consent thresholds, fees...) with its
    sentence in plain English, and the notices a storefront shows (shelf life, inspection scope...)."""
    from chalicelib import policies

    return policies.as_json()
