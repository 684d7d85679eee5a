"""The OpenAPI 3.1 document of this API, generated from the route table (chalicelib.web.ROUTES).

One source of truth: every route registered through `web.route()` appears with its path parameters,
operationId (the view's name), summary (the view's docstring), security (bearer Cognito ID token unless
public), the JSON Schema of the pydantic model its body is validated with, its success status, and
the error responses the API's conventions give it. `GET /openapi.json` serves it; `make openapi` writes
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
from chalicelib.errors import CODES
from chalicelib.lifecycle import ParcelStatus, ThreadStatus

VERSION = "1.1.0"
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
    "description": "Every error answer: a stable machine-readable `code` and a message for people.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": list(CODES),
                    "description": " ".join(f"`{code}` {meaning}" for code, meaning in CODES.items()),
                },
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "description": "validation_error: one entry per bad field (`field`, `problem`). "
                    "price_changed: one per line that moved beyond the tolerance (the new price to show "
                    "the customer). out_of_stock: one per line the shop cannot supply. too_many_requests: "
                    "`retry_after_seconds`. services_not_done: one per paid service still to do (`service`).",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "problem": {"type": "string"},
                            "cart_item_id": {
                                "type": ["string", "null"],
                                "description": "Null: a direct item.",
                            },
                            "product_id": {"type": "string"},
                            "sku_id": {"type": "string"},
                            "snapshot_unit_price_fen": {"type": "integer"},
                            "unit_price_fen": {"type": "integer", "description": "The price now."},
                            "change_fen": {"type": "integer"},
                            "quantity": {"type": "integer", "description": "What the line asks for."},
                            "stock": {"type": "integer", "description": "What the shop has."},
                            "available": {"type": "boolean", "description": "False: delisted or gone."},
                            "retry_after_seconds": {
                                "type": "integer",
                                "description": "too_many_requests: when the marketplace quota renews.",
                            },
                            "service": {
                                "type": "string",
                                "description": "services_not_done: a paid service still to do.",
                            },
                        },
                    },
                },
            },
        }
    },
}
PAGE_SCHEMA = {
    "type": "object",
    "description": "One page of a list; `next_cursor` is null on the last page.",
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
    403: (
        "Forbidden",
        "forbidden: the caller lacks the staff group this operation needs, or would decide on their own "
        "order or case (approve, reject, purchase, resolve).",
    ),
    404: ("NotFound", "not_found: no such object, or another customer's (its existence stays hidden)."),
    409: (
        "Conflict",
        "conflict or insufficient_funds: not allowed from the current state; on quotes and orders also "
        "price_changed and out_of_stock, whose `error.details` list the lines (docs/sources.md).",
    ),
    415: (
        "UnsupportedMediaType",
        "unsupported_media_type: a body sent without `Content-Type: application/json` (nothing changed).",
    ),
    429: (
        "TooManyRequests",
        "too_many_requests: over the marketplace quota (new searches, links and products looked up per "
        "hour, per caller and in total; docs/sources.md); what was already looked up keeps working. "
        "`error.details[0].retry_after_seconds` says when to try again.",
    ),
    503: (
        "ServiceUnavailable",
        "source_unavailable: a marketplace API did not answer in time, throttled us or is not configured "
        "(docs/sources.md); try again later. rate_unavailable: no exchange rate, or a stale one, for the "
        "currency asked for (amounts in CNY still work without `currency`; docs/currencies.md). "
        "provider_unavailable: the payment provider did not answer or is not configured; nothing was "
        "charged.",
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
# Statuses a view answers besides its declared success status.
EXTRA_SUCCESS: dict[str, dict[int, str]] = {
    "scan_inbound": {200: "The parcel was already received: the same answer, with `already_received`."},
}
# Errors a view answers besides those the API's conventions give it (see `_errors`).
EXTRA_ERRORS: dict[str, tuple[int, ...]] = {
    "resolve_link": (404, 429, 503),  # a product we do not have; over the quota; a marketplace down
    # routes that read products from a marketplace API when one is switched on (docs/sources.md): a
    # lookup the cache cannot answer spends the marketplace quota (429 past it)
    "search_products": (429, 503),
    "image_search": (429, 503),
    "get_product": (429, 503),
    "get_cart": (429, 503),
    "add_cart_item": (429, 503),
    "update_cart_item": (429, 503),
    "quote_order": (429, 503),
    "create_order": (429, 503),
    # routes that ask a payment provider (chalicelib/providers): it may be down or not configured
    "create_top_up": (503,),
    "pay_order": (503,),
    "checkout_package": (503,),
    "approve_withdrawal": (503,),
    # 409: an event that overtook the payment's success, delivered again later; 503: its fee unread
    "stripe_webhook": (409, 503),
    "stripe_webhooks": (409, 503),
    # PayPal: 503 also when its verification or capture lookup did not answer (it delivers again)
    "paypal_webhook": (409, 503),
    "paypal_webhooks": (409, 503),
    "capture_payment": (503,),
}
STRIPE_WEBHOOKS = ("stripe_webhook", "stripe_webhooks")  # the contract's path and the first one
PAYPAL_WEBHOOKS = ("paypal_webhook", "paypal_webhooks")
PAYPAL_EVENT_BODY = {
    "type": "object",
    "description": "A PayPal webhook event (developer.paypal.com/api/rest/webhooks/), as PayPal sends it.",
    "required": ["id", "event_type", "resource"],
    "properties": {
        "id": {"type": "string"},
        "event_type": {
            "type": "string",
            "examples": ["PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.REFUNDED", "CUSTOMER.DISPUTE.CREATED"],
        },
        "resource_type": {"type": "string"},
        "resource": {"type": "object"},
    },
    "examples": [  # the event envelope of PayPal's webhooks spec, with a capture as its resource
        {
            "id": "8PT597110X687430LKGECATA",
            "create_time": "2013-06-25T21:41:28Z",
            "resource_type": "capture",
            "event_type": "PAYMENT.CAPTURE.COMPLETED",
            "event_version": "1.0",
            "resource_version": "2.0",
            "resource": {
                "id": "2GG279541U471931P",
                "status": "COMPLETED",
                "amount": {"currency_code": "USD", "value": "14.92"},
                "custom_id": "pay_01JD3Q8Y6Z5N7B2K4M9P0R1S2T",
            },
        }
    ],
}
PAYPAL_HEADERS = {
    "PAYPAL-TRANSMISSION-ID": "The delivery's id.",
    "PAYPAL-TRANSMISSION-TIME": "When PayPal sent it.",
    "PAYPAL-TRANSMISSION-SIG": "Base64 SHA256withRSA over <id>|<time>|<webhook id>|<CRC32 of the body>.",
    "PAYPAL-CERT-URL": "PayPal's certificate for the signature.",
    "PAYPAL-AUTH-ALGO": "The signature's algorithm (SHA256withRSA).",
}
STRIPE_EVENT_BODY = {
    "type": "object",
    "description": "A Stripe event object (docs.stripe.com/api/events/object), as Stripe sends it.",
    "required": ["id", "type", "data"],
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "const": "event"},
        "type": {
            "type": "string",
            "examples": [
                "payment_intent.succeeded",
                "charge.refunded",
                "charge.dispute.created",
                "charge.dispute.closed",
            ],
        },
        "data": {"type": "object", "properties": {"object": {"type": "object"}}},
    },
    "examples": [
        {
            "id": "evt_1Pgc76B7WZ01zgkWwyRHS12y",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_1PgafyB7WZ01zgkWSjxsAJo3", "object": "payment_intent"}},
        }
    ],
}
WEBHOOK_BODY = {
    "type": "object",
    "description": "The payment provider's event, signed in `X-Signature` (the raw body is what is signed).",
    "examples": [
        {
            "id": "evt_3PqL8x2eZvKYlo2C0d1f2g3h",
            "type": "payment.succeeded",
            "data": {"payment_id": "pay_01JD3Q8Y6Z5N7B2K4M9P0R1S2T", "amount_fen": 50500},
        }
    ],
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
        "message_queue": [ThreadStatus.UNANSWERED],
    }


def _model_schemas(routes: list[web.RouteSpec]) -> tuple[dict[tuple[type, str], dict], dict[str, dict]]:
    """{(model, mode): its schema or $ref} and the hoisted component schemas, for request bodies
    (mode "validation") and response models (mode "serialization"). Component names are plain
    identifiers: a name pydantic qualifies because two modules use it (`chalicelib__api__warehouse__Dims`)
    becomes `WarehouseDims`."""
    from pydantic.json_schema import models_json_schema

    from chalicelib.typed import twin

    keys = list(
        dict.fromkeys(
            [(spec.body, "validation") for spec in routes if spec.body is not None]
            + [(spec.response, "serialization") for spec in routes if spec.response is not None]
        )
    )
    if not keys:
        return {}, {}
    # the schemas are the declarations' pydantic twins' (chalicelib.typed), keyed back by the declarations
    twins, top = models_json_schema(
        [(twin(m), mode) for m, mode in keys], ref_template="#/components/schemas/{model}"
    )
    refs = {(m, mode): twins[(twin(m), mode)] for m, mode in keys}
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
        name.endswith(("_id", "_ids")) for name in spec.body.__typed_fields__
    )
    if path_params or (body_names_ids and not spec.public):
        statuses.add(404)
    if writes and not spec.public:
        statuses.add(409)
    if spec.body is not None or spec.name in ("payment_webhook", *STRIPE_WEBHOOKS, *PAYPAL_WEBHOOKS):
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
    if spec.keyed:
        effect = "move no money twice" if spec.money else "change nothing twice"
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": f"Retries with the same key and body return the first response and {effect}; "
                "the same key with another body is a 409 conflict.",
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
            "required": not spec.body_optional,
            "content": {"application/json": {"schema": refs[(spec.body, "validation")]}},
        }
    if spec.name in STRIPE_WEBHOOKS:
        operation["parameters"] = [
            {
                "name": "Stripe-Signature",
                "in": "header",
                "required": True,
                "description": "Stripe's signature: t=<unix seconds>,v1=<hex HMAC-SHA256(endpoint secret, "
                '"<t>.<raw body>")> (more v1 while a secret rolls).',
                "schema": {"type": "string"},
            }
        ]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": STRIPE_EVENT_BODY}},
        }
    if spec.name in PAYPAL_WEBHOOKS:
        operation["parameters"] = [
            {
                "name": name,
                "in": "header",
                "required": True,
                "description": text,
                "schema": {"type": "string"},
            }
            for name, text in PAYPAL_HEADERS.items()
        ]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": PAYPAL_EVENT_BODY}},
        }
    if spec.name == "payment_webhook":
        # the simulated provider speaks Stripe's format at stripe_webhook now; kept for its old senders
        operation["deprecated"] = True
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
        schema = refs[(spec.response, "serialization")] if spec.response is not None else None
        if schema is None:
            schema = {"$ref": "#/components/schemas/Page"} if "cursor" in spec.query else {"type": "object"}
        responses[str(spec.status)] = {
            "description": "Success.",
            "content": {"application/json": {"schema": copy.deepcopy(schema)}},
        }
        for status, description in EXTRA_SUCCESS.get(spec.name, {}).items():
            responses[str(status)] = {
                "description": description,
                "content": {"application/json": {"schema": copy.deepcopy(schema)}},
            }
    for status in _errors(spec, path_params):
        responses[str(status)] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    operation["responses"] = dict(sorted(responses.items()))
    return operation


# OpenAPI links: how a storefront (and schemathesis's stateful phase) follows one answer to the next call
# on the same object. (source operationId, its status) -> [(target operationId, parameters, body)]; a
# parameter or body value is a runtime expression ($response.body#/..., $request.path.x, $request.body#/...).
_ORDER = {"order_id": "$response.body#/order_id"}
_SAME_ORDER = {"order_id": "$request.path.order_id"}
_FIRST_ITEM = {"item_id": "$response.body#/items/0/item_id"}
_SAME_ITEM = {"item_id": "$request.path.item_id"}
_PACKAGE = {"package_id": "$response.body#/package_id"}
_SAME_PACKAGE = {"package_id": "$request.path.package_id"}
_LISTED = "$response.body#/items/0/"
_ADDRESS = {  # outside the EU: a low-value EU parcel would need an IOSS number (docs/customs.md)
    "name": "Alice Martin",
    "phone": "+44 20 7946 0018",
    "country": "GB",
    "state": "Greater London",
    "city": "London",
    "postal_code": "EC1A 1BB",
    "line1": "12 Aldersgate Street",
}
_Link = tuple[str, dict[str, str], dict | None]
LINKS: dict[tuple[str, int], list[_Link]] = {
    # catalog -> cart -> order
    ("search_products", 200): [("get_product", {"product_id": _LISTED + "product_id"}, None)],
    ("get_product", 200): [
        (
            "add_cart_item",
            {},
            {
                "product_id": "$response.body#/product_id",
                "sku_id": "$response.body#/skus/0/sku_id",
                "quantity": "$response.body#/min_quantity",
            },
        )
    ],
    ("add_cart_item", 201): [
        (
            "update_cart_item",
            {"cart_item_id": "$response.body#/cart_item_id"},
            {"quantity": "$request.body#/quantity"},
        ),
        ("remove_cart_item", {"cart_item_id": "$response.body#/cart_item_id"}, None),
        (
            "quote_order",
            {},
            {"cart_item_ids": ["$response.body#/cart_item_id"], "payment_channel": "balance"},
        ),
        (
            "create_order",
            {},
            {"cart_item_ids": ["$response.body#/cart_item_id"], "payment_channel": "balance"},
        ),
    ],
    ("update_cart_item", 200): [("remove_cart_item", {"cart_item_id": "$request.path.cart_item_id"}, None)],
    # order -> pay -> get / cancel; staff review and purchase
    ("create_order", 201): [
        *((target, _ORDER, None) for target in ("get_order", "pay_order", "cancel_order", "staff_get_order")),
        ("get_item", _FIRST_ITEM, None),
    ],
    ("pay_order", 200): [
        (target, _SAME_ORDER, None)
        for target in ("get_order", "cancel_order", "staff_get_order", "approve_order", "reject_order")
    ],
    ("get_cart", 200): [
        ("update_cart_item", {"cart_item_id": _LISTED + "cart_item_id"}, {"quantity": _LISTED + "quantity"}),
        ("remove_cart_item", {"cart_item_id": _LISTED + "cart_item_id"}, None),
        ("create_order", {}, {"cart_item_ids": [_LISTED + "cart_item_id"], "payment_channel": "balance"}),
    ],
    ("list_orders", 200): [
        (target, {"order_id": _LISTED + "order_id"}, None)
        for target in ("get_order", "pay_order", "cancel_order")
    ],
    ("review_queue", 200): [
        (target, {"order_id": _LISTED + "order_id"}, None)
        for target in ("staff_get_order", "approve_order", "reject_order")
    ],
    ("approve_order", 200): [
        ("staff_get_order", _SAME_ORDER, None),
        ("get_order", _SAME_ORDER, None),
        ("record_purchase", _FIRST_ITEM, None),
    ],
    ("reject_order", 200): [("get_order", _SAME_ORDER, None)],
    ("cancel_order", 200): [("get_order", _SAME_ORDER, None)],
    ("item_queue", 200): [
        (target, {"item_id": _LISTED + "item_id"}, None)
        for target in ("record_purchase", "record_domestic_shipment")
    ],
    ("record_purchase", 200): [
        (target, _SAME_ITEM, None)
        for target in (
            "record_domestic_shipment",
            "pay_price_difference",
            "decline_price_difference",
            "get_item",
        )
    ],
    ("record_domestic_shipment", 200): [
        ("scan_inbound", {}, {"tracking_no": "$request.body#/tracking_no"}),
        ("get_item", _SAME_ITEM, None),
    ],
    # warehouse: parcels, inspection, photos, storage, after-sales
    ("declare_forwarding", 201): [("scan_inbound", {}, {"tracking_no": "$response.body#/tracking_no"})],
    **{
        ("scan_inbound", status): [
            ("assign_parcel", {"parcel_id": "$response.body#/parcel_id"}, None),
            ("destroy_parcel", {"parcel_id": "$response.body#/parcel_id"}, None),
            ("inspect_item", {"item_id": "$response.body#/item_ids/0"}, None),
        ]
        for status in (200, 201)
    },
    ("parcel_queue", 200): [
        (target, {"parcel_id": _LISTED + "parcel_id"}, None) for target in ("assign_parcel", "destroy_parcel")
    ],
    ("inspect_item", 200): [
        *(
            (target, _SAME_ITEM, None)
            for target in (
                "get_item",
                "accept_item",
                "request_photo_upload",
                "list_item_photos",
                "extend_storage",
            )
        ),
        ("open_case", {}, {"item_id": "$request.path.item_id"}),
    ],
    ("request_photo_upload", 201): [("photo_upload_status", {"photo_id": "$response.body#/photo_id"}, None)],
    ("stored_items", 200): [
        *(
            (target, {"item_id": _LISTED + "item_id"}, None)
            for target in ("get_item", "list_item_photos", "extend_storage", "request_photo_upload")
        ),
        ("open_case", {}, {"item_id": _LISTED + "item_id"}),
        ("quote_package", {}, {"item_ids": [_LISTED + "item_id"], "country": "FR", "services": []}),
        (
            "create_package",
            {},
            {"item_ids": [_LISTED + "item_id"], "address": _ADDRESS, "line_id": "ems", "services": []},
        ),
    ],
    ("destruction_queue", 200): [("destroy_item", {"item_id": _LISTED + "item_id"}, None)],
    ("open_case", 201): [("resolve_case", {"case_id": "$response.body#/case_id"}, None)],
    ("list_cases", 200): [("resolve_case", {"case_id": _LISTED + "case_id"}, None)],
    ("case_queue", 200): [("resolve_case", {"case_id": _LISTED + "case_id"}, None)],
    # package -> pay -> get; pack, ship, receive, review
    ("create_package", 201): [
        (target, _PACKAGE, None)
        for target in ("get_package", "pay_package", "cancel_package", "staff_get_package", "pack_package")
    ],
    ("list_packages", 200): [
        (target, {"package_id": _LISTED + "package_id"}, None)
        for target in ("get_package", "pay_package", "cancel_package", "confirm_receipt")
    ],
    ("pay_package", 200): [
        (target, _SAME_PACKAGE, None)
        for target in ("get_package", "staff_get_package", "pack_package", "cancel_package")
    ],
    ("package_queue", 200): [
        (target, {"package_id": _LISTED + "package_id"}, None)
        for target in ("staff_get_package", "pack_package", "ship_package")
    ],
    ("pack_package", 200): [
        (target, _SAME_PACKAGE, None) for target in ("get_package", "pay_package_difference", "ship_package")
    ],
    ("ship_package", 200): [(target, _SAME_PACKAGE, None) for target in ("get_package", "confirm_receipt")],
    ("confirm_receipt", 200): [("review_package", _SAME_PACKAGE, None)],
    # wallet: top-up -> (the provider's webhook) -> get payment
    ("create_top_up", 201): [
        ("get_payment", {"payment_id": "$response.body#/payment_id"}, None),
        (
            "payment_webhook",
            {},
            {
                "id": "$response.body#/payment_id",
                "type": "payment.succeeded",
                "data": {
                    "payment_id": "$response.body#/payment_id",
                    "amount_fen": "$response.body#/charge_fen",
                },
            },
        ),
    ],
    ("payment_webhook", 200): [("get_payment", {"payment_id": "$request.body#/data/payment_id"}, None)],
}


def _add_links(paths: dict[str, dict]) -> None:
    """`links` on the success responses of LINKS' sources (targets named by operationId), in place."""
    operations = {op["operationId"]: op for methods in paths.values() for op in methods.values()}
    for (source, status), links in LINKS.items():
        if source not in operations:
            continue  # a partial route table (tests building the document of a few routes)
        response = operations[source]["responses"][str(status)]
        for target, parameters, body in links:
            if target not in operations:
                continue
            link: dict[str, Any] = {"operationId": target}
            if parameters:
                link["parameters"] = dict(parameters)
            if body is not None:
                link["requestBody"] = copy.deepcopy(body)
            name = "".join(w.capitalize() for w in target.split("_"))
            response.setdefault("links", {})[name] = link


def build(routes: list[web.RouteSpec] | None = None) -> dict:
    """The whole document for `routes` (default: every route registered so far)."""
    routes = list(web.ROUTES if routes is None else routes)
    refs, defs = _model_schemas(routes)
    enums = _status_enums()
    paths: dict[str, dict] = {}
    for spec in sorted(routes, key=lambda s: (s.path, _METHOD_ORDER.index(s.method.lower()))):
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, refs, enums)
    _add_links(paths)
    from chalicelib import lifecycle

    schemas = {
        "Error": ERROR_SCHEMA,
        "Page": PAGE_SCHEMA,
        **dict(sorted(defs.items())),
        # the lifecycle table: statuses and their transitions (replaces the bare enums models refer to)
        **lifecycle.openapi_schemas(),
    }
    _titles_are_names(schemas)
    document = {
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
    return add_currency(document, routes)


# --- the customer's currency (chalicelib/currency.py, docs/currencies.md) -----------------------------

DISPLAY_CURRENCY_SCHEMA = {
    "type": "object",
    "description": "The currency the `*_minor` amounts are in; present only when a currency was asked for "
    "(`?currency=` or the saved preference).",
    "required": ["code", "minor_units", "rate", "cny_per_unit", "rate_at", "source", "margin_percent"],
    "properties": {
        "code": {"type": "string", "description": "ISO 4217 code."},
        "minor_units": {"type": "integer", "description": "Decimal places of the currency (JPY, KRW: 0)."},
        "rate": {"type": "string", "description": "Units per 1 CNY, margin included (a decimal string)."},
        "cny_per_unit": {"type": "string", "description": "1 / rate, shown only (a decimal string)."},
        "rate_at": {
            "type": "string",
            "format": "date-time",
            "description": "When the source fixed the rate.",
        },
        "source": {"type": "string"},
        "margin_percent": {"type": "string", "description": "Our margin over the reference rate."},
    },
    "additionalProperties": False,
}
DISPLAY_CURRENCY_UNAVAILABLE_SCHEMA = {
    "type": "object",
    "description": "A currency was asked for (the saved preference, or `?currency=` on a write) but has no "
    "usable rate now: every amount is in CNY only, and nothing was snapshotted at a rate.",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "ISO 4217 code asked for."},
        "message": {"type": "string", "description": "Why, for the customer."},
    },
    "additionalProperties": False,
}
CURRENCY_PARAMETER = {
    "name": "currency",
    "in": "query",
    "required": False,
    "description": "Also show amounts in this currency (GET /currencies): a `<name>_minor` integer in its "
    "minor units next to every `<name>_fen`, and `display_currency`. Without it, a signed-in customer's "
    "saved preference (PUT /me/preferences) applies. Unknown code: 400. No usable rate: on a read, 503 "
    "rate_unavailable; on a write (and for the saved preference) the answer is in CNY with "
    "`display_currency_unavailable`.",
    "schema": {"type": "string", "enum": []},  # chalicelib.currency.CURRENCIES, filled by add_currency
}


def add_currency(document: dict, routes: list[web.RouteSpec]) -> dict:
    """On every route declared with `currency=True`: the `currency` query parameter, the 400/503 it can
    answer, and in its success schemas (and every schema they reach) an optional integer `<name>_minor`
    next to each `<name>_fen` property, plus an optional `display_currency` on the body itself. Shared
    components gain the optional properties for every route that uses them (they are sent only when a
    currency was asked for)."""
    flagged = [spec for spec in routes if spec.currency]
    if not flagged:
        return document
    from chalicelib.currency import CURRENCIES

    schemas = document["components"]["schemas"]
    schemas["DisplayCurrency"] = copy.deepcopy(DISPLAY_CURRENCY_SCHEMA)
    schemas["DisplayCurrencyUnavailable"] = copy.deepcopy(DISPLAY_CURRENCY_UNAVAILABLE_SCHEMA)
    parameter = copy.deepcopy(CURRENCY_PARAMETER)
    parameter["schema"]["enum"] = list(CURRENCIES)
    seen: set[str] = set()
    for spec in flagged:
        operation = document["paths"][spec.path][spec.method.lower()]
        operation.setdefault("parameters", []).append(copy.deepcopy(parameter))
        responses = operation["responses"]
        for status in (400, 503) if spec.method == "GET" else (400,):  # only a read refuses a currency
            responses.setdefault(str(status), {"$ref": f"#/components/responses/{ERRORS[status][0]}"})
        for status, answer in responses.items():
            if not status.startswith("2") or "content" not in answer:
                continue
            schema = answer["content"]["application/json"]["schema"]
            top = _component(schema, schemas)
            if top.get("type", "object") == "object":
                properties = top.setdefault("properties", {})
                properties.setdefault("display_currency", {"$ref": "#/components/schemas/DisplayCurrency"})
                properties.setdefault(
                    "display_currency_unavailable",
                    {"$ref": "#/components/schemas/DisplayCurrencyUnavailable"},
                )
            _add_minor(schema, schemas, seen)
        operation["responses"] = dict(sorted(responses.items()))
    return document


def _component(schema: dict, schemas: dict) -> dict:
    ref = schema.get("$ref", "")
    return schemas[ref.removeprefix("#/components/schemas/")] if ref else schema


def _add_minor(schema: Any, schemas: dict, seen: set[str]) -> None:
    if isinstance(schema, list):
        for value in schema:
            _add_minor(value, schemas, seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.removeprefix("#/components/schemas/")
        if name not in seen and name in schemas:
            seen.add(name)
            _add_minor(schemas[name], schemas, seen)
        return
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name in list(properties):
            if name.endswith("_fen") and f"{name[:-4]}_minor" not in properties:
                properties[f"{name[:-4]}_minor"] = {
                    "type": "integer",
                    "description": f"`{name}` in `display_currency`'s minor units (only when a currency "
                    "was asked for).",
                }
        for value in properties.values():
            _add_minor(value, schemas, seen)
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "prefixItems"):
        if key in schema:
            _add_minor(schema[key], schemas, seen)


# One tag per area (the view's module): what a generated client groups its operations by.
TAGS: dict[str, str] = {
    "catalog": "Products from 1688, Taobao, Tmall and Weidian: search, detail, link and image lookup.",
    "orders": "The customer's cart, quotes and orders: create, pay, cancel, confirm, after-sales.",
    "wallet": "The customer's wallet balance and ledger, top-ups and payment channels; the provider webhook.",
    "packages": "Consolidation of stored items into packages: quote, create, pay, pack, ship, track.",
    "package_work": "The packer's checklist: each paid service of a package performed, or refunded when "
    "it cannot be done, before packing.",
    "storage": "Warehouse storage: the 90-day limit, paid extensions, the destruction queue.",
    "photos": "Inspection photos: staff uploads, the photos of an item.",
    "photo_requests": "Paid extra photos of an inspected item: the request and the warehouse's queue.",
    "staff": "Review and purchasing: the order and item queues, approve or reject, buy, domestic shipment.",
    "warehouse": "Inbound parcels, inspection, weighing, exceptions and after-sales cases.",
    "currencies": "The customer's currencies: supported ones with the rate in force, the saved preference.",
    "identity": "The signed-in user (`/me`) and the service's health.",
    "payments": "Payment providers' signed webhooks (Stripe, PayPal), capturing an approved PayPal payment "
    "and the payments staff must look at.",
    "docs": "This document (`GET /openapi.json`).",
    "messages": "Customer-staff message threads on orders and packages; the staff queue of unanswered ones.",
    "claims": "Insurance claims on shipped packages (lost, damaged, seized): evidence, staff decisions.",
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
