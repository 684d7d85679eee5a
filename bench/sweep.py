"""`make bench-sweep`: does the storage sweep's cost follow what is due, or what is stored?

Seeds 10k and 100k stored items with the same 1,000 due (500 past their deadline, 500 at the 7-day
reminder), runs the sweep once per size, and reports DynamoDB items read ÷ items due (what DynamoDB
bills and what its latency follows) and the wall-time ratio between the sizes. In-process moto, with
bench/indexed_moto.py so an index Query costs what DynamoDB's does (see that module). Writes the
table to docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tests.conftest  # noqa: E402,F401  (the test stage's environment and fake credentials)
from bench import api_cost, indexed_moto  # noqa: E402
from bench.markdown import replace_section  # noqa: E402

DUE_EXPIRED = 500
DUE_REMINDER = 500
USERS = 50
NOW = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)


def seed(total: int) -> None:
    from chalicelib import clock, ids
    from chalicelib.models.commerce import Item
    from chalicelib.models.jobs import JobState
    from chalicelib.rules import storage as storage_rules
    from infra.local import provision

    users = [
        provision.create_user(
            os.environ["USER_POOL_ID"], f"customer{n}@example.com", provision.DEMO_PASSWORD, []
        )
        for n in range(USERS)
    ]
    today = NOW.date()
    yesterday = datetime.combine(today - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    with Item.batch_write() as batch:
        for n in range(total):
            if n < DUE_EXPIRED:
                expires = yesterday + timedelta(minutes=2 * n)  # during yesterday: abandon
            elif n < DUE_EXPIRED + DUE_REMINDER:
                expires = NOW + timedelta(days=7, minutes=n)  # the 7-day reminder is due today
            else:
                expires = NOW + timedelta(days=8 + n % 80, minutes=n % 600)  # stored, nothing due
            item_id = ids.new_id("itm")
            user_id = users[n % USERS]
            batch.save(
                Item(
                    item_id,
                    user_id=user_id,
                    status="in_warehouse",
                    title=f"Stored item {n}",
                    quantity=1,
                    unit_price_fen=1000,
                    created_at=clock.iso(expires - timedelta(days=90)),
                    in_warehouse_at=clock.iso(expires - timedelta(days=90)),
                    storage_expires_at=clock.iso(expires),
                    stored_by=user_id,
                    deadline_key=storage_rules.deadline_key(expires, item_id),
                )
            )
    # yesterday's run finished normally: checkpoints as it left them
    JobState(
        "storage_sweep",
        state={
            "abandon_done_through": (today - timedelta(days=2)).isoformat(),
            "reminded_through_7": (today + timedelta(days=6)).isoformat(),
            "reminded_through_1": today.isoformat(),
        },
    ).save()


def one_run(total: int, metered: bool = False) -> dict:
    """One sweep over `total` stored items. `metered`: also compute the capacity units of each of its
    DynamoDB requests (bench/capacity.py; slower, so its time is not used) and collect what moto
    answers as ConsumedCapacity when asked for it (PynamoDB does not ask: it sets
    ReturnConsumedCapacity only for a rate-limited query)."""
    from moto import mock_aws

    from chalicelib import auth, aws, clock, users
    from chalicelib.jobs import storage_sweep
    from chalicelib.models.commerce import Item
    from infra.local import provision

    with mock_aws():
        indexed_moto.reset()
        aws.reset()
        auth.jwks.clear()
        users._email.cache_clear()
        provision.create_tables()
        provision.create_email()
        pool = provision.create_user_pool()
        os.environ["USER_POOL_ID"] = pool["user_pool_id"]
        started = time.perf_counter()
        seed(total)
        seeded_s = time.perf_counter() - started
        list(Item.by_deadline.query("warm-up#0", limit=1))  # builds the index buckets, untimed
        requests = {"Query": 0, "scanned": 0, "moto_capacity": 0.0}

        def mark(params, context, **_):
            context["procure_table"] = params.get("TableName")

        def count(http_response, parsed, model, context, **_):
            # every table's connection shares one client (chalicelib/aws.py): count the items table's
            if model.name == "Query" and context.get("procure_table") == Item.Meta.table_name:
                requests["Query"] += 1
                requests["scanned"] += int(parsed.get("ScannedCount", 0))
                requests["moto_capacity"] += float(parsed.get("ConsumedCapacity", {}).get("CapacityUnits", 0))

        def ask_capacity(params, **_):
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

        client = Item._get_connection().connection.client
        client.meta.events.register("before-parameter-build.dynamodb.Query", mark)
        client.meta.events.register("after-call.dynamodb.Query", count)
        if metered:
            client.meta.events.register("provide-client-params.dynamodb.Query", ask_capacity)
        clock.set_now(NOW)
        meter = api_cost.COUNTER.measure() if metered else contextlib.nullcontext([])
        with meter as calls:
            started = time.perf_counter()
            result = storage_sweep.run()
            elapsed = time.perf_counter() - started
        clock.set_now(None)
        client.meta.events.unregister("before-parameter-build.dynamodb.Query", mark)
        client.meta.events.unregister("after-call.dynamodb.Query", count)
        client.meta.events.unregister("provide-client-params.dynamodb.Query", ask_capacity)
    due = result.get("items_abandoned", 0) + result.get("items_reminded_7d", 0)
    assert due == DUE_EXPIRED + DUE_REMINDER, result
    return {
        "stored": total,
        "due": due,
        "read": result["read"],
        "scanned": requests["scanned"],
        "queries": requests["Query"],
        "emails": result.get("reminder_emails", 0),
        "moto_capacity": requests["moto_capacity"],
        "query_rru": sum(c.rru for c in calls if c.operation == "Query"),
        "rru": sum(c.rru for c in calls),
        "wru": sum(c.wru for c in calls),
        "requests": len(calls),
        "seconds": elapsed,
        "seed_seconds": seeded_s,
    }


def main() -> None:
    indexed_moto.apply()
    api_cost.COUNTER.install()
    sizes = [int(s) for s in os.environ.get("BENCH_SIZES", "10000,100000").split(",")]
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    rows = {}
    for size in sizes:
        runs = [one_run(size, metered=n == 0) for n in range(repeats)]
        row = dict(runs[0])  # the metered run: its counts (identical in every run) and capacity units
        timed = runs[1:] or runs
        row["seconds"] = statistics.median(r["seconds"] for r in timed)
        rows[size] = row
        print(
            f"{size:>7} stored: read {row['read']} for {row['due']} due "
            f"({row['read'] / row['due']:.3f}), {row['queries']} queries, {row['seconds']:.2f} s",
            flush=True,
        )
    small, large = rows[sizes[0]], rows[sizes[-1]]
    read_ratio = max(max(r["read"], r["scanned"]) / r["due"] for r in rows.values())
    time_ratio = large["seconds"] / small["seconds"]
    print(f"read ratio (max) {read_ratio:.3f} (target <= 1.1); time ratio {time_ratio:.2f} (target <= 1.2)")
    write_report(rows, sizes, read_ratio, time_ratio, repeats)


def write_report(rows: dict, sizes: list[int], read_ratio: float, time_ratio: float, repeats: int) -> None:
    import platform

    lines = [
        "## Storage sweep (`make bench-sweep`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, in-process moto with indexed GSI queries (bench/indexed_moto.py); "
        f"time is the median of {max(1, repeats - 1)} runs without the capacity meter.",
        "",
        "Items read: the job's own counter. Scanned: DynamoDB's `ScannedCount` summed over the job's "
        "Query answers (what a Query reads and bills, before any filter). Query RRU and all RRU/WRU: the "
        "request units DynamoDB on-demand would bill, computed per request by bench/capacity.py from the "
        "items moto stores (its rules and sources in its docstring), in one extra metered run; WRU "
        "includes the abandoned items' transitions, their index entries and the reminder emails' outbox. "
        "moto's ConsumedCapacity: what moto answers when the Query asks for it (PynamoDB does not ask "
        "unless a query is rate-limited, so the bench adds `ReturnConsumedCapacity=TOTAL`): a constant "
        "1.0 per Query whatever it read, so not DynamoDB's figure.",
        "",
        "| stored items | due | items read | scanned | read ÷ due | Query calls | Query RRU "
        "| moto's ConsumedCapacity | all RRU | all WRU | requests | reminder emails | sweep time |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        r = rows[size]
        lines.append(
            f"| {size:,} | {r['due']:,} | {r['read']:,} | {r['scanned']:,} | {r['read'] / r['due']:.3f} "
            f"| {r['queries']} | {r['query_rru']:g} | {r['moto_capacity']:g} | {r['rru']:g} | {r['wru']:g} "
            f"| {r['requests']:,} | {r['emails']} | {r['seconds']:.2f} s |"
        )
    lines += [
        "",
        f"Read ratio (the larger of items read and scanned, ÷ due) {read_ratio:.3f} (target ≤ 1.1); "
        f"Query RRU ratio {rows[sizes[-1]]['query_rru'] / max(rows[sizes[0]]['query_rru'], 1):.2f} "
        f"(target ≤ 1.1); time ratio {sizes[-1]:,} vs {sizes[0]:,}: "
        f"{time_ratio:.2f} (target ≤ 1.2).",
        "",
    ]
    replace_section(ROOT / "docs" / "benchmarks.md", "## Storage sweep", "\n".join(lines))


if __name__ == "__main__":
    main()
