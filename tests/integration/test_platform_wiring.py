"""Schedules, S3 → SQS → ingestion handler wiring, and the route table's auth decisions."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib import aws, clock, config
from chalicelib.web import PREFLIGHT_PATHS, ROUTES
from infra.local.job import scheduled_event


def test_scheduled_job_runs_at_the_injected_time(app_module):
    clock.set_now(datetime(2027, 3, 1, 9, 30, tzinfo=UTC))
    result = app_module.heartbeat(scheduled_event(clock.now_iso()), None)
    assert result == {"job": "heartbeat", "now": "2027-03-01T09:30:00Z"}


def drain(queue_url: str) -> list[dict]:
    sqs = aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return messages


def sqs_event(messages: list[dict], queue_arn: str) -> dict:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "ap-southeast-1",
            }
            for m in messages
        ]
    }


def test_uploads_under_the_photo_prefix_reach_the_ingestion_handler(stack, app_module):
    s3 = aws.client("s3")
    s3.put_object(Bucket=stack["bucket"], Key=config.PHOTO_UPLOAD_PREFIX + "itm_x/ph_y.jpg", Body=b"x")
    s3.put_object(Bucket=stack["bucket"], Key="catalog/other.jpg", Body=b"x")
    messages = drain(stack["photo_queue_url"])
    # S3 also sends an s3:TestEvent when notifications are configured, as AWS does; it is skipped
    assert sum('"Records"' in m["Body"] for m in messages) == 1
    assert app_module.photo_events(sqs_event(messages, stack["photo_queue_arn"]), None) == {
        "batchItemFailures": []
    }


def test_every_chalice_route_was_declared_through_the_route_table(app_module):
    declared = {(spec.method, spec.path) for spec in ROUTES}
    preflights = {("OPTIONS", path) for path in PREFLIGHT_PATHS}  # route() adds one per path (CORS)
    registered = {(method, path) for path, methods in app_module.app.routes.items() for method in methods}
    assert registered == declared | preflights
    assert {spec.path for spec in ROUTES} == PREFLIGHT_PATHS
    public = {(s.method, s.path) for s in ROUTES if s.public}
    assert ("GET", "/health") in public
    assert ("GET", "/me") not in public
