"""Auto-confirm receipt: a shipped package the customer never confirmed becomes `delivered` (confirmed by
"auto") once its line's longest delivery estimate plus AUTO_CONFIRM_MARGIN_DAYS (default 5) has passed
since shipping (`Package.auto_confirm_at`, set at shipping: a slow line is never confirmed while still in
transit), and the customer is told they can rate it.

Cost follows what is due: shipped, unconfirmed packages sit in the sparse `by_confirm_day` index keyed
`<auto-confirm UTC day>#<shard>`; delivery removes the key. A run queries only the due days from its
checkpoint (the last day fully done) up to today (`auto_confirm_at <= now` on today), so missed runs are
caught up and nothing is scanned. Each delivery is a conditional transaction (status == shipped), so a
duplicate or concurrent run changes nothing twice; the checkpoint advances only over days with no
failure, and a run about to hit the Lambda time limit stops between days and leaves the rest to the next
run.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pynamodb.exceptions import PutError

from chalicelib import clock, db
from chalicelib.errors import ApiError
from chalicelib.lifecycle import PackageStatus
from chalicelib.logs import get_logger
from chalicelib.models.jobs import JobState
from chalicelib.models.packages import Package
from chalicelib.packages import CONFIRM_DAY_SHARDS, auto_confirm_days, deliver

log = get_logger("jobs.auto_confirm")

JOB = "auto_confirm_receipt"
FIRST_RUN_LOOKBACK_DAYS = 60  # without a checkpoint, due days this far back are read
# the checkpoint: the last due day fully handled (renamed from the ship-day checkpoint of the old index)
CHECKPOINT = "due_done_through"
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
    now_iso = clock.iso(now)
    job, state = _state()
    done = state.get(CHECKPOINT)
    day = (
        date.fromisoformat(done) + timedelta(days=1)
        if done
        else now.date() - timedelta(FIRST_RUN_LOOKBACK_DAYS)
    )
    stats = {"job": JOB, "now": now_iso, "cutoff": now_iso, "confirmed": 0, "skipped": 0, "failed": 0}
    stopped = blocked = False
    while day <= now.date():
        if context is not None and context.get_remaining_time_in_millis() < STOP_WHEN_REMAINING_MS:
            stopped = True
            break
        failures = 0
        for shard in range(CONFIRM_DAY_SHARDS):
            key = f"{day.isoformat()}#{shard}"
            due = Package.by_confirm_day.query(key, Package.auto_confirm_at <= now_iso)
            # the index projects keys only: the packages by key, those still due on this day
            for package in db.queried(Package, Package.by_confirm_day, key, due):
                outcome = _confirm(package)
                stats[outcome] += 1
                failures += outcome == "failed"
        # a day with a failure keeps the checkpoint before it, so the next run retries it; today is only
        # partly due and is done once a later run has passed it
        blocked = blocked or bool(failures)
        if day < now.date() and not blocked:
            state[CHECKPOINT] = day.isoformat()
            job = _save(job, state)
        day += timedelta(days=1)
    stats["done_through"] = state.get(CHECKPOINT)
    stats["stopped_early"] = stopped
    log.info("auto-confirm run", extra=stats)
    return stats


def _confirm(package: Package) -> str:
    email = ("package_auto_confirmed", {"package_id": package.package_id, "days": auto_confirm_days(package)})
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
