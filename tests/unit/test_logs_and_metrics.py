"""JSON log lines and EMF metric documents, written by chalicelib/logs.py and chalicelib/metrics.py.

The golden lines and documents below were captured from the code these modules replaced: AWS Lambda
Powertools 3.37.0's formatter (LambdaPowertoolsFormatter behind its Logger, service `procure`) and its
EphemeralMetrics (namespace `Procure`), for the same records and recorded values (log timestamps in
UTC; EMF `Timestamp` set to 0, it is the time of the flush).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from chalicelib import logs, metrics, observability
from tests.conftest import ROOT

TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
INVOCATION = {
    "request_id": "req-1",
    "function_request_id": "fn-1",
    "route": "POST /orders",
    "correlation_id": "corr-42",
    "caller_id": "sub-1",
}

# captured from Powertools 3.37.0's formatter (see the module docstring)
POWERTOOLS_BOUND = (
    '{"level":"INFO","location":"create:42","message":"order ord_1 created",'
    '"timestamp":"2026-12-07 02:00:00,250+0000","service":"procure","request_id":"req-1",'
    '"function_request_id":"fn-1","route":"POST /orders","correlation_id":"corr-42","caller_id":"sub-1",'
    '"order_id":"ord_1","amount":"12.50","at":"2026-12-07 03:00:00+00:00","tags":"{\'b\'}",'
    '"nested":{"k":[1,2]},"total_fen":1250,"ok":true,"xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793"}'
)
POWERTOOLS_UNBOUND = (
    '{"level":"INFO","location":"create:42","message":"after","timestamp":"2026-12-07 02:00:00,250+0000",'
    '"service":"procure","xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793"}'
)
POWERTOOLS_JSON_MESSAGE = (
    '{"level":"INFO","location":"create:42","message":{"a":1},"timestamp":"2026-12-07 02:00:00,250+0000",'
    '"service":"procure","request_id":"req-1","function_request_id":"fn-1","route":"POST /orders",'
    '"correlation_id":"corr-42","caller_id":"sub-1","xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793"}'
)
POWERTOOLS_DICT_MESSAGE = (
    '{"level":"INFO","location":"create:42","message":{"event":"x","n":1},'
    '"timestamp":"2026-12-07 02:00:00,250+0000","service":"procure","request_id":"req-1",'
    '"function_request_id":"fn-1","route":"POST /orders","correlation_id":"corr-42","caller_id":"sub-1",'
    '"xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793"}'
)
# the exception line, its file, line and function replaced by {file}, {line}, {function}
POWERTOOLS_EXCEPTION = (
    '{"level":"ERROR","location":"create:42","message":"failed","timestamp":"2026-12-07 02:00:00,250+0000",'
    '"service":"procure","request_id":"req-1","function_request_id":"fn-1","route":"POST /orders",'
    '"correlation_id":"corr-42","caller_id":"sub-1","exception":"Traceback (most recent call last):\\n  '
    'File \\"{file}\\", line {line}, in {function}\\n    raise ValueError(\\"bad value\\")\\n'
    'ValueError: bad value","exception_name":"ValueError","stack_trace":{"type":"ValueError",'
    '"value":"bad value","module":"builtins","frames":[{"file":"{file}","line":{line},'
    '"function":"{function}","statement":"raise ValueError(\\"bad value\\")"}]},'
    '"xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793"}'
)
POWERTOOLS_SAMPLED = (
    '{"level":"INFO","location":"f:3","message":"sampled","timestamp":"2026-12-07 02:00:00,250+0000",'
    '"service":"procure","sampling_rate":"1"}'
)
# captured from Powertools 3.37.0's EphemeralMetrics, one document a line, for the values recorded in
# test_emf_documents_are_the_ones_powertools_wrote
POWERTOOLS_EMF = """\
{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"Procure","Dimensions":[["service"]],"Metrics":[{"Name":"OrdersCreated","Unit":"Count"},{"Name":"WebhooksRejected","Unit":"Count"},{"Name":"SweepDurationMs","Unit":"Milliseconds"},{"Name":"MoneyMovedFen","Unit":"None"},{"Name":"Custom","Unit":"Seconds"}]}]},"service":"procure-test","OrdersCreated":[1.0,2.0],"WebhooksRejected":[1.0],"SweepDurationMs":[1234.0],"MoneyMovedFen":[5000.0,250.0],"Custom":[1.5]}
{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"Procure","Dimensions":[["reason","service"]],"Metrics":[{"Name":"WebhooksRejected","Unit":"Count"}]}]},"reason":"bad_signature","service":"procure-test","WebhooksRejected":[1.0]}
{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"Procure","Dimensions":[["kind","service"]],"Metrics":[{"Name":"MoneyMovedFen","Unit":"None"}]}]},"kind":"order_payment","service":"procure-test","MoneyMovedFen":[5000.0]}
{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"Procure","Dimensions":[["kind","service"]],"Metrics":[{"Name":"MoneyMovedFen","Unit":"None"}]}]},"kind":"top_up","service":"procure-test","MoneyMovedFen":[250.0]}
{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"Procure","Dimensions":[["a","b","service"]],"Metrics":[{"Name":"Custom","Unit":"Seconds"}]}]},"a":"x","b":"2","service":"procure-test","Custom":[1.5]}
"""


def record(msg, args=(), exc_info=None, level=logging.INFO, func="create", lineno=42, **extra):
    """A record as `log.info(msg, *args, extra=extra)` in orders.py's `create` makes it, at a fixed time."""
    path = "/var/task/chalicelib/orders.py"
    made = logging.LogRecord("procure.chalicelib.orders", level, path, lineno, msg, args, exc_info, func)
    made.created, made.msecs = 1796608800.25, 250.0  # 2026-12-07 02:00:00.250 UTC
    made.__dict__.update(extra)
    return made


@pytest.fixture
def formatter(monkeypatch):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE_HEADER)
    made = logs.JsonFormatter(service="procure")
    made.converter = time.gmtime  # the lines were captured in UTC (Lambda's time zone)
    return made


@pytest.fixture
def emitted(capsys):
    """The JSON lines written to stdout while the test ran."""
    metrics.discard()
    capsys.readouterr()

    def read() -> list[dict]:
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    yield read
    metrics.discard()


# --- logs ----------------------------------------------------------------------------------------


def test_log_lines_are_the_ones_powertools_wrote(formatter):
    formatter.append_keys(**INVOCATION)
    bound = record(
        "order %s created",
        ("ord_1",),
        order_id="ord_1",
        amount=Decimal("12.50"),
        at=datetime(2026, 12, 7, 3, tzinfo=UTC),
        tags={"b"},
        nested={"k": [1, 2]},
        total_fen=1250,
        ok=True,
        nothing=None,
    )
    assert formatter.format(bound) == POWERTOOLS_BOUND
    assert formatter.format(record('{"a": 1}')) == POWERTOOLS_JSON_MESSAGE
    assert formatter.format(record({"event": "x", "n": 1})) == POWERTOOLS_DICT_MESSAGE
    formatter.remove_keys(INVOCATION)
    assert formatter.format(record("after")) == POWERTOOLS_UNBOUND


def test_an_exception_is_written_with_its_name_traceback_and_frames(formatter):
    formatter.append_keys(**INVOCATION)
    try:
        raise ValueError("bad value")
    except ValueError:
        exc_info = sys.exc_info()
    line = formatter.format(record("failed", exc_info=exc_info, level=logging.ERROR))
    expected = (
        POWERTOOLS_EXCEPTION.replace("{file}", __file__)
        .replace("{line}", str(exc_info[2].tb_lineno))
        .replace("{function}", "test_an_exception_is_written_with_its_name_traceback_and_frames")
    )
    assert line == expected
    written = json.loads(line)
    assert written["exception"].startswith("Traceback (most recent call last):")
    assert written["exception_name"] == "ValueError" and "exception_notes" not in written


def test_exception_notes_are_a_list(formatter):
    try:
        error = KeyError("k")
        error.add_note("while paying")
        raise error
    except KeyError:
        line = json.loads(formatter.format(record("noted", exc_info=sys.exc_info(), level=logging.ERROR)))
    assert line["exception_notes"] == ["while paying"]
    assert line["exception"].endswith("KeyError: 'k'\nwhile paying")
    assert line["stack_trace"]["value"] == "'k'"


def test_without_a_trace_header_there_is_no_trace_id(formatter, monkeypatch):
    monkeypatch.delenv("_X_AMZN_TRACE_ID")
    assert "xray_trace_id" not in json.loads(formatter.format(record("x")))


def test_the_keys_of_an_invocation_are_on_its_lines_and_gone_after_it(emitted):
    log = logs.get_logger("probe")
    context = SimpleNamespace(aws_request_id="lambda-req-7", function_name="procure-jobs")
    event = SimpleNamespace(context=context)

    def handler(_):
        observability.bind(caller_id="sub-9")
        log.info("inside", extra={"order_id": "ord_3"})
        metrics.count("OrdersCreated")
        return None

    observability._middleware(event, handler)
    log.info("outside")
    inside, document, outside = emitted()
    assert {k: inside[k] for k in (*observability.KEYS, "order_id", "service")} == {
        "request_id": "lambda-req-7",
        "function_request_id": "lambda-req-7",
        "route": "simplenamespace procure-jobs",
        "correlation_id": "lambda-req-7",
        "caller_id": "sub-9",
        "order_id": "ord_3",
        "service": "procure",
    }
    assert list(inside)[:4] == ["level", "location", "message", "timestamp"]
    assert inside["location"].startswith("handler:")
    assert document["OrdersCreated"] == [1.0]  # flushed when the invocation ended
    assert outside["message"] == "outside" and not set(observability.KEYS) & set(outside)


def test_lines_below_the_level_are_not_written(emitted, monkeypatch):
    log = logs.get_logger("probe")
    try:
        logs.set_level("warning")
        log.info("hidden")
        log.warning("shown")
        log.error("also shown")
        monkeypatch.setenv("AWS_LAMBDA_LOG_LEVEL", "ERROR")  # Lambda's logging controls win
        logs.set_level("DEBUG")
        log.warning("hidden too")
        log.error("still shown")
        assert [(line["level"], line["message"]) for line in emitted()] == [
            ("WARNING", "shown"),
            ("ERROR", "also shown"),
            ("ERROR", "still shown"),
        ]
    finally:
        monkeypatch.delenv("AWS_LAMBDA_LOG_LEVEL")
        logs.set_level("INFO")


def test_chalice_leaves_the_procure_logger_to_us():
    """Its app logger has the same name: it sees our stdout handler and adds none of its own."""
    from chalice import Chalice

    logs.get_logger("probe")
    logger = logging.getLogger(logs.SERVICE_LOGGER)
    before = (list(logger.handlers), logger.level, logger.propagate)
    Chalice(app_name=logs.SERVICE_LOGGER)
    assert (list(logger.handlers), logger.level, logger.propagate) == before
    ours = [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]  # pytest's capture
    assert len(ours) == 1 and isinstance(ours[0].formatter, logs.JsonFormatter)
    assert logger.level == logging.INFO and not logger.propagate


def test_sampling_logs_a_cold_start_at_debug_and_says_so():
    probe = (
        "import logging, time; from chalicelib import logs; log = logs.get_logger('probe'); "
        "logs.formatter().converter = time.gmtime; "
        "made = logging.LogRecord('procure.x', logging.INFO, '/var/task/x.py', 3, 'sampled', (), None, 'f'); "
        "made.created, made.msecs = 1796608800.25, 250.0; "
        "print(logs.formatter().format(made)); log.debug('debug shown')"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update({"POWERTOOLS_LOGGER_SAMPLE_RATE": "1", "LOG_LEVEL": "INFO"})
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == POWERTOOLS_SAMPLED
    assert json.loads(out[1])["message"] == "debug shown"


# --- metrics -------------------------------------------------------------------------------------


def test_emf_documents_are_the_ones_powertools_wrote(emitted):
    metrics.count("OrdersCreated")
    metrics.count("OrdersCreated", 2)
    metrics.count("WebhooksRejected", reason="bad_signature")
    metrics.record("SweepDurationMs", 1234)
    metrics.record("MoneyMovedFen", 5000, kind="order_payment")
    metrics.record("MoneyMovedFen", 250, kind="top_up")
    metrics.record("Custom", 1.5, "Seconds", a="x", b=2)
    before = int(time.time() * 1000)
    documents = metrics.flush()
    written = emitted()
    assert written == documents
    for document in documents:
        assert before <= document["_aws"]["Timestamp"] <= int(time.time() * 1000)
        document["_aws"]["Timestamp"] = 0
    assert "\n".join(json.dumps(d, separators=(",", ":")) for d in documents) + "\n" == POWERTOOLS_EMF
    assert metrics.pending() == {}


def test_more_than_100_metrics_or_values_are_split_over_documents_and_none_is_lost(emitted):
    for i in range(150):
        metrics.record(f"Metric{i:03d}", i)
    for i in range(250):
        metrics.record("Repeated", i, kind="k")
    documents = metrics.flush()
    assert emitted() == documents
    found: dict[tuple, list[float]] = {}
    for document in documents:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Procure"
        assert 1 <= len(directive["Metrics"]) <= metrics.MAX_METRICS
        (dimension_set,) = directive["Dimensions"]
        assert dimension_set[-1] == "service" and all(k in document for k in dimension_set)
        for definition in directive["Metrics"]:
            values = document[definition["Name"]]
            assert 1 <= len(values) <= metrics.MAX_VALUES
            found.setdefault((tuple(dimension_set), definition["Name"]), []).extend(values)
    assert found[(("service",), "Repeated")] == found[(("kind", "service"), "Repeated")]
    assert found[(("service",), "Repeated")] == [float(i) for i in range(250)]
    assert {name: values for (dims, name), values in found.items() if name != "Repeated"} == {
        f"Metric{i:03d}": [float(i)] for i in range(150)
    }
    # without dimensions: 151 metrics in 100 + 51 (Repeated's first 100 values), then 100 and 50 values;
    # with `kind`: Repeated's 250 values in 100 + 100 + 50
    assert len(documents) == 4 + 3


def test_exactly_100_values_are_one_document():
    metrics.discard()
    for i in range(100):
        metrics.record("Repeated", i)
    try:
        (document,) = metrics.flush()
    finally:
        metrics.discard()
    assert len(document["Repeated"]) == 100


def test_dimensions_are_limited_and_blank_ones_left_out(emitted):
    with pytest.raises(ValueError):
        metrics.count("Wide", **{f"d{i:02d}": "x" for i in range(30)})
    metrics.count("Narrow", **{f"d{i:02d}": "x" for i in range(29)})
    metrics.count("Blank", reason=" ")
    assert set(metrics.pending()) == {(), tuple((f"d{i:02d}", "x") for i in range(29))}
    assert metrics.pending()[()] == {"Narrow": ("Count", [1]), "Blank": ("Count", [1])}


def test_logs_and_metrics_import_no_powertools():
    probe = (
        "import sys; from chalicelib import logs, metrics, observability; "
        "logs.get_logger('probe').info('x'); observability.bind(route='r'); metrics.count('OrdersCreated'); "
        "metrics.flush(); logs.remove_keys(['route']); "
        "print(sorted(m for m in sys.modules if m.startswith(('aws_lambda_powertools', 'jmespath'))))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert "aws_lambda_powertools" not in out[-1] and "jmespath" not in out[-1], out[-1]
