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
import re
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Chalice, Response

from chalicelib import observability, xray
from chalicelib.errors import ApiError, NotFound, Unauthorized, ValidationError
from chalicelib.logs import get_logger

if TYPE_CHECKING:
    from chalicelib import auth

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
    # the pydantic model (chalicelib.responses) the success body is serialized through; None: not typed yet
    response: type | None = None
    # amounts also in the caller's currency (?currency= or the saved preference): chalicelib/currency.py
    currency: bool = False
    # the lifecycle actions the route performs, "<entity>.<action>" (`@performs`): checked against groups
    moves: tuple[str, ...] = ()
    # takes an Idempotency-Key like a money route, though it moves no money (posting a message)
    idempotent: bool = False
    # the body may be left out (its model's defaults then): a body added to a route that had none
    body_optional: bool = False

    @property
    def keyed(self) -> bool:
        """Whether the route takes an Idempotency-Key."""
        return self.money or self.idempotent


ROUTES: list[RouteSpec] = []
MAX_ID_LENGTH = 128

# Bounds on untrusted input, checked before anything decodes it (a design rule): a request past one is a 400.
MAX_BODY_BYTES = 256 * 1024  # a JSON body (route(max_body_bytes=...) for a route that takes more)
MAX_JSON_DEPTH = 32  # nesting of arrays/objects: our bodies use 3, providers' events under 10
MAX_HEADER_CHARS = 8192  # any header value (ID tokens are 1-4 KB)
HEADER_LIMITS = {"x-signature": 512, "stripe-signature": 1024}  # Stripe signs with 2 secrets while one rolls
MAX_CURSOR_CHARS = 2048

# CORS: what a browser on an allowed origin (config.cors_allowed_origins) may send and read
CORS_ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Correlation-Id")
CORS_EXPOSE_HEADERS = ("Idempotent-Replayed", "X-Correlation-Id")
# Chromium caps preflight caching at 2 h, Firefox 24 h (MDN: Web/HTTP/Headers/Access-Control-Max-Age)
CORS_MAX_AGE_SECONDS = 7200
PREFLIGHT_PATHS: set[str] = set()  # paths whose OPTIONS (CORS preflight) view route() registered
PREFLIGHT_OWNER: dict[str, str] = {}  # path -> the blueprint module that carries its OPTIONS view


@dataclass
class Req:
    """What a view receives: the verified caller, query, headers, and the validated body."""

    caller: auth.Caller | None
    query: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes
    body: Any = None
    path_params: dict[str, str] = field(default_factory=dict)
    route: str = ""  # "METHOD /path/{template}": what list cursors are bound to
    source_ip: str = ""  # API Gateway's identity.sourceIp (not a header: a client cannot choose it)

    @property
    def user(self) -> auth.Caller:
        if self.caller is None:  # only public routes have no caller, and they never ask
            raise Unauthorized("Sign in first.")
        return self.caller

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def _auth():
    """chalicelib.auth, imported by the first signed-in request (a public route never verifies a token)."""
    from chalicelib import auth

    return auth


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, datetime):
        from chalicelib.clock import iso

        return iso(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "model_dump_raw"):  # a chalicelib.typed model: its keys as set
        return value.model_dump_raw()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    text = "" if body is None else json.dumps(body, default=_json_default, ensure_ascii=False)
    return Response(body=text, status_code=status, headers=all_headers)


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), status=error.status)


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = [1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256)]


def _string_end(raw: bytes, position: int) -> int:
    """Where the JSON string opened just before `position` ends (after its quote); -1 if it never does."""
    while (quote := raw.find(b'"', position)) >= 0:
        escapes = quote
        while escapes > position and raw[escapes - 1] == ord("\\"):
            escapes -= 1
        if (quote - escapes) % 2 == 0:  # an even run of backslashes escapes itself, not the quote
            return quote + 1
        position = quote + 1
    return -1


def _depth_after(segment: bytes, depth: int) -> int:
    """The nesting depth after `segment` (text outside strings); 400 if it ever exceeds the bound."""
    brackets = segment.translate(None, _NOT_BRACKETS)
    if not brackets:
        return depth
    if max(accumulate(map(_DEPTH_STEP.__getitem__, brackets), initial=depth)) > MAX_JSON_DEPTH:
        raise ValidationError(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
    return depth + sum(map(_DEPTH_STEP.__getitem__, brackets))


def check_body(raw: bytes, max_bytes: int = MAX_BODY_BYTES) -> None:
    """Size and nesting depth of a (JSON) body, measured without decoding it; 400 past a bound.

    Python's json module recurses once per level: 100,000 nested brackets raised RecursionError (a
    500). One pass from left to right, linear in the body and at C speed: strings are skipped with
    bytes.find, brackets between them counted with translate/accumulate; an unterminated string ends
    the scan (json.loads then says 400).
    """
    if len(raw) > max_bytes:
        raise ValidationError(f"The body is larger than {max_bytes} bytes.")
    depth, position = 0, 0
    while (quote := raw.find(b'"', position)) >= 0:
        depth = _depth_after(raw[position:quote], depth)
        position = _string_end(raw, quote + 1)
        if position < 0:
            return
    _depth_after(raw[position:], depth)


def check_headers(headers: dict[str, str]) -> None:
    for name, value in headers.items():
        limit = HEADER_LIMITS.get(name, MAX_HEADER_CHARS)
        if len(value) > limit:
            raise ValidationError(f"The {name} header is longer than {limit} characters.")


def parse_json(raw: bytes) -> Any:
    if not raw:
        raise ValidationError("A JSON body is required.")
    check_body(raw, max_bytes=len(raw))  # depth only: the route checked the size
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"The body is not valid JSON: {exc}.") from None


def validate(model: type, data: Any) -> Any:
    """Validate `data` against a body model (chalicelib.typed, pydantic's strict rules); every problem
    becomes one 400 naming the fields. Local and test stages check the outcome against the model's
    pydantic twin too (`_same_as_twin`)."""
    from chalicelib.typed import ValidationError as TypedError

    try:
        body = model.model_validate(data)
    except TypedError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        _same_as_twin(model, data, errors=errors)
        details = [
            {"field": ".".join(str(p) for p in err["loc"]) or "body", "problem": err["msg"]} for err in errors
        ]
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
        raise ValidationError(f"Invalid request: {summary}.", details=details) from None
    _same_as_twin(model, data, dumped=body.model_dump())
    return body


def _same_as_twin(model: type, data: Any, *, errors: list | None = None, dumped: Any = None) -> None:
    """In local and test stages, a body's validation by chalicelib.typed must end as its pydantic twin's
    does: the same errors (type, location, message), or the same values. A difference is a bug of ours
    (an error, so tests fail on it); other stages never import pydantic."""
    from chalicelib import config

    if config.get("STAGE") not in config.LOCAL_STAGES:
        return
    import pydantic

    from chalicelib.typed import twin

    try:
        theirs = twin(model).model_validate(data)
    except pydantic.ValidationError as exc:
        expected = [
            (e["type"], e["loc"], e["msg"]) for e in exc.errors(include_url=False, include_input=False)
        ]
        if errors is None or expected != [(e["type"], e["loc"], e["msg"]) for e in errors]:
            raise ApiError(
                f"{model.__name__}: validation differs from pydantic's: {errors} != {expected}"
            ) from None
        return
    if errors is not None or theirs.model_dump() != dumped:
        raise ApiError(
            f"{model.__name__}: validation differs from pydantic's: {errors or dumped} != {theirs}"
        )


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
    max_body_bytes: int = MAX_BODY_BYTES,
    response: type | None = None,
    currency: bool = False,
    idempotent: bool = False,
    body_optional: bool = False,
    claim_first: bool = False,
) -> Callable:
    """Register `fn(req, **path_params)` as a route.

    public: no token needed; otherwise a verified ID token (401) and, with `groups`, one of those
    staff groups (403). body: a pydantic model the JSON body must satisfy (400). The view returns
    the response model it built (`Model.of(...)`), what its service returned (built by
    `response.of_result`: what money routes do, so the answer recorded in the money's transaction is
    the one sent), a JSON-able value (sent with `status`), a chalice Response, or None (204).
    query: the query parameters the view reads, for the OpenAPI document (e.g. `("limit", "cursor")`
    on lists).
    max_body_bytes: the largest body the route reads (400 above; every body's JSON depth is bounded).
    response: the model (a chalicelib.responses.Out) the success body is serialized through, so the
    OpenAPI document describes exactly what is sent (`serialize_response`).
    currency: when the caller asks for a currency (`?currency=USD`, or a signed-in customer's saved
    preference), the serialized body gets `<name>_minor` next to every `<name>_fen` and a
    `display_currency` object; an unsupported code is a 400 and a stale rate a 503, both before the
    view runs (chalicelib/currency.py).
    idempotent: an Idempotency-Key replays the first answer, as on money routes, for a POST that moves
    no money but must not happen twice (a message); its unit of work records the answer the same way.
    claim_first: the Idempotency-Key is claimed before the view runs (one more request), for a route
    that commits in several steps (chalicelib/idempotency.py); otherwise its transaction writes it.
    Every path also gets an OPTIONS view answering CORS preflights (`_register_preflight`).
    """

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def view(**path_params: str) -> Response:
            request = bp.current_request
            headers = {k.lower(): v for k, v in (request.headers or {}).items()}
            bound = None
            try:
                check_configuration()
                check_headers(headers)
                caller = None if public else _auth().authenticate(headers.get("authorization"))
                observability.bind(caller_id=caller.user_id if caller else None)  # the sub, never the email
                if groups:
                    _auth().require_group(caller, *groups)
                # ids are short and never empty: DynamoDB would refuse "" or an over-long key with a 500
                if not all(0 < len(v) <= MAX_ID_LENGTH for v in path_params.values()):
                    raise NotFound("No such resource.")
                req = Req(
                    caller=caller,
                    query=dict(request.query_params or {}),
                    headers=headers,
                    raw_body=request.raw_body or b"",
                    path_params=path_params,
                    route=f"{method} {path}",
                    source_ip=str(((request.context or {}).get("identity") or {}).get("sourceIp") or ""),
                )
                if req.raw_body:
                    check_body(req.raw_body, max_body_bytes)
                bound = _current.set(req)
                if (money or idempotent) and req.header("idempotency-key") is not None:
                    return _idempotent(
                        req, path, path_params, lambda: _execute(req, path_params), claim_first
                    )
                return _execute(req, path_params)
            except ApiError as exc:
                if exc.status >= 500:
                    log.error("api error", extra={"path": path, "code": exc.code})
                return error_response(exc)
            except Exception as exc:
                log.exception("unhandled error", extra={"path": path, "method": method})
                xray.record_exception(exc)  # the route's X-Ray subsegment: its cause
                return error_response(ApiError("Something went wrong on our side."))
            finally:
                if bound is not None:
                    _current.reset(bound)

        def _execute(req: Req, path_params: dict) -> Response:
            if body is not None:
                left_out = body_optional and not req.raw_body.strip()
                req.body = validate(body, {} if left_out else parse_json(req.raw_body))
            # a currency is asked for with ?currency= or by a signed-in caller's saved preference; an
            # anonymous request without one is answered in CNY without loading chalicelib.currency
            if currency and ("currency" in req.query or req.caller is not None):
                return _in_currency(req, path_params)
            rendered = _answer_with(lambda result: _respond(result))
            return _committed_or(rendered, fn(req, **path_params), _respond)

        def _respond(result: Any, display: Any = None) -> Response:
            if isinstance(result, Response):
                return result
            if result is None:
                return Response(body="", status_code=204)
            if response is not None:
                result = serialize_response(response, result, f"{method} {path}")
            if not groups and not public:  # a customer's answer never names staff members
                from chalicelib.responses.redact import without_staff_ids

                result = without_staff_ids(result)
            if display is not None:
                from chalicelib.currency import convert_body

                result = convert_body(result, display)
            return json_response(result, status=status)

        def _in_currency(req: Req, path_params: dict) -> Response:
            from chalicelib import currency as fx

            # only a read may refuse an explicit ?currency=: a display currency never stops a write
            pending = fx.Pending(
                req.query, req.caller.user_id if req.caller else None, may_refuse=method == "GET"
            )
            tokens = fx.bind(pending)
            try:

                def respond(result: Any) -> Response:
                    return _respond(result, pending.value())

                rendered = _answer_with(respond)
                try:
                    result = fn(req, **path_params)
                except Exception:
                    if pending.may_refuse and pending.explicit:
                        pending.value()  # an unusable ?currency= answers 503 before any error of the view
                    raise
                return _committed_or(rendered, result, respond)
            finally:
                fx.unbind(tokens)

        bp.route(path, methods=[method])(view)
        _register_preflight(bp, path)
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
                response=response,
                currency=currency,
                moves=tuple(getattr(fn, "lifecycle_moves", ())),
                idempotent=idempotent,
                body_optional=body_optional,
            )
        )
        return view

    return decorator


def performs(*moves: str) -> Callable:
    """Declares, under `@route`, the lifecycle actions a view performs (`"order.approve"`, keys of
    `lifecycle.LIFECYCLES`): tests/unit/test_route_actors.py checks the route's groups against the
    table's "who may trigger" column, and that every staff and customer action has a route."""

    def mark(fn: Callable) -> Callable:
        fn.lifecycle_moves = moves
        return fn

    return mark


def serialize_response(model: type, result: Any, route_name: str) -> Any:
    """`result` as `model` serializes it: the fields it documents, in their documented types.

    `result` is the model itself (built by its `of` constructor), what a service returned (a unit of
    work's result, rendered for the idempotency record in its transaction: `model.of_result`) or, for
    views that still hand over plain values, a dict of the model's fields. It is rendered by the declared
    types (chalicelib.typed). A result the model does not describe (an undocumented field, a value its
    type refuses) is a contract violation (`responses.base.violation`): a 500 in local and test stages
    (tests fail on it), elsewhere logged and sent as built. Local and test stages also validate and dump
    it by the model's pydantic twin, and a rendering that differs from pydantic's is a 500 there.
    """
    from chalicelib.typed import BaseModel, problems
    from chalicelib.typed import ValidationError as TypedError

    if not isinstance(result, BaseModel | dict | list):
        result = model.of_result(result)
    try:
        built = result if isinstance(result, model) else model.model_validate(result)
        with problems() as refused:
            body = built.model_dump(mode="json", exclude_unset=True)
        if refused:  # a value its declared type refuses: rendered as given, and a contract violation
            raise TypedError(model.__name__, refused)
    except TypedError as exc:
        from chalicelib.responses.base import violation

        violation(route_name, exc)
        sent = result.model_dump_raw() if isinstance(result, BaseModel) else result
        return json.loads(json.dumps(sent, default=_json_default))
    _dumped_as_twin(model, built, body, route_name)
    return body


def _dumped_as_twin(model: type, built: Any, body: Any, route_name: str) -> None:
    """Local and test stages: the answer validates against the model's pydantic twin, and pydantic's
    json-mode dump of it is the body chalicelib.typed rendered."""
    from chalicelib import config

    if config.get("STAGE") not in config.LOCAL_STAGES:
        return
    import pydantic

    from chalicelib.responses.base import violation
    from chalicelib.typed import twin

    try:
        theirs = (
            twin(model).model_validate(built.model_dump_raw()).model_dump(mode="json", exclude_unset=True)
        )
    except pydantic.ValidationError as exc:
        violation(route_name, exc)
        return
    if json.dumps(theirs) != json.dumps(body):
        raise ApiError(
            f"Response of {route_name}: rendered {json.dumps(body)[:2000]} "
            f"!= pydantic's {json.dumps(theirs)[:2000]}"
        )


def _answer_with(respond: Callable[[Any], Response]) -> dict[str, tuple[Any, Response]]:
    """How the running request's claim (if any) renders a unit of work's result as its answer; returns
    where the last rendering is kept (the result and its response), for `_committed_or`."""
    # a claim exists only once idempotency.begin has run: a request in a process that never imported the
    # module (a public read on a cold start) has none, and does not pay that import (its models)
    idempotency = sys.modules.get("chalicelib.idempotency")
    rendered: dict[str, tuple[Any, Response]] = {}
    claim = idempotency.current() if idempotency is not None else None
    if claim is not None:

        def render(result: Any) -> tuple[int, str]:
            rendered["last"] = (result, respond(result))
            return _status_and_body(rendered["last"][1])

        claim.render = render
    return rendered


def _committed_or(rendered: dict[str, tuple[Any, Response]], result: Any, respond: Callable) -> Response:
    """The view's `result` as the route answers it: when it is the very result a unit of work committed
    (a view returning what its service returned), the answer recorded with that commit, rendered once
    (presigned photo URLs and `days_left` are rendered at a time, so twice could differ)."""
    if "last" in rendered and rendered["last"][0] is result:
        return rendered["last"][1]
    return respond(result)


def _status_and_body(response: Response) -> tuple[int, str]:
    return response.status_code, response.body or ""


def _replayed(replay: Any, *, replayed: bool = True) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if replay.body:
        headers["Content-Type"] = "application/json"
    return Response(body=replay.body, status_code=replay.status_code, headers=headers)


def _idempotent(
    req: Req, path: str, path_params: dict, execute: Callable[[], Response], claim_first: bool = False
) -> Response:
    """Run a money-moving request once per (caller, route, Idempotency-Key); replay it afterwards.

    Its answer is recorded in the transaction that moves the money (chalicelib/uow.py), which also
    puts the key's record (`idempotency.fold`: no request of its own), so whatever fails after that
    commit (an ambiguous commit, a timeout) the retry gets what was committed, and of two concurrent
    duplicates only one commits. `claim_first`: the route commits in several steps and claims the key
    before it runs (`idempotency.begin`)."""
    from chalicelib import config, idempotency

    key = req.header("idempotency-key") or ""
    concrete = path.format(**path_params) if path_params else path
    scope = f"{req.user.user_id}:POST {concrete}"
    digest = idempotency.fingerprint(req.raw_body)
    if claim_first:
        claim = idempotency.begin(scope, key, digest)
        if isinstance(claim, idempotency.Replay):
            return _replayed(claim)
    else:
        claim = idempotency.fold(scope, key, digest)
    with idempotency.holding(claim):
        try:
            response = execute()
        except idempotency.Replayed as found:  # a duplicate committed first: its answer
            return _replayed(found.replay)
        except Exception as exc:
            if isinstance(exc, ApiError) and exc.status < 500 and claim.answer is None and not claim.in_doubt:
                response = error_response(exc)  # a refusal that changed nothing: replayed as it is
            else:
                committed = idempotency.settle(claim)
                if committed is None:
                    raise
                log.exception("failed after its commit; answering what was committed", extra={"path": path})
                return _replayed(committed, replayed=not committed.own)
    if claim.answer is not None:
        if _status_and_body(response) != (claim.answer.status_code, claim.answer.body):
            # the route's answer is not its unit of work's result: a retry would answer differently
            log.error("idempotent answer differs from the committed one", extra={"path": path})
            if config.get("STAGE") in config.LOCAL_STAGES:
                raise ApiError(f"{path} answered other than what its unit of work committed.")
        return response
    found = idempotency.finish(claim, response.status_code, response.body or "")
    return _replayed(found) if found is not None else response


# --- production configuration and CORS ----------------------------------------------------------

_configuration_problems: list[str] | None = None


def check_configuration() -> None:
    """Refuse to serve (500 `configuration_error`) where config.production_problems() names any.

    Checked once per process, at the first request rather than at import, so `chalice package`
    (which imports app.py without the stage's variables) still works.
    """
    from chalicelib import config

    global _configuration_problems
    if _configuration_problems is None:
        _configuration_problems = config.production_problems()
        if _configuration_problems:
            log.error(
                "refusing to serve: the stage is not configured",
                extra={"stage": config.get("STAGE"), "problems": _configuration_problems},
            )
    if _configuration_problems:
        raise ApiError(
            "The service is not configured: " + "; ".join(_configuration_problems) + ".",
            code="configuration_error",
        )


def reset_configuration_check() -> None:
    """Check the configuration again at the next request (tests change the environment)."""
    global _configuration_problems
    _configuration_problems = None


def _allowed_origin(origin: str | None) -> str | None:
    from chalicelib import config

    if not origin:
        return None
    return origin if origin in config.cors_allowed_origins() or origin == console_origin() else None


CONSOLE_ORIGIN_CACHE_SECONDS = 300
_console_origin: tuple[float, str] | None = None


def console_origin() -> str:
    """The deployed console's origin, from the SSM parameter CONSOLE_ORIGIN_PARAMETER names (the template
    writes it: in the function's environment it would close a cycle with the console's CSP, which names
    this API). Read only for an Origin not in the stage's list, at most once per container every
    CONSOLE_ORIGIN_CACHE_SECONDS; "" when unset or not written yet (the first deploy)."""
    global _console_origin
    from chalicelib import config

    name = config.get("CONSOLE_ORIGIN_PARAMETER")
    if not name:
        return ""
    now = time.monotonic()
    if _console_origin is not None and now - _console_origin[0] < CONSOLE_ORIGIN_CACHE_SECONDS:
        return _console_origin[1]
    from chalicelib import aws

    try:
        value = aws.client("ssm").get_parameter(Name=name)["Parameter"]["Value"].strip().rstrip("/")
    except Exception as exc:  # SSM failing or the parameter not written: the stage's list alone, no 500
        if getattr(exc, "response", {}).get("Error", {}).get("Code") != "ParameterNotFound":
            log.warning("console origin unreadable from SSM", extra={"parameter": name})
        value = ""
    _console_origin = (now, value)
    return value


def _vary_origin(headers: dict) -> None:
    vary = [v.strip() for v in headers.get("Vary", "").split(",") if v.strip()]
    if "origin" not in {v.lower() for v in vary}:
        headers["Vary"] = ", ".join([*vary, "Origin"])


def _register_preflight(bp: Blueprint | Chalice, path: str) -> None:
    """An OPTIONS view for `path` (once): the CORS preflight answered by the app itself.

    Chalice's CORSConfig takes one static origin and is an API Gateway mock in AWS; allowed origins
    are stage configuration (CORS_ALLOWED_ORIGINS), so Lambda answers, the same way locally and in AWS.
    """
    if path in PREFLIGHT_PATHS:
        return
    PREFLIGHT_PATHS.add(path)
    PREFLIGHT_OWNER[path] = getattr(bp, "_import_name", "")

    def preflight(**path_params: str) -> Response:
        try:
            check_configuration()
        except ApiError as exc:
            return error_response(exc)
        methods = [*sorted({spec.method for spec in ROUTES if spec.path == path}), "OPTIONS"]
        headers = {"Allow": ", ".join(methods)}
        origin = _allowed_origin((bp.current_request.headers or {}).get("origin"))
        if origin:
            headers.update(
                {
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": ", ".join(methods),
                    "Access-Control-Allow-Headers": ", ".join(CORS_ALLOW_HEADERS),
                    "Access-Control-Expose-Headers": ", ".join(CORS_EXPOSE_HEADERS),
                    "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
                }
            )
        _vary_origin(headers)
        return Response(body="", status_code=204, headers=headers)

    preflight.__name__ = "preflight_" + (re.sub(r"\W+", "_", path).strip("_") or "root")
    bp.route(path, methods=["OPTIONS"])(preflight)


def cors(event: Any, get_response: Callable) -> Response:
    """HTTP middleware (register it first, so it sees every response): a request from an allowed
    origin gets `Access-Control-Allow-Origin: <that origin>`; others get no allow-origin header.
    Every response says `Vary: Origin` (caches must not serve one origin's answer to another)."""
    response = get_response(event)
    response.headers = with_cors_headers(dict(response.headers or {}), (event.headers or {}).get("origin"))
    return response


def with_cors_headers(headers: dict, origin: str | None) -> dict:
    """`headers` with the CORS answer to a request from `origin`: itself back in Access-Control-Allow-Origin
    when allowed, nothing otherwise, and `Vary: Origin` always (the local server's own 404/405 use it too)."""
    for name in [h for h in headers if h.lower().startswith("access-control-allow-origin")]:
        del headers[name]
    allowed = _allowed_origin(origin)
    if allowed:
        headers["Access-Control-Allow-Origin"] = allowed
        headers["Access-Control-Expose-Headers"] = ", ".join(CORS_EXPOSE_HEADERS)
    _vary_origin(headers)
    return headers


def normalize_errors(event: Any, get_response: Callable) -> Response:
    """HTTP middleware: errors Chalice produces itself (415, 405, its own 500) get the error shape."""
    response = get_response(event)
    if response.status_code >= 400 and isinstance(response.body, dict) and "Code" in response.body:
        code = {
            405: "method_not_allowed",
            415: "unsupported_media_type",
            400: "validation_error",
        }.get(response.status_code, "internal_error")
        status = response.status_code if response.status_code < 500 else 500
        message = str(response.body.get("Message") or "Request failed.")
        if response.status_code == 415:  # a JSON body needs its type (curl -d sends form-urlencoded)
            message += "; send JSON bodies with Content-Type: application/json."
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


_current: ContextVar[Req | None] = ContextVar("procure_request", default=None)


def current_request() -> Req | None:
    """The request being answered (None in a job or an event handler)."""
    return _current.get()


def _cursor_key() -> bytes:
    from chalicelib import config

    secret = config.get("CURSOR_SECRET")
    if not secret:  # outside local/test check_configuration() refused the request already
        raise ApiError("List cursors are not configured (CURSOR_SECRET).", code="configuration_error")
    return hashlib.sha256(b"cursor:" + secret.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


def _cursor_scope(req: Req | None) -> bytes:
    """The list a cursor belongs to: route, path parameters, filters (query minus paging) and caller."""
    if req is None:  # outside a request (scripts, unit tests): an anonymous list of no route
        req = Req(caller=None, query={}, headers={}, raw_body=b"")
    query = {k: v for k, v in req.query.items() if k not in ("cursor", "limit")}
    caller = req.caller.user_id if req.caller is not None else "public"
    return json.dumps([req.route, caller, req.path_params, query], sort_keys=True).encode()


def _cursor_signature(req: Req | None, payload: str) -> bytes:
    message = _cursor_scope(req) + b"\n" + payload.encode()
    return hmac.new(_cursor_key(), message, hashlib.sha256).digest()[:16]


def encode_cursor(last_key: dict | None, req: Req | None = None) -> str | None:
    """An opaque cursor for the next page of the current request's list (or `req`'s).

    Signed together with its list (route, path parameters, filters) and caller, and stamped with its
    issue time: a client can neither forge a start key DynamoDB would reject, nor replay a cursor on
    another list or as another user, nor use it after CURSOR_MAX_AGE_SECONDS.
    """
    if not last_key:
        return None
    from chalicelib import clock

    req = req if req is not None else _current.get()
    body = {"k": last_key, "iat": int(clock.now().timestamp())}
    payload = _b64(json.dumps(body, default=_json_default, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_b64(_cursor_signature(req, payload))}"


def decode_cursor(req: Req) -> dict | None:
    """The start key in `?cursor=`; 400 for a cursor of another list or caller, tampered or stale."""
    from chalicelib import clock, config

    raw = req.query.get("cursor")
    if not raw:
        return None
    invalid = ValidationError("cursor is not one this API returned for this list.")
    if len(raw) > MAX_CURSOR_CHARS:
        raise invalid
    payload, _, signature = raw.partition(".")
    try:
        if not hmac.compare_digest(_cursor_signature(req, payload), _unb64(signature)):
            raise invalid
        value = json.loads(_unb64(payload))
    except (ValueError, UnicodeError):
        raise invalid from None
    if not isinstance(value, dict) or not isinstance(value.get("k"), dict):
        raise invalid
    issued, now = value.get("iat"), clock.now().timestamp()
    if not isinstance(issued, int) or issued > now + 300:
        raise invalid
    if now - issued > config.get_int("CURSOR_MAX_AGE_SECONDS"):
        raise ValidationError("cursor has expired: start again from the first page.")
    return value["k"]
