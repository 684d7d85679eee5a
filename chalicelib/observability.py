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
  handler in an X-Ray subsegment `## <route>` annotated with `route` and `correlation_id`, its HTTP
  status (and error/fault flags) recorded, every AWS call through botocore a subsegment under it
  (chalicelib/xray.py, which sends them to the X-Ray daemon). Locally and in tests nothing is traced.

The correlation id travels from the API to the photo ingestion handler in the upload's S3 metadata
(`x-amz-meta-correlation-id`, pinned by the presigned POST): `bind_correlation(metadata)`.
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib import logs, metrics, xray

CORRELATION_HEADER = "X-Correlation-Id"
CORRELATION_METADATA = "correlation-id"  # S3 user metadata key (x-amz-meta-correlation-id)
KEYS = ("request_id", "function_request_id", "route", "correlation_id", "caller_id")
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_current: dict[str, str] = {}


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
    """In a Lambda function unless POWERTOOLS_TRACE_DISABLED is true (chalicelib/xray.py)."""
    return xray.enabled()


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
    try:
        with xray.subsegment(f"## {keys['route']}") as subsegment:
            if subsegment is not None:
                subsegment.annotate("route", keys["route"])
                subsegment.annotate("correlation_id", keys["correlation_id"])
            response = get_response(event)
            if subsegment is not None:
                subsegment.set_status(getattr(response, "status_code", None))
        headers = getattr(response, "headers", None)
        if isinstance(headers, dict):
            headers[CORRELATION_HEADER] = _current.get("correlation_id", keys["correlation_id"])
        return response
    finally:
        metrics.flush()
        logs.remove_keys(KEYS)
        _current.clear()
