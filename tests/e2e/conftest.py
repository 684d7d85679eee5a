"""The local stack over real HTTP: reuse a running `make run`, or start one for the session."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from infra.local.env import STACK_FILE
from tests import contract
from tests.conftest import ROOT


def _running_stack() -> dict | None:
    if not STACK_FILE.exists():
        return None
    stack = json.loads(STACK_FILE.read_text())
    try:
        requests.get(stack["api_url"] + "/health", timeout=2).raise_for_status()
    except requests.RequestException:
        return None
    return stack


@pytest.fixture(scope="session")
def local_stack() -> Iterator[dict]:
    existing = _running_stack()
    if existing:
        contract.watch(existing["api_url"])  # every answer from the API is checked against the document
        yield existing
        return
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
    yield stack
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
