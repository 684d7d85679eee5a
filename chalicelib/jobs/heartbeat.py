"""A trivial job proving the schedule → handler → clock wiring (`make job JOB=heartbeat NOW=...`)."""

from __future__ import annotations

from chalicelib import clock
from chalicelib.logs import get_logger

log = get_logger("jobs.heartbeat")


def run() -> dict:
    now = clock.now_iso()
    log.info("heartbeat", extra={"now": now})
    return {"job": "heartbeat", "now": now}
