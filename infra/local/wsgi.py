"""The Chalice app as a WSGI application, through chalice's own LocalGateway.

LocalGateway is what `chalice local` and `chalice.test.Client` run: it turns an HTTP request into API
Gateway's Lambda proxy event and calls the app, so routes, middleware and the app's own token checks are
the ones Lambda runs. This adapter adds what API Gateway does in front of the function and `chalice local`
does not do faithfully:

- a `/` inside a path parameter stays inside it (routing on the raw path), and parameters are then
  URL-decoded, as API Gateway decodes them;
- an unknown path is the contract's 404 `not_found`, and a known path with a method it does not have
  (TRACE, PUT, PATCH, HEAD, ...) the contract's 405 `method_not_allowed` with an `Allow` header, both as
  `{"error": {"code", "message"}}` (`chalice local` answers 403 `Missing Authentication Token` and an
  HTML 501 page). In AWS the template's gateway responses give the same shape (infra/template.py);
- those answers carry the CORS headers for an allowed origin, so a browser reads the JSON, not a CORS error.

Used by `infra.local.serve` (the local API server under waitress) and by the in-process schemathesis run.
"""

from __future__ import annotations

import http
import json
from urllib.parse import quote, unquote

from chalice import Chalice
from chalice.config import Config
from chalice.local import LocalGateway, LocalGatewayException


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def allowed_methods(app: Chalice, route: str) -> list[str]:
    """The methods a route answers: its views, plus OPTIONS (CORS preflight, answered by the gateway)."""
    methods = set(app.routes.get(route, {}))
    methods.add("OPTIONS")
    return sorted(methods)


class _ApiGatewayLike(LocalGateway):
    """Route on the raw path (a `/` inside a parameter stays inside it), then decode parameters."""

    def _generate_lambda_event(self, method, path, headers, body):
        event = super()._generate_lambda_event(method, path, headers, body)
        params = event.get("pathParameters") or {}
        event["pathParameters"] = {name: unquote(value) for name, value in params.items()}
        return event


class ChaliceWSGI:
    """A WSGI application serving `app` (a Chalice app) with the stage's `config`."""

    def __init__(self, app: Chalice, config: Config):
        self.app = app
        self.gateway = _ApiGatewayLike(app, config)

    @staticmethod
    def _raw_path(environ: dict) -> str:
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if raw:
            path = raw.split("?", 1)[0]
            if "://" in path:  # an absolute-form request target
                path = "/" + path.split("://", 1)[1].partition("/")[2]
        else:
            path = quote(environ.get("PATH_INFO", "/").encode("latin-1"), safe="/")
        query = environ.get("QUERY_STRING")
        return f"{path}?{query}" if query else path

    @staticmethod
    def _headers(environ: dict) -> dict[str, str]:
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").title()] = environ[key]
        return headers

    def route_of(self, raw_path: str) -> str | None:
        try:
            return self.gateway.event_converter._route_matcher.match_route(raw_path).route
        except ValueError:
            return None

    def respond(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple:
        """(status, headers, body) for one request."""
        status, out_headers, data, by_app = self._answer(method, raw_path, headers, body)
        if not by_app:  # not seen by the app's CORS middleware, yet a browser must read it (as in AWS)
            from chalicelib.web import with_cors_headers

            origin = next((v for k, v in headers.items() if k.lower() == "origin"), None)
            out_headers = with_cors_headers(out_headers, origin)
        return status, out_headers, data

    def _answer(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple:
        route = self.route_of(raw_path)
        if route is None:
            return 404, {"Content-Type": "application/json"}, error_body("not_found", "No such route."), False
        allowed = allowed_methods(self.app, route)
        if method not in allowed:
            return (
                405,
                {"Content-Type": "application/json", "Allow": ", ".join(allowed)},
                error_body("method_not_allowed", f"{method} is not allowed here; use {', '.join(allowed)}."),
                False,
            )
        try:
            response = self.gateway.handle_request(method=method, path=raw_path, headers=headers, body=body)
        except LocalGatewayException as exc:  # an API Gateway authorizer's answer (none are configured)
            return exc.CODE, dict(exc.headers), exc.body or b"", False
        out_headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            out_headers[name] = values
        data = response.get("body")
        if response.get("isBase64Encoded") and data:
            import base64

            data = base64.b64decode(data)
        if data is None:
            data = b""
        elif isinstance(data, str):
            data = data.encode()
        return response["statusCode"], out_headers, data, True

    def __call__(self, environ: dict, start_response) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        status, headers, data = self.respond(
            environ["REQUEST_METHOD"].upper(), self._raw_path(environ), self._headers(environ), body
        )
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        pairs: list[tuple[str, str]] = []
        for name, value in headers.items():
            if name.lower() in ("content-length", "connection", "transfer-encoding"):
                continue  # the server computes these
            for one in value if isinstance(value, list) else [value]:
                pairs.append((name, str(one)))
        if status != 204 and data and not any(n.lower() == "content-type" for n, _ in pairs):
            pairs.append(("Content-Type", "application/json"))
        pairs.append(("Content-Length", str(len(data))))
        start_response(f"{status} {reason}", pairs)
        return [data]


def thread_safe(app: Chalice) -> Chalice:
    """`current_request` per thread, as `chalice local` makes it (a threaded server shares one app)."""
    from chalice.local import LocalChalice

    if not isinstance(app, LocalChalice):
        app.__class__ = type("ThreadLocalChalice", (LocalChalice, app.__class__), {})
    return app


def stage_config(app: Chalice, stage: str, project_dir: str) -> Config:
    """The stage's chalice Config for an app already imported (its environment left as it is)."""
    import json as _json
    from pathlib import Path

    on_disk = _json.loads((Path(project_dir) / ".chalice" / "config.json").read_text())
    return Config.create(
        chalice_stage=stage, chalice_app=app, project_dir=project_dir, config_from_disk=on_disk
    )


def load(stage: str, project_dir: str) -> ChaliceWSGI:
    """What `chalice local --stage <stage>` loads: the project's app.py with the stage's config (its
    environment variables applied), its routes validated as `chalice deploy` would."""
    from chalice.cli.factory import CLIFactory
    from chalice.deploy.validate import validate_routes

    config = CLIFactory(project_dir).create_config_obj(chalice_stage_name=stage)
    app = config.chalice_app
    validate_routes(app.routes)
    return ChaliceWSGI(thread_safe(app), config)
