"""Auto-confirm receipt: a package shipped more than AUTO_CONFIRM_DAYS (default 20) ago that the customer
never confirmed becomes `delivered` (confirmed by "auto"), and the customer is told they can rate it.

Cost follows what is due: shipped, unconfirmed packages sit in the sparse `by_ship_day` index keyed
`<shipped UTC day>#<shard>`; delivery removes the key. A run queries only the ship days from its
checkpoint (the last day fully done) up to today's cutoff, so missed runs are caught up and nothing is
scanned. Each delivery is a conditional transaction (status == shipped), so a duplicate or concurrent run
changes nothing twice; the checkpoint advances only over days with no failure, and a run about to hit
the Lambda time limit stops between days and leaves the rest to the next run.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pynamodb.exceptions import PutError

from chalicelib import clock
from chalicelib.errors import ApiError
from chalicelib.lifecycle import PackageStatus
from chalicelib.logs import get_logger
from chalicelib.models.jobs import JobState
from chalicelib.models.packages import Package
from chalicelib.packages import SHIP_DAY_SHARDS, deliver
from chalicelib.rules import shipping as rules

log = get_logger("jobs.auto_confirm")

JOB = "auto_confirm_receipt"
FIRST_RUN_LOOKBACK_DAYS = 60  # without a checkpoint, ship days this far before the cutoff are read
STOP_WHEN_REMAINING_MS = 60_000


def _state() -> tuple[JobState, dict]:
    try:
        job = JobState.get(JOB, consistent_read=True)
    except JobState.DoesNotExist:
        job = JobState(JOB, state={})
    raw = job.state.as_dict() if hasattr(job.state, "as_dict") else dict(job.state or {})
    return job, dict(raw)


def _save(job: JobState, state: dict) -> JobState:
    """Advance the checkpoint; a concurrent run that saved first wins (the deliveries are idempotent)."""
    job.state = state
    job.updated_at = clock.now_iso()
    try:
        job.save()
    except PutError:
        log.info("checkpoint saved by a concurrent run", extra={"job": JOB})
        return _state()[0]
    return job


def run(context=None, now: datetime | None = None) -> dict:
    now = now or clock.now()
    days = rules.auto_confirm_days()
    cutoff = now - timedelta(days=days)
    cutoff_iso = clock.iso(cutoff)
    job, state = _state()
    done = state.get("done_through")
    day = (
        date.fromisoformat(done) + timedelta(days=1)
        if done
        else cutoff.date() - timedelta(FIRST_RUN_LOOKBACK_DAYS)
    )
    stats = {
        "job": JOB,
        "now": clock.iso(now),
        "cutoff": cutoff_iso,
        "confirmed": 0,
        "skipped": 0,
        "failed": 0,
    }
    stopped = blocked = False
    while day <= cutoff.date():
        if context is not None and context.get_remaining_time_in_millis() < STOP_WHEN_REMAINING_MS:
            stopped = True
            break
        failures = 0
        for shard in range(SHIP_DAY_SHARDS):
            for package in Package.by_ship_day.query(
                f"{day.isoformat()}#{shard}", Package.shipped_at <= cutoff_iso
            ):
                outcome = _confirm(package)
                stats[outcome] += 1
                failures += outcome == "failed"
        # a day with a failure keeps the checkpoint before it, so the next run retries it; the cutoff day
        # is only partly due and is done once a later run's cutoff has passed it
        blocked = blocked or bool(failures)
        if day < cutoff.date() and not blocked:
            state["done_through"] = day.isoformat()
            job = _save(job, state)
        day += timedelta(days=1)
    stats["done_through"] = state.get("done_through")
    stats["stopped_early"] = stopped
    log.info("auto-confirm run", extra=stats)
    return stats


def _confirm(package: Package) -> str:
    email = ("package_auto_confirmed", {"package_id": package.package_id, "days": rules.auto_confirm_days()})
    try:
        deliver(package.package_id, "auto", email=email)
    except ApiError as exc:
        if exc.status == 409 and _no_longer_shipped(package.package_id):
            return "skipped"  # confirmed meanwhile (by the customer or a concurrent run)
        log.exception("auto-confirm failed", extra={"package_id": package.package_id})
        return "failed"
    except Exception:
        log.exception("auto-confirm failed", extra={"package_id": package.package_id})
        return "failed"
    return "confirmed"


def _no_longer_shipped(package_id: str) -> bool:
    try:
        return Package.get(package_id, consistent_read=True).status != PackageStatus.SHIPPED
    except Package.DoesNotExist:
        return True
