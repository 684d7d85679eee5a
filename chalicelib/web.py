"""The one way to declare an HTTP route: authentication, roles, body validation and error mapping.

Every view is registered through `route()`, which records a RouteSpec. The route table is what the
auth-matrix test, the OpenAPI document and the packaging check read, so a route cannot slip in
without an auth decision.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalice import Blueprint, Chalice, Response

from chalicelib import auth, observability
from chalicelib.errors import ApiError, NotFound, Unauthorized, ValidationError
from chalicelib.logs import get_logger

log = get_logger("http")


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    name: str
    public: bool
    groups: tuple[str, ...]
    body: type | None
    status: int
    summary: str
    money: bool = False
    # query parameters the view reads (OpenAPI: `limit`/`cursor` on lists); the view function itself
    query: tuple[str, ...] = ()
    view: Callable | None = field(default=None, repr=False, compare=False)


ROUTES: list[RouteSpec] = []
MAX_ID_LENGTH = 128


@dataclass
class Req:
    """What a view receives: the verified caller, query, headers, and the validated body."""

    caller: auth.Caller | None
    query: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes
    body: Any = None
    path_params: dict[str, str] = field(default_factory=dict)

    @property
    def user(self) -> auth.Caller:
        if self.caller is None:  # only public routes have no caller, and they never ask
            raise Unauthorized("Sign in first.")
        return self.caller

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, datetime):
        from chalicelib.clock import iso

        return iso(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _cors():
    """Browsers call the API from the storefront's origin (CORS_ALLOW_ORIGIN, `*` locally)."""
    from chalice import CORSConfig

    from chalicelib import config

    return CORSConfig(
        allow_origin=config.get("CORS_ALLOW_ORIGIN") or "*",
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Signature", "X-Correlation-Id"],
        expose_headers=["Idempotent-Replayed", "X-Correlation-Id"],
        max_age=600,
    )


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    text = "" if body is None else json.dumps(body, default=_json_default, ensure_ascii=False)
    return Response(body=text, status_code=status, headers=all_headers)


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), status=error.status)


def parse_json(raw: bytes) -> Any:
    if not raw:
        raise ValidationError("A JSON body is required.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"The body is not valid JSON: {exc}.") from None


def validate(model: type, data: Any) -> Any:
    """Validate `data` against a pydantic model; every problem becomes one 400 naming the fields."""
    import pydantic

    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in err["loc"]) or "body", "problem": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
        raise ValidationError(f"Invalid request: {summary}.", details=details) from None


def route(
    bp: Blueprint | Chalice,
    path: str,
    method: str = "GET",
    *,
    public: bool = False,
    groups: tuple[str, ...] = (),
    body: type | None = None,
    status: int = 200,
    money: bool = False,
    query: tuple[str, ...] = (),
) -> Callable:
    """Register `fn(req, **path_params)` as a route.

    public: no token needed; otherwise a verified ID token (401) and, with `groups`, one of those
    staff groups (403). body: a pydantic model the JSON body must satisfy (400). The view returns
    a JSON-able value (sent with `status`), a chalice Response, or None (204). query: the query
    parameters the view reads, for the OpenAPI document (e.g. `("limit", "cursor")` on lists).
    """

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def view(**path_params: str) -> Response:
            request = bp.current_request
            headers = {k.lower(): v for k, v in (request.headers or {}).items()}
            try:
                caller = None if public else auth.authenticate(headers.get("authorization"))
                observability.bind(caller_id=caller.user_id if caller else None)  # the sub, never the email
                if groups:
                    auth.require_group(caller, *groups)
                # ids are short and never empty: DynamoDB would refuse "" or an over-long key with a 500
                if not all(0 < len(v) <= MAX_ID_LENGTH for v in path_params.values()):
                    raise NotFound("No such resource.")
                req = Req(
                    caller=caller,
                    query=dict(request.query_params or {}),
                    headers=headers,
                    raw_body=request.raw_body or b"",
                    path_params=path_params,
                )
                if money and req.header("idempotency-key") is not None:
                    return _idempotent(req, path, path_params, lambda: _execute(req, path_params))
                return _execute(req, path_params)
            except ApiError as exc:
                if exc.status >= 500:
                    log.error("api error", extra={"path": path, "code": exc.code})
                return error_response(exc)
            except Exception:
                log.exception("unhandled error", extra={"path": path, "method": method})
                return error_response(ApiError("Something went wrong on our side."))

        def _execute(req: Req, path_params: dict) -> Response:
            if body is not None:
                req.body = validate(body, parse_json(req.raw_body))
            result = fn(req, **path_params)
            if isinstance(result, Response):
                return result
            if result is None:
                return Response(body="", status_code=204)
            return json_response(result, status=status)

        bp.route(path, methods=[method], cors=_cors())(view)
        ROUTES.append(
            RouteSpec(
                method=method,
                path=path,
                name=fn.__name__,
                public=public,
                groups=tuple(groups),
                body=body,
                status=status,
                summary=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else fn.__name__,
                money=money,
                query=tuple(query),
                view=fn,
            )
        )
        return view

    return decorator


def _idempotent(req: Req, path: str, path_params: dict, execute: Callable[[], Response]) -> Response:
    """Run a money-moving request once per (caller, route, Idempotency-Key); replay it afterwards."""
    from chalicelib import idempotency

    key = req.header("idempotency-key") or ""
    concrete = path.format(**path_params) if path_params else path
    scope = f"{req.user.user_id}:POST {concrete}"
    replay = idempotency.begin(scope, key, idempotency.fingerprint(req.raw_body))
    if replay is not None:
        headers = {"Idempotent-Replayed": "true"}
        if replay.body:
            headers["Content-Type"] = "application/json"
        return Response(body=replay.body, status_code=replay.status_code, headers=headers)
    try:
        response = execute()
    except ApiError as exc:
        if exc.status >= 500:
            idempotency.abort(scope, key)
            raise
        response = error_response(exc)
    except Exception:
        idempotency.abort(scope, key)
        raise
    idempotency.finish(scope, key, response.status_code, response.body or "")
    return response


def normalize_errors(event: Any, get_response: Callable) -> Response:
    """HTTP middleware: errors Chalice produces itself (415, 405, its own 500) get api.md's shape."""
    response = get_response(event)
    if response.status_code >= 400 and isinstance(response.body, dict) and "Code" in response.body:
        code = {
            405: "method_not_allowed",
            415: "unsupported_media_type",
            400: "validation_error",
        }.get(response.status_code, "internal_error")
        status = response.status_code if response.status_code < 500 else 500
        message = str(response.body.get("Message") or "Request failed.")
        return json_response({"error": {"code": code, "message": message}}, status=status)
    return response


# --- lists: ?limit= and ?cursor= ------------------------------------------------------------


def page_limit(req: Req, default: int = 20, maximum: int = 100) -> int:
    raw = req.query.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValidationError(f"limit must be an integer from 1 to {maximum}.")
    return int(raw)


def _cursor_key() -> bytes:
    from chalicelib import config

    secret = config.get("CURSOR_SECRET") or config.get("PAYMENT_WEBHOOK_SECRET")
    return hashlib.sha256(b"cursor:" + secret.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


def encode_cursor(last_key: dict | None) -> str | None:
    """An opaque, signed cursor: clients cannot forge a start key that DynamoDB would reject."""
    if not last_key:
        return None
    payload = _b64(
        json.dumps(last_key, default=_json_default, separators=(",", ":"), sort_keys=True).encode()
    )
    signature = _b64(hmac.new(_cursor_key(), payload.encode(), hashlib.sha256).digest()[:16])
    return f"{payload}.{signature}"


def decode_cursor(req: Req) -> dict | None:
    raw = req.query.get("cursor")
    if not raw:
        return None
    invalid = ValidationError("cursor is not one this API returned.")
    payload, _, signature = raw.partition(".")
    try:
        expected = hmac.new(_cursor_key(), payload.encode(), hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(expected, _unb64(signature)):
            raise invalid
        value = json.loads(_unb64(payload))
    except (ValueError, UnicodeError):
        raise invalid from None
    if not isinstance(value, dict):
        raise invalid
    return value
