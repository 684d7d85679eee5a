"""The staff console's local hosting: its static files on 127.0.0.1:CONSOLE_PORT (8080) and a runtime config.

The console (`console/` at the repository root) is plain HTML, CSS and ES modules with no build step.
At start it reads `config.json` next to its `index.html`: in AWS a deploy step uploads that file to the
console's bucket (docs/deploy.md); locally `write_config` generates it for the running stack (API URL,
the moto endpoint as the Cognito endpoint, pool and client ids, region) and this server serves it.
"""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from infra.local.env import CONSOLE_PORT, HOST, ROOT, STACK_FILE

CONSOLE_DIR = ROOT / "console"
CONFIG_FILE = STACK_FILE.parent / "console-config.json"  # .local/, or beside a LOCAL_STACK_FILE


def runtime_config(
    api_url: str, cognito_endpoint: str, user_pool_id: str, client_id: str, region: str
) -> dict:
    """What the console needs to know about its stack (the same keys in AWS, see docs/deploy.md)."""
    return {
        "api_url": api_url.rstrip("/"),
        "cognito_endpoint": cognito_endpoint.rstrip("/"),
        "user_pool_id": user_pool_id,
        "client_id": client_id,
        "region": region,
    }


def content_security_policy(config: dict) -> str:
    """The console's CSP for this stack, the AWS one's (infra/template.py console_csp) with local hosts:
    its own files, the stack's API, and the AWS endpoint (moto: Cognito, and the photos' presigned URLs)."""
    api, aws = config["api_url"], config["cognito_endpoint"]
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob: {aws}; connect-src 'self' {api} {aws}; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


def write_config(config: dict, path: Path = CONFIG_FILE) -> Path:
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


class _Handler(SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".css": "text/css",
        ".svg": "image/svg+xml",
        ".json": "application/json",
    }

    def __init__(self, *args, config_path: Path, **kwargs):
        self._config_path = config_path
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/config.json":
            body = self._config_path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def end_headers(self) -> None:
        # the headers CloudFront's response headers policy adds in AWS (infra/template.py)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "same-origin")
        self.send_header(
            "Content-Security-Policy", content_security_policy(json.loads(self._config_path.read_text()))
        )
        if not self.path.startswith("/config.json"):
            self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        pass


class ConsoleServer:
    """A threaded static file server for console/ (plus /config.json), stopped with `stop()`."""

    def __init__(self, config_path: Path = CONFIG_FILE, host: str = HOST, port: int = CONSOLE_PORT):
        handler = partial(_Handler, directory=str(CONSOLE_DIR), config_path=config_path)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> ConsoleServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


def start(api_url: str, cognito_endpoint: str, stack: dict, region: str) -> ConsoleServer:
    """The stack runner's hook: write the runtime config for this stack and serve the console."""
    write_config(runtime_config(api_url, cognito_endpoint, stack["user_pool_id"], stack["client_id"], region))
    return ConsoleServer().start()
