"""Marketplace credentials: the environment locally, one Secrets Manager secret in AWS.

Each adapter needs a few values (NAMES). An environment variable of that name wins (local runs,
tests); otherwise, when SOURCE_CREDENTIALS_SECRET names a Secrets Manager secret (the template sets
`<prefix>/marketplace-credentials` and grants the API function secretsmanager:GetSecretValue on it),
its JSON object is read once per container, lazily on the first marketplace call, and cached. A
missing value means the adapter is not configured: the marketplace answers 503 source_unavailable
and is never called without credentials.
"""

from __future__ import annotations

import json
import os
import threading

from chalicelib import aws, config
from chalicelib.logs import get_logger

log = get_logger("catalog.credentials")

NAMES = {
    "alibaba": ("ALIBABA_APP_KEY", "ALIBABA_APP_SECRET", "ALIBABA_ACCESS_TOKEN"),
    "onebound": ("ONEBOUND_KEY", "ONEBOUND_SECRET"),
}

_secret: dict[str, str] | None = None
_lock = threading.Lock()


def _from_secret() -> dict[str, str]:
    global _secret
    secret_id = config.get("SOURCE_CREDENTIALS_SECRET")
    if not secret_id:
        return {}
    with _lock:
        if _secret is None:
            try:
                text = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
                loaded = json.loads(text)
            except Exception as exc:
                log.error("marketplace credentials unreadable", extra={"error": type(exc).__name__})
                return {}
            _secret = {str(k): str(v) for k, v in loaded.items() if isinstance(v, str | int)}
        return _secret


def get(adapter: str) -> dict[str, str] | None:
    """The adapter's credentials by name, or None when any is missing."""
    names = NAMES[adapter]
    values = {n: os.environ.get(n, "") for n in names}
    if not all(values.values()):
        stored = _from_secret()
        values = {n: values[n] or stored.get(n, "") for n in names}
    return values if all(values.values()) else None


def reset() -> None:
    global _secret
    with _lock:
        _secret = None
