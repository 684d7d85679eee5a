"""The OpenAPI 3.1 document of this API, generated from the route table (chalicelib.web.ROUTES).

One source of truth: every route registered through `web.route()` appears with its path parameters,
operationId (the view's name), summary (the view's docstring), security (bearer Cognito ID token unless
public), the JSON Schema of the pydantic model its body is validated with, its success status, and
the error responses api.md's conventions give it. `GET /openapi.json` serves it; `make openapi` writes
docs/openapi.json (a test fails when that file is stale).

    .venv/bin/python -m chalicelib.openapi            # print
    .venv/bin/python -m chalicelib.openapi --write    # docs/openapi.json
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

from chalicelib import web
from chalicelib.lifecycle import ParcelStatus

VERSION = "1.0.0"
TITLE = "Procure storefront and staff API"
DESCRIPTION = (
    "A China sourcing agent's procurement backend: catalog, cart and orders, wallet and payments, review "
    "and purchasing, warehouse, storage and packages. JSON in and out (request bodies with "
    "`Content-Type: application/json`, else 415); money is integer fen (`*_fen`); "
    'errors are `{"error": {"code", "message"}}`; lists take `?limit=` (1-100, default 20) and '
    '`?cursor=` and answer `{"items", "next_cursor"}`; money-moving POSTs accept an `Idempotency-Key`. '
    "Every operation without `security: []` needs `Authorization: Bearer <Cognito ID token>`; staff "
    "operations name their Cognito groups in `x-staff-groups` (admin may do everything staff may)."
)
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"

_METHOD_ORDER = ("get", "post", "put", "patch", "delete")
_PATH_PARAM = re.compile(r"\{(\w+)\}")

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
                    },
                },
            },
        }
    },
}
PAGE_SCHEMA = {
    "type": "object",
    "required": ["items", "next_cursor"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "next_cursor": {"type": ["string", "null"]},
    },
}
ERRORS = {
    400: (
        "BadRequest",
        "validation_error (or a more specific code such as unsupported_link): bad input, or an over-long "
        "header value.",
    ),
    401: ("Unauthorized", "unauthorized: no token, or an invalid or expired one."),
    403: ("Forbidden", "forbidden: the caller lacks the staff group this operation needs."),
    404: ("NotFound", "not_found: no such object, or another customer's (its existence stays hidden)."),
    409: ("Conflict", "conflict or insufficient_funds: not allowed from the current state."),
    415: (
        "UnsupportedMediaType",
        "unsupported_media_type: a body sent without `Content-Type: application/json` (nothing changed).",
    ),
}
QUERY_PARAMETERS: dict[str, dict] = {
    "limit": {
        "description": "Page size.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    },
    "cursor": {
        "description": "The `next_cursor` of the previous page (opaque; empty or absent: the first page).",
        "schema": {"type": "string"},
    },
    "q": {
        "description": "Keywords; every word must match. Without it: featured products.",
        "schema": {"type": "string", "maxLength": 200},
    },
    "country": {
        "description": "ISO 3166-1 alpha-2 destination country.",
        "schema": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
    },
    "status": {"description": "Which queue.", "schema": {"type": "string"}},
}
# Cheap, real response schemas for a few key operations (the rest: any JSON object).
RESPONSE_SCHEMAS: dict[str, dict] = {
    "get_wallet": {
        "type": "object",
        "required": ["balance_fen", "entries", "next_cursor"],
        "properties": {
            "balance_fen": {"type": "integer"},
            "entries": {"type": "array", "items": {"type": "object"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "list_payment_channels": {"$ref": "#/components/schemas/Page"},
    "shipping_lines": {"$ref": "#/components/schemas/Page"},
    "image_search": {"$ref": "#/components/schemas/Page"},
}
# Statuses a view answers besides its declared success status.
EXTRA_SUCCESS: dict[str, dict[int, str]] = {
    "scan_inbound": {200: "The parcel was already received: the same answer, with `already_received`."},
}
# Errors a view answers besides those api.md's conventions give it (see `_errors`).
EXTRA_ERRORS: dict[str, tuple[int, ...]] = {
    "resolve_link": (404,),  # a supported link to a product we do not have
}
WEBHOOK_BODY = {
    "type": "object",
    "required": ["id", "type"],
    "properties": {
        "id": {"type": "string", "description": "The provider's event id (deliveries are deduplicated)."},
        "type": {
            "type": "string",
            "description": "Only payment.succeeded credits anything; other events are acknowledged (200).",
            "examples": ["payment.succeeded"],
        },
        "data": {
            "type": "object",
            "description": "Required for payment.succeeded.",
            "required": ["payment_id", "amount_fen"],
            "properties": {
                "payment_id": {"type": "string"},
                "amount_fen": {"type": "integer", "description": "What the provider collected (charge_fen)."},
            },
        },
    },
}


def _status_enums() -> dict[str, list[str]]:
    from chalicelib import packages, purchasing

    return {
        "review_queue": list(purchasing.ORDER_QUEUES),
        "item_queue": list(purchasing.ITEM_QUEUES),
        "package_queue": list(packages.STAFF_QUEUES),
        "parcel_queue": [ParcelStatus.EXCEPTIONAL],
    }


def _model_schemas(routes: list[web.RouteSpec]) -> tuple[dict[tuple[type, str], dict], dict[str, dict]]:
    """{(model, mode): its schema or $ref} and the hoisted component schemas, for request bodies
    (mode "validation") and response models (mode "serialization"). Component names are plain
    identifiers: a name pydantic qualifies because two modules use it (`chalicelib__api__warehouse__Dims`)
    becomes `WarehouseDims`."""
    from pydantic.json_schema import models_json_schema

    keys = list(
        dict.fromkeys(
            [(spec.body, "validation") for spec in routes if spec.body is not None]
            + [(spec.response, "serialization") for spec in routes if spec.response is not None]
        )
    )
    if not keys:
        return {}, {}
    refs, top = models_json_schema(keys, ref_template="#/components/schemas/{model}")
    defs = top.get("$defs", {})
    renames = {name: _plain_name(name) for name in defs if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name)}
    prefix = "#/components/schemas/"
    renamed = _rename_refs({prefix + old: prefix + new for old, new in renames.items()}, [refs, defs])
    refs, defs = renamed[0], {renames.get(name, name): schema for name, schema in renamed[1].items()}
    return refs, defs


def _plain_name(name: str) -> str:
    """`chalicelib__api__warehouse__Dims` -> `WarehouseDims`; `Page_Order_` -> `PageOrder`."""
    parts = name.split("__")[-2:] if "__" in name else [name]
    words = [w for part in parts for w in re.split(r"[^A-Za-z0-9]+", part) if w]
    return "".join(w[:1].upper() + w[1:] for w in words)


def _rename_refs(renames: dict[str, str], value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: renames.get(v, v) if k == "$ref" and isinstance(v, str) else _rename_refs(renames, v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rename_refs(renames, v) for v in value]
    return value


def _returns_nothing(spec: web.RouteSpec) -> bool:
    annotation = getattr(spec.view, "__annotations__", {}).get("return", "dict")
    return annotation in (None, "None", type(None))


def _errors(spec: web.RouteSpec, path_params: list[str]) -> list[int]:
    writes = spec.method != "GET"
    statuses = set(EXTRA_ERRORS.get(spec.name, ()))
    statuses.add(400)  # any request: an over-long header value (web.MAX_HEADER_CHARS), besides bad input
    if not spec.public:
        statuses.add(401)
    if spec.groups:
        statuses.add(403)
    body_names_ids = spec.body is not None and any(
        name.endswith(("_id", "_ids")) for name in getattr(spec.body, "model_fields", {})
    )
    if path_params or (body_names_ids and not spec.public):
        statuses.add(404)
    if writes and not spec.public:
        statuses.add(409)
    if spec.body is not None or spec.name == "payment_webhook":
        statuses.add(415)
    return sorted(statuses)


def _operation(spec: web.RouteSpec, refs: dict[tuple[type, str], dict], enums: dict[str, list[str]]) -> dict:
    path_params = _PATH_PARAM.findall(spec.path)
    parameters: list[dict] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in path_params
    ]
    for name in spec.query:
        known = QUERY_PARAMETERS.get(name, {"schema": {"type": "string"}})
        parameter = {"name": name, "in": "query", "required": False, **copy.deepcopy(known)}
        if name == "status" and spec.name in enums:
            parameter["schema"] = {"type": "string", "enum": enums[spec.name]}
        parameters.append(parameter)
    if spec.money:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Retries with the same key and body return the first response and move "
                "no money twice; the same key with another body is a 409 conflict.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
            }
        )

    tag = spec.view.__module__.rsplit(".", 1)[-1] if spec.view is not None else "api"
    operation: dict[str, Any] = {
        "operationId": spec.name,
        "summary": spec.summary,
        "tags": [tag],
        "security": [] if spec.public else [{"bearerAuth": []}],
    }
    if spec.groups:
        operation["x-staff-groups"] = [*spec.groups, "admin"]
        operation["description"] = f"Staff only: Cognito group {' or '.join(spec.groups)} (or admin)."
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(spec.body, "validation")]}},
        }
    if spec.name == "payment_webhook":
        operation["parameters"] = [
            {
                "name": "X-Signature",
                "in": "header",
                "required": True,
                "description": 't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>',
                "schema": {"type": "string"},
            }
        ]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": WEBHOOK_BODY}},
        }

    responses: dict[str, dict] = {}
    if _returns_nothing(spec):
        responses["204"] = {"description": "Done; no content."}
    else:
        if spec.response is not None:
            schema = refs[(spec.response, "serialization")]
        else:
            schema = RESPONSE_SCHEMAS.get(spec.name)
        if schema is None:
            schema = {"$ref": "#/components/schemas/Page"} if "cursor" in spec.query else {"type": "object"}
        responses[str(spec.status)] = {
            "description": "Success.",
            "content": {"application/json": {"schema": copy.deepcopy(schema)}},
        }
        for status, description in EXTRA_SUCCESS.get(spec.name, {}).items():
            responses[str(status)] = {
                "description": description,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
    for status in _errors(spec, path_params):
        responses[str(status)] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def build(routes: list[web.RouteSpec] | None = None) -> dict:
    """The whole document for `routes` (default: every route registered so far)."""
    routes = list(web.ROUTES if routes is None else routes)
    refs, defs = _model_schemas(routes)
    enums = _status_enums()
    paths: dict[str, dict] = {}
    for spec in sorted(routes, key=lambda s: (s.path, _METHOD_ORDER.index(s.method.lower()))):
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, refs, enums)
    from chalicelib import lifecycle

    schemas = {
        "Error": ERROR_SCHEMA,
        "Page": PAGE_SCHEMA,
        **dict(sorted(defs.items())),
        # the lifecycle table: statuses and their transitions (replaces the bare enums models refer to)
        **lifecycle.openapi_schemas(),
    }
    _titles_are_names(schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Cognito user-pool ID token (staff roles are the groups reviewer, "
                    "warehouse and admin).",
                }
            },
            "schemas": copy.deepcopy(schemas),
            "responses": {
                name: {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
                for name, description in (ERRORS[s] for s in sorted(ERRORS))
            },
        },
    }


# One tag per area (the view's module): what a generated client groups its operations by.
TAGS: dict[str, str] = {
    "catalog": "Products from 1688, Taobao, Tmall and Weidian: search, detail, link and image lookup.",
    "orders": "The customer's cart, quotes and orders: create, pay, cancel, confirm, after-sales.",
    "wallet": "The customer's wallet balance and ledger, top-ups and payment channels; the provider webhook.",
    "packages": "Consolidation of stored items into packages: quote, create, pay, pack, ship, track.",
    "storage": "Warehouse storage: the 90-day limit, paid extensions, the destruction queue.",
    "photos": "Inspection photos: staff uploads, the photos of an item.",
    "staff": "Review and purchasing: the order and item queues, approve or reject, buy, domestic shipment.",
    "warehouse": "Inbound parcels, inspection, weighing, exceptions and after-sales cases.",
    "identity": "The signed-in user (`/me`) and the service's health.",
    "docs": "This document (`GET /openapi.json`).",
}
COMPONENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def _titles_are_names(schemas: dict[str, dict]) -> None:
    """A component's `title` is its component name: openapi-python-client names classes by title, so two
    `ResolveBody` titles (catalog's and warehouse's) collided and one endpoint was dropped."""
    for name, schema in schemas.items():
        if isinstance(schema, dict) and schema.get("title") not in (None, name):
            schema["title"] = name


_cache: dict[int, dict] = {}


def document() -> dict:
    """The document of the running app (built once per route table; every route module loaded first)."""
    from chalicelib import routing

    routing.load_all()
    key = len(web.ROUTES)
    if key not in _cache:
        _cache.clear()
        _cache[key] = build()
    return _cache[key]


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    root = str(DEFAULT_OUTPUT.parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    import app  # noqa: F401  (registers every route)

    text = render(document())
    if "--write" in argv:
        DEFAULT_OUTPUT.write_text(text)
        from chalicelib import routing

        routing.write_index()  # app.py registers routes from it (cold start)
        paths = len(document()["paths"])
        print(f"wrote {DEFAULT_OUTPUT.relative_to(DEFAULT_OUTPUT.parents[1])} ({paths} paths)")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
