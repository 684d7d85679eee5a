"""`make bench` (its cost part): docs/cost.md's figures, computed from what the benches measured.

Reads docs/benchmarks.md as the other parts of `make bench` just wrote it (the lifecycle's request units and
API calls, each route's read units for the browsing mix, the first request's time for billed INIT, the
storage sweep's Queries) and the packaged prod template (`infra.template.packaged("prod")`: alarms,
dashboards, secrets, queues with a Lambda trigger, the schedules), applies the prices in PRICES (each with
its region and its source, the numbered table at the end of docs/cost.md) and the assumptions in
ASSUMED (each named as such in the output), and rewrites the "## The figures" section of docs/cost.md in
place: the measured inputs, the cost per 1,000 orders, the fixed monthly floor with and without the
always-free allowances, and the break-even against an always-on setup. Everything else in docs/cost.md is
prose that explains the method and the sources.

A figure it cannot find in docs/benchmarks.md (a bench failed, or changed its table) stops it with the
missing figure named: docs/cost.md then keeps its previous figures, and `make bench` reports the part
failed.
"""

from __future__ import annotations

import re
import statistics
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HEADING = "## The figures (`make bench`)"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
COST = ROOT / "docs" / "cost.md"
MILLION = 1_000_000
HOURS_PER_MONTH = 730
MINUTES_PER_MONTH = 43_800  # 730 hours


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    region: str  # the region the figure is for, as its source states it (NOT_FOUND: not Singapore's)
    source: str  # the numbered sources in docs/cost.md's "Sources"

    @property
    def singapore(self) -> bool:
        """The figure is the deployed region's: ap-southeast-1's (or the one price every Region has), or
        CloudFront's at Singapore-area edges."""
        return NOT_FOUND not in self.region


NOT_FOUND = "Singapore not found"
SG = "ap-southeast-1"
US = f"us-east-1 ({NOT_FOUND})"  # the label of a price still taken from us-east-1
UNSTATED = f"no region stated ({NOT_FOUND})"
ANY_REGION = f"{SG} (one price for every Region)"  # the price list's region `Any`
# [28]: AWS Price List offer files for ap-southeast-1 (publication dates 2026-09-11 to 2026-10-01), as a
# third-party extraction (fetched 2026-10-02) records them with each file's URL and version; [29]: the Price
# List API for ap-southeast-1, July 2026, as another third-party cost model records it; [30]: the metered-unit
# maps behind AWS's pricing pages (published 2025-06-05), as a third-party price watcher stores them, each
# rate with its Price List rate code (SKU.term.rate); where they overlap [28] they give the same figures
PRICES = {
    "lambda_request": Price(0.20 / MILLION, "request", SG, "[29]"),
    "lambda_gb_s": Price(
        0.0000166667, "GB-second, x86_64 (the template sets no Architectures), first tier", SG, "[29]"
    ),
    "apigw_rest": Price(4.25 / MILLION, "REST API request (first 333 M)", SG, "[30]"),
    "apigw_http": Price(1.25 / MILLION, "HTTP API request (first 300 M)", SG, "[28]"),
    "ddb_wru": Price(0.71 / MILLION, "write request unit (on-demand, Standard table class)", SG, "[30]"),
    "ddb_rru": Price(0.1425 / MILLION, "read request unit (on-demand, Standard table class)", SG, "[30]"),
    "ddb_storage": Price(0.285, "GB-month past the first 25 GB (Standard table class)", SG, "[30]"),
    "s3_put": Price(0.005 / 1000, "PUT/COPY/POST/LIST request", SG, "[29]"),
    "s3_get": Price(0.0004 / 1000, "GET and other request", SG, "[29]"),
    "s3_storage": Price(0.025, "GB-month (S3 Standard, first 50 TB)", SG, "[28]"),
    "s3_glacier_ir": Price(0.005, "GB-month (S3 Glacier Instant Retrieval)", SG, "[29]"),
    "s3_egress": Price(0.12, "GB out to the internet (first 10 TB)", SG, "[28]"),
    "cf_egress_asia": Price(
        0.120, "GB out of edges in Singapore, Hong Kong, ...", "Singapore-area edges", "[22]"
    ),
    "cf_egress_us_eu": Price(0.085, "GB out of edges in the US and Europe", "US/Europe edges", "[22]"),
    "sqs": Price(0.40 / MILLION, "standard queue request (first tier)", SG, "[30]"),
    "ses": Price(0.10 / 1000, "email (per recipient)", SG, "[28]"),
    "secret": Price(0.40, "secret-month", SG, "[28]"),
    "secret_calls": Price(0.05 / 10_000, "API call", SG, "[30]"),
    "cw_metric": Price(0.30, "custom metric-month (first 10,000)", SG, "[28]"),
    "cw_alarm": Price(0.10, "standard alarm metric-month", SG, "[28]"),
    "cw_dashboard": Price(3.00, "dashboard-month past the first 3", ANY_REGION, "[30]"),
    "logs_ingest": Price(0.70, "GB ingested (Standard log class)", SG, "[28]"),
    "logs_storage": Price(0.03, "GB-month stored", SG, "[28]"),
    "xray": Price(5.00 / MILLION, "trace recorded", SG, "[30]"),
    "cognito_lite": Price(0.0055, "monthly active user past 10,000 (Lite)", UNSTATED, "[15]"),
    "cognito_essentials": Price(0.015, "MAU past 10,000 (Essentials)", SG, "[28]"),
    "waf_acl": Price(5.00, "web ACL-month", SG, "[28][26]"),
    "waf_rule": Price(1.00, "rule-month", SG, "[28][26]"),
    "waf_requests": Price(0.60 / MILLION, "request inspected", SG, "[28][26]"),
    "scheduler": Price(
        1.25 / MILLION, "EventBridge Scheduler invocation past the 14 million free", SG, "[30]"
    ),
    # the always-on setup ("Against an always-on setup")
    "ec2_t4g_small": Price(0.0212, "hour, t4g.small Linux on-demand", SG, "[28]"),
    "ebs_gp3": Price(0.096, "GB-month of EBS gp3", SG, "[28]"),
    "public_ipv4": Price(0.005, "hour per in-use public IPv4 address", SG, "[28]"),
    "alb_hour": Price(0.0252, "Application Load Balancer hour", SG, "[28]"),
    "alb_lcu": Price(0.008, "ALB capacity unit-hour", SG, "[28]"),
    "rds_t4g_small_multi_az": Price(0.102, "hour, RDS PostgreSQL db.t4g.small Multi-AZ", SG, "[28]"),
    "rds_gp3_multi_az": Price(0.276, "GB-month of RDS gp3, Multi-AZ", SG, "[28]"),
}
# the largest regional difference the search found for a price of this list: CloudWatch Logs ingestion,
# $0.76/GB in Tokyo [17] against $0.50 in us-east-1 [16] (Singapore's own figures found are at most 40 %
# above us-east-1's: Logs ingestion, $0.70 [28]); the upper bound applies it to every figure whose Singapore
# price was not found
REGIONAL_UPLIFT = 0.76 / 0.50 - 1

# always-free allowances that do not expire (API Gateway's is for 12 months of a new account only [6])
FREE = {
    "lambda_requests": 1_000_000,  # [1]
    "lambda_gb_s": 400_000,  # [1]
    "xray_traces": 100_000,  # [8][30]
    "sqs_requests": 1_000_000,  # [10]
    "logs_gb": 5,  # [16][18]
    "cw_metrics": 10,  # [18]
    "cw_alarms": 10,  # [18]
    "cw_dashboards": 3,  # [18][30]
    "cf_gb": 1000,  # [22]
    "scheduler_invocations": 14_000_000,  # [20][30]
    "cognito_mau": 10_000,  # [15]
}

# every figure not measured, named as assumed in the output
ASSUMED = {
    "browsing_mix": {  # requests per order beyond the lifecycle, by route (the RRU are measured per route)
        "GET /products/search": 10,
        "GET /products/{product_id}": 10,
        "GET /cart": 5,
        "GET /orders/{order_id}": 5,
        "GET /wallet": 3,
        "GET /packages/{package_id}": 3,
        "GET /staff/orders": 4,
    },
    "storefront_preflights": 20,  # OPTIONS per order from a storefront on another origin (API Gateway mock)
    "api_gb": 0.5,  # the API function's memory (GB) and warm duration (s)
    "api_warm_s": 0.1,
    "ingest_gb": 1.0,  # photo ingestion: memory, duration per photo, INIT
    "ingest_s": 0.5,
    "ingest_init_s": 1.0,
    "cold_share": 0.10,  # share of invocations that start a new execution environment (1 % for AWS's figure)
    "log_kb_per_invocation": 2,
    "s3_gets_per_upload": 3,
    "emails": 3,
    "view_kb": 200,  # a view-size copy (at most 400 KB) and a thumbnail
    "thumb_kb": 11,
    "view_showings": (1, 2),  # each view downloaded once or twice per order (a day's URL is cached)
    "thumb_showings": 3,
    "original_mb": 3,
    "job_run_s": 0.2,  # a scheduled job's duration and memory; its INIT when hourly or daily (cold)
    "job_gb": 0.25,
    "job_init_s": 1.0,
    "job_metric_months": (5.2, 10.4),  # the jobs' custom metrics (see docs/cost.md)
    "traffic_metrics": 40,  # custom metric + dimension combinations that exist only with traffic
    "pollers": (2, 5),  # Lambda's SQS pollers on an idle queue [2] and their empty receives a minute [19]
    "empty_receives_per_poller_minute": 3,
    "always_on": {  # two small instances behind a load balancer with a managed database (docs/cost.md)
        "instances": 2,
        "root_gb": 8,  # each instance's gp3 root volume
        "public_ipv4": 4,  # the instances' (public subnets, no NAT gateway) and the ALB's, one per AZ
        "alb_lcu": 1,
        "db_gb": 20,
    },
}


class Missing(SystemExit):
    pass


# --- reading docs/benchmarks.md ----------------------------------------------------------------------------


def section(text: str, heading: str) -> str:
    parts = text.split("\n## ")
    for part in parts:
        if ("## " + part).startswith(heading):
            return part
    raise Missing(f"docs/benchmarks.md has no section {heading!r}: run `make bench`")


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every markdown table of `text`, as rows keyed by the header's cells."""
    found, lines = [], text.splitlines()
    for n, line in enumerate(lines):
        if line.startswith("|") and n + 1 < len(lines) and re.match(r"^\|[-:| ]+\|$", lines[n + 1]):
            header = [c.strip() for c in line.strip("|").split("|")]
            rows = []
            for body in lines[n + 2 :]:
                if not body.startswith("|"):
                    break
                cells = [c.strip() for c in body.strip("|").split("|")]
                rows.append(dict(zip(header, cells, strict=False)))
            found.append(rows)
    return found


def number(cell: str) -> float:
    match = re.search(r"-?[\d,]+(\.\d+)?", cell.replace("**", ""))
    if not match:
        raise Missing(f"not a number in docs/benchmarks.md: {cell!r}")
    return float(match.group(0).replace(",", ""))


def measured(text: str) -> dict:
    out: dict = {}
    lifecycle = section(text, "## Lifecycle cost")
    rows = next(t for t in tables(lifecycle) if t and "WRU" in t[0])
    total = next((r for r in rows if r["step"].startswith("**total")), None)
    if total is None:
        raise Missing("docs/benchmarks.md: the lifecycle table has no total row")
    out["lifecycle_rru"], out["lifecycle_wru"] = number(total["RRU"]), number(total["WRU"])
    out["lifecycle_index_wru"] = number(total.get("of which index", "0"))
    out["lifecycle_api_calls"] = 0
    for row in rows:
        step = row["step"]
        if step.startswith("`"):
            times = re.search(r"` x(\d+)", step)
            out["lifecycle_api_calls"] += int(times.group(1)) if times else 1
        uploads = re.search(r"(\d+) uploads", step)
        if uploads:
            out["uploads"] = int(uploads.group(1))
    if "uploads" not in out:
        raise Missing("docs/benchmarks.md: the lifecycle table has no photo ingestion step")
    date = re.search(r"Measured (\d{4}-\d{2}-\d{2})", section(text, "## DynamoDB requests per API call"))
    out["api_date"] = date.group(1) if date else "?"
    routes = next(
        t for t in tables(section(text, "## DynamoDB requests per API call")) if t and "RRU" in t[0]
    )
    rru = {row["route"].strip("`"): number(row["RRU"]) for row in routes if row.get("RRU", "-") != "-"}
    out["browsing_rru"] = {}
    for route, count in ASSUMED["browsing_mix"].items():
        if route not in rru:
            raise Missing(f"docs/benchmarks.md: no RRU for {route}")
        out["browsing_rru"][route] = (count, rru[route])
    cold = section(text, "## Cold start")
    # the first column that times the app's import and first request (not the minimal app's, not a part)
    column, first = None, []
    for table in tables(cold):
        names = [h for h in (table[0] if table else {}) if "first request" in h and "minimal" not in h]
        if names:
            column, first = names[0], table
            break
    if column is None:
        raise Missing("docs/benchmarks.md: the cold start section has no first-request column")
    out["first_request_ms"] = statistics.median(number(r[column]) for r in first)
    date = re.search(r"Measured (\d{4}-\d{2}-\d{2})", cold)
    out["cold_date"] = date.group(1) if date else "?"
    sweep = next(t for t in tables(section(text, "## Storage sweep")) if t and "Query calls" in t[0])
    out["sweep_queries"] = number(sweep[0]["Query calls"])
    return out


def from_template() -> dict:
    """What the packaged prod template holds that the floor is priced on."""
    import tests.conftest  # noqa: F401  (the test stage's environment: the app imports without AWS)
    from infra import template

    resources = template.packaged("prod")["Resources"].values()
    count = {}
    for resource in resources:
        count[resource["Type"]] = count.get(resource["Type"], 0) + 1
    runs, sqs_triggers = {}, 0
    for resource in resources:
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == "SQS":
                sqs_triggers += 1
            if event["Type"] == "Schedule":
                expression = str(event["Properties"]["Schedule"])
                match = re.match(r"rate\((\d+) (minute|hour|day)s?\)", expression)
                if not match:
                    raise Missing(f"a schedule this part cannot count: {expression}")
                every = int(match.group(1)) * {"minute": 1, "hour": 60, "day": 1440}[match.group(2)]
                runs[expression] = runs.get(expression, 0) + MINUTES_PER_MONTH / every
    return {
        "alarms": count.get("AWS::CloudWatch::Alarm", 0),
        "dashboards": count.get("AWS::CloudWatch::Dashboard", 0),
        "secrets": count.get("AWS::SecretsManager::Secret", 0),
        "sqs_triggers": sqs_triggers,
        "schedule_runs": runs,
        "tier": template.USER_POOL_TIER,
    }


# --- the arithmetic -----------------------------------------------------------------------------------------


def usd(key: str, quantity: float) -> float:
    return PRICES[key].usd * quantity


def dollars(x: float) -> str:
    """$3.50, $0.625, $0.0004: at least two decimals, at most four."""
    text = f"{x:.4f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


def per_million(key: str) -> str:
    return f"{dollars(PRICES[key].usd * MILLION)} / million"


def per_thousand(key: str) -> str:
    return f"{dollars(PRICES[key].usd * 1000)} / 1,000"


def basis(keys: tuple[str, ...]) -> str:
    """The regions of the prices a row applies, each with its sources, as the tables show them."""
    by_region: dict[str, list[str]] = {}
    for key in keys:
        sources = by_region.setdefault(PRICES[key].region, [])
        if PRICES[key].source not in sources:
            sources.append(PRICES[key].source)
    return "; ".join(f"{region} {''.join(sources)}" for region, sources in by_region.items())


def found(keys: tuple[str, ...]) -> bool:
    return all(PRICES[k].singapore for k in keys)


def per_thousand_orders(m: dict) -> tuple[list[tuple[str, str, float, tuple[str, ...]]], dict]:
    """Rows (item, calculation, USD per 1,000 orders, the PRICES keys it applies) and the volumes."""
    a, n = ASSUMED, 1000
    browsing = sum(count for count, _ in m["browsing_rru"].values())
    api = m["lifecycle_api_calls"] + browsing
    uploads = m["uploads"]
    invocations = api + uploads
    rru = m["lifecycle_rru"] + sum(count * r for count, r in m["browsing_rru"].values())
    invoke_gbs = api * a["api_warm_s"] * a["api_gb"] + uploads * a["ingest_s"] * a["ingest_gb"]
    init_s = m["first_request_ms"] / 1000
    init_gbs = a["cold_share"] * (api * init_s * a["api_gb"] + uploads * a["ingest_init_s"] * a["ingest_gb"])
    logs_gb = invocations * a["log_kb_per_invocation"] / 1e6
    s3_puts, s3_gets = 3 * uploads, a["s3_gets_per_upload"] * uploads
    sqs = 3 * uploads
    gb_s = f"${PRICES['lambda_gb_s'].usd:.10f}"
    rows = [
        (
            "X-Ray",
            f"{invocations * n:,.0f} traces x {per_million('xray')}",
            usd("xray", invocations * n),
            ("xray",),
        ),
        (
            "API Gateway (REST)",
            f"{(api + a['storefront_preflights']) * n:,} requests ({api * n:,} + "
            f"{a['storefront_preflights'] * n:,} "
            f"storefront preflights, mock) x {per_million('apigw_rest')}",
            usd("apigw_rest", (api + a["storefront_preflights"]) * n),
            ("apigw_rest",),
        ),
        ("SES", f"{a['emails'] * n:,} emails x {per_thousand('ses')}", usd("ses", a["emails"] * n), ("ses",)),
        (
            "DynamoDB writes",
            f"{m['lifecycle_wru'] * n:,.0f} WRU (**measured**) x {per_million('ddb_wru')}",
            usd("ddb_wru", m["lifecycle_wru"] * n),
            ("ddb_wru",),
        ),
        (
            "DynamoDB reads",
            f"{rru * n:,.0f} RRU (lifecycle {m['lifecycle_rru']:g} **measured** + browsing mix) x "
            f"{per_million('ddb_rru')}",
            usd("ddb_rru", rru * n),
            ("ddb_rru",),
        ),
        (
            "Lambda duration, invoke",
            f"{invoke_gbs * n:,.0f} GB-s x {gb_s}",
            usd("lambda_gb_s", invoke_gbs * n),
            ("lambda_gb_s",),
        ),
        (
            "Lambda duration, INIT (billed)",
            f"{init_gbs * n:,.0f} GB-s x {gb_s}: {a['cold_share']:.0%} cold x {init_s:.2f} s (**measured** "
            f"first request) x 0.5 GB, ingestion {a['ingest_init_s']:g} s x 1 GB",
            usd("lambda_gb_s", init_gbs * n),
            ("lambda_gb_s",),
        ),
        (
            "Lambda requests",
            f"{invocations * n:,} x {per_million('lambda_request')}",
            usd("lambda_request", invocations * n),
            ("lambda_request",),
        ),
        (
            "S3 requests",
            f"{s3_puts * n:,} PUT x {per_thousand('s3_put')} + "
            f"{s3_gets * n:,} GET x {per_thousand('s3_get')}",
            usd("s3_put", s3_puts * n) + usd("s3_get", s3_gets * n),
            ("s3_put", "s3_get"),
        ),
        (
            "CloudWatch Logs",
            f"{logs_gb * n:.3f} GB x (${PRICES['logs_ingest'].usd:.2f} ingested + "
            f"${PRICES['logs_storage'].usd:.2f} a month stored)",
            usd("logs_ingest", logs_gb * n) + usd("logs_storage", logs_gb * n),
            ("logs_ingest", "logs_storage"),
        ),
        ("SQS", f"{sqs * n:,} requests x {per_million('sqs')}", usd("sqs", sqs * n), ("sqs",)),
    ]
    volumes = {
        "api": api,
        "browsing": browsing,
        "invocations": invocations,
        "rru": rru,
        "invoke_gbs": invoke_gbs,
        "init_gbs": init_gbs,
        "logs_gb": logs_gb,
        "sqs": sqs,
    }
    return rows, volumes


def always_on() -> list[tuple[str, str, float, tuple[str, ...]]]:
    """Rows (item, how many, USD a month, the PRICES keys) of the always-on setup at Singapore's prices."""
    a, h = ASSUMED["always_on"], HOURS_PER_MONTH
    return [
        (
            f"{a['instances']} x EC2 t4g.small (2 vCPU, 2 GB), on-demand, 24/7",
            f"{a['instances']} x {h} h",
            usd("ec2_t4g_small", a["instances"] * h),
            ("ec2_t4g_small",),
        ),
        (
            "their root volumes",
            f"{a['instances']} x {a['root_gb']} GB gp3",
            usd("ebs_gp3", a["instances"] * a["root_gb"]),
            ("ebs_gp3",),
        ),
        (
            "public IPv4 addresses",
            f"{a['public_ipv4']} (the instances' and the load balancer's, one per AZ) x {h} h",
            usd("public_ipv4", a["public_ipv4"] * h),
            ("public_ipv4",),
        ),
        (
            "Application Load Balancer",
            f"{h} h + {a['alb_lcu']} LCU x {h} h",
            usd("alb_hour", h) + usd("alb_lcu", a["alb_lcu"] * h),
            ("alb_hour", "alb_lcu"),
        ),
        (
            "RDS PostgreSQL db.t4g.small Multi-AZ",
            f"{h} h + {a['db_gb']} GB gp3 Multi-AZ",
            usd("rds_t4g_small_multi_az", h) + usd("rds_gp3_multi_az", a["db_gb"]),
            ("rds_t4g_small_multi_az", "rds_gp3_multi_az"),
        ),
    ]


def photo_egress_gb(m: dict) -> tuple[float, float]:
    a = ASSUMED
    views = [m["uploads"] * a["view_kb"] * s for s in a["view_showings"]]
    thumbs = m["uploads"] * a["thumb_kb"] * a["thumb_showings"]
    return tuple((v + thumbs) / 1e6 * 1000 for v in views)  # GB per 1,000 orders


def floor(m: dict, t: dict) -> list[tuple[str, str, float, float, tuple[str, ...]]]:
    """Rows (item, how many, USD a month without free allowances, with the always-free ones, the PRICES
    keys)."""
    a = ASSUMED
    rows = [
        (
            "Dashboards",
            f"{t['dashboards']} (`infra/monitoring.py`)",
            usd("cw_dashboard", t["dashboards"]),
            usd("cw_dashboard", max(0, t["dashboards"] - FREE["cw_dashboards"])),
            ("cw_dashboard",),
        ),
        (
            "Alarms",
            f"{t['alarms']} standard-resolution alarms in the packaged template",
            usd("cw_alarm", t["alarms"]),
            usd("cw_alarm", max(0, t["alarms"] - FREE["cw_alarms"])),
            ("cw_alarm",),
        ),
    ]
    low, high = a["job_metric_months"]
    rows.append(
        (
            "Custom metrics of the scheduled jobs",
            f"{low:g}-{high:g} metric-months (**assumed**, docs/cost.md)",
            usd("cw_metric", high),
            usd("cw_metric", max(0, high - FREE["cw_metrics"])),
            ("cw_metric",),
        )
    )
    secrets = t["secrets"]
    rows.append(
        ("Secrets Manager", f"{secrets} secrets", usd("secret", secrets), usd("secret", secrets), ("secret",))
    )
    polls = t["sqs_triggers"] * max(a["pollers"]) * a["empty_receives_per_poller_minute"] * MINUTES_PER_MONTH
    rows.append(
        (
            "SQS trigger's idle polling",
            f"{t['sqs_triggers']} queue(s) with a Lambda trigger: {min(a['pollers'])}-{max(a['pollers'])} "
            "pollers [2] "
            f"(the {max(a['pollers'])} priced) x "
            f"{a['empty_receives_per_poller_minute']} empty receives a minute = {polls:,.0f} requests",
            usd("sqs", polls),
            usd("sqs", max(0, polls - FREE["sqs_requests"])),
            ("sqs",),
        )
    )
    runs = sum(t["schedule_runs"].values())
    cold_runs = sum(r for e, r in t["schedule_runs"].items() if "minute" not in e)
    gbs = runs * a["job_run_s"] * a["job_gb"] + cold_runs * a["job_init_s"] * a["job_gb"]
    queries = m["sweep_queries"] * 30
    minute_runs = sum(r for e, r in t["schedule_runs"].items() if "minute" in e)
    jobs = (
        usd("lambda_request", runs)
        + usd("lambda_gb_s", gbs)
        + usd("xray", runs)
        + usd("ddb_rru", queries * 0.5 + minute_runs * 4 * 0.5)
        + usd("logs_ingest", runs * a["log_kb_per_invocation"] / 1e6)
    )
    jobs_free = usd(
        "ddb_rru", queries * 0.5 + minute_runs * 4 * 0.5
    )  # Lambda, X-Ray and logs inside the free tiers
    rows.append(
        (
            "Scheduled jobs",
            f"{runs:,.0f} runs a month "
            f"({', '.join(f'{e}: {r:,.0f}' for e, r in sorted(t['schedule_runs'].items()))}"
            f"); {gbs:,.0f} GB-s with INIT; the sweep's {m['sweep_queries']:g} Queries a day (**measured**)",
            jobs,
            jobs_free,
            ("lambda_request", "lambda_gb_s", "xray", "ddb_rru", "logs_ingest"),
        )
    )
    rows.append(
        (
            "Schedules themselves",
            "EventBridge scheduled rules: AWS service events are free [21]",
            0.0,
            0.0,
            (),
        )
    )
    rows.append(
        (
            f"Cognito ({t['tier']} tier, set in the template)",
            "up to 10,000 monthly active users",
            0.0,
            0.0,
            ("cognito_lite",),
        )
    )
    waf = usd("waf_acl", 1) + usd("waf_rule", 1)
    rows.append(
        (
            "WAF web ACL",
            f"off unless `WafRateLimitPer5Minutes` is set; then 1 ACL + 1 rule = ${waf:.2f} a month + "
            f"{per_million('waf_requests')} requests (no free allowance)",
            0.0,
            0.0,
            ("waf_acl", "waf_rule", "waf_requests"),
        )
    )
    return rows


@contextmanager
def priced(table: dict[str, Price]):
    """Compute with another price table (the upper bound's) in place of PRICES."""
    global PRICES
    saved, PRICES = PRICES, table
    try:
        yield
    finally:
        PRICES = saved


def upper_bound() -> dict[str, Price]:
    """PRICES with every figure not found for Singapore raised by REGIONAL_UPLIFT."""
    return {
        key: price if price.singapore else replace(price, usd=price.usd * (1 + REGIONAL_UPLIFT))
        for key, price in PRICES.items()
    }


SERVERLESS_ONLY = ("API", "Lambda", "DynamoDB", "SQS", "X-Ray")


def totals(m: dict, t: dict) -> dict:
    """The figures the text quotes, at the current price table."""
    rows, _ = per_thousand_orders(m)
    floor_rows = floor(m, t)
    serverless_only = sum(value for name, _, value, _ in rows if name.split(" ")[0] in SERVERLESS_ONLY)
    fixed_serverless = next(r[2] for r in floor_rows if r[0] == "Scheduled jobs") + next(
        r[2] for r in floor_rows if r[0].startswith("SQS")
    )
    always = sum(r[2] for r in always_on())
    return {
        "variable": sum(value for _, _, value, _ in rows),
        "floor_without": sum(r[2] for r in floor_rows),
        "floor_with": sum(r[3] for r in floor_rows),
        "serverless_only": serverless_only,
        "fixed_serverless": fixed_serverless,
        "always_on": always,
        "crossing": (always - fixed_serverless) / serverless_only * 1000,
    }


def render(m: dict, t: dict) -> str:
    rows, v = per_thousand_orders(m)
    x = totals(m, t)
    with priced(upper_bound()):
        up = totals(m, t)
    variable, serverless_only, fixed_serverless = x["variable"], x["serverless_only"], x["fixed_serverless"]
    not_found = [name for name, _, _, keys in sorted(rows, key=lambda r: -r[2]) if not found(keys)]
    elsewhere = sorted({price.region for price in PRICES.values() if not price.singapore})
    elsewhere_text = (
        " and ".join(f"`{region}`" for region in elsewhere)
        + (" marks" if len(elsewhere) == 1 else " mark")
        + " a price still taken from another region or from a source that names none: "
        + ", ".join(f"`{key}`" for key, price in PRICES.items() if not price.singapore)
        if elsewhere
        else "every price is the deployed region's"
    )
    egress = photo_egress_gb(m)
    free_orders = round(FREE["cf_gb"] / max(egress) * 1000, -3)
    cf_low, cf_high = egress[0] * PRICES["cf_egress_us_eu"].usd, egress[1] * PRICES["cf_egress_asia"].usd
    originals_gb = m["uploads"] * ASSUMED["original_mb"] / 1000 * 1000
    floor_rows = floor(m, t)
    always_rows = always_on()
    always = x["always_on"]
    lines = [
        HEADING,
        "",
        f"Computed {datetime.now(UTC):%Y-%m-%d} by bench/cost.py (a part of `make bench`) from "
        "docs/benchmarks.md "
        f"(DynamoDB requests and lifecycle measured {m['api_date']}, cold start {m['cold_date']}) and the "
        "packaged prod template. **measured** marks a figure from the benches; every other count is an "
        'assumption named in "Assumptions and method" below. Every table names the region of the prices '
        f"it applies and their sources: `{SG}` is the deployed region's own price; "
        f"{elsewhere_text} "
        '("Prices used" below).',
        "",
        "Measured inputs: one lifecycle (an order of 3 items to delivery and review) makes "
        f"**{m['lifecycle_api_calls']} API calls**, {m['uploads']} photo uploads, **{m['lifecycle_rru']:g} "
        "RRU and "
        f"{m['lifecycle_wru']:g} WRU** ({m['lifecycle_index_wru']:g} of them index writes); the first "
        "request "
        f"of a cold function takes **{m['first_request_ms']:.0f} ms** (median of the three routes' import + "
        "first request, the INIT Lambda bills, as timed on the bench machine at its load: Lambda's own "
        f"may differ); the storage sweep makes {m['sweep_queries']:g} Queries a "
        "run. "
        f"Per order: {v['api']} API requests ({m['lifecycle_api_calls']} lifecycle + {v['browsing']} "
        "browsing, "
        f"assumed), {v['invocations']} Lambda invocations, {v['rru']:,.1f} RRU.",
        "",
        "### Cost per 1,000 orders (variable)",
        "",
        "| item | calculation | USD | price region and source |",
        "|---|---|---:|---|",
    ]
    for name, calc, value, keys in sorted(rows, key=lambda r: -r[2]):
        lines.append(f"| {name} | {calc} | {value:.2f} | {basis(keys)} |")
    cf = ("cf_egress_us_eu", "cf_egress_asia")
    lines += [
        f"| **total, without photo egress and storage** | | **{variable:.2f}** | |",
        f"| photo egress through CloudFront (views and thumbnails) | {egress[0]:.1f}-{egress[1]:.1f} GB x "
        f"{dollars(PRICES[cf[0]].usd)}-{dollars(PRICES[cf[1]].usd)} / GB "
        "(edges in the US and Europe to Singapore's) | "
        f"{cf_low:.2f}-{cf_high:.2f}, **$0 within "
        f"CloudFront's always-free 1 TB a month** (about {free_orders:,.0f} orders a month) "
        f"| {basis(cf)} |",
        f"| S3 photo storage, originals | {originals_gb:g} GB x ${PRICES['s3_storage'].usd:g} per "
        "GB-month, "
        f"every month they are kept | {usd('s3_storage', originals_gb):.2f} / month | "
        f"{basis(('s3_storage',))} |",
        "",
        (
            f"The items priced without a Singapore figure ({', '.join(not_found)}) make "
            f"${(up['variable'] - variable) / REGIONAL_UPLIFT:.2f} of the ${variable:.2f}. If each of those "
            f"prices were {REGIONAL_UPLIFT:.0%} higher in Singapore (the largest regional difference the "
            "search found: CloudWatch Logs ingestion in Tokyo against us-east-1 [16][17]; of this table's "
            "prices found for both regions, Singapore's are at most 40 % above us-east-1's, CloudWatch Logs "
            "ingestion's $0.70 [28] against $0.50 [16]), the total would be "
            f"**${up['variable']:.2f}**: the range for the deployed region is "
            f"${variable:.2f}-{up['variable']:.2f} per 1,000 orders before photo egress."
            if not_found
            else "Every price this table applies is the deployed region's (the regions and sources above), "
            f"so the ${variable:.2f} per 1,000 orders before photo egress needs no upper bound for prices "
            "not found for Singapore."
        ),
        "",
        "### Fixed monthly cost: the floor with no orders",
        "",
        "| item | how many | without free allowances | with the always-free allowances | price region and "
        "source |",
        "|---|---|---:|---:|---|",
    ]
    for name, how, without, free, keys in floor_rows:
        lines.append(f"| {name} | {how} | ${without:.2f} | ${free:.2f} | {basis(keys) if keys else '-'} |")
    floor_not_found = [name for name, _, _, _, keys in floor_rows if keys and not found(keys)]
    if (up["floor_without"], up["floor_with"]) != (x["floor_without"], x["floor_with"]):
        floor_bound = (
            f"With every price not found for Singapore {REGIONAL_UPLIFT:.0%} higher: "
            f"${up['floor_without']:.2f} without the free allowances, ${up['floor_with']:.2f} with them."
        )
    elif floor_not_found:
        floor_bound = (
            "A price not found for Singapore is applied only by rows that cost nothing at this volume "
            f"({'; '.join(floor_not_found)}), so raising it by {REGIONAL_UPLIFT:.0%} leaves the floor as it "
            "is."
        )
    else:
        floor_bound = "Every price the floor applies is the deployed region's."
    lines += [
        f"| **total floor** | | **${x['floor_without']:.2f}** | **${x['floor_with']:.2f}** | |",
        "",
        f"{floor_bound} Custom metrics of traffic come on "
        f"top with any traffic: {ASSUMED['traffic_metrics']} metric + dimension combinations (**assumed**) x "
        f"${PRICES['cw_metric'].usd:.2f} ({basis(('cw_metric',))}), billed for the "
        f"hours that carry data: $0 to ${ASSUMED['traffic_metrics'] * PRICES['cw_metric'].usd:.2f} a month.",
        "",
        "### Against an always-on setup",
        "",
        'The always-on setup of "Against an always-on alternative" below, at Singapore\'s prices (sizes '
        '**assumed**, `ASSUMED["always_on"]`):',
        "",
        "| item | how many | USD a month | price region and source |",
        "|---|---|---:|---|",
    ]
    for name, how, value, keys in always_rows:
        lines.append(f"| {name} | {how} | {value:.2f} | {basis(keys)} |")
    lines += [
        f"| **total** | | **{always:.2f}** | |",
        "",
        "The serverless-only items (API Gateway, Lambda, DynamoDB, SQS, X-Ray) cost "
        f"**${serverless_only:.2f} per "
        f"1,000 orders** and ${fixed_serverless:.2f} a month fixed (the jobs' runs and the trigger's "
        "polling); "
        f"the always-on setup costs ${always:.2f} a month and pays everything else too. They cross at "
        f"**({always:.2f} - {fixed_serverless:.2f}) / {serverless_only:.2f} x 1,000 = {x['crossing']:,.0f} "
        "orders a "
        f"month** (~{x['crossing'] / 30:,.0f} a day). At 1,000 orders a month the serverless stack costs "
        "about "
        f"${x['floor_with'] + variable:.2f} (floor with the free allowances + the variable total) plus "
        f"$0-{ASSUMED['traffic_metrics'] * PRICES['cw_metric'].usd:.0f} of traffic metrics."
        + (
            f" With every price not found for Singapore {REGIONAL_UPLIFT:.0%} higher the crossing would be "
            f"{up['crossing']:,.0f} orders a month."
            if round(up["crossing"]) != round(x["crossing"])
            else " Every price the crossing applies is the deployed region's."
        ),
        "",
        "### Prices used",
        "",
        "| item | USD | per | region | source |",
        "|---|---:|---|---|---|",
    ]
    for key, price in PRICES.items():
        if "GB-second" in price.unit:
            figure, per = f"{price.usd:.10f}", price.unit
        elif price.usd < 0.001:
            figure, per = f"{price.usd * MILLION:g}", f"million: {price.unit}"
        else:
            figure, per = f"{price.usd:g}", price.unit
        lines.append(f"| `{key}` | {figure} | {per} | {price.region} | {price.source} |")
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    from bench.markdown import replace_section

    m = measured(BENCHMARKS.read_text())
    t = from_template()
    text = render(m, t)
    print(text)
    replace_section(COST, HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
