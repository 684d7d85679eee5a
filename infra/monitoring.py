"""Alarms, their SNS topic and the CloudWatch dashboard of the stack (merged by infra/template.py).

Every alarm notifies the `AlarmTopic` SNS topic; the `AlarmEmail` stack parameter (optional) subscribes
an address (SNS asks it to confirm). docs/operations.md says what each alarm means and what to do.

- PhotoDeadLetterQueueNotEmpty: a photo event failed 5 receives (ingestion raised each time).
- <Function>Errors / <Function>Throttles: any function's invocation errors or throttles (5 minutes).
- Api5xxRate: more than 5% of API requests answered 5xx over 2 of 3 five-minute periods.
- StorageSweepNotCompleted / AutoConfirmNotCompleted: no `JobCompleted` heartbeat from that daily job
  in 26 hours (hourly periods, missing data breaching: one completion in 26 hours keeps it OK).
- SesBounceRate / SesComplaintRate: the account's reputation rates over half of where SES starts a
  review (bounces 5%, complaints 0.1%).
- ExchangeRatesStale: after 3 hourly exchange-rate runs in a row, some supported currency's rate is
  still stale (or missing): customers asking for it get 503 rate_unavailable (docs/currencies.md).
- OutboxEmailsDelayed: the outbox stream's oldest unsent record is over 10 minutes old (emails are
  waiting: SES or Cognito failing, or the handler failing).
- ExchangeRatesRefused: an exchange-rate run held a published rate back (dated in the future, outside
  the plausible bounds, or a day-over-day jump past CURRENCY_MAX_DAILY_CHANGE_PERCENT).
- WebhookRejectionSpike: 10 or more payment webhooks refused in 5 minutes (a provider misconfiguration,
  a rotated secret, or someone probing the public endpoint).
"""

from __future__ import annotations

import json
from typing import Any

ALARM_EMAIL_PARAMETER = "AlarmEmail"
NAMESPACE = "Procure"  # chalicelib/metrics.py
JOB_HEARTBEAT_HOURS = 26  # a daily job, with two hours of slack
DAILY_JOBS = {"storage_sweep": "StorageSweepNotCompleted", "auto_confirm_receipt": "AutoConfirmNotCompleted"}
API_5XX_RATE = 0.05
SES_BOUNCE_RATE = 0.025  # SES reviews an account at 5%
SES_COMPLAINT_RATE = 0.0005  # SES reviews an account at 0.1%
WEBHOOK_REJECTIONS_IN_5_MINUTES = 10
STALE_RATE_RUNS = 3  # hourly exchange-rate runs in a row that still leave a stale currency
OUTBOX_FUNCTION = "OutboxEvents"  # Chalice's logical id of app.outbox_events
OUTBOX_DELAY_MS = 10 * 60 * 1000  # emails normally leave within seconds of their change


def _alarm(description: str, **properties: Any) -> dict:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description + " Runbook: docs/operations.md.",
            "AlarmActions": [{"Ref": "AlarmTopic"}],
            "OKActions": [{"Ref": "AlarmTopic"}],
            "TreatMissingData": "notBreaching",
            **properties,
        },
    }


def _custom(name: str, service: str, **dimensions: str) -> dict:
    return {
        "Namespace": NAMESPACE,
        "MetricName": name,
        "Dimensions": [{"Name": "service", "Value": service}]
        + [{"Name": k, "Value": v} for k, v in dimensions.items()],
    }


def alarms(stage: Any, functions: dict[str, dict], api_name: str | None) -> dict[str, dict]:
    """{logical id: alarm}. `functions`: {logical id of each Lambda function: its resource}."""
    service = f"{stage.app_name}-{stage.name}"
    found: dict[str, dict] = {
        "PhotoDeadLetterQueueNotEmpty": _alarm(
            "A photo upload event failed ingestion 5 times and waits in the dead-letter queue.",
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[
                {"Name": "QueueName", "Value": {"Fn::GetAtt": ["PhotoDeadLetterQueue", "QueueName"]}}
            ],
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        ),
        "WebhookRejectionSpike": _alarm(
            f"{WEBHOOK_REJECTIONS_IN_5_MINUTES} or more payment webhooks refused in 5 minutes.",
            **_custom("WebhooksRejected", service),
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=WEBHOOK_REJECTIONS_IN_5_MINUTES,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        ),
        "ExchangeRatesStale": _alarm(
            f"A supported currency's exchange rate is still stale after {STALE_RATE_RUNS} hourly runs: "
            "conversions in it answer 503 rate_unavailable.",
            **_custom("ExchangeRatesStale", service),
            Statistic="Minimum",
            Period=3600,
            EvaluationPeriods=STALE_RATE_RUNS,
            DatapointsToAlarm=STALE_RATE_RUNS,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        ),
        "ExchangeRatesRefused": _alarm(
            "An exchange-rate run held a published rate back (future date, implausible, or a jump past "
            "CURRENCY_MAX_DAILY_CHANGE_PERCENT): the rate in force keeps ageing until a person decides.",
            **_custom("ExchangeRatesRefused", service),
            Statistic="Sum",
            Period=3600,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        ),
        "SesBounceRate": _alarm(
            f"The account's SES bounce rate is over {SES_BOUNCE_RATE:.1%} (SES reviews at 5%).",
            Namespace="AWS/SES",
            MetricName="Reputation.BounceRate",
            Statistic="Maximum",
            Period=3600,
            EvaluationPeriods=1,
            Threshold=SES_BOUNCE_RATE,
            ComparisonOperator="GreaterThanThreshold",
        ),
        "SesComplaintRate": _alarm(
            f"The account's SES complaint rate is over {SES_COMPLAINT_RATE:.2%} (SES reviews at 0.1%).",
            Namespace="AWS/SES",
            MetricName="Reputation.ComplaintRate",
            Statistic="Maximum",
            Period=3600,
            EvaluationPeriods=1,
            Threshold=SES_COMPLAINT_RATE,
            ComparisonOperator="GreaterThanThreshold",
        ),
    }
    for job, logical_id in DAILY_JOBS.items():
        found[logical_id] = _alarm(
            f"The {job} job has not completed a run in {JOB_HEARTBEAT_HOURS} hours.",
            **_custom("JobCompleted", service, job=job),
            Statistic="Sum",
            Period=3600,
            EvaluationPeriods=JOB_HEARTBEAT_HOURS,
            DatapointsToAlarm=JOB_HEARTBEAT_HOURS,
            Threshold=1,
            ComparisonOperator="LessThanThreshold",
            TreatMissingData="breaching",
        )
    if api_name:
        found["Api5xxRate"] = _alarm(
            f"More than {API_5XX_RATE:.0%} of API requests answered 5xx in 2 of the last 3 five-minute "
            "periods.",
            Namespace="AWS/ApiGateway",
            MetricName="5XXError",
            Dimensions=[{"Name": "ApiName", "Value": api_name}, {"Name": "Stage", "Value": stage.api_stage}],
            Statistic="Average",
            Period=300,
            EvaluationPeriods=3,
            DatapointsToAlarm=2,
            Threshold=API_5XX_RATE,
            ComparisonOperator="GreaterThanThreshold",
        )
    if OUTBOX_FUNCTION in functions:
        found["OutboxEmailsDelayed"] = _alarm(
            f"Outbox emails have waited over {OUTBOX_DELAY_MS // 60000} minutes: their sends keep failing.",
            Namespace="AWS/Lambda",
            MetricName="IteratorAge",
            Dimensions=[{"Name": "FunctionName", "Value": {"Ref": OUTBOX_FUNCTION}}],
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=OUTBOX_DELAY_MS,
            ComparisonOperator="GreaterThanThreshold",
        )
    for logical_id in sorted(functions):
        for metric in ("Errors", "Throttles"):
            found[f"{logical_id}{metric}"] = _alarm(
                f"The {logical_id} function had {metric.lower()} in the last 5 minutes.",
                Namespace="AWS/Lambda",
                MetricName=metric,
                Dimensions=[{"Name": "FunctionName", "Value": {"Ref": logical_id}}],
                Statistic="Sum",
                Period=300,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
            )
    return found


def topic() -> tuple[dict[str, dict], dict[str, dict], dict[str, dict]]:
    """(resources, parameters, conditions) of the alarm topic and its optional email subscription."""
    resources = {
        "AlarmTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"DisplayName": "Procure alarms"},
        },
        "AlarmEmailSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Condition": "HasAlarmEmail",
            "Properties": {
                "TopicArn": {"Ref": "AlarmTopic"},
                "Protocol": "email",
                "Endpoint": {"Ref": ALARM_EMAIL_PARAMETER},
            },
        },
    }
    parameters = {
        ALARM_EMAIL_PARAMETER: {
            "Type": "String",
            "Default": "",
            "Description": "Email address subscribed to the alarm topic (empty: no subscription)",
        }
    }
    conditions = {"HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": ALARM_EMAIL_PARAMETER}, ""]}]}}
    return resources, parameters, conditions


def dashboard(stage: Any, functions: dict[str, dict], api_name: str | None) -> dict[str, dict]:
    """One CloudWatch dashboard: every metric of chalicelib.metrics.CATALOG, functions, API, queue."""
    from chalicelib.metrics import CATALOG

    service = f"{stage.app_name}-{stage.name}"
    widgets: list[dict] = []

    def widget(title: str, metrics: list[list], stat: str = "Sum", period: int = 300) -> None:
        n = len(widgets)
        widgets.append(
            {
                "type": "metric",
                "x": (n % 3) * 8,
                "y": (n // 3) * 6,
                "width": 8,
                "height": 6,
                "properties": {
                    "title": title,
                    "region": "${AWS::Region}",
                    "stat": stat,
                    "period": period,
                    "view": "timeSeries",
                    "metrics": metrics,
                },
            }
        )

    for name, (_unit, dimensions, description) in CATALOG.items():
        metric = [NAMESPACE, name, "service", service]
        if dimensions:  # the total, then one line per value (SEARCH finds the values present)
            search = (
                f'SEARCH(\'{{{NAMESPACE},service,{",".join(dimensions)}}} MetricName="{name}" '
                f"service=\"{service}\"', 'Sum', 300)"
            )
            widget(f"{name}: {description}", [metric, [{"expression": search, "id": "byvalue"}]])
        else:
            widget(f"{name}: {description}", [metric], "Maximum" if name == "SweepDurationMs" else "Sum")
    widget(
        "Lambda errors and throttles",
        [
            ["AWS/Lambda", m, "FunctionName", f"${{{f}}}"]
            for f in sorted(functions)
            for m in ("Errors", "Throttles")
        ],
    )
    widget(
        "Lambda duration p99 (ms)",
        [["AWS/Lambda", "Duration", "FunctionName", f"${{{f}}}"] for f in sorted(functions)],
        "p99",
    )
    if api_name:
        widget(
            "API requests, 4xx, 5xx",
            [
                ["AWS/ApiGateway", m, "ApiName", api_name, "Stage", stage.api_stage]
                for m in ("Count", "4XXError", "5XXError")
            ],
        )
    widget(
        "Photo queue and dead letters",
        [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${PhotoQueue.QueueName}"],
            [
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                "QueueName",
                "${PhotoDeadLetterQueue.QueueName}",
            ],
        ],
        "Maximum",
    )
    widget(
        "SES reputation",
        [["AWS/SES", "Reputation.BounceRate"], ["AWS/SES", "Reputation.ComplaintRate"]],
        "Maximum",
        3600,
    )
    body = json.dumps({"widgets": widgets}, separators=(",", ":"))
    return {
        "Dashboard": {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {"DashboardName": service, "DashboardBody": {"Fn::Sub": body}},
        }
    }


def resources(stage: Any, chalice: dict) -> tuple[dict[str, dict], dict[str, dict], dict[str, dict]]:
    """(resources, parameters, conditions) to merge: topic, subscription, alarms, dashboard."""
    functions = {k: v for k, v in chalice["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    api = chalice["Resources"].get("RestAPI")
    api_name = None
    if api is not None:
        api_name = api["Properties"].get("DefinitionBody", {}).get("info", {}).get("title") or stage.app_name
    found, parameters, conditions = topic()
    found.update(alarms(stage, functions, api_name))
    found.update(dashboard(stage, functions, api_name))
    return found, parameters, conditions
