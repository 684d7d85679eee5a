"""The response of GET /openapi.json: the OpenAPI document itself (described loosely, by name)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from chalicelib.responses.base import Out


class OpenApiDocument(Out):
    """This API's OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "openapi": "3.1.0",
                    "info": {"title": "Procurement API", "version": "1.0.0"},
                    "paths": {},
                    "components": {"schemas": {}},
                }
            ]
        },
    )

    openapi: Literal["3.1.0"]
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any] = Field(description="Schemas, security schemes and shared responses.")
