"""The hourly job: proves the schedule → handler → clock wiring (`make job JOB=heartbeat NOW=...`) and
measures what only a periodic look shows: orders waiting for review past their review deadline
(the `ReviewsOverdue` gauge; one Query per queue shard, reading only the overdue orders)."""

from __future__ import annotations

from chalicelib import clock, metrics
from chalicelib.lifecycle import Queue
from chalicelib.logs import get_logger

log = get_logger("jobs.heartbeat")


def reviews_overdue(now_iso: str) -> int:
    """pending_review orders whose review_due_at (their queue_at) has passed."""
    from chalicelib.models.commerce import QUEUE_SHARDS, Order

    return sum(
        1
        for shard in range(QUEUE_SHARDS)
        for _ in Order.queue.query(f"{Queue.PENDING_REVIEW.value}#{shard}", Order.queue_at < now_iso)
    )


def run() -> dict:
    now = clock.now_iso()
    overdue = reviews_overdue(now)
    metrics.record("ReviewsOverdue", overdue)
    log.info("heartbeat", extra={"now": now, "reviews_overdue": overdue})
    return {"job": "heartbeat", "now": now}
