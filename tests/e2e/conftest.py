"""The local stack over real HTTP: the session starts its own (`python -m infra.local.stack`, what `make run`
runs) and stops it at the end. A developer's `make run` already up is refused, never reused: the tests would
read and write its data (and move its sweep's clock), and its ports are the ones the tests' stack needs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from infra.local.env import STACK_FILE
from tests import contract
from tests.conftest import ROOT


def _running_stack(stack_file: Path = STACK_FILE) -> dict | None:
    if not stack_file.exists():
        return None
    stack = json.loads(stack_file.read_text())
    try:
        requests.get(stack["api_url"] + "/health", timeout=2).raise_for_status()
    except requests.RequestException:
        return None
    return stack


def refuse_a_running_stack(stack_file: Path = STACK_FILE) -> None:
    """Fail with what to do when a stack (a developer's `make run`) answers at the address in `stack_file`."""
    running = _running_stack(stack_file)
    if running:
        pytest.fail(
            f"a local stack is running ({running['api_url']}, {stack_file}): the e2e and browser tests start "
            "their own on the same ports and never use or change yours. Stop it (Ctrl-C in `make run`) and "
            "run the tests again.",
            pytrace=False,
        )


# the stack this session started: tests/browser/conftest.py registers this fixture again, and its copy
# shares the one stack rather than taking it for a developer's
_session_stack: dict = {}


@pytest.fixture(scope="session")
def local_stack() -> Iterator[dict]:
    if _session_stack:
        yield _session_stack
        return
    refuse_a_running_stack()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "TABLE_", "PHOTO_", "USER_POOL", "CORS_"))
    }
    log = open(ROOT / ".local-e2e.log", "w")  # noqa: SIM115 - kept open for the process's life
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.local.stack"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 90
    stack = None
    while time.monotonic() < deadline and proc.poll() is None:
        stack = _running_stack()
        if stack:
            break
        time.sleep(0.3)
    if not stack:
        proc.kill()
        log.close()
        pytest.fail(
            "make run's stack did not come up; see .local-e2e.log:\n" + (ROOT / ".local-e2e.log").read_text()
        )
    contract.watch(stack["api_url"])
    _session_stack.update(stack)
    yield stack
    _session_stack.clear()
    proc.send_signal(signal.SIGINT)  # what Ctrl-C does
    try:
        proc.wait(30)
    finally:
        log.close()
    assert proc.returncode == 0
    assert not STACK_FILE.exists()


class Http:
    def __init__(self, stack: dict):
        self.stack = stack
        self.base = stack["api_url"]
        self._tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self._tokens:
            import boto3

            user = next(u for u in self.stack["users"] if u["username"] == username)
            idp = boto3.client(
                "cognito-idp",
                endpoint_url=self.stack["aws_endpoint_url"],
                region_name=self.stack["region"],
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            result = idp.initiate_auth(
                ClientId=self.stack["client_id"],
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": user["password"]},
            )
            self._tokens[username] = result["AuthenticationResult"]["IdToken"]
        return self._tokens[username]

    def call(self, method: str, path: str, *, user: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if user:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="session")
def http(local_stack) -> Http:
    return Http(local_stack)
