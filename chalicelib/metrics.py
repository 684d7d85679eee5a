"""Business and health metrics as CloudWatch embedded metric format (EMF) lines on stdout.

Services record with one line, e.g. `metrics.count("OrdersCreated")` or
`metrics.count("WebhooksRejected", reason="bad_signature")`; nothing is sent to AWS from the function:
CloudWatch Logs turns each EMF line into metrics (no PutMetricData, no IAM grant, no latency).

Values are buffered and written when the invocation ends (chalicelib/observability.py flushes them
after every handler, also when it raised), one EMF document per dimension set. A metric recorded with
dimensions is also recorded without them, so alarms and the dashboard can use the total (CloudWatch
alarms cannot sum over a dimension).

The documents follow the EMF specification
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
`{"_aws": {"Timestamp": <epoch ms>, "CloudWatchMetrics": [{"Namespace": "Procure", "Dimensions":
[["kind", "service"]], "Metrics": [{"Name": "MoneyMovedFen", "Unit": "None"}]}]}, "kind": "top_up",
"service": "procure-prod", "MoneyMovedFen": [250.0]}`: the dimension values and each metric's values
(an array of numbers) are members of the root. They are written as AWS Lambda Powertools'
EphemeralMetrics (3.37.0) wrote them before this module formatted them itself: dimensions in name order
then `service`, values as floats in the order recorded. The specification allows at most 100 metrics
per directive, 100 values per metric and 30 dimension keys per dimension set: a dimension set with more
metrics or values is split over several documents (nothing is dropped), and more than 29 dimensions
(plus `service`) is refused when recorded. A metric's unit is a CloudWatch unit; an unknown one is
written as `Count`.

Namespace `Procure`, dimension `service` = `procure-<STAGE>`: the stages of one account stay apart.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager

TYPE_CHECKING = False  # typing stays out of the import (type checkers read the block below)
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any

NAMESPACE = "Procure"
# the specification's limits: metrics per directive, values per metric, dimension keys per set
MAX_METRICS = 100
MAX_VALUES = 100
MAX_DIMENSIONS = 30
# the units a metric may have (CloudWatch's MetricDatum Unit)
UNITS = frozenset(
    (
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
        "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
        "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
        "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
        "Count/Second", "None",
    )
)  # fmt: skip

# every metric the code records: name -> (unit, dimension names, what it counts). The dashboard and the
# alarms (infra/template.py) are built from this table, and a test checks every name is recorded.
CATALOG: dict[str, tuple[str, tuple[str, ...], str]] = {
    "OrdersCreated": ("Count", (), "procurement orders created"),
    "OrdersPaid": ("Count", (), "orders paid, from the wallet or by the provider (order_payment legs)"),
    "PaymentsSettled": ("Count", (), "provider payments settled by a signed webhook (not duplicates)"),
    "WebhooksRejected": ("Count", ("reason",), "payment webhooks refused (bad signature, stale, unknown...)"),
    "ReviewsOverdue": ("Count", (), "orders waiting for review past their review deadline (hourly gauge)"),
    "ParcelsReceived": ("Count", ("outcome",), "parcels received at the warehouse: matched or exceptional"),
    "PhotosIngested": ("Count", (), "QC photos attached to their item"),
    "PhotosQuarantined": ("Count", ("reason",), "uploads moved to quarantine/, by reason"),
    "PhotoMessagesFailed": ("Count", (), "photo queue messages handed back to SQS for redelivery"),
    "RemindersSent": ("Count", (), "storage reminder emails written to the outbox by the sweep"),
    "EmailsSent": ("Count", ("template",), "outbox emails SES accepted, by template"),
    "EmailsFailed": ("Count", (), "outbox emails whose send failed for now (retried by the stream)"),
    "EmailsUndeliverable": ("Count", ("template",), "outbox emails given up: no address, or SES refused"),
    "OutboxTasksDone": ("Count", ("kind",), "outbox tasks run after their change (photos-ready checks...)"),
    "ItemsAbandoned": ("Count", (), "items (and exceptional parcels) abandoned past their storage deadline"),
    "ItemsDestroyed": ("Count", ("what",), "abandoned items and parcels destroyed"),
    "SweepDurationMs": ("Milliseconds", (), "storage sweep run time"),
    "SweepDaysCaughtUp": ("Count", (), "deadline days the storage sweep completed in a run"),
    "MoneyMovedFen": ("None", ("kind",), "money moved through the wallet ledger, in fen, per ledger kind"),
    "JobCompleted": ("Count", ("job",), "a scheduled job finished its run (heartbeat for the 26 h alarms)"),
    "ExchangeRatesStale": ("Count", (), "currencies whose rate is stale after an exchange-rate run"),
    "ExchangeRatesRefused": (
        "Count",
        ("reason",),
        "published rates held back: future_date, out_of_bounds, jump (a day-over-day move past the limit)",
    ),
}

_lock = threading.Lock()
# {dimensions (sorted tuple of pairs): {metric name: (unit, [values])}}
_pending: dict[tuple[tuple[str, str], ...], dict[str, tuple[str, list[float]]]] = {}


def service() -> str:
    from chalicelib import config

    return f"procure-{config.get('STAGE')}"


def record(name: str, value: float, unit: str | None = None, **dimensions: Any) -> None:
    """Buffer one value of `name` (unit from CATALOG unless given); flushed at the end of the invocation."""
    unit = unit or CATALOG.get(name, ("Count",))[0]
    sets: list[tuple[tuple[str, str], ...]] = [()]
    # a blank dimension value cannot be a CloudWatch dimension: left out (Powertools skipped it too)
    named = tuple(sorted((k, str(v)) for k, v in dimensions.items() if str(v).strip()))
    if len(named) > MAX_DIMENSIONS - 1:  # `service` is the last one
        raise ValueError(f"{name}: more than {MAX_DIMENSIONS - 1} dimensions")
    if named:
        sets.append(named)
    with _lock:
        for dims in sets:
            _pending.setdefault(dims, {}).setdefault(name, (unit, []))[1].append(value)


def count(name: str, value: int = 1, **dimensions: Any) -> None:
    """`name` happened `value` times (0 is skipped: nothing happened)."""
    if value:
        record(name, value, "Count", **dimensions)


def ledger(legs: dict[str, Iterable[Any]]) -> None:
    """The wallet's committed legs ({user_id: [Leg(amount_fen, kind, ref)]}): money moved per kind, and
    orders paid (an `order_payment` leg, from the balance or settled by the provider)."""
    for user_legs in legs.values():
        for leg in user_legs:
            record("MoneyMovedFen", abs(int(leg.amount_fen)), kind=leg.kind)
            if leg.kind == "order_payment":
                count("OrdersPaid")


def job(result: dict, started: float) -> dict:
    """A scheduled job's run (`result` as the job returns it, `started` = time.monotonic() before it):
    JobCompleted{job} when it finished its work (the 26-hour alarms' heartbeat), and the sweep's
    duration, reminders sent and items abandoned from its stats. Returns `result`."""
    import time

    name = result.get("job", "unknown")
    finished = result.get("finished", not result.get("stopped_early", False))
    if name == "storage_sweep":
        record("SweepDurationMs", round((time.monotonic() - started) * 1000))
        count("RemindersSent", int(result.get("reminder_emails", 0)))
        count(
            "ItemsAbandoned", int(result.get("items_abandoned", 0)) + int(result.get("parcels_abandoned", 0))
        )
    if finished:
        count("JobCompleted", job=name)
    return result


@contextmanager
def on_error(name: str) -> Iterator[None]:
    """Count `name` with `reason` = the error's code when the block raises an ApiError (re-raised)."""
    from chalicelib.errors import ApiError

    try:
        yield
    except ApiError as exc:
        count(name, reason=exc.code)
        raise


def pending() -> dict:
    """What would be flushed now (tests)."""
    with _lock:
        return {
            dims: {n: (u, list(v)) for n, (u, v) in metrics.items()} for dims, metrics in _pending.items()
        }


def flush() -> list[dict]:
    """Write every buffered value as EMF (one JSON line per document); returns the documents."""
    with _lock:
        batches = list(_pending.items())
        _pending.clear()
    if not batches:
        return []
    import time

    service_name = service()
    documents = []
    for dims, metrics in batches:
        dimensions = dict(dims)
        dimensions.setdefault("service", service_name)
        for document in _documents(dimensions, metrics, int(time.time() * 1000)):
            documents.append(document)
            print(json.dumps(document, separators=(",", ":")), flush=True)
    return documents


def _documents(
    dimensions: dict[str, str], metrics: dict[str, tuple[str, list[float]]], timestamp: int
) -> Iterator[dict]:
    """EMF documents for one dimension set: each metric's values MAX_VALUES at a time, MAX_METRICS
    metrics a document."""
    longest = max(len(values) for _, values in metrics.values())
    for start in range(0, longest, MAX_VALUES):
        chunk = [
            (name, unit, values[start : start + MAX_VALUES])
            for name, (unit, values) in metrics.items()
            if len(values) > start
        ]
        for first in range(0, len(chunk), MAX_METRICS):
            part = chunk[first : first + MAX_METRICS]
            directive = {
                "Namespace": NAMESPACE,
                "Dimensions": [list(dimensions)],
                "Metrics": [
                    {"Name": name, "Unit": unit if unit in UNITS else "Count"} for name, unit, _ in part
                ],
            }
            yield {
                "_aws": {"Timestamp": timestamp, "CloudWatchMetrics": [directive]},
                **dimensions,
                **{name: [float(v) for v in values] for name, _, values in part},
            }


def discard() -> None:
    with _lock:
        _pending.clear()
