"""The one way to build a boto3 client: lazily, per (service, region, endpoint), never at import.

One botocore session serves every client of the process, PynamoDB's included (`share_with_pynamodb`):
its loader parses a service's model once. A session is not thread-safe, so its client creation is
serialized; the clients it makes are thread-safe.
"""

from __future__ import annotations

import threading
from typing import Any

from chalicelib import config

_clients: dict[tuple[str, str, str | None], Any] = {}
_lock = threading.RLock()
_session: Any = None  # the boto3 session over the shared botocore session
_botocore_session: Any = None


def botocore_session() -> Any:
    """The process's one botocore session, created on first use."""
    global _botocore_session
    if _botocore_session is None:
        with _lock:
            if _botocore_session is None:
                _botocore_session = _shared_session_class()()
    return _botocore_session


def _shared_session_class() -> type:
    import botocore.session

    class SharedSession(botocore.session.Session):
        """create_client under a lock: PynamoDB creates clients from any thread."""

        _create_lock = threading.RLock()

        def create_client(self, *args: Any, **kwargs: Any) -> Any:
            with self._create_lock:
                return super().create_client(*args, **kwargs)

    return SharedSession


def share_with_pynamodb() -> None:
    """PynamoDB builds a botocore session per connection (one per model, and reloads the DynamoDB
    model for each: ~40 ms apiece on a cold start); make every connection use the shared one."""
    import pynamodb.connection.base as pynamodb_base

    pynamodb_base.get_session = botocore_session


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
    db._connections.clear()
