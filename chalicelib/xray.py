"""Our X-Ray emitter: the subsegments a traced Lambda invocation sends, written straight to the daemon.

It replaces Powertools' Tracer over the AWS X-Ray SDK for Python, whose import (asyncio, wrapt, the SDK's
recorder) and botocore patching cost a fifth of a cold start, and which is in maintenance mode since
2026-02-25 (docs.aws.amazon.com/xray/latest/devguide/xray-sdk-migration.html). Standard library only.

What AWS documents, and what this module does with it:
- Lambda with active tracing records the function's segment itself and gives each invocation its trace
  header in the `_X_AMZN_TRACE_ID` environment variable, `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=1`
  (docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html,
  docs.aws.amazon.com/xray/latest/devguide/xray-services-lambda.html). The header is read when an
  invocation's outermost subsegment starts (the route's, chalicelib/observability.py), so every invocation
  gets its own trace; without a header, without `Parent`, or unless `Sampled=1`, nothing is recorded.
- Each subsegment is sent on its own when it ends, as an independent subsegment document: `type`
  "subsegment", `trace_id`, `parent_id` (the header's Parent for the outermost, the enclosing subsegment's
  `id` for the others), `id` (16 hex digits), `name`, `start_time`/`end_time` (epoch seconds, float), and
  where they apply `namespace` ("aws" for AWS SDK calls), `annotations` (string, number or boolean values,
  keys of letters, digits and underscores), `http.response.status`, `aws` (`operation`, `region`,
  `request_id`, `table_name`, `queue_url`...), the `error` (4xx), `throttle` (429) and `fault` (5xx)
  flags, and a `cause` (`working_directory`, `exceptions`: `id`, `type`, `message`, `remote`, `stack` of
  `path`/`line`/`label`, `truncated`) or, for an exception an inner subsegment recorded already, that
  exception's id (docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html).
- A document goes to the daemon as one UDP datagram: `{"format": "json", "version": 1}`, a newline, the
  document, at AWS_XRAY_DAEMON_ADDRESS (`host:port`, or the SDKs' `tcp:host:port udp:host:port`; default
  127.0.0.1:2000), at most 64 kB ("Sending segment documents to the X-Ray daemon",
  docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html).

The AWS calls: `instrument(session)` registers handlers on the shared botocore session's own events
(chalicelib/aws.py; every client it creates copies them): `before-parameter-build` starts the call's
subsegment under the current one (the caller's parameters give `table_name`, `table_names` for batch and
transaction calls, `bucket_name`/`key`, `queue_url`, `queue_name`), `before-call` adds the
`X-Amzn-Trace-Id` header naming it as the downstream call's parent (SigV4 never signs that header),
`after-call` ends it with the request id, the HTTP status and the service's error code, `after-call-error`
(no answer: connection failure, timeout) ends it as a fault. As the SDK did, the subsegment is named after
the service's endpoint prefix (`dynamodb`, `s3`, `email`, `sqs`, `cognito-idp`). Unlike the SDK, a 4xx is
an error and not also a fault (the SDK marked every ClientError a fault: a lost conditional write showed
as a server failure), and botocore's throttling error codes (DynamoDB throttles with HTTP 400) set
`throttle`.

HTTP calls of our own through `requests` (the marketplace adapters, PayPal's webhook verification, the
exchange-rate source) are `remote` subsegments named after the host (`http_call`, around each call:
requests has no event before a request); the Stripe and PayPal SDKs' own HTTP calls are not traced.

Threads: the current subsegment is a context variable. A thread does not inherit it; its AWS calls and
subsegments go under the invocation's outermost subsegment while that is open, and are not recorded
after it closed.

Never fails the caller: a document that cannot be encoded or sent (no daemon, a socket error) is dropped;
one over 64 kB is sent without its exceptions' stacks, and dropped if still over.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

TRACE_HEADER_ENV = "_X_AMZN_TRACE_ID"
DAEMON_ADDRESS_ENV = "AWS_XRAY_DAEMON_ADDRESS"
DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"  # the name Powertools' Tracer read; the stages set it
DEFAULT_DAEMON = ("127.0.0.1", 2000)
PROTOCOL_HEADER = b'{"format": "json", "version": 1}\n'
MAX_DATAGRAM = 64 * 1000  # header + document: a segment document is at most 64 kB
MAX_STACK = 10  # frames kept per exception, the innermost (the SDK's max_trace_back)
MAX_MESSAGE = 1000  # characters of an exception's message
MAX_NAME = 200  # characters of a subsegment's name
MAX_VALUE = 250  # characters of a string annotation or aws field
INVALID_NAME_CHARACTERS = "?;*()!$~^<>"  # what the SDK removed from names
ANNOTATION_KEY = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
TRACE_ID_HEADER = "X-Amzn-Trace-Id"
# botocore's (botocore/retries/standard.py): error codes of a throttled call, whatever its status
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
_CALL = "xray_subsegment"  # the key of an AWS call's subsegment in botocore's per-call context dict

_current: ContextVar[Subsegment | None] = ContextVar("xray_subsegment", default=None)
_root: Subsegment | None = None  # the invocation's open outermost subsegment, for threads without context
_socket: socket.socket | None = None
_lock = threading.Lock()


def enabled() -> bool:
    """In a Lambda function (its name set) unless POWERTOOLS_TRACE_DISABLED is true: locally and in tests
    nothing is traced."""
    disabled = os.environ.get(DISABLED_ENV, "").lower() in {"1", "true", "yes", "on"}
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not disabled


def invocation_trace() -> tuple[str, str] | None:
    """(trace id, parent id) of the invocation's header, if it is sampled."""
    fields = {}
    for part in os.environ.get(TRACE_HEADER_ENV, "").split(";"):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    root, parent = fields.get("Root"), fields.get("Parent")
    if fields.get("Sampled") != "1" or not root or not parent:
        return None
    return root, parent


def _new_id() -> str:
    return os.urandom(8).hex()


class Subsegment:
    """One subsegment in progress; `document()` is what the daemon gets."""

    __slots__ = (
        "annotations",
        "aws",
        "cause",
        "end_time",
        "error",
        "fault",
        "http",
        "id",
        "name",
        "namespace",
        "parent_id",
        "start_time",
        "throttle",
        "trace_id",
    )

    def __init__(self, name: str, trace_id: str, parent_id: str, namespace: str | None = None) -> None:
        self.trace_id = trace_id
        self.parent_id = parent_id
        self.id = _new_id()
        self.name = "".join(c for c in name if c not in INVALID_NAME_CHARACTERS)[:MAX_NAME]
        self.namespace = namespace
        self.start_time = time.time()
        self.end_time: float | None = None
        self.annotations: dict[str, Any] = {}
        self.http: dict[str, Any] = {}
        self.aws: dict[str, Any] = {}
        self.error = self.throttle = self.fault = False
        self.cause: dict[str, Any] | str | None = None

    def annotate(self, key: str, value: Any) -> None:
        """An indexed annotation (filter expressions: `annotation.<key> = ...`); others are ignored."""
        if not key or not set(key) <= ANNOTATION_KEY:
            return
        if isinstance(value, str):
            self.annotations[key] = value[:MAX_VALUE]
        elif isinstance(value, bool | int | float):
            self.annotations[key] = value

    def set_status(self, status: Any) -> None:
        """The HTTP status answered, and the flags it implies."""
        if not isinstance(status, int) or isinstance(status, bool):
            return
        self.http.setdefault("response", {})["status"] = status
        if status == 429:
            self.throttle = self.error = True
        elif 400 <= status < 500:
            self.error = True
        elif status >= 500:
            self.fault = True

    def add_exception(self, exc: BaseException, *, remote: bool = False, fault: bool = True) -> None:
        """Record `exc` as the cause; a fault (our failure) unless told otherwise."""
        if fault:
            self.fault = True
        recorded = getattr(exc, "_xray_exception_id", None)
        if isinstance(recorded, str):  # an inner subsegment has its details: point at them
            self.cause = recorded
            return
        record = _exception_record(type(exc).__name__, _message(exc), remote, exc.__traceback__)
        with suppress(AttributeError, TypeError):  # an exception type without a __dict__
            exc._xray_exception_id = record["id"]  # type: ignore[attr-defined]
        self._add_record(record)

    def add_remote_error(self, code: str, message: str) -> None:
        """The error an AWS service answered (its flags come from the status)."""
        self._add_record(_exception_record(code, message, True, None))

    def _add_record(self, record: dict[str, Any]) -> None:
        if not isinstance(self.cause, dict):
            self.cause = {"working_directory": os.getcwd(), "exceptions": []}
        self.cause["exceptions"].append(record)

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": "subsegment",
            "trace_id": self.trace_id,
            "parent_id": self.parent_id,
            "id": self.id,
            "name": self.name,
            "start_time": self.start_time,
            "end_time": self.end_time if self.end_time is not None else time.time(),
        }
        if self.namespace:
            doc["namespace"] = self.namespace
        for field in ("annotations", "http", "aws"):
            value = getattr(self, field)
            if value:
                doc[field] = value
        for flag in ("error", "throttle", "fault"):
            if getattr(self, flag):
                doc[flag] = True
        if self.cause:
            doc["cause"] = self.cause
        return doc


def _message(exc: BaseException) -> str:
    try:
        return str(exc)[:MAX_MESSAGE]
    except Exception:
        return ""


def _frame_path(filename: str) -> str:
    """Relative to the function's code (LAMBDA_TASK_ROOT, else the working directory), else the file."""
    for root in (os.environ.get("LAMBDA_TASK_ROOT"), os.getcwd()):
        if root and filename.startswith(root.rstrip("/") + "/"):
            return filename[len(root.rstrip("/")) + 1 :]
    return os.path.basename(filename)


def _exception_record(kind: str, message: str, remote: bool, traceback: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"id": _new_id(), "type": kind, "remote": remote}
    if message:
        record["message"] = message[:MAX_MESSAGE]
    frames = []
    while traceback is not None:  # no source lines read: file, line and function only
        code = traceback.tb_frame.f_code
        path = _frame_path(code.co_filename)
        frames.append({"path": path, "line": traceback.tb_lineno, "label": code.co_name})
        traceback = traceback.tb_next
    if frames:
        frames.reverse()  # innermost first, where it was raised
        record["stack"] = frames[:MAX_STACK]
        if len(frames) > MAX_STACK:
            record["truncated"] = len(frames) - MAX_STACK
    return record


# --- sending ---------------------------------------------------------------------------------------


def daemon_address() -> tuple[str, int]:
    raw = os.environ.get(DAEMON_ADDRESS_ENV, "").strip()
    for part in raw.split():
        if part.startswith("udp:"):
            raw = part[len("udp:") :]
    host, _, port = raw.rpartition(":")
    try:
        return (host or DEFAULT_DAEMON[0], int(port))
    except ValueError:
        return DEFAULT_DAEMON


def _udp() -> socket.socket:
    global _socket
    if _socket is None:
        with _lock:
            if _socket is None:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.setblocking(False)
                _socket = sock
    return _socket


def _encode(document: dict[str, Any]) -> bytes:
    return PROTOCOL_HEADER + json.dumps(document, separators=(",", ":"), default=str).encode()


def send(document: dict[str, Any]) -> bool:
    """One document to the daemon; False (and nothing raised) when it could not be sent."""
    try:
        data = _encode(document)
        if len(data) > MAX_DATAGRAM and isinstance(document.get("cause"), dict):
            for record in document["cause"].get("exceptions", []):
                record.pop("stack", None)
            data = _encode(document)
        if len(data) > MAX_DATAGRAM:
            return False
        _udp().sendto(data, daemon_address())
        return True
    except Exception:  # OSError (no daemon, a full buffer, an unresolvable host), an unencodable value
        return False


# --- subsegments -----------------------------------------------------------------------------------


def current() -> Subsegment | None:
    """The subsegment calls made now go under: this context's, else the invocation's outermost."""
    return _current.get() or _root


@contextmanager
def subsegment(name: str) -> Iterator[Subsegment | None]:
    """A subsegment around the block, under the current one; the outermost of an invocation starts its
    trace from the Lambda header. Yields None (and records nothing) when not tracing. An exception leaving
    the block is recorded as a fault and goes on."""
    global _root
    parent = current()
    if parent is not None:
        trace: tuple[str, str] | None = (parent.trace_id, parent.id)
    else:
        trace = invocation_trace() if enabled() else None
    if trace is None:
        yield None
        return
    entry = Subsegment(name, *trace)
    token = _current.set(entry)
    if parent is None:
        _root = entry
    try:
        yield entry
    except Exception as exc:
        entry.add_exception(exc)
        raise
    finally:
        _current.reset(token)
        if _root is entry:
            _root = None
        entry.end_time = time.time()
        send(entry.document())


class _Untraced:
    """What `http_call` yields when nothing is traced."""

    def set_status(self, status: Any) -> None:
        pass


@contextmanager
def http_call(method: str, url: str) -> Iterator[Subsegment | _Untraced]:
    """A `remote` subsegment named after the host around one HTTP request of ours (the marketplaces,
    PayPal's webhook check, the exchange-rate source): the caller gives it the answer's status with
    `set_status`. An exception before a status (a timeout, a refused connection) is its fault and cause.
    No trace header is sent: the other side is not ours."""
    parent = current()
    if parent is None:
        yield _Untraced()
        return
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "unknown host"
    port = f":{parts.port}" if parts.port else ""
    entry = Subsegment(host, parent.trace_id, parent.id, namespace="remote")
    entry.http["request"] = {"method": method.upper(), "url": f"{parts.scheme}://{host}{port}{parts.path}"}
    try:
        yield entry
    except Exception as exc:
        if "response" not in entry.http:
            entry.add_exception(exc)
        raise
    finally:
        entry.end_time = time.time()
        send(entry.document())


def record_exception(exc: BaseException) -> None:
    """Record an exception the code handled (a 500 answered) on the current subsegment."""
    entry = current()
    if entry is not None:
        entry.add_exception(exc)


# --- AWS calls through botocore --------------------------------------------------------------------


def instrument(session: Any) -> None:
    """Record every AWS call of clients `session` creates from now on (clients copy its handlers)."""
    session.register("before-parameter-build", _call_started, unique_id="xray-call-started")
    session.register("before-call", _call_header, unique_id="xray-call-header")
    session.register("after-call", _call_answered, unique_id="xray-call-answered")
    session.register("after-call-error", _call_failed, unique_id="xray-call-failed")


def _request_fields(service: str, params: dict) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if service == "dynamodb":
        if isinstance(params.get("TableName"), str):
            fields["table_name"] = params["TableName"]
        if isinstance(params.get("IndexName"), str):
            fields["index_name"] = params["IndexName"]
        tables = set(params.get("RequestItems") or ())
        for item in params.get("TransactItems") or ():
            for action in item.values() if isinstance(item, dict) else ():
                if isinstance(action, dict) and isinstance(action.get("TableName"), str):
                    tables.add(action["TableName"])
        if tables:
            fields["table_names"] = sorted(tables)
    elif service == "s3":
        for param, field in (("Bucket", "bucket_name"), ("Key", "key")):
            if isinstance(params.get(param), str):
                fields[field] = params[param][:MAX_VALUE]
    elif service == "sqs":
        for param, field in (("QueueUrl", "queue_url"), ("QueueName", "queue_name")):
            if isinstance(params.get(param), str):
                fields[field] = params[param][:MAX_VALUE]
    return fields


def _call_started(params: Any = None, model: Any = None, context: Any = None, **_: Any) -> None:
    with suppress(Exception):  # tracing never fails a call
        parent = current()
        if parent is None or not isinstance(context, dict):
            return
        service = model.service_model.endpoint_prefix
        call = Subsegment(service, parent.trace_id, parent.id, namespace="aws")
        call.aws = {"operation": model.name, **_request_fields(service, params or {})}
        if context.get("client_region"):
            call.aws["region"] = context["client_region"]
        context[_CALL] = call


def _call_header(params: Any = None, context: Any = None, **_: Any) -> None:
    with suppress(Exception):  # tracing never fails a call
        call = context.get(_CALL) if isinstance(context, dict) else None
        if call is not None:
            params["headers"][TRACE_ID_HEADER] = f"Root={call.trace_id};Parent={call.id};Sampled=1"


def _call_answered(http_response: Any = None, parsed: Any = None, context: Any = None, **_: Any) -> None:
    with suppress(Exception):  # tracing never fails a call
        call = context.pop(_CALL, None) if isinstance(context, dict) else None
        if call is None:
            return
        parsed = parsed if isinstance(parsed, dict) else {}
        metadata = parsed.get("ResponseMetadata") or {}
        if metadata.get("RequestId"):
            call.aws["request_id"] = metadata["RequestId"]
        id_2 = (metadata.get("HTTPHeaders") or {}).get("x-amz-id-2")
        if id_2:
            call.aws["id_2"] = id_2
        if call.name == "dynamodb" and parsed.get("ConsumedCapacity"):
            call.aws["consumed_capacity"] = parsed["ConsumedCapacity"]
        if call.name == "sqs" and parsed.get("MessageId"):
            call.aws["message_id"] = parsed["MessageId"]
        status = getattr(http_response, "status_code", None) or metadata.get("HTTPStatusCode")
        call.set_status(status)
        error = parsed.get("Error") or {}
        if isinstance(status, int) and status >= 300 and error.get("Code"):
            code = str(error["Code"])
            if code in THROTTLING_CODES:
                call.throttle = call.error = True
            call.add_remote_error(code, str(error.get("Message") or ""))
        call.end_time = time.time()
        send(call.document())


def _call_failed(exception: Any = None, context: Any = None, **_: Any) -> None:
    with suppress(Exception):  # tracing never fails a call
        call = context.pop(_CALL, None) if isinstance(context, dict) else None
        if call is None:
            return
        if isinstance(exception, BaseException):
            call.add_exception(exception)
        else:
            call.fault = True
        call.end_time = time.time()
        send(call.document())
