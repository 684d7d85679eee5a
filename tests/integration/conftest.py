"""In-process moto with every resource provisioned, and an HTTP client acting as signed-in users."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import auth, aws, provision
from tests.conftest import ROOT


@dataclass
class Result:
    status: int
    body: object
    headers: dict

    @property
    def json(self):
        return self.body


class Api:
    """Calls the app as API Gateway would, signing in through the real (moto) Cognito API."""

    def __init__(self, client: Client, stack: dict):
        self._client = client
        self.stack = stack
        self._tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self._tokens:
            user = next(u for u in self.stack["users"] if u["username"] == username)
            self._tokens[username] = provision.sign_in(self.stack["client_id"], username, user["password"])
        return self._tokens[username]

    def user_id(self, username: str) -> str:
        return next(u["user_id"] for u in self.stack["users"] if u["username"] == username)

    def add_user(self, username: str, groups: list[str] | None = None) -> str:
        user_id = provision.create_user(
            self.stack["user_pool_id"], username, provision.DEMO_PASSWORD, groups or []
        )
        self.stack["users"].append(
            {
                "username": username,
                "password": provision.DEMO_PASSWORD,
                "groups": groups or [],
                "user_id": user_id,
            }
        )
        return user_id

    def call(self, method: str, path: str, *, user: str | None = None, body=None, headers=None, raw=None):
        all_headers = {"Content-Type": "application/json"}
        if user is not None:
            all_headers["Authorization"] = f"Bearer {self.token(user)}"
        all_headers.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = self._client.http.request(method, path, headers=all_headers, body=payload)
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Result(response.status_code, parsed, dict(response.headers))

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


@pytest.fixture
def stack() -> Iterator[dict]:
    with mock_aws():
        aws.reset()
        auth.jwks.clear()
        described = provision.provision(demo_users=True)
        os.environ["USER_POOL_ID"] = described["user_pool_id"]
        os.environ["USER_POOL_CLIENT_ID"] = described["client_id"]
        yield described
        aws.reset()
        auth.jwks.clear()


@pytest.fixture
def app_module(stack):
    import app as application

    return application


@pytest.fixture
def api(stack, app_module) -> Iterator[Api]:
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as client:
        yield Api(client, stack)


ALICE = "alice@example.com"
BOB = "bob@example.com"
REVIEWER = "reviewer@procure.example"
WAREHOUSE = "warehouse@procure.example"
ADMIN = "admin@procure.example"
