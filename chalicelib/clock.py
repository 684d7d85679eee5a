"""The one clock. Everything that needs 'now' calls clock.now(); tests and `make job NOW=` move it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_override: Callable[[], datetime] | None = None
_travel = False


def now() -> datetime:
    """Current time as an aware UTC datetime."""
    if _override is not None:
        return _override()
    return datetime.now(UTC)


def wall() -> datetime:
    """How far a job's checkpoint may reach (jobs/storage_sweep.py): the real time while `make job NOW=`
    travels (set_now(..., travel=True)), else now() (tests move the whole world's clock, checkpoints too)."""
    if _travel or _override is None:
        return datetime.now(UTC)
    return _override()


def set_now(value: datetime | Callable[[], datetime] | None, *, travel: bool = False) -> None:
    """Freeze the clock at a datetime, drive it with a callable, or (None) return to real time. `travel`:
    only this process moves (`make job NOW=`); the stack it acts on keeps the real time (see wall())."""
    global _override, _travel
    _travel = travel and value is not None
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
