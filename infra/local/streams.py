"""What Lambda's DynamoDB Streams event source mapping does, for the local stack and the tests.

Reads a table's stream from its start (TRIM_HORIZON, as app.py's mapping does), hands batches to the
handler in Lambda's event shape, and checkpoints after each batch. A partial batch response
(ReportBatchItemFailures) moves the checkpoint to the first failed record, so the next poll reads it and
every record after it again, as Lambda retries; a handler that raises gets the whole batch again.
Works against moto in-process (tests) and moto's server (`make run`): both implement dynamodbstreams.
One driver per stream and process; not thread-safe (the stack polls from one thread).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib import aws, config


class StreamDriver:
    def __init__(self, table_name: str, handler: Callable[[dict, Any], Any], batch_size: int = 25):
        self.table_name = table_name
        self.handler = handler
        self.batch_size = batch_size
        self._stream: tuple[str, str] | None = None  # (stream arn, shard id)
        self._next: str | None = None  # the shard iterator to read from
        self.invocations = 0
        self.failed_records = 0
        self._client: Any = None

    def _streams(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # botocore's account-based streams host (<account>.streams-ddb...) is one moto does not serve
            self._client = boto3.session.Session().client(
                "dynamodbstreams",
                region_name=config.region(),
                endpoint_url=config.endpoint_url(),
                config=Config(account_id_endpoint_mode="disabled"),
            )
        return self._client

    def _iterator(self, kind: str, sequence_number: str | None = None) -> str:
        streams = self._streams()
        if self._stream is None:
            arn = aws.client("dynamodb").describe_table(TableName=self.table_name)["Table"]["LatestStreamArn"]
            shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
            self._stream = (arn, shard)
        arn, shard = self._stream
        kwargs = {"SequenceNumber": sequence_number} if sequence_number else {}
        return streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **kwargs)[
            "ShardIterator"
        ]

    def poll(self) -> int:
        """Read one batch and invoke the handler with it; returns how many records it held."""
        if self._next is None:
            self._next = self._iterator("TRIM_HORIZON")
        read = self._streams().get_records(ShardIterator=self._next, Limit=self.batch_size)
        records = [self._lambda_record(r, self._stream[0]) for r in read.get("Records", [])]
        if not records:
            self._next = read.get("NextShardIterator") or self._next
            return 0
        self.invocations += 1
        try:
            answer = self.handler({"Records": records}, None)
        except Exception:
            self._next = self._iterator("AT_SEQUENCE_NUMBER", records[0]["dynamodb"]["SequenceNumber"])
            self.failed_records += len(records)
            raise
        failed = [f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])]
        if failed:
            self.failed_records += len(failed)
            self._next = self._iterator("AT_SEQUENCE_NUMBER", min(failed, key=int))
        else:
            self._next = read["NextShardIterator"]
        return len(records)

    def drain(self, max_batches: int = 100) -> None:
        """Poll until the stream has nothing new, or `max_batches` batches (a handler failing for good)."""
        for _ in range(max_batches):
            before = self.failed_records
            if not self.poll() or self.failed_records > before:
                return

    @staticmethod
    def _lambda_record(record: dict, stream_arn: str) -> dict:
        """boto3 parses the record's time; Lambda's event has it in epoch seconds."""
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        return {
            **record,
            "awsRegion": config.region(),
            "eventSourceARN": stream_arn,
            "dynamodb": dynamodb,
        }
