"""The one way to build a boto3 client: lazily, per (service, region, endpoint), never at import.

One botocore session serves every client of the process, PynamoDB's included (`share_with_pynamodb`):
its loader parses a service's model once, and its event handlers (X-Ray's, in a traced Lambda) reach
every client. A session is not thread-safe, so its client creation is serialized; the clients it makes
are thread-safe.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from chalicelib import config, xray

_clients: dict[tuple[str, str, str | None], Any] = {}
_lock = threading.RLock()
_session: Any = None  # the boto3 session over the shared botocore session
_botocore_session: Any = None


def botocore_session() -> Any:
    """The process's one botocore session, created on first use. In a traced Lambda its events record
    every AWS call of every client it creates as an X-Ray subsegment (chalicelib/xray.py)."""
    global _botocore_session
    if _botocore_session is None:
        with _lock:
            if _botocore_session is None:
                session = _shared_session_class()()
                _look_up_services_by_name(session)
                if xray.enabled():
                    xray.instrument(session)
                _botocore_session = session
    return _botocore_session


def _shared_session_class() -> type:
    import botocore.session

    class SharedSession(botocore.session.Session):
        """create_client under a lock: PynamoDB creates clients from any thread."""

        _create_lock = threading.RLock()

        def create_client(self, *args: Any, **kwargs: Any) -> Any:
            with self._create_lock:
                return super().create_client(*args, **kwargs)

        def get_available_services(self) -> list[str]:
            return list(super().get_available_services())  # a list, as botocore's (_ServiceNames)

    return SharedSession


class _ServiceNames:
    """What botocore's `Loader.list_available_services(type_name)` answers, without its scan.

    botocore checks a service's name before loading its model by listing every service directory of
    every search path and each one's versions (about 900 `listdir` calls and 1,800 `stat` calls, 12-15 ms
    of every cold start, for the first model of each type). `name in services` looks at that one name's
    directories only, by the scan's own rule (a version directory holding the type's file); iterating,
    `len` and indexing run botocore's own scan."""

    def __init__(self, loader: Any, type_name: str, scan: Any) -> None:
        self.loader, self.type_name, self.scan = loader, type_name, scan

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not name or os.sep in name or name.startswith("."):
            return False
        for service_dir in self.loader._potential_locations(name, must_exist=True, is_dir=True):
            for version in os.listdir(service_dir):
                if self.loader.file_loader.exists(os.path.join(service_dir, version, self.type_name)):
                    return True
        return False

    def __iter__(self) -> Any:
        return iter(self.scan(self.type_name))

    def __len__(self) -> int:
        return len(self.scan(self.type_name))

    def __getitem__(self, index: Any) -> Any:
        return self.scan(self.type_name)[index]


def _look_up_services_by_name(session: Any) -> None:
    """The session's loader answers "is this a service?" by looking at that service's directory
    (`_ServiceNames`), not by listing every service botocore ships."""
    loader = session.get_component("data_loader")
    scan = loader.list_available_services
    loader.list_available_services = lambda type_name: _ServiceNames(loader, type_name, scan)


def share_with_pynamodb() -> None:
    """PynamoDB builds a botocore session per connection (one per model, and reloads the DynamoDB
    model for each: ~40 ms apiece on a cold start); make every connection use the shared one. And one
    DynamoDB client for every connection of the same settings: PynamoDB builds a client per connection
    (a table, or chalicelib.db's transactions and batch reads), each ~10 ms of a cold start once the
    first exists, and a route touching four tables built four."""
    import pynamodb.connection.base as pynamodb_base

    pynamodb_base.get_session = botocore_session
    connection = pynamodb_base.Connection
    if not isinstance(connection.__dict__.get("client"), _SharedClient):
        connection.client = _SharedClient(connection.__dict__["client"])


_pynamodb_clients: dict[tuple, Any] = {}


class _SharedClient:
    """`Connection.client`, built once per (region, endpoint, timeouts, pool size, retries) and process.

    PynamoDB's own property builds the client (its configuration, its check for a client whose
    credentials came back empty, which then builds a new one); the only per-connection part it adds is
    a before-send hook adding the connection's `extra_headers`, so a connection with extra headers or
    its own credentials keeps a client of its own."""

    def __init__(self, own: property) -> None:
        self.own = own

    def __get__(self, conn: Any, owner: type | None = None) -> Any:
        if conn is None:
            return self
        if conn._extra_headers is not None or conn._aws_access_key_id:
            return self.own.__get__(conn, owner)
        key = (
            conn.region,
            conn.host,
            conn._connect_timeout_seconds,
            conn._read_timeout_seconds,
            conn._max_pool_connections,
            repr(conn._retry_configuration),
            config.endpoint_url(),
        )
        with _lock:
            conn._client = _pynamodb_clients.get(key, conn._client)
            client = self.own.__get__(conn, owner)  # PynamoDB's checks: the cached one, or a new one
            _pynamodb_clients[key] = client
        return client


def client(service: str) -> Any:
    key = (service, config.region(), config.endpoint_url())
    found = _clients.get(key)
    if found is None:
        import boto3  # imported here: the Lambda runtime has it, and cold starts stay cheap

        global _session
        with _lock:
            found = _clients.get(key)
            if found is None:
                if _session is None:
                    _session = boto3.session.Session(botocore_session=botocore_session())
                kwargs: dict[str, Any] = {}
                if service == "s3":
                    from botocore.config import Config

                    # presigned URLs and POSTs signed with SigV4 on the regional host (SigV2 and the
                    # global host fail for newer buckets); path style for a local endpoint (moto)
                    kwargs["config"] = Config(
                        signature_version="s3v4", s3={"addressing_style": "path" if key[2] else "virtual"}
                    )
                found = _session.client(service, region_name=key[1], endpoint_url=key[2], **kwargs)
                _clients[key] = found
    return found


def reset() -> None:
    """Forget built clients and DynamoDB connections (tests start a fresh moto per test)."""
    from chalicelib import db

    _clients.clear()
    _pynamodb_clients.clear()
    db._connections.clear()
