"""`make bench-cold-start`: what a user waits for on a cold Lambda, against a minimal app, per route.

Each sample is a fresh interpreter that imports the app and serves the FIRST request of one route through
the Lambda entry point, as API Gateway invokes it: a REST proxy event dict to `app.app(event, context)`.
Configured as deployed (the prod stage's variables of .chalice/config.json): tracing on (a Lambda
function name, `LAMBDA_TASK_ROOT` and a sampled `_X_AMZN_TRACE_ID`, so Powertools' Tracer and the X-Ray
SDK run, and their segments go by UDP to a socket this script listens on and counts), the caller's
Cognito ID token verified against the pool's JWKS (fetched over HTTP on the first request, as in AWS).
AWS is a moto server on loopback, started and provisioned (tables, user pool, demo catalog, orders to
pay) before any clock starts, so both apps pay real HTTP client creation and real requests.

Routes: a public search (`GET /products/search?q=...`), a wallet payment (`POST /orders/{id}/pay` from
the balance, a fresh order per sample) and a warehouse scan (`POST /staff/inbound`, a fresh tracking
number per sample). The baseline is bench/minimal_app: one Chalice route doing one PynamoDB GetItem,
its client created by that request. For every route, BENCH_COLD_RUNS pairs (default 9) of (app,
minimal) run alternately (app first in even pairs, minimal first in odd ones) after one warm-up pair;
the route's ratio is the median of its pairs' ratios. Two times per sample: `import + first request`
(perf_counter around `import app` and the invocation, what INIT and the first invoke cost) and the whole
process (interpreter start to exit, from this script). Target: <= 1.3 on every route.

The floor (bench/floor_app): the minimal app plus only what the deployed app does on every first request
(tracing, logs and metrics, a typed response, the token check on signed-in routes), each
layer alone and together, BENCH_COLD_FLOOR_RUNS alternating pairs (default 9, as the routes; 0 skips
them) against the
minimal app: what no change to the app's own code can go below while those stay.

Where the time goes, per route, in one more process each: `-X importtime` self time per top-level
package, and under cProfile (which inflates every figure, so only shares are given) the first request's
parts: route module import, tracer creation, caller authentication, botocore client creation.
Writes the "## Cold start" section of docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MINIMAL = ROOT / "bench" / "minimal_app"
FLOOR = ROOT / "bench" / "floor_app"
# the floor rows: the minimal app plus what every deployed first request does (bench/floor_app)
FLOORS = {
    "gc": ("gc", "the collector paused until the first answer (it saves)"),
    "tracer": ("tracer", "tracing alone"),
    "logs": ("logs", "structured logs and metrics alone"),
    "models": ("models", "a typed response alone (chalicelib.typed)"),
    "pydantic": ("pydantic", "a pydantic response alone (what the routes used before chalicelib.typed)"),
    "token": ("token", "the token check alone"),
    "public": ("gc,tracer,logs,models", "**a public route** (the search)"),
    "signed": ("gc,tracer,logs,models,token", "**a signed-in route** (the payment, the scan)"),
}
HOST = "127.0.0.1"
REGION = "ap-southeast-1"
MARK = "COLD-START-RESULT "
TRACE_ID = "Root=1-67890abc-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"

# the sample: the event is read before the clock starts; `app` is whichever app.py is on the path
PROBE = f"""
import json, os, sys, time
event = json.loads(os.environ.pop("COLD_EVENT"))
class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:{REGION}:000000000000:function:" + function_name
    memory_limit_in_mb = 512
    aws_request_id = "cold-start-0001"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "cold"
    def get_remaining_time_in_millis(self):
        return 20000
started = time.perf_counter()
import app
imported = time.perf_counter()
answer = app.app(event, Context())
done = time.perf_counter()
print("{MARK}" + json.dumps({{"import": imported - started, "first": done - started,
    "status": answer["statusCode"], "body": answer.get("body", "")[:300]}}), flush=True)
"""

# what the first request spends in its parts, by cProfile's cumulative times (file, function name)
PARTS = {
    "route module import": ("chalicelib/routing.py", "load"),
    "caller authentication": ("chalicelib/auth.py", "authenticate"),
    "botocore client creation": ("botocore/session.py", "create_client"),
}


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def deployed_environment(endpoint: str) -> dict[str, str]:
    """The prod stage's variables (what Lambda gets), pointed at the moto server, secrets filled in."""
    from infra.local.env import stage_environment

    env = stage_environment("prod")
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "TABLE_PREFIX": "procure-bench",
            "PAYMENT_WEBHOOK_SECRET": "whsec_bench_cold_start",
            "CURSOR_SECRET": "cursor_bench_cold_start",
            "CORS_ALLOWED_ORIGINS": "https://shop.example",
        }
    )
    return env


class Stack:
    """A moto server on loopback with everything the three routes and the baseline read."""

    def __init__(self, runs: int) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.moto = ThreadedMotoServer(ip_address=HOST, port=self.port, verbose=False)
        self.moto.start()
        self.endpoint = f"http://{HOST}:{self.port}"
        self.env = deployed_environment(self.endpoint)
        os.environ.update(self.env)
        self.xray = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.xray.bind((HOST, 0))
        self.xray.setblocking(False)
        with contextlib.redirect_stdout(
            sys.stderr if os.environ.get("BENCH_COLD_VERBOSE") else open(os.devnull, "w")
        ):
            self._provision(runs)  # its log lines and metrics

    def _provision(self, runs: int) -> None:
        from infra.local import provision, seed

        stack = provision.provision(demo_users=True)
        os.environ["USER_POOL_ID"] = self.env["USER_POOL_ID"] = stack["user_pool_id"]
        os.environ["USER_POOL_CLIENT_ID"] = self.env["USER_POOL_CLIENT_ID"] = stack["client_id"]
        seed.seed(stack)
        users = {u["username"]: u for u in stack["users"]}
        self.tokens = {
            name: provision.sign_in(stack["client_id"], name, users[name]["password"])
            for name in ("alice@example.com", "warehouse@procure.example")
        }
        from chalicelib import aws

        aws.client("dynamodb").create_table(
            TableName="minimal-things",
            KeySchema=[{"AttributeName": "thing_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "thing_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        aws.client("dynamodb").put_item(
            TableName="minimal-things", Item={"thing_id": {"S": "t1"}, "name": {"S": "a thing"}}
        )
        self.orders = self._orders(runs + 8)  # warm-up, pairs, 3 untraced, 2 profiles
        self.scans = 0

    def _call(self, method: str, path: str, token: str | None, body: object = None, **extra) -> dict:
        import app

        event = api_event(method, path, token, body, **extra)
        answer = app.app(event, None)
        if answer["statusCode"] >= 300:
            raise SystemExit(f"setup {method} {path}: {answer['statusCode']} {answer.get('body')}")
        return json.loads(answer["body"] or "null")

    def _orders(self, count: int) -> list[str]:
        """`count` orders of one demo product each, awaiting payment from a wallet that can pay them all."""
        from infra.local import demo_catalog

        alice = self.tokens["alice@example.com"]
        product = next(p for p in demo_catalog.products() if p["min_quantity"] == 1 and not p["attributes"])
        line = {"product_id": product["product_id"], "sku_id": product["skus"][0]["sku_id"], "quantity": 1}
        # the setup's top-up is paid through the local simulation (the prod stage maps every channel to a
        # real provider, which the bench does not reach); the timed samples run the prod stage unchanged
        with _patched_environ(STAGE="local", PAYMENT_PROVIDERS="{}"):
            self._top_up(alice)
        orders = []
        for _ in range(count):
            cart_item = self._call("POST", "/cart/items", alice, line)["cart_item_id"]
            body = {"cart_item_ids": [cart_item], "payment_channel": "balance"}
            orders.append(self._call("POST", "/orders", alice, body)["order_id"])
        return orders

    def _top_up(self, token: str) -> None:
        from chalicelib import clock
        from chalicelib.providers.simulated import sign

        top_up = self._call("POST", "/wallet/top-ups", token, {"amount_fen": 5_000_000, "channel": "alipay"})
        raw = json.dumps(
            {
                "id": "evt_cold_start_top_up",
                "type": "payment.succeeded",
                "data": {"payment_id": top_up["payment_id"], "amount_fen": top_up["charge_fen"]},
            }
        )
        signature = sign(raw.encode(), self.env["PAYMENT_WEBHOOK_SECRET"], int(clock.now().timestamp()))
        self._call("POST", "/payments/webhook", None, raw=raw, headers={"X-Signature": signature})

    def event(self, route: str) -> dict:
        """The API Gateway event of the next first request of `route` (each payment and scan a new one)."""
        if route == "search":
            return api_event("GET", "/products/search", None, query={"q": "shirt"})
        if route == "payment":
            order_id = self.orders.pop()
            return api_event(
                "POST",
                "/orders/{order_id}/pay",
                self.tokens["alice@example.com"],
                params={"order_id": order_id},
                headers={"Idempotency-Key": f"cold-{order_id}"},
            )
        if route == "scan":
            self.scans += 1
            body = {"tracking_no": f"CS{self.scans:010d}", "weight_g": 900}
            return api_event("POST", "/staff/inbound", self.tokens["warehouse@procure.example"], body)
        if route == "minimal":
            return api_event("GET", "/things/{thing_id}", None, params={"thing_id": "t1"})
        if route.startswith("floor-"):
            token = self.tokens["alice@example.com"] if "token" in FLOORS[route[6:]][0] else None
            return api_event("GET", "/things/{thing_id}", token, params={"thing_id": "t1"})
        raise ValueError(route)

    def child_env(self, event: dict, traced: bool = True) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "POWERTOOLS_", "_X_AMZN"))}
        env.update(self.env)
        env.update(
            {
                "COLD_EVENT": json.dumps(event),
                "AWS_LAMBDA_FUNCTION_NAME": "procure-prod-api_handler",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
                "LAMBDA_TASK_ROOT": str(ROOT),
                "_X_AMZN_TRACE_ID": TRACE_ID,
                "AWS_XRAY_DAEMON_ADDRESS": f"{HOST}:{self.xray.getsockname()[1]}",
            }
        )
        if not traced:
            env["POWERTOOLS_TRACE_DISABLED"] = "true"
        return env

    def segments(self) -> int:
        """X-Ray documents received since the last call."""
        count = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                self.xray.recv(65536)
                count += 1
        return count

    def stop(self) -> None:
        self.xray.close()
        self.moto.stop()


@contextlib.contextmanager
def _patched_environ(**values: str):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def api_event(
    method: str,
    resource: str,
    token: str | None,
    body: object = None,
    *,
    params: dict | None = None,
    query: dict | None = None,
    headers: dict | None = None,
    raw: str | None = None,
) -> dict:
    """An API Gateway REST proxy event, as the Lambda integration sends it."""
    path = resource.format(**(params or {}))
    all_headers = {"Host": "api.example", "User-Agent": "cold-start-bench", "Accept": "application/json"}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    if body is not None or raw is not None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
            "requestId": f"req-{time.monotonic_ns()}",
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "cold-start-bench"},
        },
        "body": raw if raw is not None else (json.dumps(body) if body is not None else None),
        "isBase64Encoded": False,
    }


def sample(
    stack: Stack, route: str, traced: bool = True, extra: tuple[str, ...] = (), bytecode: dict | None = None
) -> dict:
    """One fresh interpreter serving the first request of `route`; its times, status and X-Ray documents.
    `bytecode`: environment variables that change where it finds .pyc (see without_bytecode)."""
    directory = MINIMAL if route == "minimal" else FLOOR if route.startswith("floor-") else ROOT
    layers = {"FLOOR_LAYERS": FLOORS[route[6:]][0]} if route.startswith("floor-") else {}
    stack.segments()
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, *extra, "-c", PROBE],
        cwd=directory,
        env={**stack.child_env(stack.event(route), traced), **(bytecode or {}), **layers},
        capture_output=True,
        text=True,
        check=False,
    )
    process = time.perf_counter() - started
    results = [line for line in out.stdout.splitlines() if line.startswith(MARK)]
    if out.returncode or not results:
        raise SystemExit(f"{route}: exit {out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    result = json.loads(results[-1].removeprefix(MARK))
    if result["status"] >= 300:
        raise SystemExit(f"{route}: answered {result['status']}: {result['body']}")
    time.sleep(0.05)  # the last UDP datagrams
    return {**result, "process": process, "segments": stack.segments(), "stderr": out.stderr}


def without_bytecode(stack: Stack, directory: Path, routes: list[str]) -> dict[str, str]:
    """The environment of a process that finds no .pyc but the Lambda runtime's own (the standard library,
    boto3, botocore, s3transfer: what a Lambda has when a package ships none). PYTHONPYCACHEPREFIX moves
    every .pyc lookup to `directory`; one run per route fills it and everything else is deleted from it;
    PYTHONDONTWRITEBYTECODE keeps it that way, as Lambda's read-only code directories do."""
    import sysconfig

    from infra.layer import RUNTIME_PROVIDED

    prefix = {"PYTHONPYCACHEPREFIX": str(directory)}
    for route in (*routes, "minimal"):
        sample(stack, route, bytecode=prefix)
    stdlib = str(Path(sysconfig.get_paths()["stdlib"]).resolve()).lstrip("/")
    removed = 0
    for pyc in directory.rglob("*.pyc"):
        source_dir = pyc.parent.relative_to(directory).as_posix()
        runtime = source_dir.startswith(stdlib) and "/site-packages" not in source_dir
        if "/site-packages/" in f"{source_dir}/":
            runtime = f"{source_dir}/".split("/site-packages/")[1].split("/")[0] in RUNTIME_PROVIDED
        if not runtime:
            pyc.unlink()
            removed += 1
    if not removed:
        raise SystemExit("PYTHONPYCACHEPREFIX: no .pyc of the app was written there")
    return {**prefix, "PYTHONDONTWRITEBYTECODE": "1"}


def import_profile(stack: Stack, route: str, top: int = 6) -> list[tuple[str, float]]:
    """Self import time per top-level package (`-X importtime`) of import + first request, in ms."""
    per_package: Counter = Counter()
    for line in sample(stack, route, extra=("-X", "importtime"))["stderr"].splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.removeprefix("import time:").split("|")
        if not parts[0].strip().isdigit():
            continue  # the header line
        per_package[parts[2].strip().split(".")[0]] += int(parts[0]) / 1000
    return per_package.most_common(top)


def part_shares(stack: Stack, route: str) -> dict[str, float]:
    """The share of import + first request each of PARTS takes, under cProfile."""
    directory = MINIMAL if route == "minimal" else ROOT
    handle, name = tempfile.mkstemp(suffix=".prof")
    os.close(handle)
    target = Path(name)
    wrapper = f"import cProfile; cProfile.run(compile({PROBE!r}, 'probe', 'exec'), {str(target)!r})"
    subprocess.run(
        [sys.executable, "-c", wrapper],
        cwd=directory,
        env=stack.child_env(stack.event(route)),
        capture_output=True,
        check=True,
    )
    import pstats

    stats = pstats.Stats(str(target)).stats  # type: ignore[attr-defined]
    target.unlink()
    total = max(entry[3] for entry in stats.values())
    shares = {}
    for part, (file_end, function) in PARTS.items():
        cumulative = [
            entry[3]
            for (file, _, name), entry in stats.items()
            if file.endswith(file_end) and name == function
        ]
        shares[part] = max(cumulative, default=0.0) / total
    return shares


def zip_report(path: Path, top: int = 6) -> dict | None:
    if not path.is_file():
        return None
    sizes: Counter = Counter()
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            parts = info.filename.split("/")
            root = (
                parts[4] if parts[0] == "python" and len(parts) > 4 else parts[0]
            )  # a layer's site-packages
            if root.endswith(".dist-info"):
                root = "*.dist-info"
            sizes[root] += info.compress_size
    from infra.layer import code_bytes

    return {
        "bytes": path.stat().st_size,
        "code": code_bytes(path),
        "built": datetime.fromtimestamp(path.stat().st_mtime, UTC),
        "biggest": sizes.most_common(top),
    }


# the same bench on the code before issue 27's cold-start work (commit 16351ca), for comparison
BEFORE = (
    "Before issue 27's changes (commit 16351ca: a botocore session per PynamoDB model, the tracer "
    "importing requests to patch it, the search loading the marketplace adapters, the scan after-sales), "
    "against after them, in one run of triples (before, after, minimal; rotating order; 7 per route; "
    "load 6-9) on 2026-12-06: ratio to the minimal app search 2.37 -> 1.93, wallet payment 3.25 -> "
    "2.58, warehouse scan 3.49 -> 2.21; the first request 18 %, 19 % and 33 % sooner (median of the "
    "triples' after/before). The old bench timed `import app` alone and reported 0.43."
)

# the previous published runs, for comparison
PREVIOUS = (
    "The runs published before this one: 2026-12-07 on 38712be (pydantic on the request path, botocore "
    "listing every service before loading a model; quiet machine, floor rows of 5 pairs): ratio search "
    "1.48, wallet payment 1.63, warehouse scan 1.53, floor 1.26 public and 1.13 signed in (pydantic alone "
    "1.30-1.46); 2026-12-07 on e8dc390 (Powertools' Tracer over the X-Ray SDK, "
    "Powertools' logger and metrics, cryptography's RSA, the collector never paused; load 3.3-3.7): "
    "ratio search 2.02, wallet payment 2.26, warehouse scan 1.98, floor 1.61 public and 1.68 signed in "
    "(tracing 1.21, logs and metrics 1.17, pydantic 1.46, token 1.34 alone); 2026-12-06 (load 5.1-5.2): "
    "2.05, 2.35, 1.95; before the token check lost PyJWT and requests (load about 6): 2.05, 2.90, 2.04. "
    "Separate runs on a shared machine: compare the ratios, not the milliseconds."
)

# why the target is not met: what the app does on a first request that the baseline does not
LAYER_NAMES = {
    "models": "the typed answer (chalicelib.typed: its import, a model rendered)",
    "token": "the token check (the pool's JWKS fetched once over botocore's HTTP, RS256 in Python integers)",
    "logs": "the JSON log line and the EMF document (chalicelib/logs.py, metrics.py)",
    "tracer": "tracing (chalicelib/xray.py: botocore's events, a UDP datagram per subsegment)",
}


def gap_text(floors: dict[str, dict], results: dict[str, dict] | None = None) -> str:
    """Where the target stands against this run's floor rows; what was done, what is left."""
    results = results or {}
    worst = max((r["ratio"] for r in results.values()), default=0.0)
    if floors:
        ranked = sorted(LAYER_NAMES, key=lambda layer: -floors[layer]["ratio"])
        parts = "; ".join(f"{LAYER_NAMES[layer]} {floors[layer]['ratio']:.2f}×" for layer in ranked)
        above = ", ".join(
            f"{route} {r['ratio'] - floors['signed' if route != 'search' else 'public']['ratio']:+.2f}"
            for route, r in results.items()
        )
        floor = (
            f"The floor rows: what the deployed app must do on any first request, with none of its own "
            f"code, is {floors['public']['ratio']:.2f}× the minimal app on a public route and "
            f"{floors['signed']['ratio']:.2f}× signed in, the collector's pause included "
            f"({floors['gc']['ratio']:.2f}× alone: it saves); each obligation alone, largest first: {parts}. "
            f"The routes above their floor (ratio minus the floor row of their kind): {above}. "
        )
    else:
        floor = "The floor rows were skipped in this run (BENCH_COLD_FLOOR_RUNS=0). "
    verdict = (
        f"Target met: worst route {worst:.2f}×. " if results and worst <= 1.3 else "Why 1.3 is not met. "
    )
    return (
        verdict
        + floor
        + (
            "Above the floor each route pays its own modules (services, lifecycle tables, unit of work, "
            "the route module and its models, declared with chalicelib.typed) and its DynamoDB requests "
            "(2 to 3 against the baseline's one; moto answers the search's word-index Query by sorting "
            "every row of the index, 13-40 ms against about 5 ms for the baseline's GetItem, which "
            "DynamoDB does not do: that share of the search's ratio is the local stand-in's). What took "
            "the routes from 2.0-2.3x to here, each measured before and after: the collector paused from "
            "`import app` to the end of the first invocation and the start frozen afterwards (full "
            "collections over the start's objects were 40-55 ms of a search's first request); request "
            "bodies validated and answers rendered by chalicelib/typed.py from the models' own "
            "declarations, pydantic kept for the contract (each model's twin) and the tests (its import "
            "and model building were 45-60 ms of every route's first request: compare the 'pydantic "
            "alone' row with the 'typed response alone' one); the shared botocore session checking a "
            "service's name in that service's directory instead of listing every service botocore ships "
            "(chalicelib/aws.py: about 900 directory listings, 12-15 ms of the first client, which the "
            "minimal app still pays); tracing by our own X-Ray subsegments sent "
            "to the daemon (chalicelib/xray.py) instead of Powertools' Tracer over the X-Ray SDK "
            "(asyncio, wrapt; in maintenance mode since 2026-02-25: "
            "docs.aws.amazon.com/xray/latest/devguide/xray-sdk-migration.html); logs and EMF metrics "
            "written by chalicelib instead of Powertools' Logger and Metrics; RS256 checked with Python "
            "integers instead of cryptography; on the routes' paths, modules imported where used "
            "(payments and the charge rules in the order service, inspection and photos in the "
            "warehouse service, auth and the currency machinery only by the requests that need them), "
            "the catalog's word splitter without regexes over the CJK ranges, the search's BatchGetItem "
            "reading only what a list shows. Still possible, neither measurable on loopback: the pool's "
            "JWKS shipped with the deployment (in AWS a TLS connection to cognito-idp on the first "
            "signed-in request) and Lambda SnapStart (Python 3.12 and later)."
        )
    )


ROUTES = {
    "search": "public search `GET /products/search?q=shirt`",
    "payment": "wallet payment `POST /orders/{order_id}/pay` (balance)",
    "scan": "warehouse scan `POST /staff/inbound`",
}


def measure_without_bytecode(stack: Stack, route: str, bytecode: dict, runs: int) -> dict:
    """Alternating pairs of (app, minimal), both without their packages' .pyc."""
    pairs = []
    for n in range(runs):
        if n % 2 == 0:
            app, minimal = (
                sample(stack, route, bytecode=bytecode),
                sample(stack, "minimal", bytecode=bytecode),
            )
        else:
            minimal, app = (
                sample(stack, "minimal", bytecode=bytecode),
                sample(stack, route, bytecode=bytecode),
            )
        pairs.append((app, minimal))
    return {
        "app_first": statistics.median(a["first"] for a, _ in pairs),
        "minimal_first": statistics.median(m["first"] for _, m in pairs),
        "ratio": statistics.median(a["first"] / m["first"] for a, m in pairs),
    }


def measure_route(stack: Stack, route: str, runs: int) -> dict:
    sample(stack, route)  # warm-up: disk cache, .pyc files
    sample(stack, "minimal")
    pairs = []
    for n in range(runs):
        if n % 2 == 0:
            app, minimal = sample(stack, route), sample(stack, "minimal")
        else:
            minimal, app = sample(stack, "minimal"), sample(stack, route)
        pairs.append((app, minimal))
        print(
            f"{route} pair {n + 1}/{runs}: app {app['first'] * 1000:.0f} ms "
            f"(process {app['process'] * 1000:.0f}, {app['segments']} X-Ray documents), minimal "
            f"{minimal['first'] * 1000:.0f} ms (process {minimal['process'] * 1000:.0f})",
            flush=True,
        )
    med = statistics.median
    return {
        "app_first": med(a["first"] for a, _ in pairs),
        "app_import": med(a["import"] for a, _ in pairs),
        "app_process": med(a["process"] for a, _ in pairs),
        "minimal_first": med(m["first"] for _, m in pairs),
        "minimal_import": med(m["import"] for _, m in pairs),
        "minimal_process": med(m["process"] for _, m in pairs),
        "ratio": med(a["first"] / m["first"] for a, m in pairs),
        "process_ratio": med(a["process"] / m["process"] for a, m in pairs),
        "segments": min(a["segments"] for a, _ in pairs),
        "untraced": med(sample(stack, route, traced=False)["first"] for _ in range(3)),
        "imports": import_profile(stack, route),
        "shares": part_shares(stack, route),
    }


def measure_floor(stack: Stack, runs: int) -> dict[str, dict]:
    """Alternating pairs of (floor app, minimal app) per floor row: what the deployed obligations alone
    cost over the baseline, with none of the app's own routes, services or extra DynamoDB requests."""
    floors = {}
    for name in FLOORS:
        route = f"floor-{name}"
        sample(stack, route)  # warm-up
        pairs = []
        for n in range(runs):
            if n % 2 == 0:
                floor, minimal = sample(stack, route), sample(stack, "minimal")
            else:
                minimal, floor = sample(stack, "minimal"), sample(stack, route)
            pairs.append((floor, minimal))
        floors[name] = {
            "floor_first": statistics.median(f["first"] for f, _ in pairs),
            "minimal_first": statistics.median(m["first"] for _, m in pairs),
            "ratio": statistics.median(f["first"] / m["first"] for f, m in pairs),
        }
        print(f"floor {name}: ratio {floors[name]['ratio']:.2f}", flush=True)
    return floors


def floor_lines(floors: dict[str, dict], runs: int) -> list[str]:
    if not floors:
        return []
    lines = [
        "",
        "The floor: bench/floor_app is the minimal app plus only what the deployed app does on every "
        "first request, each done by the module app.py does it with (the collector paused until the "
        "first answer, chalicelib/startup.py; the botocore session instrumented and the request in a "
        "subsegment, chalicelib/xray.py; a JSON log line with the invocation's keys and an EMF document, "
        "chalicelib/logs.py and metrics.py; the answer rendered through a chalicelib.typed model; on "
        "signed-in routes the Cognito ID token verified by chalicelib/auth.py), still one GetItem and "
        "none of the app's routes, services or models. "
        f"{runs} alternating pairs against the minimal app each, in the same run:",
        "",
        "| floor row | what it adds | floor app | minimal app | **ratio** |",
        "|---|---|---:|---:|---:|",
    ]
    for name, f in floors.items():
        lines.append(
            f"| {FLOORS[name][1]} | {FLOORS[name][0].replace(',', ', ')} | {f['floor_first'] * 1000:.0f} ms "
            f"| {f['minimal_first'] * 1000:.0f} ms | **{f['ratio']:.2f}** |"
        )
    return lines


def bytecode_rows(results: dict[str, dict]) -> list[str]:
    rows = []
    for route, r in results.items():
        if "without_bytecode" not in r:
            continue
        without = r["without_bytecode"]
        rows.append(
            f"| {route} | {without['app_first'] * 1000:.0f} ms | {r['app_first'] * 1000:.0f} ms "
            f"| {without['minimal_first'] * 1000:.0f} ms | {without['ratio']:.2f} "
            f"| {(without['app_first'] - r['app_first']) * 1000:.0f} ms |"
        )
    return rows


def render(
    results: dict[str, dict],
    runs: int,
    minimal_imports: list,
    load: tuple[float, float],
    bytecode_runs: int,
    floors: dict[str, dict] | None = None,
    floor_runs: int = 0,
) -> str:
    lines = [
        "## Cold start (`make bench-cold-start`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()} (1-minute load average {load[0]:.1f} before, {load[1]:.1f} after; "
        "other sessions share the machine, and the ratios, taken pair by pair, are what to read). Each "
        "sample is a fresh interpreter that imports the app and serves the first request of one route "
        "through the Lambda entry point (an API Gateway proxy event to `app.app(event, context)`), "
        "configured as the prod stage deploys it: tracing on (chalicelib/xray.py's subsegments sent by "
        "UDP to a socket standing in for the X-Ray daemon, and counted), the caller's Cognito ID token "
        "verified against the pool's JWKS (fetched on the first request), the cyclic garbage collector "
        "paused until the first answer (chalicelib/startup.py: app.py does it in every Lambda). AWS is "
        "a moto server on loopback, provisioned before the clock starts, so every botocore client, JWKS "
        "fetch and DynamoDB request is real HTTP. The "
        "baseline, bench/minimal_app, is one Chalice route doing one PynamoDB GetItem (its client created "
        f"by that request, no tracer, no sign-in). Per route, {runs} pairs (app, minimal) alternating "
        "which goes first, after a warm-up pair; medians; the ratio is the median of the pairs' ratios.",
        "",
        "| route | import + first request | of it `import app` | whole process | minimal app: import + "
        "first request / whole process | **ratio** | whole-process ratio | tracing off (not deployed) "
        "| X-Ray documents sent |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for route, r in results.items():
        lines.append(
            f"| {ROUTES[route]} | {r['app_first'] * 1000:.0f} ms | {r['app_import'] * 1000:.0f} ms "
            f"| {r['app_process'] * 1000:.0f} ms | {r['minimal_first'] * 1000:.0f} ms / "
            f"{r['minimal_process'] * 1000:.0f} ms | **{r['ratio']:.2f}** | {r['process_ratio']:.2f} "
            f"| {r['untraced'] * 1000:.0f} ms | {r['segments']} |"
        )
    worst = max(r["ratio"] for r in results.values())
    lines += [
        "",
        f"**Worst route {worst:.2f}× the minimal app** (target <= 1.3 on every route). `import + first "
        "request` is perf_counter in the process from before `import app` to the invocation's answer: "
        "what Lambda's INIT and first invoke cost; the whole process adds the interpreter's start and "
        'exit (this script\'s clock around the subprocess). "Tracing off" is the same route with '
        "POWERTOOLS_TRACE_DISABLED=true (median of 3), only to show what tracing costs; the deployed "
        "stage traces.",
        *floor_lines(floors or {}, floor_runs),
        "",
        "The figures above run with every module's .pyc at hand, as `make package` ships them (both zips "
        "carry hash-based `.pyc` for python3.11: infra/layer.py, docs/deploy.md). Without them, a "
        "Lambda compiles every module it imports on every cold start (its code directories are read-only, "
        "so nothing is kept). The same first requests with no .pyc but the runtime's own (standard "
        "library, boto3, botocore, s3transfer; PYTHONPYCACHEPREFIX to a directory holding only those, "
        f"PYTHONDONTWRITEBYTECODE=1), {bytecode_runs} alternating pairs per route, both apps without:",
        "",
        "| route | app without .pyc | with (above) | minimal app without .pyc | ratio without .pyc | "
        "what the .pyc save the app |",
        "|---|---:|---:|---:|---:|---:|",
        *bytecode_rows(results),
        "",
        BEFORE,
        "",
        PREVIOUS,
        "",
        gap_text(floors or {}, results),
        "",
        "Where the time goes (one more process per route): `-X importtime` self time per top-level "
        "package over import and the first request; under cProfile (which inflates every figure, so "
        "shares of the whole only) the first request's parts.",
        "",
        "| route | biggest imports | route module import | caller authentication | "
        "botocore client creation |",
        "|---|---|---:|---:|---:|",
    ]
    for route, r in results.items():
        shares = " | ".join(f"{r['shares'][part] * 100:.0f} %" for part in PARTS)
        imports = ", ".join(f"{name} {ms:.0f} ms" for name, ms in r["imports"])
        lines.append(f"| {route} | {imports} | {shares} |")
    lines.append(
        "| minimal | " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in minimal_imports) + " | - | - | - |"
    )
    lines.append("")
    for label, report, name in (
        ("Function zip", zip_report(ROOT / "out" / "deployment.zip"), "deployment.zip"),
        ("Layer zip", zip_report(ROOT / "out" / "layer-deployment.zip"), "layer-deployment.zip"),
    ):
        if report is None:
            lines.append(f"{label}: out/{name} is absent (run `make package`).")
        else:
            lines.append(
                f"{label} (out/{name} of `make package`, built {report['built']:%Y-%m-%d}): "
                f"{report['bytes']:,} bytes ({report['bytes'] / 1024 / 1024:.2f} MiB), "
                f"{report['code']:,} bytes without bytecode ({report['code'] / 1024 / 1024:.2f} MiB); "
                "biggest entries "
                "(compressed): "
                + ", ".join(f"{n} {size / 1024:.0f} KiB" for n, size in report["biggest"])
                + "."
            )
        lines.append("")
    lines.append(
        "Function zip target: <= 1 MB of code (its .pyc not counted). The layer holds the dependencies "
        "without boto3/botocore/s3transfer, "
        "which the Lambda runtime provides (infra/layer.py; version range in docs/deploy.md)."
    )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    import logging

    from bench.markdown import replace_section

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    runs = int(os.environ.get("BENCH_COLD_RUNS", "9"))
    only = [r for r in os.environ.get("BENCH_COLD_ROUTES", ",".join(ROUTES)).split(",") if r]
    load_before = os.getloadavg()[0]
    bytecode_runs = int(os.environ.get("BENCH_COLD_NOPYC_RUNS", "3"))
    stack = Stack(runs + bytecode_runs + 1)
    try:
        results = {route: measure_route(stack, route, runs) for route in only}
        floor_runs = int(os.environ.get("BENCH_COLD_FLOOR_RUNS", "9"))
        floors = measure_floor(stack, floor_runs) if floor_runs else {}
        minimal_imports = import_profile(stack, "minimal")
        with tempfile.TemporaryDirectory() as directory:
            bytecode = without_bytecode(stack, Path(directory), only)
            for route in only:
                results[route]["without_bytecode"] = measure_without_bytecode(
                    stack, route, bytecode, bytecode_runs
                )
    finally:
        stack.stop()
    load = (load_before, os.getloadavg()[0])
    text = render(results, runs, minimal_imports, load, bytecode_runs, floors, floor_runs)
    print(text)
    if set(only) == set(ROUTES):
        replace_section(ROOT / "docs" / "benchmarks.md", "## Cold start", text)


if __name__ == "__main__":
    main()
