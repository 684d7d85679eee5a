"""Marketplace credentials: the environment wins; otherwise the stage's Secrets Manager secret, read
lazily once per container; anything missing means not configured."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from chalicelib import aws
from chalicelib.catalog import credentials

NAMES = ("ALIBABA_APP_KEY", "ALIBABA_APP_SECRET", "ALIBABA_ACCESS_TOKEN", "ONEBOUND_KEY", "ONEBOUND_SECRET")


@pytest.fixture
def clean(monkeypatch):
    for name in (*NAMES, "SOURCE_CREDENTIALS_SECRET"):
        monkeypatch.delenv(name, raising=False)
    credentials.reset()
    with mock_aws():
        aws.reset()
        yield
        aws.reset()
    credentials.reset()


def test_without_credentials_a_source_is_not_configured(clean, monkeypatch):
    assert credentials.get("alibaba") is None
    monkeypatch.setenv("ALIBABA_APP_KEY", "k")
    monkeypatch.setenv("ALIBABA_APP_SECRET", "s")
    assert credentials.get("alibaba") is None  # the access token is missing
    monkeypatch.setenv("ALIBABA_ACCESS_TOKEN", "t")
    assert credentials.get("alibaba") == {
        "ALIBABA_APP_KEY": "k",
        "ALIBABA_APP_SECRET": "s",
        "ALIBABA_ACCESS_TOKEN": "t",
    }


def test_the_secret_is_read_once_and_the_environment_wins(clean, monkeypatch):
    client = aws.client("secretsmanager")
    arn = client.create_secret(
        Name="procure-test/marketplace-credentials",
        SecretString=json.dumps({"ONEBOUND_KEY": "from-secret", "ONEBOUND_SECRET": "shh"}),
    )["ARN"]
    monkeypatch.setenv("SOURCE_CREDENTIALS_SECRET", arn)
    assert credentials.get("onebound") == {"ONEBOUND_KEY": "from-secret", "ONEBOUND_SECRET": "shh"}
    assert credentials.get("alibaba") is None
    client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert credentials.get("onebound") is not None  # cached for the container's life
    monkeypatch.setenv("ONEBOUND_KEY", "from-env")
    assert credentials.get("onebound")["ONEBOUND_KEY"] == "from-env"


def test_an_unreadable_secret_is_not_configured_and_retried_later(clean, monkeypatch):
    monkeypatch.setenv("SOURCE_CREDENTIALS_SECRET", "procure-test/nothing-here")
    assert credentials.get("onebound") is None
    aws.client("secretsmanager").create_secret(
        Name="procure-test/nothing-here",
        SecretString=json.dumps({"ONEBOUND_KEY": "k", "ONEBOUND_SECRET": "s"}),
    )
    assert credentials.get("onebound") == {"ONEBOUND_KEY": "k", "ONEBOUND_SECRET": "s"}
