"""`make job JOB=<name> NOW=<ISO 8601>`: run one scheduled handler once against the running stack.

It returns once the emails the job wrote to the outbox have left (the stack's outbox poller sends them,
as the stream's Lambda does in AWS), so what a job emails can be checked right after it, then prints what
the job did (its counts, zeros included) and its whole result as JSON (the last lines).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid

from infra.local.env import use_running_stack


def scheduled_event(now_iso: str) -> dict:
    """The event EventBridge gives a scheduled Lambda."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": now_iso,
        "region": os.environ.get("AWS_DEFAULT_REGION", "ap-southeast-1"),
        "resources": [],
        "detail": {},
    }


def main(job: str, now: str) -> None:
    use_running_stack()
    from chalicelib import clock

    if now:
        try:
            clock.set_now(clock.parse_iso(now), travel=True)  # the stack keeps the real time
        except ValueError:
            raise SystemExit(f"NOW must be ISO 8601, e.g. 2026-12-01T09:00:00Z (got {now!r})") from None
    import app as application

    handler = getattr(application, job, None)
    schedules = {s.name for s in application.app.event_sources if type(s).__name__ == "ScheduledEventConfig"}
    if not job or handler is None or job not in schedules:
        raise SystemExit(f"Unknown job {job!r}; jobs: {', '.join(sorted(schedules))}")
    result = handler(scheduled_event(clock.now_iso()), None)
    wait_for_outbox()
    print("\n".join(summary(job, result)))
    print(json.dumps(result, indent=2, default=str))


# the counts a job always reports, zeros included, in this order; any other count follows by its name
COUNTS = {
    "storage_sweep": {
        "read": "deadline entries read",
        "reminder_emails": "reminder emails sent",
        "items_abandoned": "items abandoned (onto the destruction queue, where staff destroy them)",
        "parcels_abandoned": "exceptional parcels abandoned (onto the destruction queue)",
        "packages_expired": "unpaid packages expired (their items back on the shelf)",
    },
}


def summary(job: str, result: dict) -> list[str]:
    """What the job did, one count a line."""
    finished = result.get("finished", True)
    head = f"{job} at {result.get('now', '')}: " + (
        "done" if finished else "stopped early, the next run continues"
    )
    counts = {k: v for k, v in result.items() if isinstance(v, int) and not isinstance(v, bool)}
    named = COUNTS.get(job, {})
    lines = [head.replace(" at : ", ": ")]
    lines += [f"{counts.pop(key, 0):>8}  {label}" for key, label in named.items()]
    lines += [f"{value:>8}  {key.replace('_', ' ')}" for key, value in sorted(counts.items())]
    return lines


def wait_for_outbox(seconds: float = 30) -> bool:
    """True once no email event is owed (the `unsent` index is empty); False after `seconds`."""
    from chalicelib.models.outbox import UNSENT, OutboxEvent

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if next(iter(OutboxEvent.by_unsent.query(UNSENT, limit=1)), None) is None:
            return True
        time.sleep(0.2)
    print(f"emails still owed after {seconds:.0f}s: is `make run` up?", file=sys.stderr)
    return False


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "", sys.argv[2] if len(sys.argv) > 2 else "")
