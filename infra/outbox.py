"""`python -m infra.outbox --stage prod --user-pool-id <id> [--older-than-minutes 60]`: send the outbox
events the stream gave up on (docs/operations.md, OutboxEmailsDelayed).

The stream retries a failing record for 24 hours; the event itself stays `pending` in the outbox table,
in its sparse `unsent` index. This lists those older than the given age (a Query, oldest first) and
hands each to the handler's own `deliver`, whose conditional claim keeps it from sending an email that
was sent meanwhile. Run with the stage's credentials (DynamoDB, Cognito ListUsers, SES).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta


def redrive(older_than: timedelta) -> dict[str, int]:
    """Deliver every undelivered event created more than `older_than` ago; counts by outcome."""
    from chalicelib import clock
    from chalicelib.events import outbox
    from chalicelib.models.outbox import UNSENT, OutboxEvent

    cutoff = clock.iso(clock.now() - older_than)
    outcomes: dict[str, int] = {}
    for event in OutboxEvent.by_unsent.query(UNSENT, OutboxEvent.created_at < cutoff):
        try:
            outcome = outbox.deliver(event.event_id)
        except Exception as exc:  # still failing: counted, the next run tries again
            print(f"{event.event_id}: {type(exc).__name__}: {exc}", file=sys.stderr)
            outcome = "failed"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def main(argv: list[str] | None = None) -> int:
    from infra import chalice_sam

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--user-pool-id", required=True, help="the stack's UserPoolId output")
    parser.add_argument("--older-than-minutes", type=int, default=60)
    args = parser.parse_args(argv)
    chalice_sam.apply_stage_environment(args.stage)  # before anything imports the models
    os.environ["USER_POOL_ID"] = args.user_pool_id
    outcomes = redrive(timedelta(minutes=args.older_than_minutes))
    print(json.dumps(outcomes))
    return 1 if outcomes.get("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
