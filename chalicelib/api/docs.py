"""The API's own description: `GET /openapi.json` (public), generated from the route table."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.responses.docs import OpenApiDocument
from chalicelib.web import Req, route

bp = Blueprint(__name__)


@route(bp, "/openapi.json", public=True, response=OpenApiDocument)
def openapi_document(req: Req) -> dict:
    """This API's OpenAPI 3.1 document: every route, its auth, request body and error responses."""
    from chalicelib import openapi

    return openapi.document()
