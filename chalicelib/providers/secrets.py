"""The payment providers' credentials (Stripe's and PayPal's keys and webhook secrets): the environment
locally, else the stack's Secrets Manager secret (SOURCE_CREDENTIALS_SECRET, one JSON object), read once
per container under a lock. Never logged nor returned. Its own module so a provider loads only its SDK."""

from __future__ import annotations

import json
import os
import threading

from chalicelib import aws, config
from chalicelib.logs import get_logger

log = get_logger("providers.secrets")

_stored: dict[str, str] | None = None
_lock = threading.Lock()


def secret(name: str) -> str:
    """A provider credential by name: the environment, else the stack's secret ('' if none)."""
    value = os.environ.get(name, "")
    if value:
        return value
    global _stored
    secret_id = config.get("SOURCE_CREDENTIALS_SECRET")
    if not secret_id:
        return ""
    with _lock:
        if _stored is None:
            try:
                text = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
                loaded = json.loads(text)
                _stored = {str(k): str(v) for k, v in loaded.items() if isinstance(v, str)}
            except Exception as exc:
                log.error("payment credentials unreadable", extra={"error": type(exc).__name__})
                return ""
        return _stored.get(name, "")


def reset() -> None:
    """Forget the secret read (tests, and a rotated secret in a warm container)."""
    global _stored
    with _lock:
        _stored = None
