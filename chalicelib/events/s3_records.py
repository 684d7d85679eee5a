"""Unwrap S3 event notifications delivered through SQS (or replayed by the local runner)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote_plus

from chalicelib.logs import get_logger

log = get_logger("events.s3")


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int
    etag: str
    sequencer: str
    event_name: str


def objects_from_bodies(bodies: Iterable[str]) -> Iterator[S3Object]:
    """Every S3 object named by the SQS message bodies; malformed bodies and test events are skipped."""
    for body in bodies:
        try:
            payload = json.loads(body)
        except (TypeError, ValueError):
            log.warning("skipping a message that is not JSON")
            continue
        if not isinstance(payload, dict):
            continue
        if payload.get("Event") == "s3:TestEvent":
            continue
        for record in payload.get("Records") or []:
            try:
                s3 = record["s3"]
                yield S3Object(
                    bucket=s3["bucket"]["name"],
                    key=unquote_plus(s3["object"]["key"]),
                    size=int(s3["object"].get("size") or 0),
                    etag=str(s3["object"].get("eTag") or s3["object"].get("etag") or ""),
                    sequencer=str(s3["object"].get("sequencer") or ""),
                    event_name=str(record.get("eventName") or ""),
                )
            except (KeyError, TypeError, ValueError):
                log.warning("skipping a malformed S3 record")
