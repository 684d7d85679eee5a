"""Conditional writes: the one way to tell a lost race (a 409 for the caller) from a real failure."""

from __future__ import annotations

from pynamodb.connection import Connection

from chalicelib import config
from chalicelib.errors import Conflict

LOST_RACE = (
    "ConditionalCheckFailedException",
    "TransactionCanceledException",
    "TransactionConflictException",
)


def connection() -> Connection:
    """For TransactWrite; honours AWS_ENDPOINT_URL like every other client."""
    return Connection(region=config.region())


def lost_race(exc: Exception) -> bool:
    """True when a write failed because its condition no longer held (someone else changed the item)."""
    return getattr(exc, "cause_response_code", None) in LOST_RACE


def update_or_conflict(obj, actions: list, condition, message: str) -> None:
    """Apply a conditional update; a failed condition becomes a 409 with `message`."""
    try:
        obj.update(actions=actions, condition=condition)
    except Exception as exc:
        if lost_race(exc):
            raise Conflict(message) from None
        raise


def update_if(obj, actions: list, condition, *, add_version_condition: bool = True) -> bool:
    """Apply a conditional update; False (not an error) when the condition no longer holds."""
    try:
        obj.update(actions=actions, condition=condition, add_version_condition=add_version_condition)
        return True
    except Exception as exc:
        if lost_race(exc):
            return False
        raise
