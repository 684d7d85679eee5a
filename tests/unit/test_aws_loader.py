"""The shared botocore session finds a service's model without listing every service botocore ships."""

from __future__ import annotations

import os

import botocore.exceptions
import botocore.session
import pytest

from chalicelib import aws


@pytest.fixture
def session(monkeypatch):
    monkeypatch.setattr(aws, "_botocore_session", None)
    return aws.botocore_session()


def test_a_client_is_created_without_scanning_every_service_directory(session, monkeypatch):
    calls = []
    real = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path=".": calls.append(path) or real(path))
    session.create_client(
        "dynamodb", region_name="ap-southeast-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    # botocore's own check lists every service directory (~900 calls); by name it is a handful
    assert 0 < len(calls) < 20, len(calls)


def test_by_name_agrees_with_botocores_scan_for_every_service_and_type():
    plain = botocore.session.Session().get_component("data_loader")
    ours = aws._shared_session_class()()
    aws._look_up_services_by_name(ours)
    loader = ours.get_component("data_loader")
    for type_name in ("service-2", "paginators-1", "waiters-2", "endpoint-rule-set-1"):
        scanned = plain.list_available_services(type_name)
        by_name = loader.list_available_services(type_name)
        assert all(name in by_name for name in scanned)
        assert list(by_name) == scanned and len(by_name) == len(scanned) and by_name[0] == scanned[0]
        for name in ("nope", "", ".", "..", "dynamodb/2012-08-10", "../botocore", None):
            assert (name in by_name) is (name in scanned)
    assert ours.get_available_services() == botocore.session.Session().get_available_services()


def test_an_unknown_service_is_still_refused_with_botocores_error(session):
    with pytest.raises(botocore.exceptions.UnknownServiceError, match="dynamodb"):
        session.create_client("dynamo", region_name="ap-southeast-1")
