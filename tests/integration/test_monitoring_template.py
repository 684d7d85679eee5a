"""The packaged template watches the stack: every alarm to the SNS topic, the dashboard, the layer, log
retention, and per-function memory and timeouts that fit what each function does."""

from __future__ import annotations

import json
import re
import zipfile

import pytest

from chalicelib import metrics
from chalicelib.jobs import auto_confirm, storage_sweep
from infra import chalice_sam, layer, monitoring, template


@pytest.fixture(scope="module")
def application():
    return chalice_sam.load_app()


@pytest.fixture(scope="module")
def packaged(application) -> dict:
    return template.packaged("prod", app=application)


def of_type(tpl: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in tpl["Resources"].items() if v["Type"] == kind}


def by_handler(application, packaged) -> dict[str, dict]:
    models = chalice_sam.lambda_functions("prod", application)
    return {
        models[f["Properties"]["Handler"]].resource_name: f for f in template.functions(packaged).values()
    }


def test_every_alarm_the_issue_names_exists_and_notifies_the_topic(packaged):
    alarms = of_type(packaged, "AWS::CloudWatch::Alarm")
    functions = template.functions(packaged)
    expected = {
        "PhotoDeadLetterQueueNotEmpty",
        "Api5xxRate",
        "StorageSweepNotCompleted",
        "AutoConfirmNotCompleted",
        "SesBounceRate",
        "SesComplaintRate",
        "WebhookRejectionSpike",
        "ExchangeRatesStale",
        "OutboxEmailsDelayed",
        "ExchangeRatesRefused",
        *(f"{f}{m}" for f in functions for m in ("Errors", "Throttles")),
    }
    assert set(alarms) == expected
    for logical_id, alarm in alarms.items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert "docs/operations.md" in properties["AlarmDescription"]
    for f in functions:
        assert alarms[f"{f}Errors"]["Properties"]["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": f}}
        ]
    delayed = alarms["OutboxEmailsDelayed"]["Properties"]
    assert delayed["MetricName"] == "IteratorAge"
    assert delayed["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "OutboxEvents"}}]
    dlq = alarms["PhotoDeadLetterQueueNotEmpty"]["Properties"]
    assert dlq["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["PhotoDeadLetterQueue", "QueueName"]}
    api = alarms["Api5xxRate"]["Properties"]
    assert api["Dimensions"] == [{"Name": "ApiName", "Value": "procure"}, {"Name": "Stage", "Value": "api"}]
    assert packaged["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["info"]["title"] == "procure"


def test_the_26_hour_alarms_watch_the_heartbeat_the_jobs_emit(packaged):
    alarms = of_type(packaged, "AWS::CloudWatch::Alarm")
    for job, logical_id in monitoring.DAILY_JOBS.items():
        properties = alarms[logical_id]["Properties"]
        assert properties["Namespace"] == metrics.NAMESPACE and properties["MetricName"] == "JobCompleted"
        assert properties["Dimensions"] == [
            {"Name": "service", "Value": "procure-prod"},  # metrics.service() with STAGE=prod
            {"Name": "job", "Value": job},
        ]
        assert properties["Period"] * properties["EvaluationPeriods"] == 26 * 3600
        assert properties["DatapointsToAlarm"] == properties["EvaluationPeriods"]
        assert properties["TreatMissingData"] == "breaching"  # silence is the failure
        assert (properties["ComparisonOperator"], properties["Threshold"]) == ("LessThanThreshold", 1)
    assert set(monitoring.DAILY_JOBS) == {storage_sweep.JOB, auto_confirm.JOB}


def test_stale_exchange_rates_alarm_after_three_hourly_runs_that_left_a_currency_stale(packaged):
    properties = of_type(packaged, "AWS::CloudWatch::Alarm")["ExchangeRatesStale"]["Properties"]
    assert properties["Namespace"] == metrics.NAMESPACE and properties["MetricName"] == "ExchangeRatesStale"
    assert properties["Dimensions"] == [{"Name": "service", "Value": "procure-prod"}]
    assert "ExchangeRatesStale" in metrics.CATALOG
    assert properties["Statistic"] == "Minimum"  # every run in the window left a stale currency
    assert properties["Period"] == 3600 and properties["EvaluationPeriods"] == 3
    assert (properties["ComparisonOperator"], properties["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)


def test_a_held_back_exchange_rate_alarms_at_once(packaged):
    properties = of_type(packaged, "AWS::CloudWatch::Alarm")["ExchangeRatesRefused"]["Properties"]
    assert properties["MetricName"] == "ExchangeRatesRefused" and "ExchangeRatesRefused" in metrics.CATALOG
    assert properties["Statistic"] == "Sum" and properties["Period"] == 3600
    assert (properties["ComparisonOperator"], properties["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)


def test_the_topic_has_an_optional_email_subscription_parameter(packaged):
    assert packaged["Resources"]["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    subscription = packaged["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    assert packaged["Parameters"]["AlarmEmail"]["Default"] == ""
    assert packaged["Conditions"]["HasAlarmEmail"]


def test_the_dashboard_shows_every_business_and_health_metric(packaged):
    (dashboard,) = of_type(packaged, "AWS::CloudWatch::Dashboard").values()
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    body = json.loads(text)
    shown = {m[1] for w in body["widgets"] for m in w["properties"]["metrics"] if len(m) > 1}
    assert set(metrics.CATALOG) <= shown
    assert {"Errors", "Throttles", "5XXError", "ApproximateNumberOfMessagesVisible"} <= shown
    for name in re.findall(r"\$\{([A-Za-z0-9:.]+)\}", text):  # every substitution resolves
        resource = name.split(".")[0]
        assert name == "AWS::Region" or resource in packaged["Resources"], name


def test_every_function_runs_with_the_dependency_layer_and_has_log_retention(packaged):
    (layer_id,) = of_type(packaged, "AWS::Serverless::LayerVersion")
    logs = of_type(packaged, "AWS::Logs::LogGroup")
    for logical_id, function in template.functions(packaged).items():
        properties = function["Properties"]
        assert properties["Layers"] == [{"Ref": layer_id}], logical_id
        assert properties["Tracing"] == "Active", logical_id  # X-Ray in AWS (prod's `xray: true`)
        name = properties["FunctionName"]
        (group,) = [g for g in logs.values() if g["Properties"]["LogGroupName"] == f"/aws/lambda/{name}"]
        assert group["Properties"]["RetentionInDays"] == template.LOG_RETENTION_DAYS


def test_memory_and_timeouts_fit_what_each_function_does(application, packaged):
    functions = by_handler(application, packaged)
    memory = {n: f["Properties"]["MemorySize"] for n, f in functions.items()}
    timeout = {n: f["Properties"]["Timeout"] for n, f in functions.items()}
    # ingestion decodes images (a 49 MP PNG peaks near 600 MB, bench/footprint.py); nothing else does
    assert memory["photo_events"] >= 1024 and max(v for n, v in memory.items() if n != "photo_events") <= 512
    assert timeout["api_handler"] < 29  # API Gateway gives up at 29 s
    # the daily jobs stop between days STOP_WHEN_REMAINING_MS before the limit: they need far more than that
    for job, module in (("storage_sweep", storage_sweep), ("auto_confirm_receipt", auto_confirm)):
        assert timeout[job] * 1000 >= 10 * module.STOP_WHEN_REMAINING_MS, job
    queue = packaged["Resources"]["PhotoQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= template.VISIBILITY_TIMEOUT_FACTOR * timeout["photo_events"]


def test_the_layer_drops_only_what_the_lambda_runtime_provides(tmp_path):
    path = tmp_path / "layer.zip"
    site = "python/lib/python3.11/site-packages"
    kept = [
        f"{site}/pynamodb/models.py",
        f"{site}/pydantic/main.py",
        f"{site}/jmespath/x.py",
    ]
    dropped = [
        f"{site}/botocore/client.py",
        f"{site}/botocore-1.44.8.dist-info/METADATA",
        f"{site}/boto3/x.py",
    ]
    with zipfile.ZipFile(path, "w") as archive:
        for name in kept + dropped:
            archive.writestr(name, "x" * 1000)
    layer.slim(path)
    assert sorted(zipfile.ZipFile(path).namelist()) == sorted(kept)


def test_photo_originals_move_to_a_cheaper_class_and_expire_while_thumbnails_stay(packaged):
    rules = {
        r["Id"]: r
        for r in packaged["Resources"]["PhotoBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    cheaper = rules["photo-originals-to-glacier-ir"]
    assert cheaper["Prefix"] == "qc/" and cheaper["Transitions"][0]["StorageClass"] == "GLACIER_IR"
    expire = rules["photo-originals-expire"]
    assert expire["Prefix"] == "qc/"
    assert expire["ExpirationInDays"]["Fn::If"][1] == {"Ref": "PhotoOriginalExpirationDays"}
    assert not any(r.get("Prefix", "").startswith("thumbs") for r in rules.values())
    assert packaged["Parameters"]["PhotoOriginalExpirationDays"]["Default"] > (
        packaged["Parameters"]["PhotoOriginalTransitionDays"]["Default"] + 30  # Glacier IR's minimum
    )
