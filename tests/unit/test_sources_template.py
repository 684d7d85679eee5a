"""The template gives the product sources what they need, and nothing more: the product cache table
with its TTL, one credentials secret per stage, readable by the API function only."""

from __future__ import annotations

import json

from chalicelib.models.catalog import ProductCacheModel
from infra import template
from infra.template import Stage
from tests.conftest import ROOT


def test_the_product_cache_table_has_a_ttl_on_expires_at():
    (table,) = template.tables(Stage.load("prod"), [ProductCacheModel]).values()
    properties = table["Properties"]
    assert properties["TableName"] == "procure-prod-product-cache"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert properties["KeySchema"] == [{"AttributeName": "product_id", "KeyType": "HASH"}]


def test_the_credentials_secret_is_created_empty_and_retained():
    (secret,) = template.source_resources(Stage.load("prod")).values()
    assert secret["Type"] == "AWS::SecretsManager::Secret" and secret["DeletionPolicy"] == "Retain"
    assert secret["Properties"]["Name"] == "procure-prod/marketplace-credentials"
    assert "SecretString" not in secret["Properties"]  # operators put the value; a deploy never resets it


def test_only_the_api_function_may_read_the_credentials_secret():
    for name in (ROOT / ".chalice").glob("policy-prod*.json"):
        statements = {s["Sid"]: s for s in json.loads(name.read_text())["Statement"]}
        if name.name == "policy-prod.json":  # the API function's
            assert statements["SourceCredentials"]["Action"] == ["secretsmanager:GetSecretValue"]
            assert statements["SourceCredentials"]["Resource"] == [
                "arn:aws:secretsmanager:*:*:secret:procure-prod/marketplace-credentials-*"
            ]
        else:
            assert "SourceCredentials" not in statements, name.name
