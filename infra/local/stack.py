"""`make run`: the whole stack on this machine.

moto server (the embedded AWS) on 127.0.0.1:5000, every resource and the demo data created by the same
code the tests use, the Chalice app serving the API on 127.0.0.1:8000 (infra.local.serve: what
`chalice local` serves, under waitress, holding 50+ concurrent clients), S3 notifications delivered from
the photo queue to the app's ingestion handler, the outbox table's stream to the app's email handler
(infra/local/streams.py: what Lambda's stream event source mapping does), a loopback PayPal on a free
port that the real `paypal` provider is pointed at (infra/local/paypal_sim.py: orders, captures, refunds
and PayPal-format webhooks to the API), and `.local/stack.json` written once all is ready.
Ports (MOTO_PORT, API_PORT, CONSOLE_PORT) and CORS_ALLOWED_ORIGINS come from the environment when set
(infra/local/env.py); a taken port is named with what holds it, as far as the stack file tells.
Runs in the foreground; Ctrl-C stops everything it started.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from infra.local.env import (
    API_PORT,
    CONSOLE_PORT,
    HOST,
    MOTO_PORT,
    ROOT,
    STACK_FILE,
    local_stack_environment,
)

_stop = threading.Event()


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def ports_of_running_stack(stack_file: Path = STACK_FILE) -> dict[int, str]:
    """{port: what it serves} per the stack file a running `make run` wrote (empty when there is none)."""
    try:
        stack = json.loads(stack_file.read_text())
    except (OSError, ValueError):
        return {}
    named = {"api_url": "its API", "console_url": "its console", "aws_endpoint_url": "its moto server"}
    ports = {}
    for key, what in named.items():
        try:
            port = urlsplit(stack.get(key) or "").port
        except ValueError:
            continue
        if port:
            ports[port] = what
    return ports


def port_taken_message(port: int, variable: str, stack_file: Path = STACK_FILE) -> str:
    """Why `make run` cannot start on `port`, blaming only what we know is there, and how to move."""
    ours = ports_of_running_stack(stack_file).get(port)
    if ours:
        cause = f"a running `make run` holds it ({ours}, per {stack_file.name}): stop that one with Ctrl-C"
    else:
        cause = (
            f"another program holds it (no `make run` of this checkout uses it, per {stack_file.name})"
            + ("; on macOS, port 5000 is the AirPlay Receiver" if port == 5000 else "")
        )
    return (
        f"port {port} on {HOST} ({variable}) is in use: {cause}, or choose another port: "
        f"`{variable}=<free port> make run` (README: local settings)."
    )


def taken_ports(ports: dict[str, int] | None = None) -> list[str]:
    """A message for each of the stack's ports already in use (none: the stack may start)."""
    ports = ports or {"MOTO_PORT": MOTO_PORT, "API_PORT": API_PORT, "CONSOLE_PORT": CONSOLE_PORT}
    return [port_taken_message(port, name) for name, port in ports.items() if not port_free(port)]


def wait_for(url: str, seconds: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own loopback URL
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {seconds:.0f}s")


def deliver_photo_events(queue_url: str, queue_arn: str) -> None:
    """What Lambda's SQS event source mapping does in AWS: poll, invoke the handler, delete on success."""
    import app as application
    from chalicelib import aws

    sqs = aws.client("sqs")
    while not _stop.is_set():
        try:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            )
        except Exception as exc:  # the server is going away on shutdown
            if _stop.is_set():
                return
            say(f"photo queue poll failed: {exc}")
            time.sleep(1)
            continue
        if not messages:
            continue
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": os.environ["AWS_DEFAULT_REGION"],
                }
                for m in messages
            ]
        }
        try:
            answer = application.photo_events(event, None)
        except Exception as exc:  # left on the queue: redelivered, then dead-lettered, as in AWS
            say(f"photo handler failed, messages will be redelivered: {exc}")
            continue
        # ReportBatchItemFailures: the failed messages stay on the queue, the others are deleted
        failed = {f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if failed:
            say(f"{len(failed)} photo message(s) failed and will be redelivered")
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )


def deliver_outbox_events() -> None:
    """What Lambda's DynamoDB stream event source mapping does in AWS: app.outbox_events sends the emails."""
    import app as application
    from chalicelib import config
    from infra.local.streams import StreamDriver

    driver = StreamDriver(config.table_name("outbox"), application.outbox_events)
    while not _stop.is_set():
        try:
            if driver.poll():
                continue
        except Exception as exc:  # read again from the batch's first record, as Lambda retries
            if _stop.is_set():
                return
            say(f"outbox handler failed, its records will be retried: {exc}")
        _stop.wait(0.3)


def main() -> None:
    started = time.monotonic()
    from infra.local import console

    problems = taken_ports()
    if problems:
        raise SystemExit("\n".join(problems))
    os.environ.update(local_stack_environment())
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    STACK_FILE.unlink(missing_ok=True)

    from moto.server import ThreadedMotoServer

    from infra.local import moto_atomic

    moto_atomic.apply()  # DynamoDB's write atomicity, which moto lacks across threads

    moto = ThreadedMotoServer(ip_address=HOST, port=MOTO_PORT, verbose=False)
    moto.start()
    endpoint = f"http://{HOST}:{MOTO_PORT}"
    wait_for(f"{endpoint}/moto-api/", 15)
    say(f"moto server (embedded AWS) on {endpoint}")

    from infra.local import paypal_sim, provision, seed

    api_url = f"http://{HOST}:{API_PORT}"
    # the real `paypal` provider, pointed at a loopback PayPal that delivers PayPal's own webhooks to the API
    paypal = paypal_sim.PayPalSimulator(api_url + paypal_sim.WEBHOOK_PATH).start()
    os.environ.update(paypal_sim.provider_environment(paypal.url))
    say(f"PayPal simulator on {paypal.url} (the paypal channel; the others are Stripe-format simulated)")

    stack = provision.provision(demo_users=True)
    os.environ["USER_POOL_ID"] = stack["user_pool_id"]
    os.environ["USER_POOL_CLIENT_ID"] = stack["client_id"]
    say(f"resources created: tables, bucket, queues, SES identity, user pool {stack['user_pool_id']}")
    seed.seed(stack)
    say("demo data seeded")

    chalice = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.local.serve",
            "--stage",
            "local",
            "--host",
            HOST,
            "--port",
            str(API_PORT),
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    console_server = None
    try:
        wait_for(f"{api_url}/health", 60, chalice)
        poller = threading.Thread(
            target=deliver_photo_events,
            args=(stack["photo_queue_url"], stack["photo_queue_arn"]),
            daemon=True,
        )
        poller.start()
        threading.Thread(target=deliver_outbox_events, daemon=True).start()
        console_server = console.start(api_url, endpoint, stack, os.environ["AWS_DEFAULT_REGION"])
        STACK_FILE.parent.mkdir(parents=True, exist_ok=True)
        STACK_FILE.write_text(
            json.dumps(
                {
                    "api_url": api_url,
                    "console_url": console_server.url,
                    "aws_endpoint_url": endpoint,
                    "region": os.environ["AWS_DEFAULT_REGION"],
                    "user_pool_id": stack["user_pool_id"],
                    "client_id": stack["client_id"],
                    "bucket": stack["bucket"],
                    "payment_webhook_secret": os.environ["PAYMENT_WEBHOOK_SECRET"],
                    # the simulated provider's Stripe-format events are signed with it (make topup)
                    "stripe_webhook_secret": os.environ["STRIPE_WEBHOOK_SECRET"],
                    # the local PayPal (infra/local/paypal_sim.py): approve links, its /simulator/ controls
                    "paypal_url": paypal.url,
                    "users": [
                        {"username": u["username"], "password": u["password"], "groups": u["groups"]}
                        for u in stack["users"]
                    ],
                },
                indent=2,
            )
            + "\n"
        )
        say(f"ready in {time.monotonic() - started:.1f}s: API {api_url}, AWS {endpoint}, wrote {STACK_FILE}")
        say(f"console_url {console_server.url}   (staff console; demo staff users in {STACK_FILE.name})")
        say("sign in: make token USER=alice@example.com   |   stop: Ctrl-C")
        signal.signal(signal.SIGTERM, lambda *_: _stop.set())
        while not _stop.is_set() and chalice.poll() is None:
            _stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        _stop.set()
        say("stopping")
        if console_server is not None:
            console_server.stop()
        if chalice.poll() is None:
            chalice.terminate()
            try:
                chalice.wait(10)
            except subprocess.TimeoutExpired:
                chalice.kill()
        paypal.stop()
        moto.stop()
        STACK_FILE.unlink(missing_ok=True)
        say("stopped")


if __name__ == "__main__":
    main()
