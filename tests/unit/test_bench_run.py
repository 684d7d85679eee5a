"""`make bench` (bench/run.py): one command writes every section of docs/benchmarks.md, rewrites each in
place, and stops what a part started, whether it ends, fails or hangs. No figure is asserted here: the
figures are the benches' to measure (docs/benchmarks.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from bench import markdown, run
from tests.conftest import ROOT


def test_a_section_is_rewritten_where_it_stands_and_the_others_are_left_alone(tmp_path):
    doc = tmp_path / "b.markdown"  # a temporary file, not a document of the repository
    doc.write_text("# B\n\nintro\n\n## A (`a`)\n\na\n\n## B (`b`)\n\nold b\n\n## C\n\nc\n")
    markdown.replace_section(doc, "## B", "## B (`b`)\n\nnew b\n")
    markdown.replace_section(doc, "## D", "## D\n\nd\n")
    assert doc.read_text() == (
        "# B\n\nintro\n\n## A (`a`)\n\na\n\n## B (`b`)\n\nnew b\n\n## C\n\nc\n\n## D\n\nd\n"
    )


def test_every_section_of_the_benchmarks_document_is_written_by_a_part_of_make_bench():
    """A section no part writes would keep a figure that no `make bench` produces."""
    headings = re.findall(r"^## (.+)$", (ROOT / "docs" / "benchmarks.md").read_text(), re.M)
    writers = {
        "package": "",  # writes none: builds the zips the cold start section sizes
        "api": "bench/api_cost.py",
        "cold-start": "bench/cold_start.py",
        "footprint": "bench/footprint.py",
        "sweep": "bench/sweep.py",
        "schemathesis": "tests/integration/test_schemathesis.py",
        "load": "bench/load.py",
        "cost": "",  # writes docs/cost.md from the sections the others wrote
        "test-loop": "bench/test_loop.py",
    }
    assert [p.name for p in run.parts()] == list(writers)
    code = "".join((ROOT / path).read_text() for path in writers.values() if path)
    code += (ROOT / "bench" / "run.py").read_text()
    for heading in headings:
        title = heading.split(" (")[0]
        assert f'"## {title}' in code, f"no part of `make bench` writes the section {heading!r}"


def test_a_part_that_hangs_is_stopped_with_every_process_it_started(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "LOGS", tmp_path)
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(120)\n"
    )
    part = run.Part("hang", [sys.executable, "-c", script], "nothing")
    status, seconds = run.run_part(part, timeout=3)
    assert status == "stopped after 3 s" and seconds < 60
    assert "started" in (tmp_path / "hang.log").read_text()
    child = int(pid_file.read_text())
    for _ in range(50):  # its grandchild went with its process group
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the hung part's child process is still running")


def test_a_failing_part_is_reported_and_the_run_section_says_which(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "LOGS", tmp_path)
    failing = run.Part("api", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], "X")
    passing = run.Part("sweep", [sys.executable, "-c", "print('fine')"], "Y")
    results = [(p, *run.run_part(p, timeout=60)) for p in (failing, passing)]
    assert [status for _, status, _ in results] == [3, 0]
    from datetime import UTC, datetime

    text = run.section(results, datetime.now(UTC), 12.0, (1.0, 2.0))
    assert text.startswith(run.HEADING)
    assert "| api | `python -c" in text and "**failed** (exit 3)" in text
    assert "Failed this run: api" in text


def test_the_local_stack_file_moves_with_local_stack_file(tmp_path):
    """bench/load.py's own stack describes itself apart, so a developer's .local/stack.json is untouched."""
    where = tmp_path / "stack.json"
    script = "from infra.local import console, env; print(env.STACK_FILE); print(console.CONFIG_FILE)"
    shown = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "LOCAL_STACK_FILE": str(where)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown == [str(where), str(tmp_path / "console-config.json")]


BENCHMARKS = """# Benchmarks

## DynamoDB requests per API call (`make bench-api`)

Measured 2026-12-07 on x86_64.

| route | kind | requests | RRU | WRU | operations |
|---|---|---:|---:|---:|---|
| `GET /products/search` | public | 1 | 2 | 0 | Query |
| `GET /products/{product_id}` | public | 1 | 0.5 | 0 | GetItem |
| `GET /cart` | customer | 2 | 11 | 0 | BatchGetItem, Query |
| `GET /orders/{order_id}` | customer | 3 | 11 | 0 | BatchGetItem x2, GetItem |
| `GET /wallet` | customer | 3 | 10.5 | 0 | BatchGetItem, GetItem, Query |
| `GET /packages/{package_id}` | customer | 3 | 13.5 | 0 | GetItem |
| `GET /staff/orders` | staff | 4 | 2 | 0 | Query x4 |

## Lifecycle cost (`make bench-api`)

| step | reads | write requests | items written | transitions | RRU | WRU | of which index |
|---|---:|---:|---:|---:|---:|---:|---:|
| `POST /cart/items` x3 | 6 | 3 | 3 | 0 | 30 | 3 | 0 |
| `POST /orders` | 2 | 1 | 7 | 4 | 12 | 18 | 4 |
| photo ingestion (S3 -> SQS -> photo_events, 6 uploads) | 18 | 12 | 12 | 6 | 18 | 42 | 24 |
| **total** | **26** | **16** | **22** | **10** | **60** | **63** | **28** |

## Storage sweep (`make bench-sweep`)

| stored items | due | items read | scanned | read ÷ due | Query calls | Query RRU |
|---:|---:|---:|---:|---:|---:|---:|
| 10,000 | 1,000 | 1,000 | 1,000 | 1.000 | 288 | 227 |

## Cold start (`make bench-cold-start`)

Measured 2026-12-06 on x86_64.

| route | import + first request | of it `import app` |
|---|---:|---:|
| search | 898 ms | 111 ms |
| payment | 1,085 ms | 113 ms |
| scan | 907 ms | 111 ms |
"""


def test_the_cost_part_reads_the_measured_figures_from_the_benchmarks_document():
    from bench import cost

    m = cost.measured(BENCHMARKS)
    assert (m["lifecycle_rru"], m["lifecycle_wru"], m["lifecycle_index_wru"]) == (60, 63, 28)
    assert m["lifecycle_api_calls"] == 4 and m["uploads"] == 6  # 3 cart calls + 1 order; the ingestion
    assert m["first_request_ms"] == 907 and m["sweep_queries"] == 288
    assert m["browsing_rru"]["GET /wallet"] == (3, 10.5)
    rows, volumes = cost.per_thousand_orders(m)
    assert volumes["api"] == 4 + 40 and volumes["invocations"] == 44 + 6
    writes = next(value for name, _, value, _ in rows if name == "DynamoDB writes")
    assert round(writes, 6) == round(63_000 * cost.PRICES["ddb_wru"].usd, 6)


def test_the_cost_part_stops_when_a_figure_is_missing_rather_than_writing_a_guess():
    import pytest

    from bench import cost

    with pytest.raises(cost.Missing, match="GET /wallet"):
        cost.measured(BENCHMARKS.replace("| `GET /wallet` |", "| `GET /wallets` |"))
    with pytest.raises(cost.Missing, match="Cold start"):
        cost.measured(BENCHMARKS.split("## Cold start")[0])


def test_every_price_names_its_region_and_a_source_the_cost_document_lists():
    """Issue 27: every price is looked up for ap-southeast-1 and cited; one still taken from another region
    says so in its region, and the upper bound raises exactly those."""
    from bench import cost

    sources = set(re.findall(r"^\| (\d+) \|", (ROOT / "docs" / "cost.md").read_text(), re.M))
    for key, price in cost.PRICES.items():
        cited = re.findall(r"\[(\d+)\]", price.source)
        assert cited and "".join(f"[{n}]" for n in cited) == price.source, key
        assert set(cited) <= sources, f"{key} cites a source docs/cost.md does not list: {price.source}"
        assert price.region.strip(), key
        assert price.singapore == (cost.NOT_FOUND not in price.region), key
        if not price.singapore:
            assert price.region.startswith(("us-east-1", "no region stated")), key
    bound = cost.upper_bound()
    for key, price in cost.PRICES.items():
        expected = price.usd * (1 if price.singapore else 1 + cost.REGIONAL_UPLIFT)
        assert bound[key].usd == expected, key


TEMPLATE_COUNTS = {
    "alarms": 26,
    "dashboards": 1,
    "secrets": 2,
    "sqs_triggers": 1,
    "schedule_runs": {"rate(1 hour)": 1460.0},
    "tier": "LITE",
}


def test_the_upper_bound_text_follows_which_prices_were_not_found_for_singapore():
    """Issue 27: the +52 % bound names exactly the rows that apply a price not found for Singapore, and is
    left out of a table whose prices were all found, rather than written by hand."""
    from dataclasses import replace

    from bench import cost

    m = cost.measured(BENCHMARKS)
    table = {key: replace(price, region=cost.SG) for key, price in cost.PRICES.items()}
    with cost.priced(table):
        found_everywhere = cost.render(m, TEMPLATE_COUNTS)
    variable = found_everywhere.split("### Cost per 1,000 orders")[1].split("### Fixed monthly cost")[0]
    assert "needs no upper bound" in variable and "without a Singapore figure" not in variable
    assert "Every price the floor applies is the deployed region's." in found_everywhere
    assert "every price is the deployed region's" in found_everywhere
    assert cost.NOT_FOUND not in found_everywhere

    table["ddb_wru"] = replace(table["ddb_wru"], region=cost.US)
    table["cw_dashboard"] = replace(table["cw_dashboard"], region=cost.US)
    with cost.priced(table):
        one_missing = cost.render(m, TEMPLATE_COUNTS)
    variable = one_missing.split("### Cost per 1,000 orders")[1].split("### Fixed monthly cost")[0]
    assert "The items priced without a Singapore figure (DynamoDB writes) make" in variable
    floor = one_missing.split("### Fixed monthly cost")[1].split("### Against an always-on setup")[0]
    assert f"With every price not found for Singapore {cost.REGIONAL_UPLIFT:.0%} higher: $" in floor
    assert f"`{cost.US}` marks a price still taken from another region" in one_missing
    assert "`ddb_wru`, `cw_dashboard`" in one_missing
    assert "the crossing would be" in one_missing


def test_the_cost_tables_show_each_price_s_region():
    from bench import cost

    m = cost.measured(BENCHMARKS)
    text = cost.render(m, TEMPLATE_COUNTS)
    prices = text.split("### Prices used")[1]
    for key, price in cost.PRICES.items():
        assert f"| `{key}` |" in prices and f"| {price.region} | {price.source} |" in prices, key
    variable = text.split("### Cost per 1,000 orders")[1].split("### Fixed monthly cost")[0]
    writes = next(line for line in variable.splitlines() if line.startswith("| DynamoDB writes |"))
    assert writes.endswith(f"| {cost.PRICES['ddb_wru'].region} {cost.PRICES['ddb_wru'].source} |")
    lambdas = next(line for line in variable.splitlines() if line.startswith("| Lambda requests |"))
    assert lambdas.endswith(f"| {cost.SG} {cost.PRICES['lambda_request'].source} |")
    always = text.split("### Against an always-on setup")[1].split("The serverless-only items")[0]
    assert all(
        f"{cost.SG} [28]" in line
        for line in always.splitlines()
        if line.startswith("| ")
        and "**total**" not in line
        and "---" not in line
        and not line.startswith("| item")
    )
