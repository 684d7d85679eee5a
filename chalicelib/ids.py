"""Opaque, unguessable, time-ordered ids (ULID layout: 48-bit ms time + 80 random bits)."""

from __future__ import annotations

import secrets

from chalicelib import clock

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str = "") -> str:
    """A new id such as `ord_01JD3...`; 80 random bits make it unguessable, the time prefix sortable."""
    millis = int(clock.now().timestamp() * 1000)
    ulid = _encode(millis, 10) + _encode(secrets.randbits(80), 16)
    return f"{prefix}_{ulid}" if prefix else ulid
