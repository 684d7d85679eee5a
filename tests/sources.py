"""Test helpers for the marketplace adapters: recorded answers under tests/fixtures/sources/ served by
the replay server, and the settings that point an adapter at it."""

from __future__ import annotations

import pytest

from chalicelib.catalog import credentials, remote
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "sources"
APP_KEY, APP_SECRET, ACCESS_TOKEN = "3456789", "s3cr3tAppSecret", "a1b2c3-token"
NS = "param2/1/com.alibaba.fenxiao.crossborder"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def api_path(api: str) -> str:
    """Where the replay server answers a 1688 API (the adapter's base URL is <server>/openapi)."""
    return f"/openapi/{NS}/{api}/{APP_KEY}"


@pytest.fixture
def fast_retries(monkeypatch):
    """Short timeouts and backoff so failure tests stay quick (the bounds are what is tested)."""
    monkeypatch.setenv("SOURCE_BACKOFF_BASE_MS", "5")
    monkeypatch.setenv("SOURCE_READ_TIMEOUT_SECONDS", "0.3")
    monkeypatch.setenv("SOURCE_CONNECT_TIMEOUT_SECONDS", "0.3")
    monkeypatch.setenv("SOURCE_DEADLINE_SECONDS", "3")
    remote.reset()
    credentials.reset()
    yield
    remote.reset()
    credentials.reset()


def switch_on(monkeypatch, server_url: str, *, taobao: bool = True) -> None:
    """PRODUCT_SOURCE_1688=alibaba (and PRODUCT_SOURCE_TAOBAO=onebound) against the replay server."""
    monkeypatch.setenv("PRODUCT_SOURCE_1688", "alibaba")
    monkeypatch.setenv("ALIBABA_APP_KEY", APP_KEY)
    monkeypatch.setenv("ALIBABA_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("ALIBABA_ACCESS_TOKEN", ACCESS_TOKEN)
    monkeypatch.setenv("ALIBABA_BASE_URL", server_url + "/openapi")
    if taobao:
        monkeypatch.setenv("PRODUCT_SOURCE_TAOBAO", "onebound")
        monkeypatch.setenv("ONEBOUND_KEY", "t-key")
        monkeypatch.setenv("ONEBOUND_SECRET", "t-secret")
        monkeypatch.setenv("ONEBOUND_BASE_URL", server_url)
