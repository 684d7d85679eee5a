"""Running it in production: cold-start imports, EMF metrics emitted by the handlers, structured log
fields, correlation from the API to the photo ingestion, tracing off locally."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import requests

from chalicelib import aws, clock, metrics, observability, routing
from infra.local.job import scheduled_event
from tests.conftest import ROOT
from tests.integration.conftest import ALICE, WAREHOUSE, send_webhook, top_up

# --- helpers -------------------------------------------------------------------------------------


def lines(out: str) -> list[dict]:
    found = []
    for line in out.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def emf(out: str) -> list[dict]:
    return [doc for doc in lines(out) if "_aws" in doc]


def values(docs: list[dict], name: str, **dimensions: str) -> list:
    """Values of metric `name` in EMF documents whose dimension set is exactly service + `dimensions`."""
    found = []
    for doc in docs:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == metrics.NAMESPACE
        (dimension_set,) = directive["Dimensions"]
        if set(dimension_set) != {"service", *dimensions}:
            continue
        if any(doc.get(k) != v for k, v in dimensions.items()) or name not in doc:
            continue
        declared = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
        assert declared[name] == metrics.CATALOG[name][0]
        assert doc["service"] == "procure-test"
        value = doc[name]
        found.extend(value if isinstance(value, list) else [value])
    return found


def logs(out: str) -> list[dict]:
    return [doc for doc in lines(out) if "_aws" not in doc and "message" in doc]


DIRECT_ORDER = {
    "items": [{"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2}],
    "payment_channel": "balance",
}


# --- cold start ----------------------------------------------------------------------------------


def test_importing_the_app_imports_no_route_module_model_or_heavy_library():
    probe = (
        "import sys, app; "
        "print(sum(len(m) for m in app.app.routes.values())); "
        "print(sorted(m for m in sys.modules if m.startswith(('chalicelib.api', 'chalicelib.models', "
        "'pydantic', 'pynamodb', 'PIL', 'jwt', 'cryptography', 'aws_xray_sdk', 'wrapt', "
        "'aws_lambda_powertools', 'chalicelib.jobs', 'chalicelib.events', 'chalicelib.catalog'))))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    index = routing.current_index()
    indexed = sum(len(r) for r in index.values())
    paths = {path for routes in index.values() for _, path in routes}  # each with its CORS preflight
    assert int(out[0]) == indexed + len(paths) and indexed > 40
    assert out[1] == "[]"


def test_the_route_index_is_the_route_table():
    assert not routing.index_is_stale(), "chalicelib/route_index.py is stale: run `make openapi`"


def test_a_route_module_is_imported_on_its_first_request_and_then_served_directly():
    probe = (
        "import sys, json, app\n"
        "from chalice.test import Client\n"
        "before = app.app.routes['/health']['GET'].view_name\n"
        "with Client(app.app) as client:\n"
        "    first = client.http.get('/health')\n"
        "    after = app.app.routes['/health']['GET'].view_name\n"
        "    second = client.http.get('/me')\n"
        "print(json.dumps([before, first.status_code, json.loads(first.body), after, second.status_code,\n"
        "    'chalicelib.api.identity' in sys.modules, 'chalicelib.api.orders' in sys.modules,\n"
        "    'aws_lambda_powertools' in sys.modules]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()[-1]
    before, status, body, after, me_status, identity_loaded, orders_loaded, powertools = json.loads(out)
    assert before == "lazy:chalicelib.api.identity" and after == "health"  # the real view replaced it
    assert (status, body) == (200, {"status": "ok"})
    assert me_status == 401  # another route of the module, answered by its real view
    assert identity_loaded and not orders_loaded  # only the module the request needed
    assert not powertools  # logs and metrics are written by chalicelib (tracing is off locally)


# --- metrics (EMF on stdout) ---------------------------------------------------------------------


def test_orders_created_and_paid_and_money_moved_are_emitted(api, shop, capsys):
    top_up(api, ALICE, 100_00)
    capsys.readouterr()
    created = api.post("/orders", DIRECT_ORDER, user=ALICE)
    assert created.status == 201, created.body
    out = capsys.readouterr().out
    assert values(emf(out), "OrdersCreated") == [1]

    paid = api.post(f"/orders/{created.body['order_id']}/pay", user=ALICE)
    assert paid.status == 200, paid.body
    docs = emf(capsys.readouterr().out)
    assert values(docs, "OrdersPaid") == [1]
    total = created.body["charges"]["total_fen"]
    assert values(docs, "MoneyMovedFen", kind="order_payment") == [total]
    assert values(docs, "MoneyMovedFen") == [total]  # the total over kinds, for alarms and the dashboard


def test_settled_payments_count_once_and_rejected_webhooks_count_by_reason(api, capsys):
    created = api.post("/wallet/top-ups", {"amount_fen": 5000, "channel": "alipay"}, user=ALICE).body
    capsys.readouterr()
    assert send_webhook(api, created["payment_id"], created["charge_fen"], event_id="evt_1").status == 200
    assert send_webhook(api, created["payment_id"], created["charge_fen"], event_id="evt_1").status == 200
    docs = emf(capsys.readouterr().out)
    assert values(docs, "PaymentsSettled") == [1]
    assert values(docs, "MoneyMovedFen", kind="top_up") == [5000]

    assert (
        send_webhook(api, created["payment_id"], created["charge_fen"], secret="wrong-secret").status == 400
    )
    assert send_webhook(api, "pay_unknown", 100).status == 400
    docs = emf(capsys.readouterr().out)
    assert values(docs, "WebhooksRejected", reason="invalid_signature") == [1]
    assert values(docs, "WebhooksRejected", reason="validation_error") == [1]
    assert sum(values(docs, "WebhooksRejected")) == 2


def test_scheduled_jobs_emit_their_completion_heartbeat_and_sweep_figures(app_module, capsys):
    clock.set_now(datetime(2027, 3, 1, 9, 30, tzinfo=UTC))
    capsys.readouterr()
    app_module.heartbeat(scheduled_event(clock.now_iso()), None)
    docs = emf(capsys.readouterr().out)
    assert values(docs, "JobCompleted", job="heartbeat") == [1]
    assert values(docs, "ReviewsOverdue") == [0]

    app_module.storage_sweep(scheduled_event(clock.now_iso()), None)
    docs = emf(capsys.readouterr().out)
    assert values(docs, "JobCompleted", job="storage_sweep") == [1]
    (duration,) = values(docs, "SweepDurationMs")
    assert duration >= 0
    assert values(docs, "SweepDaysCaughtUp") and sum(values(docs, "SweepDaysCaughtUp")) >= 1

    app_module.auto_confirm_receipt(scheduled_event(clock.now_iso()), None)
    assert values(emf(capsys.readouterr().out), "JobCompleted", job="auto_confirm_receipt") == [1]


def test_overdue_reviews_are_counted_by_the_hourly_job(api, shop, app_module, capsys):
    top_up(api, ALICE, 100_00)
    order = api.post("/orders", DIRECT_ORDER, user=ALICE).body
    assert api.post(f"/orders/{order['order_id']}/pay", user=ALICE).status == 200
    clock.set_now(clock.now() + timedelta(days=10))
    capsys.readouterr()
    app_module.heartbeat(scheduled_event(clock.now_iso()), None)
    assert values(emf(capsys.readouterr().out), "ReviewsOverdue") == [1]


def test_metrics_are_flushed_even_when_the_handler_raises(app_module, capsys, monkeypatch):
    from chalicelib.jobs import heartbeat

    def failing():
        metrics.count("RemindersSent")
        raise RuntimeError("boom")

    monkeypatch.setattr(heartbeat, "run", failing)
    with pytest.raises(RuntimeError):
        app_module.heartbeat(scheduled_event(clock.now_iso()), None)
    assert values(emf(capsys.readouterr().out), "RemindersSent") == [1]
    assert metrics.pending() == {}


def test_every_catalogued_metric_is_recorded_somewhere_in_the_code():
    code = "\n".join(p.read_text() for p in [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")])
    for name in metrics.CATALOG:
        if name == "MoneyMovedFen" or name == "OrdersPaid":
            assert "metrics.ledger(" in (ROOT / "chalicelib" / "uow.py").read_text()  # every commit
            continue
        assert code.count(f'"{name}"') >= 2, f"{name} is catalogued but never recorded"


# --- photos: metrics and the correlation id from the API ------------------------------------------


def test_photo_ingestion_counts_ingested_and_quarantined_and_keeps_the_api_correlation_id(
    api, app_module, stack, capsys
):
    from tests.integration.test_photos import deliver_queue, image_bytes, make_item

    item_id = make_item(api)
    result = api.post(
        f"/staff/items/{item_id}/photos",
        {"content_type": "image/jpeg"},
        user=WAREHOUSE,
        headers={"X-Correlation-Id": "corr-photo-1"},
    )
    assert result.status == 201, result.body
    assert result.headers["X-Correlation-Id"] == "corr-photo-1"
    upload = result.body["upload"]
    assert upload["fields"]["x-amz-meta-correlation-id"] == "corr-photo-1"
    sent = requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("a.jpg", image_bytes(), "image/jpeg")},
        timeout=10,
    )
    assert sent.status_code in (200, 201, 204), sent.text
    aws.client("s3").put_object(Bucket=stack["bucket"], Key="qc/not-a-photo-key", Body=b"x")
    capsys.readouterr()
    deliver_queue(app_module, stack)
    out = capsys.readouterr().out
    assert values(emf(out), "PhotosIngested") == [1]
    assert values(emf(out), "PhotosQuarantined", reason="unknown_key") == [1]
    (attached,) = [line for line in logs(out) if line["message"] == "photo attached"]
    assert attached["correlation_id"] == "corr-photo-1"
    assert attached["route"].startswith("sqs ")


# --- logs ----------------------------------------------------------------------------------------


def test_request_logs_carry_request_route_caller_and_correlation_but_no_email_or_token(api, shop, capsys):
    token = api.token(ALICE)
    capsys.readouterr()
    created = api.post("/orders", DIRECT_ORDER, user=ALICE, headers={"X-Correlation-Id": "corr-42"})
    assert created.status == 201
    assert created.headers["X-Correlation-Id"] == "corr-42"
    out = capsys.readouterr().out
    (line,) = [entry for entry in logs(out) if entry["message"] == "order created"]
    assert line["route"] == "POST /orders"
    assert line["caller_id"] == api.user_id(ALICE)
    assert line["correlation_id"] == "corr-42"
    assert line["request_id"] and line["order_id"] == created.body["order_id"]
    assert line["level"] == "INFO" and line["service"] == "procure"
    assert ALICE not in out and token not in out and "Bearer" not in out


def test_without_a_correlation_header_the_request_id_is_the_correlation_id(api, capsys):
    capsys.readouterr()
    result = api.get("/wallet", user=ALICE, headers={"Origin": "http://localhost:5173"})
    assert result.headers["X-Correlation-Id"]
    assert "X-Correlation-Id" in result.headers.get("Access-Control-Expose-Headers", "")  # storefront JS
    assert observability.current() == {}  # nothing leaks into the next invocation


def test_an_unsafe_correlation_header_is_replaced_by_the_request_id(api):
    result = api.get("/health", headers={"X-Correlation-Id": "bad id\nwith newline"})
    assert result.headers["X-Correlation-Id"] != "bad id\nwith newline"


def test_the_log_level_comes_from_configuration():
    probe = (
        "from chalicelib.logs import get_logger; log = get_logger('probe'); "
        "log.info('hidden'); log.warning('shown')"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["LOG_LEVEL"] = "WARNING"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert [line["message"] for line in lines(out)] == ["shown"]


# --- tracing -------------------------------------------------------------------------------------


def test_tracing_is_off_locally_and_on_in_a_lambda_unless_disabled(monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    assert not observability.tracing_enabled()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "procure-prod")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert not observability.tracing_enabled()
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    assert observability.tracing_enabled()


TRACED_IN_A_LAMBDA = """
import json, sys
from chalicelib import aws, observability
session = aws.botocore_session()
events = session.get_component("event_emitter")
print(json.dumps({
    "loaded": sorted(m for m in ("aws_xray_sdk", "wrapt", "asyncio", "requests") if m in sys.modules),
    "instrumented": "xray-call-answered" in events._emitter._unique_id_handlers,
}))
"""


def test_in_a_lambda_the_shared_session_is_traced_and_no_x_ray_sdk_is_imported():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "POWERTOOLS_", "AWS_XRAY"))}
    env.update(
        AWS_LAMBDA_FUNCTION_NAME="procure-prod-api_handler",
        LAMBDA_TASK_ROOT=str(ROOT),
        _X_AMZN_TRACE_ID="Root=1-67890abc-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
    )
    probe = [sys.executable, "-c", TRACED_IN_A_LAMBDA]
    out = subprocess.run(probe, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    assert json.loads(out.splitlines()[-1]) == {"loaded": [], "instrumented": True}
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    out = subprocess.run(probe, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    assert json.loads(out.splitlines()[-1]) == {"loaded": [], "instrumented": False}


TRACE_ID = "1-67890abc-0123456789abcdef01234567"
LAMBDA_SEGMENT = "53995c3f42cd8ad8"


@pytest.fixture
def traced(api, monkeypatch):
    """The app as a traced Lambda serves it: a function name, the invocation's trace header, the daemon a
    UDP socket on loopback (in the environment, and in the stage's variables chalice.test's client puts
    in it for each request); a new shared botocore session (created traced) and no model's connection
    built before, so every client the request uses is made now, as on a cold start."""
    import chalice.config
    import pynamodb.models

    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(0.5)
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "procure-test-api_handler",
        "POWERTOOLS_TRACE_DISABLED": "false",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        "_X_AMZN_TRACE_ID": f"Root={TRACE_ID};Parent={LAMBDA_SEGMENT};Sampled=1",
    }
    stage_variables = chalice.config.Config.environment_variables
    monkeypatch.setattr(
        chalice.config.Config, "environment_variables", property(lambda c: {**stage_variables.fget(c), **env})
    )
    models = [pynamodb.models.Model]
    while models:
        model = models.pop()
        models.extend(model.__subclasses__())
        if model.__dict__.get("_connection") is not None:
            monkeypatch.setattr(model, "_connection", None)
    monkeypatch.setattr(aws, "_botocore_session", None)
    with mock.patch.dict(os.environ, env):
        aws.reset()
        yield daemon
    aws.reset()
    daemon.close()


def test_a_traced_request_sends_its_route_and_its_aws_calls_to_the_daemon(traced, api):
    result = api.get("/wallet", user=ALICE, headers={"X-Correlation-Id": "corr-traced-1"})
    assert result.status == 200
    docs = []
    try:
        while True:
            first, _, body = traced.recv(65536).partition(b"\n")
            assert json.loads(first) == {"format": "json", "version": 1}
            docs.append(json.loads(body))
    except TimeoutError:
        pass
    assert docs and all(d["type"] == "subsegment" and d["trace_id"] == TRACE_ID for d in docs)
    [route] = [d for d in docs if d["name"] == "## GET /wallet"]
    assert route["parent_id"] == LAMBDA_SEGMENT
    assert route["annotations"] == {"route": "GET /wallet", "correlation_id": "corr-traced-1"}
    assert route["http"] == {"response": {"status": 200}}
    [jwks] = [d for d in docs if d["name"] == "## cognito jwks"]  # the pool's keys, fetched on first use
    assert jwks["parent_id"] == route["id"]
    calls = [d for d in docs if d.get("namespace") == "aws"]
    assert calls and {d["name"] for d in calls} == {"dynamodb"}
    for call in calls:
        assert call["parent_id"] == route["id"] and call["http"]["response"]["status"] == 200
        assert call["aws"]["region"] and call["aws"]["request_id"] and call["aws"]["operation"]
        tables = call["aws"].get("table_names") or [call["aws"]["table_name"]]
        assert all(t.startswith("procure-test-") for t in tables)
    assert len({d["id"] for d in docs}) == len(docs)
