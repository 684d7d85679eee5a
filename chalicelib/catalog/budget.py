"""The marketplace quota: how many uncached marketplace calls one client, and everyone, may cause.

Every marketplace call that a cache could not answer (a product detail, a search page, an image
search, a short link) first spends one unit here, in the hour it happens:

- per client at most SOURCE_CALLS_PER_CLIENT_PER_HOUR for an anonymous caller (the API Gateway source
  IP of the request: not a header, the client cannot choose it) and SOURCE_CALLS_PER_USER_PER_HOUR for
  a signed-in one (cart and order re-pricing); a call outside a request (a job) has no client;
- in total at most SOURCE_CALLS_PER_HOUR (the business's paid quota, spread over the day).

Past either, the call is not made and the caller gets 429 `too_many_requests` (Retry-After: the rest
of the hour); cached answers keep being served. A refusal is the caller's, never the marketplace's:
it does not count towards the circuit breaker (catalog/remote.py), so one abusive client cannot
open it for everyone.

Cost: one conditional UpdateItem per counter (two per uncached call) on the `source-budget` table;
concurrent calls are counted exactly (ADD under a `calls < limit` condition), never over the limit.
A counter lives for its hour plus one (TTL).
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib import clock, config
from chalicelib.errors import TooManyRequests
from chalicelib.logs import get_logger

log = get_logger("catalog.budget")


class BudgetExceeded(TooManyRequests):
    """Over the marketplace quota: 429, never a breaker failure."""


def _limit(name: str) -> int:
    try:
        return max(0, int(config.setting(name)))
    except ValueError:
        return int(config.BUSINESS_DEFAULTS[name])


def client() -> tuple[str, int] | None:
    """(who is asking, their hourly limit): the signed-in user, else the request's source IP; None
    outside a request."""
    from chalicelib import web  # the request web.route is answering: its caller and source IP

    req = web.current_request()
    if req is None:
        return None
    user_id, source_ip = (req.caller.user_id if req.caller else None), (req.source_ip or "unknown")
    if user_id is not None:
        return f"user#{user_id}", _limit("SOURCE_CALLS_PER_USER_PER_HOUR")
    return f"ip#{source_ip}", _limit("SOURCE_CALLS_PER_CLIENT_PER_HOUR")


def _spend(key: str, limit: int, expires) -> bool:
    from pynamodb.exceptions import UpdateError

    from chalicelib import db
    from chalicelib.models.catalog import SourceBudgetModel

    if limit <= 0:
        return False  # a zero budget: nothing may be spent (the condition below admits a first call)
    try:
        SourceBudgetModel(key).update(
            actions=[SourceBudgetModel.calls.add(1), SourceBudgetModel.expires_at.set(expires)],
            condition=SourceBudgetModel.calls.does_not_exist() | (SourceBudgetModel.calls < limit),
        )
    except UpdateError as exc:
        if db.lost_race(exc):
            return False
        raise
    return True


def spend(marketplace: str) -> None:
    """Count one uncached call to `marketplace`, or raise BudgetExceeded (nothing is counted against
    the marketplace's breaker)."""
    now = clock.now()
    hour = now.strftime("%Y-%m-%dT%H")
    expires = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    retry_after = 3600 - (now.minute * 60 + now.second)
    caller = client()
    if caller is not None:
        who, per_client = caller
        if not _spend(f"client#{who}#{hour}", per_client, expires):
            log.warning("client over its marketplace budget", extra={"marketplace": marketplace})
            raise BudgetExceeded(
                f"Too many new searches and links from you this hour (at most {per_client}); results "
                "already looked up still work. Try again later.",
                details=[{"retry_after_seconds": retry_after}],
            )
    if not _spend(f"total#{hour}", _limit("SOURCE_CALLS_PER_HOUR"), expires):
        log.error("marketplace budget used up", extra={"marketplace": marketplace})
        raise BudgetExceeded(
            "We are looking up too many new products right now; results already looked up still work. "
            "Try again later.",
            details=[{"retry_after_seconds": retry_after}],
        )
