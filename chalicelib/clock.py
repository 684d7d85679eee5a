"""The one clock. Everything that needs 'now' calls clock.now(); tests and `make job NOW=` move it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_override: Callable[[], datetime] | None = None


def now() -> datetime:
    """Current time as an aware UTC datetime."""
    if _override is not None:
        return _override()
    return datetime.now(UTC)


def wall() -> datetime:
    """The real time, whatever `set_now` says: how far a checkpoint may reach (jobs/storage_sweep.py)."""
    return datetime.now(UTC)


def set_now(value: datetime | Callable[[], datetime] | None) -> None:
    """Freeze the clock at a datetime, drive it with a callable, or (None) return to real time."""
    global _override
    if value is None or callable(value):
        _override = value
    else:
        fixed = value.astimezone(UTC)
        _override = lambda: fixed  # noqa: E731


def parse_iso(text: str) -> datetime:
    """Parse ISO 8601; a naive value is taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    """Format as the API's ISO 8601 UTC form, e.g. 2026-11-26T08:00:00Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return iso(now())
