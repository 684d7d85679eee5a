"""Response conformance: every answer a test receives is checked against its documented operation.

The OpenAPI document (`chalicelib.openapi.document()`, the same as docs/openapi.json) is the contract a
storefront generates its client from. Every response a test gets from the API must be one the document
promises: its status is listed for that operation, and its body validates against the documented schema
(JSON Schema 2020-12; `#/components/...` refs resolved), closed: an object that lists `properties` and
says nothing about others accepts no others, so an undocumented field fails like a wrong type.

One hook per transport, installed for the whole test session by tests/conftest.py, so no test can
bypass it:

- in-process (chalice's test `Client`, and `infra.local.wsgi.ChaliceWSGI`, which schemathesis and the
  WSGI tests drive): `chalice.local.LocalGateway.handle_request`, the gateway both go through;
- over HTTP (tests/e2e against `make run`, and `make demo`, a subprocess): `requests.Session.send`
  for URLs under an API base registered with `watch()` (tests/e2e/conftest.py registers the stack's);
  a subprocess started by a test inherits `PROCURE_CONTRACT_CHECK` and installs the same hook
  (infra/local/demo.py does).

A request no operation documents (an unknown path or method: the gateway's own 403/404/405) must still
answer the one error schema. CORS preflights (OPTIONS) are the gateway's, not operations, and are not
checked. A test that provokes an answer on purpose that no client should ever see (an unhandled 500)
says so with `with contract.exempt("why"):`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema

ENV = "PROCURE_CONTRACT_CHECK"  # "1": a process started by a test checks its own HTTP answers too
_state = threading.local()
_bases: set[str] = set()


class ContractViolation(AssertionError):
    """An answer the OpenAPI document does not promise."""


# --- the document ------------------------------------------------------------------------------------


@functools.cache
def contract() -> Contract:
    """The document of the code under test; in a subprocess a test started, docs/openapi.json (the same
    document: tests/integration/test_openapi.py fails when that file is stale)."""
    from chalicelib import openapi

    if os.environ.get(ENV) == "file":
        return Contract(json.loads(openapi.DEFAULT_OUTPUT.read_text()))
    return Contract(openapi.document())


def _closed(schema: Any) -> Any:
    """The schema with every object that lists `properties` closed to others (unless it says otherwise)."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items()}
    if "properties" in out and "additionalProperties" not in out and "unevaluatedProperties" not in out:
        out["unevaluatedProperties"] = False
    return out


class Contract:
    def __init__(self, doc: dict):
        self.doc = doc
        self._root = {"components": _closed(doc.get("components", {}))}
        # the route matching of chalice's local gateway (what tests and `make run` serve through):
        # literal segments before parameters, a trailing slash ignored, an empty segment a parameter
        from chalice.local import RouteMatcher

        self._matcher = RouteMatcher(list(doc["paths"]))

    def match(self, method: str, raw_path: str) -> tuple[str | None, dict | None]:
        """(path template, operation) for a request path; (template, None) for an undocumented method."""
        try:
            template = self._matcher.match_route(raw_path).route
        except ValueError:
            return None, None
        return template, self.doc["paths"][template].get(method.lower())

    def _response(self, operation: dict, status: int) -> dict | None:
        response = operation["responses"].get(str(status))
        while response is not None and "$ref" in response:
            name = response["$ref"].rsplit("/", 1)[-1]
            response = self.doc["components"]["responses"][name]
        return response

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one Contract per session
    def _validator(self, schema_json: str) -> jsonschema.Draft202012Validator:
        schema = {**self._root, **_closed(json.loads(schema_json))}
        return jsonschema.Draft202012Validator(schema)

    def validate(self, schema: dict, body: Any, where: str) -> None:
        validator = self._validator(json.dumps(schema, sort_keys=True))
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            problems = "\n".join(
                f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:10]
            )
            raise ContractViolation(f"{where}: the body does not match the documented schema:\n{problems}")

    def check(self, method: str, raw_path: str, status: int, headers: dict, body: bytes | str | None) -> None:
        method = method.upper()
        if method == "OPTIONS":
            return
        path = urlsplit(raw_path).path or "/"
        where = f"{method} {unquote(path)} answered {status}"
        template, operation = self.match(method, path)
        data = body.encode() if isinstance(body, str) else (body or b"")
        if operation is None:  # no such operation: the gateway's own error answer
            if status not in (403, 404, 405):
                raise ContractViolation(f"{where}, but no operation is documented there")
            if method == "HEAD":
                return  # an answer to HEAD has no body
            self.validate({"$ref": "#/components/schemas/Error"}, _json(data, where), where)
            return
        where = f"{method} {template} ({operation.get('operationId')}) answered {status}"
        response = self._response(operation, status)
        if response is None:
            documented = ", ".join(operation["responses"])
            raise ContractViolation(f"{where}: an undocumented status (documented: {documented})")
        content = response.get("content")
        if not content:
            if data.strip():
                raise ContractViolation(f"{where}: a body where the document promises none: {data[:200]!r}")
            return
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if isinstance(content_type, list):
            content_type = content_type[0] if content_type else ""
        media = content_type.split(";", 1)[0].strip().lower()
        if media not in content:
            documented = ", ".join(content)
            raise ContractViolation(f"{where}: Content-Type {content_type!r}, documented: {documented}")
        schema = content[media].get("schema")
        if schema is not None:
            self.validate(schema, _json(data, where), where)


def _json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ContractViolation(f"{where}: the body is not JSON: {data[:200]!r}") from exc


# --- exemptions and registration ---------------------------------------------------------------------


@contextlib.contextmanager
def exempt(reason: str) -> Iterator[None]:
    """Answers inside this block are not checked (`reason`: why a client may never see them)."""
    assert reason, "say why these answers are exempt"
    previous = getattr(_state, "exempt", None)
    _state.exempt = reason
    try:
        yield
    finally:
        _state.exempt = previous


def _exempt() -> bool:
    return bool(getattr(_state, "exempt", None))


def watch(base_url: str) -> None:
    """Check every answer `requests` gets from under `base_url` (an API served over HTTP)."""
    _bases.add(base_url.rstrip("/"))


def check(method: str, raw_path: str, status: int, headers: dict, body: bytes | str | None) -> None:
    if not _exempt():
        contract().check(method, raw_path, status, headers or {}, body)


# --- the hooks -----------------------------------------------------------------------------------------


def _gateway_hook(original):
    @functools.wraps(original)
    def handle_request(self, method, path, headers, body):
        response = original(self, method, path, headers, body)
        data = response.get("body")
        if response.get("isBase64Encoded") and data:
            import base64

            data = base64.b64decode(data)
        all_headers = dict(response.get("headers") or {})
        all_headers.update(response.get("multiValueHeaders") or {})
        check(method, path, response["statusCode"], all_headers, data)
        return response

    handle_request.__contract_hook__ = True
    return handle_request


def _requests_hook(original):
    @functools.wraps(original)
    def send(self, request, **kwargs):
        response = original(self, request, **kwargs)
        url = request.url or ""
        base = next((b for b in _bases if url == b or url.startswith((b + "/", b + "?"))), None)
        if base is not None:
            rest = url[len(base) :] or "/"
            if kwargs.get("stream"):
                return response
            check(request.method, rest, response.status_code, dict(response.headers), response.content)
        return response

    send.__contract_hook__ = True
    return send


def install() -> None:
    """Hook both transports (idempotent)."""
    import requests
    from chalice.local import LocalGateway

    if not getattr(LocalGateway.handle_request, "__contract_hook__", False):
        LocalGateway.handle_request = _gateway_hook(LocalGateway.handle_request)
    if not getattr(requests.Session.send, "__contract_hook__", False):
        requests.Session.send = _requests_hook(requests.Session.send)
    os.environ.setdefault(ENV, "1")


def install_in_subprocess(base_url: str) -> None:
    """For a process a test started (make demo): check its answers from `base_url` when asked to."""
    if os.environ.get(ENV) == "1":
        install()
        os.environ[ENV] = "file"
        watch(base_url)
