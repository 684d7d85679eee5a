"""`make bench-load [CLIENTS=50] [DURATION=30]`: concurrent clients against the running `make run`.

Each client is a thread with its own keep-alive connection, looping for a fixed time over a mix of
public reads (search, product detail, shipping lines, health), signed-in reads (me, wallet, orders)
and money moves (create an order, pay it from the wallet with an Idempotency-Key), in a deterministic
per-client order. Every client is its own customer (a user created in the local Cognito pool for the
run, `load<n>-<run>@example.com`), so no two clients share a wallet, a cart or an order list, as two
shoppers would not; before the run each one's wallet is topped up through the signed webhook.

An error is a failed connection, a 5xx, or any status the request should not get (a money move may
get 409: a wallet busy with the other clients' payments after its retries, which is the contract's
answer to a lost race, counted apart). Requests per second, p50/p95/p99 latency and the error count
go to their own section of docs/benchmarks.md. These are local figures: moto and the API server on
this machine, not Lambda and DynamoDB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.markdown import replace_section  # noqa: E402
from infra.local.demo import Api  # noqa: E402
from infra.local.env import load_stack  # noqa: E402

HEADING = "## Local load (`make bench-load`)"
MIX = (("public read", 50), ("signed-in read", 35), ("money move", 15))
LOAD: dict[str, float] = {}  # the machine's 1-minute load average before and after the run
OWN_STACK_SETS = ("AWS_", "TABLE_", "PHOTO_", "USER_POOL", "CORS_")  # what its own stack sets, not the caller


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.conflicts: dict[str, int] = defaultdict(int)
        self.examples: list[str] = []

    def add(self, kind: str, seconds: float, status: int | str, ok: bool, conflict: bool = False) -> None:
        with self.lock:
            self.samples[kind].append(seconds)
            if conflict:
                self.conflicts[kind] += 1
            elif not ok:
                self.errors[kind] += 1
                if len(self.examples) < 10:
                    self.examples.append(f"{kind}: {status}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


class Client:
    def __init__(self, number: int, base: str, token: str, catalog: dict, recorder: Recorder):
        self.rng = random.Random(number)
        self.base = base
        self.session = requests.Session()
        self.auth = {"Authorization": f"Bearer {token}"}
        self.catalog = catalog
        self.recorder = recorder

    def send(self, kind: str, method: str, path: str, *, expect: tuple[int, ...], **kwargs) -> dict | None:
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, timeout=60, **kwargs)
        except requests.RequestException as exc:
            self.recorder.add(kind, time.perf_counter() - started, type(exc).__name__, ok=False)
            self.session = requests.Session()
            return None
        elapsed = time.perf_counter() - started
        status = response.status_code
        conflict = kind == "money move" and status == 409
        self.recorder.add(kind, elapsed, status, ok=status in expect, conflict=conflict)
        return response.json() if status in expect and response.content else None

    def public_read(self) -> None:
        choice = self.rng.randrange(4)
        if choice == 0:
            word = self.rng.choice(("hoodie", "case", "bag", "shoes", "lamp"))
            self.send("public read", "GET", "/products/search", params={"q": word}, expect=(200,))
        elif choice == 1:
            self.send("public read", "GET", f"/products/{self.catalog['product_id']}", expect=(200,))
        elif choice == 2:
            self.send("public read", "GET", "/shipping-lines", params={"country": "US"}, expect=(200,))
        else:
            self.send("public read", "GET", "/health", expect=(200,))

    def signed_in_read(self) -> None:
        path = self.rng.choice(("/me", "/wallet", "/orders?limit=5", "/cart"))
        self.send("signed-in read", "GET", path, headers=self.auth, expect=(200,))

    def money_move(self) -> None:
        body = {
            "items": [
                {"product_id": self.catalog["product_id"], "sku_id": self.catalog["sku_id"], "quantity": 1}
            ],
            "payment_channel": "balance",
        }
        order = self.send(
            "money move",
            "POST",
            "/orders",
            json=body,
            headers=self.auth,
            expect=(201,),
        )
        if order:
            headers = {**self.auth, "Idempotency-Key": uuid.uuid4().hex}
            self.send(
                "money move", "POST", f"/orders/{order['order_id']}/pay", headers=headers, expect=(200,)
            )

    def run(self, deadline: float) -> None:
        kinds = [kind for kind, weight in MIX for _ in range(weight)]
        actions = {
            "public read": self.public_read,
            "signed-in read": self.signed_in_read,
            "money move": self.money_move,
        }
        while time.monotonic() < deadline:
            actions[self.rng.choice(kinds)]()


def _customer(api: Api, stack: dict, username: str) -> str:
    """A new customer of the running stack with money in the wallet (top-up and its signed webhook);
    returns their token."""
    from chalicelib import payments
    from infra.local import provision

    provision.create_user(stack["user_pool_id"], username, provision.DEMO_PASSWORD, [])
    with _USERS_LOCK:
        stack["users"].append({"username": username, "password": provision.DEMO_PASSWORD})
    top_up = api.call(
        "POST",
        "/wallet/top-ups",
        user=username,
        body={"amount_fen": 10_000_000, "channel": "alipay"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        expect=201,
    )
    event = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "payment.succeeded",
            "data": {"payment_id": top_up["payment_id"], "amount_fen": top_up["charge_fen"]},
        }
    ).encode()
    api.call(
        "POST",
        "/payments/webhook",
        data=event,
        headers={
            "X-Signature": payments.sign(event, stack["payment_webhook_secret"]),
            "Content-Type": "application/json",
        },
    )
    return api.token(username)


_USERS_LOCK = threading.Lock()


def prepare(stack: dict, clients: int) -> tuple[list[str], dict]:
    """One new customer per client (token, money in the wallet), and a product to order."""
    from concurrent.futures import ThreadPoolExecutor

    from infra.local.env import use_running_stack

    use_running_stack()  # this process creates the customers in the stack's Cognito pool
    stack = {**stack, "users": list(stack["users"])}
    api = Api(stack)
    product = api.call("GET", "/products/search", params={"q": "hoodie"})["items"][0]
    detail = api.call("GET", f"/products/{product['product_id']}")
    sku = next(s for s in detail["skus"] if s["stock"] >= max(1, detail["min_quantity"]))
    run_id = uuid.uuid4().hex[:8]
    names = [f"load{n}-{run_id}@example.com" for n in range(clients)]
    with ThreadPoolExecutor(max_workers=4) as pool:  # each thread its own Api: sessions are not shared
        tokens = list(pool.map(lambda name: _customer(Api(stack), stack, name), names))
    return tokens, {"product_id": detail["product_id"], "sku_id": sku["sku_id"]}


def free_port() -> int:
    """A TCP port nothing listens on at the moment on the loopback address."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def own_stack():
    """A `make run` stack of this run's own for its length (`make bench`, `make bench-load-stack`): started as
    a child process on free loopback ports (never `make run`'s defaults, never a stack already running),
    describing itself in a stack file of its own (LOCAL_STACK_FILE, so a developer's `.local/stack.json` is
    neither read nor removed), and stopped afterwards whatever happens: Ctrl-C as `make run` takes it, then
    SIGKILL to its whole process group if it has not stopped within 30 s. Yields the stack file."""
    import tempfile

    from infra.local import env as local_env

    log_path = ROOT / ".local-bench.log"
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as directory:
        stack_file = Path(directory) / "stack.json"
        ports = {name: str(free_port()) for name in local_env.PORT_VARIABLES}
        child_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(OWN_STACK_SETS)},
            **ports,
            "LOCAL_STACK_FILE": str(stack_file),
        }
        log = open(log_path, "w")  # noqa: SIM115 - kept open for the child's life
        proc = subprocess.Popen(
            [sys.executable, "-m", "infra.local.stack"],
            cwd=ROOT,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the API server it starts goes with it
        )
        try:
            deadline = time.monotonic() + 180
            while not stack_file.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the local stack did not come up; see {log_path.name}")
                time.sleep(0.5)
            print(f"own stack on ports {ports} ({log_path.name})", flush=True)
            yield stack_file
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()


def run(clients: int, seconds: float) -> tuple[Recorder, float]:
    LOAD["before"] = os.getloadavg()[0]
    stack = load_stack()
    tokens, catalog = prepare(stack, clients)
    recorder = Recorder()
    workers = [Client(i, stack["api_url"], tokens[i], catalog, recorder) for i in range(clients)]
    started = time.monotonic()
    deadline = started + seconds
    threads = [threading.Thread(target=w.run, args=(deadline,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    LOAD["after"] = os.getloadavg()[0]
    return recorder, time.monotonic() - started


def rows(recorder: Recorder, elapsed: float) -> list[tuple]:
    out = []
    everything: list[float] = []
    for kind, _ in MIX:
        values = recorder.samples.get(kind, [])
        everything += values
        out.append((kind, values, recorder.errors.get(kind, 0), recorder.conflicts.get(kind, 0)))
    out.append(("all", everything, sum(recorder.errors.values()), sum(recorder.conflicts.values())))
    return [
        (
            kind,
            len(values),
            len(values) / elapsed,
            1000 * statistics.median(values) if values else 0.0,
            1000 * percentile(values, 0.95),
            1000 * percentile(values, 0.99),
            errors,
            conflicts,
        )
        for kind, values, errors, conflicts in out
    ]


def section(clients: int, seconds: float, table: list[tuple], elapsed: float) -> str:
    lines = [
        HEADING,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}: {clients} concurrent clients for {seconds:.0f} s "
        f"({elapsed:.0f} s with the last answers) against `make run` (the API under waitress, moto server), "
        "bench/load.py. **Local figures**: moto and the API server share this 2-core machine (with the "
        "benchmark's own clients); they say the local stack holds a storefront's test suite, not what "
        "Lambda and DynamoDB do. The machine's 1-minute load average was "
        f"{LOAD.get('before', 0):.1f} before the run and {LOAD.get('after', 0):.1f} after it (other work "
        "shares these cores; every DynamoDB call is a moto HTTP request handled in Python).",
        "",
        "| requests | count | requests/s | p50 | p95 | p99 | errors | 409 (lost race) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, count, rate, p50, p95, p99, errors, conflicts in table:
        name = f"**{kind}**" if kind == "all" else kind
        latency = f"{p50:.0f} ms | {p95:.0f} ms | {p99:.0f} ms"
        lines.append(f"| {name} | {count:,} | {rate:.1f} | {latency} | {errors} | {conflicts} |")
    lines += [
        "",
        "Every client is its own customer, created for the run with money in its wallet. "
        "Mix: public reads 50 % (search, product, shipping lines, health), signed-in reads 35 % (me, wallet, "
        "orders, cart), money moves 15 % (create an order, then pay it from the wallet with an "
        "Idempotency-Key; two requests). Errors: failed connections, 5xx, or a status the request should "
        "not get; a money move's 409 (a wallet busy past its retries) is the contract's answer to a lost "
        "race and counted apart.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument(
        "--own-stack",
        action="store_true",
        help="run on a `make run` stack of its own, on free ports; stopped after",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 500 or not 1 <= args.seconds <= 600:
        raise SystemExit("--clients must be 1..500 and --seconds 1..600")
    with own_stack() if args.own_stack else contextlib.nullcontext() as stack_file:
        if stack_file is not None:
            from infra.local import env as local_env

            local_env.STACK_FILE = stack_file  # load_stack and use_running_stack read this one
        recorder, elapsed = run(args.clients, args.seconds)
    table = rows(recorder, elapsed)
    text = section(args.clients, args.seconds, table, elapsed)
    print(text)
    if recorder.examples:
        print("errors, first ones:", *recorder.examples, sep="\n  ")
    if not args.no_write:
        replace_section(ROOT / "docs" / "benchmarks.md", HEADING, text)
        print("wrote docs/benchmarks.md")
    return 1 if sum(recorder.errors.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
