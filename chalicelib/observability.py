"""Logs, metrics and traces around every handler: one Chalice middleware for HTTP and events alike.

For each invocation the middleware
- puts the invocation's keys on every log line (chalicelib/logs.py): `request_id`
  (API Gateway's request id, which the client sees as `x-amzn-RequestId`; the Lambda request id for
  events), `function_request_id` (Lambda's), `route` (`GET /orders/{order_id}`, or the event kind and
  function), `correlation_id` (an `X-Correlation-Id` request header if it is a sane token, else the
  request id; answered in the `X-Correlation-Id` response header) and, once the token is verified,
  `caller_id` (the Cognito sub, never an email or a token: chalicelib/web.py calls `bind`);
- flushes the invocation's metrics (chalicelib/metrics.py) when the handler returns or raises;
- in AWS with tracing on (X-Ray active on the function, POWERTOOLS_TRACE_DISABLED not true) wraps the
  handler in an X-Ray subsegment annotated with route and correlation id, botocore and requests calls
  traced by Powertools' Tracer (each patched when first imported). Locally and in tests nothing about
  X-Ray is imported.

The correlation id travels from the API to the photo ingestion handler in the upload's S3 metadata
(`x-amz-meta-correlation-id`, pinned by the presigned POST): `bind_correlation(metadata)`.
"""

from __future__ import annotations

import os
import re
from contextlib import nullcontext
from typing import Any

from chalicelib import logs, metrics

CORRELATION_HEADER = "X-Correlation-Id"
CORRELATION_METADATA = "correlation-id"  # S3 user metadata key (x-amz-meta-correlation-id)
KEYS = ("request_id", "function_request_id", "route", "correlation_id", "caller_id")
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_current: dict[str, str] = {}
_tracer: Any = None


def install(app: Any) -> None:
    app.register_middleware(_middleware, "all")


def current() -> dict[str, str]:
    """The keys of the invocation in progress (empty between invocations)."""
    return dict(_current)


def correlation_id() -> str | None:
    return _current.get("correlation_id")


def bind(**keys: Any) -> None:
    """Add keys to every log line of the current invocation (e.g. caller_id once authenticated)."""
    values = {k: str(v) for k, v in keys.items() if v is not None}
    _current.update(values)
    logs.append_keys(**values)


def bind_correlation(metadata: dict | None) -> None:
    """Adopt the correlation id an upload carried from the API (its S3 user metadata), if sane."""
    value = (metadata or {}).get(CORRELATION_METADATA)
    if value and _SANE.match(value):
        bind(correlation_id=value)


def upload_metadata() -> dict[str, str]:
    """Presigned POST fields carrying the correlation id into the upload's S3 metadata."""
    value = correlation_id()
    return {f"x-amz-meta-{CORRELATION_METADATA}": value} if value else {}


def upload_conditions() -> list[dict[str, str]]:
    """The POST policy conditions pinning those fields (the uploader cannot change them)."""
    return [{key: value} for key, value in upload_metadata().items()]


def tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true", "yes", "on"}
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not disabled


# what the tracer patches, each as soon as the module is imported (at once when it already is)
TRACED_MODULES = ("botocore", "requests")


def tracer() -> Any:
    """Powertools' Tracer (botocore and requests traced), created on first use in AWS; None otherwise."""
    global _tracer
    if _tracer is None and tracing_enabled():
        import wrapt
        from aws_lambda_powertools import Tracer

        _tracer = Tracer(service=metrics.service(), auto_patch=False)
        # patched on import, not imported to be patched: a route that never fetches over HTTP does not
        # pay the import of requests (~50 ms of its cold start)
        for library in TRACED_MODULES:
            wrapt.register_post_import_hook(lambda _, library=library: _tracer.patch([library]), library)
    return _tracer


def _lambda_request_id(context: Any) -> str | None:
    return getattr(context, "aws_request_id", None)


def _http_keys(request: Any) -> dict[str, str]:
    context = request.context or {}
    request_id = context.get("requestId") or _lambda_request_id(request.lambda_context) or "-"
    header = (request.headers or {}).get(CORRELATION_HEADER.lower())
    keys = {
        "request_id": request_id,
        "route": f"{request.method} {context.get('resourcePath') or request.path}",
        "correlation_id": header if header and _SANE.match(header) else request_id,
    }
    function_request_id = _lambda_request_id(request.lambda_context)
    if function_request_id:
        keys["function_request_id"] = function_request_id
    return keys


def _event_keys(event: Any) -> dict[str, str]:
    context = getattr(event, "context", None)
    request_id = _lambda_request_id(context) or "-"
    function = getattr(context, "function_name", None) or "local"
    kind = type(event).__name__.removesuffix("Event").lower() or "event"
    return {
        "request_id": request_id,
        "function_request_id": request_id,
        "route": f"{kind} {function}",
        "correlation_id": request_id,
    }


def keys_for(event: Any) -> dict[str, str]:
    http = hasattr(event, "method") and isinstance(getattr(event, "context", None), dict)
    return _http_keys(event) if http else _event_keys(event)


def _middleware(event: Any, get_response: Any) -> Any:
    keys = keys_for(event)
    _current.clear()
    bind(**keys)
    active = tracer()
    segment = active.provider.in_subsegment(f"## {keys['route']}") if active else nullcontext()
    try:
        with segment as subsegment:
            if subsegment is not None:
                subsegment.put_annotation("route", keys["route"])
                subsegment.put_annotation("correlation_id", keys["correlation_id"])
            response = get_response(event)
        headers = getattr(response, "headers", None)
        if isinstance(headers, dict):
            headers[CORRELATION_HEADER] = _current.get("correlation_id", keys["correlation_id"])
        return response
    finally:
        metrics.flush()
        logs.remove_keys(KEYS)
        _current.clear()
