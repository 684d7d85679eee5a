"""infra/template.py: DynamoDB tables derived from PynamoDB classes, ARN pinning, queue references."""

from __future__ import annotations

import pytest
from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import (
    AllProjection,
    GlobalSecondaryIndex,
    IncludeProjection,
    KeysOnlyProjection,
    LocalSecondaryIndex,
)
from pynamodb.models import Model

from chalicelib.models.base import table_meta
from infra import template
from infra.template import Stage


class ByStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_status"
        projection = IncludeProjection(["title", "price_fen"])

    status = UnicodeAttribute(hash_key=True)
    due_day = NumberAttribute(range_key=True)


class ByCreated(LocalSecondaryIndex):
    class Meta:
        index_name = "by_created"
        projection = KeysOnlyProjection()

    owner = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class Fixture(Model):
    Meta = table_meta("fixture-things")

    # range key declared first: the template must still list HASH first
    thing_id = UnicodeAttribute(range_key=True)
    owner = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute(null=True)
    due_day = NumberAttribute(null=True)
    created_at = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)

    by_status = ByStatus()
    by_created = ByCreated()


class Plain(Model):
    Meta = table_meta("fixture-plain")

    key = UnicodeAttribute(hash_key=True)


class ByKind(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_kind"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)


class PlainSibling(Model):
    """Another item type in Plain's table, with an index of its own."""

    Meta = table_meta("fixture-plain")

    key = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(null=True)
    by_kind = ByKind()


@pytest.fixture(scope="module")
def prod() -> Stage:
    return Stage.load("prod")


def test_a_table_is_derived_from_its_model(prod):
    table = template.table_resource(prod, Fixture)
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["TableName"] == "procure-prod-fixture-things"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [
        {"AttributeName": "owner", "KeyType": "HASH"},
        {"AttributeName": "thing_id", "KeyType": "RANGE"},
    ]
    assert sorted((a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]) == [
        ("created_at", "S"),
        ("due_day", "N"),
        ("owner", "S"),
        ("status", "S"),
        ("thing_id", "S"),
    ]
    assert props["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by_status",
            "KeySchema": [
                {"AttributeName": "status", "KeyType": "HASH"},
                {"AttributeName": "due_day", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["title", "price_fen"]},
        }
    ]
    assert props["LocalSecondaryIndexes"] == [
        {
            "IndexName": "by_created",
            "KeySchema": [
                {"AttributeName": "owner", "KeyType": "HASH"},
                {"AttributeName": "created_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}


def test_a_plain_table_has_no_index_or_ttl_keys(prod):
    props = template.table_resource(prod, Plain)["Properties"]
    assert "GlobalSecondaryIndexes" not in props
    assert "LocalSecondaryIndexes" not in props
    assert "TimeToLiveSpecification" not in props
    assert props["AttributeDefinitions"] == [{"AttributeName": "key", "AttributeType": "S"}]


def test_models_sharing_a_table_contribute_their_indexes(prod):
    props = template.table_resource(prod, Plain, [PlainSibling])["Properties"]
    assert [i["IndexName"] for i in props["GlobalSecondaryIndexes"]] == ["by_kind"]
    assert {"AttributeName": "kind", "AttributeType": "S"} in props["AttributeDefinitions"]


def test_one_table_per_listed_model_and_names_follow_the_stage(prod):
    resources = template.tables(prod, [Fixture, Plain])
    assert set(resources) == {"FixtureThingsTable", "FixturePlainTable"}
    test_stage = Stage.load("test")
    assert template.tables(test_stage, [Plain])["FixturePlainTable"]["Properties"]["TableName"] == (
        "procure-test-fixture-plain"
    )
    with pytest.raises(ValueError, match="twice"):
        template.tables(prod, [Plain, PlainSibling])


def test_policy_arns_are_pinned_to_the_stack():
    document = {
        "Statement": [
            {"Resource": ["arn:aws:dynamodb:*:*:table/t", "arn:aws:s3:::b/*"]},
            {"Resource": "arn:aws:cognito-idp:*:*:userpool/*"},
        ]
    }
    pinned = template.pin(document)
    assert pinned["Statement"][0]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/t"},
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::b/*"},
    ]
    assert pinned["Statement"][1]["Resource"] == {"Fn::GetAtt": ["UserPool", "Arn"]}
    assert document["Statement"][1]["Resource"] == "arn:aws:cognito-idp:*:*:userpool/*"  # not mutated


def test_queue_names_are_read_from_chalice_event_sources():
    sub = {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:procure-prod-photo-events"}
    assert template.queue_name(sub) == "procure-prod-photo-events"
    assert template.queue_name("arn:aws:sqs:ap-southeast-1:123456789012:other") == "other"
    assert template.queue_name({"Ref": "X"}) is None


def test_the_user_pool_names_its_cognito_pricing_tier(prod):
    """Issue 27: a pool naming no tier is ESSENTIALS ($0.015 per MAU past 10,000); Lite has what we use."""
    pool = template.cognito_resources(prod)["UserPool"]["Properties"]
    assert pool["UserPoolTier"] == "LITE"


def test_a_new_email_address_takes_effect_only_once_verified(prod):
    """Issue 21, item 8: notifications and the staff's parcel assignment use the address."""
    pool = template.cognito_resources(prod)["UserPool"]["Properties"]
    assert pool["UserAttributeUpdateSettings"] == {"AttributesRequireVerificationBeforeUpdate": ["email"]}
    assert pool["AutoVerifiedAttributes"] == ["email"]


def test_the_storefront_client_signs_customers_in_through_managed_login_with_pkce(prod):
    """Issue 26, item 6: a hosted storefront's sign-up and sign-in pages, code flow, no client secret."""
    resources = template.cognito_resources(prod)
    client = resources["UserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False  # a browser cannot keep a secret: PKCE instead
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthFlows"] == ["code"]  # never implicit: tokens must not travel in URLs
    assert client["AllowedOAuthScopes"] == ["openid", "email"]
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert client["CallbackURLs"] == {"Ref": template.CALLBACK_URLS_PARAMETER}
    assert client["LogoutURLs"] == {"Ref": template.LOGOUT_URLS_PARAMETER}
    domain = resources["UserPoolDomain"]
    assert domain["Type"] == "AWS::Cognito::UserPoolDomain"
    assert domain["Properties"]["UserPoolId"] == {"Ref": "UserPool"}
    assert domain["Properties"]["Domain"] == {"Fn::Sub": "procure-prod-${AWS::AccountId}"}
    parameters = template.storefront_auth_parameters()
    for name in (template.CALLBACK_URLS_PARAMETER, template.LOGOUT_URLS_PARAMETER):
        assert parameters[name]["Type"] == "CommaDelimitedList"
        assert "Default" not in parameters[name]  # each deployment names its own storefront's pages
