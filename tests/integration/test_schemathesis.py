"""schemathesis against the app, in-process on moto, with a customer token and a staff (admin) token:
no input produces a 5xx, and every answer is one the OpenAPI document lists (status, content type and,
where documented, body schema).

Chalice is not WSGI; `infra.local.wsgi.ChaliceWSGI` (what `make run` serves under waitress) serves the
app through chalice's LocalGateway (what `chalice local` runs, and what `chalice.test.Client` calls), with
path parameters URL-decoded as API Gateway does, so schemathesis's WSGI transport calls it in-process.
Per operation and caller: schema-valid cases (positive) and schema-invalid ones (negative), plus
positive cases whose path parameters are the customer's real objects (so handlers run past the 404
with fuzzed bodies). The webhook's generated bodies are signed, so they reach the handler too.
Bounded and deterministic: `MAX_EXAMPLES` per (operation, caller, mode), derandomized, no example
database.

Then the stateful phase: schemathesis's state machine built from the document's OpenAPI links
(chalicelib/openapi.py `LINKS`: create order -> pay -> get/approve; add cart item -> patch/delete; create
package -> pay -> pack -> ship; top-up -> the provider's webhook -> get payment...), so the routes that need
an existing object are called with real ones. Customer routes are called with the customer's token, staff
routes with the admin's, so one scenario can follow an order from the customer to the staff and back.
Positive cases only, the same checks (response conformance included); `STATEFUL_SCENARIOS` scenarios of at
most `STATEFUL_STEPS` calls, derandomized.

`SCHEMATHESIS_MAX_EXAMPLES=25 pytest tests/integration/test_schemathesis.py` for a longer run;
`SCHEMATHESIS_REPORT=1` writes the case counts and how many operations answered a 2xx to
docs/benchmarks.md (`make bench-schemathesis`).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.core.version import SCHEMATHESIS_VERSION
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

import app as application
from chalicelib import openapi
from infra.local.seed import seed_rates
from infra.local.wsgi import ChaliceWSGI, stage_config
from tests.conftest import ROOT
from tests.integration.conftest import ADMIN, ALICE
from tests.integration.test_auth_matrix import explicit_catalog, in_process_stack, seed

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15"))
STATEFUL_SCENARIOS = int(os.environ.get("SCHEMATHESIS_STATEFUL_SCENARIOS", str(MAX_EXAMPLES * 8)))
STATEFUL_STEPS = 10
SCHEMA = schemathesis.openapi.from_dict(openapi.build())
# Unknown query parameters are ignored (the contract: clients MAY send options a route does not know).
SCHEMA.config.generation.update(allow_extra_parameters=False)
OPERATIONS = sorted(result.ok().label for result in SCHEMA.get_all_operations())
# "METHOD /path" -> why it fails; marked xfail(strict) until the lead fixes it.
KNOWN_FAILURES: dict[str, str] = {}
# Operations that accept some schema-invalid input on purpose (still: no 5xx, documented statuses only).
LENIENT = {
    "POST /payments/webhook": "events of other types are acknowledged (200) without reading their body",
}
POSITIVE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
POSITIVE_CHECKS.append(response_schema_conformance)
NEGATIVE_CHECKS = [not_a_server_error, status_code_conformance, negative_data_rejection]
CALLERS = {"customer": ALICE, "admin": ADMIN}
# path parameter -> the seeded object of the customer to use for it
REAL_IDS = {
    "order_id": "order_id",
    "item_id": "item_id",
    "cart_item_id": "cart_item_id",
    "package_id": "package_id",
    "payment_id": "payment_id",
    "photo_id": "photo_id",
    "case_id": "case_id",
    "parcel_id": "parcel_id",
    "product_id": "product_id",
}
CASES: Counter = Counter()
STATEFUL_CASES: Counter = Counter()
LINKED_CASES: Counter = Counter()  # stateful calls whose input came from an earlier answer (a link)
STATEFUL_SCENARIOS_RUN = [0]
STATEFUL_RUNS = [0]  # Hypothesis runs (one per fixed seed) the stateful scenarios took
STATEFUL_FAILED: set[str] = set()
TIMES: dict[str, float] = {}  # phase -> seconds
SUCCEEDED: dict[str, set[str]] = {"fuzz": set(), "stateful": set()}  # operations that answered a 2xx
FAILED: set[str] = set()


@dataclass
class World:
    wsgi: ChaliceWSGI
    tokens: dict[str, str]
    real_ids: dict[str, str]


@pytest.fixture(scope="module")
def world(request) -> Iterator[World]:
    with in_process_stack() as api, explicit_catalog():
        objects = seed(api)
        seed_rates()  # rates in force: a generated ?currency=USD converts (no 503 for a fresh stack)
        mine = {**objects["staff"], **objects[ALICE]}
        started = time.perf_counter()
        yield World(
            wsgi=ChaliceWSGI(application.app, stage_config(application.app, "test", str(ROOT))),
            tokens={role: api.token(user) for role, user in CALLERS.items()},
            real_ids={name: mine[kind] for name, kind in REAL_IDS.items()},
        )
        _report(request.config, time.perf_counter() - started)


def _summary() -> list[str]:
    ok = SUCCEEDED["fuzz"] | SUCCEEDED["stateful"]
    linked = sum(LINKED_CASES.values())
    return [
        f"schemathesis: {sum(CASES.values())} generated cases over {len(CASES)} operations "
        f"(customer and admin tokens, positive and negative, <= {MAX_EXAMPLES} per operation, caller and "
        f"mode) in {TIMES.get('fuzz', 0):.0f} s",
        f"stateful: {STATEFUL_SCENARIOS_RUN[0]} scenarios in {STATEFUL_RUNS[0]} runs, "
        f"{sum(STATEFUL_CASES.values())} calls over "
        f"{len(STATEFUL_CASES)} operations ({linked} with an input from an earlier answer, over "
        f"{len(LINKED_CASES)} operations) in {TIMES.get('stateful', 0):.0f} s",
        f"operations with a 2xx: {len(ok)} of {len(OPERATIONS)} (fuzzing {len(SUCCEEDED['fuzz'])}, "
        f"stateful {len(SUCCEEDED['stateful'])}); never: {', '.join(sorted(set(OPERATIONS) - ok)) or 'none'}",
    ]


def _report(config, seconds: float) -> None:
    lines = _summary()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("\n" + "\n".join(lines))
    else:
        print("\n".join(lines))
    if os.environ.get("SCHEMATHESIS_REPORT") and CASES and STATEFUL_CASES:
        _write_benchmarks_section(seconds)


def _write_benchmarks_section(seconds: float) -> None:
    import platform
    from datetime import UTC, datetime

    from bench.markdown import replace_section

    ok = SUCCEEDED["fuzz"] | SUCCEEDED["stateful"]
    never = sorted(set(OPERATIONS) - ok)
    lines = [
        "## API fuzzing (`make bench-schemathesis`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}: schemathesis {SCHEMATHESIS_VERSION} against the app in-process "
        f"on moto (tests/integration/test_schemathesis.py), {seconds:.0f} s in all.",
        "",
        "| phase | operations | cases | bound | callers | time | operations with a 2xx | failed |",
        "|---|---:|---:|---|---|---:|---:|---:|",
        f"| per operation (positive, negative, real path ids) | {len(CASES)} | {sum(CASES.values()):,} | "
        f"{MAX_EXAMPLES} per (operation, caller, mode) | customer, admin | {TIMES.get('fuzz', 0):.0f} s | "
        f"{len(SUCCEEDED['fuzz'])} | {len(FAILED)} |",
        f"| stateful (OpenAPI links) | {len(STATEFUL_CASES)} | {sum(STATEFUL_CASES.values()):,} | "
        f"{STATEFUL_SCENARIOS_RUN[0]} scenarios of <= {STATEFUL_STEPS} calls | customer routes: customer, "
        f"staff routes: admin | {TIMES.get('stateful', 0):.0f} s | {len(SUCCEEDED['stateful'])} | "
        f"{len(STATEFUL_FAILED)} |",
        "",
        f"Operations that answered at least one 2xx: {len(ok)} of {len(OPERATIONS)}. In the stateful phase "
        f"{sum(LINKED_CASES.values()):,} calls over {len(LINKED_CASES)} operations took an id or body from "
        "an earlier answer through a link (create order -> pay -> get, approve, purchase; add cart item -> "
        "patch, delete, order; create package -> pay -> pack -> ship; top-up -> webhook -> get payment...). "
        "Never a 2xx: " + (", ".join(f"`{label}`" for label in never) or "none") + ".",
        "",
        "Checks: no server error, status code and content type documented, response body matching its "
        "documented schema (every operation has a typed response model; objects are closed, so an "
        "undocumented field fails); schema-invalid input answered with a 4xx. Known failures "
        "(xfail): "
        + (", ".join(sorted(KNOWN_FAILURES)) or "none")
        + ". Failing now: "
        + (", ".join(f"`{label}`" for label in sorted(FAILED | STATEFUL_FAILED)) or "none")
        + ".",
        "",
        "Server errors found while building this, fixed: a correctly signed payment webhook whose `data` "
        "is not an object, or whose `data.payment_id` is empty (DynamoDB refuses an empty key); an empty "
        "path parameter (`POST /orders//pay`, which chalice local routes to the view); a `customer_email` "
        "with control characters in `POST /staff/parcels/{parcel_id}/assign` (Cognito's ListUsers filter "
        "refused it).",
        "",
    ]
    replace_section(ROOT / "docs" / "benchmarks.md", "## API fuzzing", "\n".join(lines))


def _signed(case) -> dict:
    """The webhook's generated body, serialized and signed as the provider would."""
    from chalicelib import clock, payments

    body = None if isinstance(case.body, NotSet) else case.body
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signature = payments.sign(raw, os.environ["PAYMENT_WEBHOOK_SECRET"], int(clock.now().timestamp()))
    return {"headers": {"X-Signature": signature}, "data": raw}


def _succeeded_event(case):
    """The webhook's case as a payment.succeeded event (other types are acknowledged unread)."""
    if isinstance(case.body, dict):
        case.body = {**case.body, "type": "payment.succeeded"}
    return case


def _run(
    world: World, operation, caller: str, mode: GenerationMode, path_parameters: dict | None, mapper=None
) -> None:
    checks = POSITIVE_CHECKS if mode is GenerationMode.POSITIVE else NEGATIVE_CHECKS
    if operation.label in LENIENT:
        checks = [c for c in checks if c is not negative_data_rejection]
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
    if mapper is not None:
        strategy = strategy.map(mapper)
    headers = {"Authorization": f"Bearer {world.tokens[caller]}"}
    webhook = operation.label == "POST /payments/webhook"

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def check(case):
        CASES[operation.label] += 1
        extra = _signed(case) if webhook else {}
        all_headers = {**headers, **extra.pop("headers", {})}
        response = case.call_and_validate(app=world.wsgi, headers=all_headers, checks=checks, **extra)
        if 200 <= response.status_code < 300:
            SUCCEEDED["fuzz"].add(operation.label)

    try:
        check()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise  # nothing to negate (no parameters, no body) is fine; nothing valid is not


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_server_errors_and_only_documented_answers(world, label, request):
    if label in KNOWN_FAILURES:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_FAILURES[label], strict=True))
    operation = SCHEMA.find_operation_by_label(label)
    started = time.perf_counter()
    try:
        _fuzz(world, operation, label)
    except BaseException:
        FAILED.add(label)
        raise
    finally:
        TIMES["fuzz"] = TIMES.get("fuzz", 0) + time.perf_counter() - started


def _fuzz(world: World, operation, label: str) -> None:
    names = re.findall(r"\{(\w+)\}", operation.path)
    real = {name: world.real_ids[name] for name in names if name in world.real_ids}
    for caller in CALLERS:
        _run(world, operation, caller, GenerationMode.POSITIVE, None)
        _run(world, operation, caller, GenerationMode.NEGATIVE, None)
        if real:
            _run(world, operation, caller, GenerationMode.POSITIVE, real)
        if label == "POST /payments/webhook":
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _run(world, operation, caller, mode, None, mapper=_succeeded_event)


def _stateful_schema():
    """The document for the stateful phase: its own links only (schemathesis's inferred links guess from
    names, e.g. a cart item's id into item routes), positive cases only."""
    schema = schemathesis.openapi.from_dict(openapi.build())
    schema.config.generation.update(allow_extra_parameters=False, modes=[GenerationMode.POSITIVE])
    schema.config.phases.stateful.generation.update(modes=[GenerationMode.POSITIVE])
    schema.config.phases.stateful.inference.algorithms = []
    return schema


def _link_roots(operations, transitions, graph):
    """Scenarios start at any linked operation without path parameters (creations, lists, queues).

    schemathesis's own choice also drops operations whose body names a resource no response schema
    produces: while most responses are `{"type": "object"}`, that dropped POST /orders, /cart/items and
    /packages, the very starts of the chains."""
    from schemathesis.specs.openapi.stateful import RootTransitions

    roots = RootTransitions()
    for operation in operations:
        linked = transitions.operations.get(operation.label)
        if linked is not None and linked.outgoing and not operation.path_parameters:
            roots.reliable.add(operation.label)
    return roots


def test_stateful_links_follow_real_objects_with_only_documented_answers(world, monkeypatch):
    from hypothesis import seed
    from hypothesis.errors import Flaky, FlakyStrategyDefinition
    from schemathesis.specs.openapi import stateful

    monkeypatch.setattr(stateful, "classify_root_transitions", _link_roots)
    schema = _stateful_schema()
    staff = {
        result.ok().label
        for result in schema.get_all_operations()
        if "x-staff-groups" in result.ok().definition.raw
    }
    failures: list[str] = []
    scenarios = [0]

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            caller = "admin" if case.operation.label in staff else "customer"
            extra = _signed(case) if case.operation.label == "POST /payments/webhook" else {}
            headers = {"Authorization": f"Bearer {world.tokens[caller]}", **extra.pop("headers", {})}
            return {"app": world.wsgi, "headers": headers, **extra}

        def step(self, input):
            STATEFUL_CASES[input.case.operation.label] += 1
            if input.transition is not None:
                LINKED_CASES[input.case.operation.label] += 1
            output = super().step(input)
            if 200 <= output.response.status_code < 300:
                SUCCEEDED["stateful"].add(input.case.operation.label)
            return output

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            try:
                case.validate_response(
                    response,
                    checks=POSITIVE_CHECKS,
                    headers=kwargs.get("headers"),
                    transport_kwargs=kwargs,
                    recorder=self.recorder,
                )
            except BaseException as exc:
                failures.append(f"{case.operation.label} -> {response.status_code}: {exc}")
                STATEFUL_FAILED.add(case.operation.label)
                raise

        def teardown(self):
            scenarios[0] += 1
            super().teardown()

    # The app's state outlives a scenario, so the same draws can meet other objects (a bundle empty once,
    # filled later): Hypothesis calls that a flaky strategy and stops the run. As schemathesis's own
    # runner does, that ends the run, not the test: the next run starts from the next fixed seed, until
    # STATEFUL_SCENARIOS scenarios ran. A failed check is recorded before Hypothesis sees it.
    started = time.perf_counter()
    for run in range(STATEFUL_SCENARIOS):
        left = STATEFUL_SCENARIOS - scenarios[0]
        if left <= 0:
            break
        # a seed per run; each run's simplest scenario (Hypothesis tries it first) starts elsewhere
        machine = seed(run)(type("Workflow", (Workflow,), {"rule_order_seed": run}))
        STATEFUL_RUNS[0] += 1
        try:
            machine.run(
                settings=settings(
                    max_examples=left,
                    stateful_step_count=STATEFUL_STEPS,
                    deadline=None,
                    derandomize=False,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                    report_multiple_bugs=False,
                )
            )
        except (Flaky, FlakyStrategyDefinition):
            if failures:
                raise
        assert not failures, failures
    TIMES["stateful"] = time.perf_counter() - started
    STATEFUL_SCENARIOS_RUN[0] = scenarios[0]
    assert not failures, failures
    # the chains were followed: each area's routes on an existing object got ids from earlier answers
    chains = {
        "orders": ("/orders/{order_id}", "/staff/orders/{order_id}"),
        "cart": ("/cart/items/{cart_item_id}",),
        "packages": ("/packages/{package_id}", "/staff/packages/{package_id}"),
        "items": ("/items/{item_id}", "/staff/items/{item_id}"),
        "parcels": ("/staff/parcels/{parcel_id}",),
    }
    for area, prefixes in chains.items():
        linked = {label for label in LINKED_CASES if label.split(" ", 1)[1].startswith(prefixes)}
        assert linked, (area, dict(LINKED_CASES))
    assert len(SUCCEEDED["stateful"]) >= 20, sorted(SUCCEEDED["stateful"])


def test_a_signed_webhook_with_a_malformed_data_is_a_400(world):
    """Were 500s: a correctly signed payment.succeeded event whose `data` is not an object (`data.get`),
    or whose `data.payment_id` is "" (found by this fuzzing: DynamoDB refuses an empty key)."""
    from werkzeug.test import Client as WsgiClient

    from chalicelib import clock, payments

    client = WsgiClient(world.wsgi)
    for data in ([1], "x", 5, True, {"payment_id": "", "amount_fen": 100}):
        raw = json.dumps({"id": "evt_fuzz", "type": "payment.succeeded", "data": data}).encode()
        signature = payments.sign(raw, os.environ["PAYMENT_WEBHOOK_SECRET"], int(clock.now().timestamp()))
        headers = {"X-Signature": signature, "Content-Type": "application/json"}
        response = client.post("/payments/webhook", data=raw, headers=headers)
        assert response.status_code == 400, (data, response.get_data())
        assert response.json["error"]["code"] == "validation_error"


def test_the_wsgi_adapter_passes_paths_queries_and_headers(world):
    from werkzeug.test import Client as WsgiClient

    client = WsgiClient(world.wsgi)
    auth = {"Authorization": f"Bearer {world.tokens['customer']}"}
    assert client.get("/health").json == {"status": "ok"}
    assert client.get("/orders?limit=0", headers=auth).status_code == 400
    assert len(client.get("/orders?limit=1", headers=auth).json["items"]) == 1
    assert client.get("/me").status_code == 401
    # a `/` inside a path parameter stays inside it, decoded as API Gateway decodes it
    assert client.get("/orders/a%2Fb", headers=auth).status_code == 404
    assert client.get(f"/orders/{world.real_ids['order_id']}", headers=auth).status_code == 200


def test_every_route_is_fuzzed():
    assert {tuple(label.split(" ", 1)) for label in OPERATIONS} == {
        (method.upper(), path) for path, methods in openapi.build()["paths"].items() for method in methods
    }
