"""The one way to build a boto3 client: lazily, per (service, region, endpoint), never at import."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib import config

_clients: dict[tuple[str, str, str | None], Any] = {}
_lock = threading.Lock()
_session: Any = None  # one session: its loader caches service models across clients


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
                    _session = boto3.session.Session()
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
