"""A loopback HTTP server that replays recorded responses: how tests reach outside APIs.

Adapters for marketplaces and rate sources are tested through their real HTTP layer: the adapter is
configured with this server's base URL, sends real requests, and gets the recorded answers (files
under tests/fixtures/). Nothing of ours is mocked.

    with ReplayServer() as server:
        server.add("GET", "/openapi/param2/1/x", 200, body_bytes, content_type="application/json")
        server.add("GET", "/slow", delay=5)              # a timeout
        server.add("GET", "/r", 302, headers={"Location": "https://..."})  # extra response headers
        server.add("GET", "/t", [429, 429, 200], ...)    # a sequence: one answer per request, last repeats
        adapter = Adapter(base_url=server.url)
        ...
        server.requests  # [(method, path, query dict, headers, body)] as received
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str
    delay: float
    headers: dict[str, str] | None = None


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class ReplayServer:
    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], list[Answer]] = {}
        self._served: dict[tuple[str, str], int] = {}
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                if body and "form-urlencoded" in (self.headers.get("Content-Type") or ""):
                    query.update(
                        {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
                    )
                answer = server._next(
                    self.command,
                    parts.path,
                    Received(
                        self.command, parts.path, query, {k.lower(): v for k, v in self.headers.items()}, body
                    ),
                )
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(answer.body)))
                    for name, value in (answer.headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    pass

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:  # quiet
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # shutdown() waits for the serve loop's next poll: 0.5 s by default, at every test's teardown
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)

    def add(
        self,
        method: str,
        path: str,
        status: int | list[int] = 200,
        body: bytes | str | list[bytes | str] = b"",
        *,
        content_type: str = "application/json;charset=UTF-8",
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer `method path` with `status`/`body`; lists give one answer per request (the last repeats)."""
        statuses = status if isinstance(status, list) else [status]
        bodies = body if isinstance(body, list) else [body] * len(statuses)
        if len(bodies) != len(statuses):
            raise ValueError("give as many bodies as statuses")
        answers = [
            Answer(s, b.encode() if isinstance(b, str) else b, content_type, delay, headers)
            for s, b in zip(statuses, bodies, strict=True)
        ]
        with self._lock:
            self._routes[(method.upper(), path)] = answers
            self._served[(method.upper(), path)] = 0

    def _next(self, method: str, path: str, received: Received) -> Answer:
        with self._lock:
            self.requests.append(received)
            answers = self._routes.get((method, path))
            if not answers:
                return Answer(404, b'{"error": "no recorded answer"}', "application/json", 0.0)
            index = min(self._served[(method, path)], len(answers) - 1)
            self._served[(method, path)] += 1
            return answers[index]

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
