"""Opaque, unguessable, time-ordered ids (ULID layout: 48-bit ms time + 80 random bits)."""

from __future__ import annotations

import secrets
import threading

from chalicelib import clock

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


_lock = threading.Lock()
_last = (0, 0)


def new_id(prefix: str = "") -> str:
    """A new id such as `ord_01JD3...`: 80 random bits make it unguessable, the time prefix sortable.

    Within one millisecond (or a frozen test clock) ids from this process still ascend: the random part
    then steps up by a random amount, as ULID's monotonic mode does.
    """
    global _last
    millis = int(clock.now().timestamp() * 1000)
    with _lock:
        last_millis, last_random = _last
        if millis <= last_millis and last_random < (1 << 80) - (1 << 41):
            millis, random_part = last_millis, last_random + 1 + secrets.randbits(40)
        else:
            random_part = secrets.randbits(80)
        _last = (millis, random_part)
    ulid = _encode(millis, 10) + _encode(random_part, 16)
    return f"{prefix}_{ulid}" if prefix else ulid


def from_digest(prefix: str, digest: bytes) -> str:
    """An id in the same layout made from the first 16 bytes of a digest: the same digest, the same id
    (what a retried request must create again under the same id). Not time-ordered."""
    body = _encode(int.from_bytes(digest[:16], "big"), 26)
    return f"{prefix}_{body}" if prefix else body
