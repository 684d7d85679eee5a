"""Event handlers (S3 notifications via SQS, ...). Each is idempotent: events arrive at least once."""
