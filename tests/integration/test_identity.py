"""Identity: every non-public route needs a valid Cognito ID token, verified by us in every environment."""

from __future__ import annotations

from datetime import timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib import clock
from tests.integration.conftest import ADMIN, ALICE, REVIEWER, WAREHOUSE


def test_health_is_public(api):
    result = api.get("/health")
    assert result.status == 200
    assert result.body == {"status": "ok"}


def test_me_returns_the_signed_in_customer(api):
    result = api.get("/me", user=ALICE)
    assert result.status == 200
    assert result.body == {"user_id": api.user_id(ALICE), "email": ALICE, "groups": [], "currency": None}


def test_me_lists_staff_groups(api):
    assert api.get("/me", user=REVIEWER).body["groups"] == ["reviewer"]
    assert api.get("/me", user=WAREHOUSE).body["groups"] == ["warehouse"]
    assert api.get("/me", user=ADMIN).body["groups"] == ["admin"]


def _assert_401(result):
    assert result.status == 401, result.body
    assert result.body["error"]["code"] == "unauthorized"
    assert result.body["error"]["message"]


def test_missing_token_is_401(api):
    _assert_401(api.get("/me"))


def test_malformed_tokens_are_401(api):
    for header in ("Bearer", "Bearer garbage", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer ...", "token"):
        _assert_401(api.get("/me", headers={"Authorization": header}))


def test_forged_token_is_401(api):
    """Same claims and kid as a real token, signed with a key that is not the pool's."""
    real = jwt.decode(api.token(ALICE), options={"verify_signature": False})
    real["cognito:groups"] = ["admin"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(real, key, algorithm="RS256", headers={"kid": "dummy"})
    _assert_401(api.get("/me", headers={"Authorization": f"Bearer {forged}"}))


def test_unsigned_token_is_401(api):
    real = jwt.decode(api.token(ALICE), options={"verify_signature": False})
    unsigned = jwt.encode(real, None, algorithm="none", headers={"kid": "dummy"})
    _assert_401(api.get("/me", headers={"Authorization": f"Bearer {unsigned}"}))


def test_expired_token_is_401(api):
    token = api.token(ALICE)
    assert api.get("/me", user=ALICE).status == 200
    clock.set_now(clock.now() + timedelta(hours=1, seconds=5))
    _assert_401(api.get("/me", headers={"Authorization": f"Bearer {token}"}))


def test_access_token_is_not_an_id_token(api):
    from chalicelib import aws

    user = next(u for u in api.stack["users"] if u["username"] == ALICE)
    result = aws.client("cognito-idp").initiate_auth(
        ClientId=api.stack["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": ALICE, "PASSWORD": user["password"]},
    )
    access = result["AuthenticationResult"]["AccessToken"]
    _assert_401(api.get("/me", headers={"Authorization": f"Bearer {access}"}))


def test_token_for_another_app_client_is_401(api):
    from chalicelib import aws
    from infra.local import provision

    idp = aws.client("cognito-idp")
    other = idp.create_user_pool_client(
        UserPoolId=api.stack["user_pool_id"],
        ClientName="other",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    token = provision.sign_in(other, ALICE, provision.DEMO_PASSWORD)
    _assert_401(api.get("/me", headers={"Authorization": f"Bearer {token}"}))


def test_token_from_another_pool_is_401(api):
    from chalicelib import aws
    from infra.local import provision

    idp = aws.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="elsewhere", UsernameAttributes=["email"])["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="x", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.create_group(UserPoolId=pool, GroupName="admin")
    provision.create_user(pool, "mallory@example.com", provision.DEMO_PASSWORD, ["admin"])
    token = provision.sign_in(client_id, "mallory@example.com", provision.DEMO_PASSWORD)
    _assert_401(api.get("/me", headers={"Authorization": f"Bearer {token}"}))


def test_pool_keys_are_fetched_once_not_per_request(api, monkeypatch):
    from chalicelib import auth

    fetches = []
    real_fetch = auth._fetch
    monkeypatch.setattr(auth, "_fetch", lambda url: fetches.append(url) or real_fetch(url))
    auth.jwks.clear()
    for _ in range(5):
        assert api.get("/me", user=ALICE).status == 200
    assert fetches == [auth.jwks_url()]


def test_chalice_own_errors_use_the_api_error_shape(api):
    result = api.post("/health", body={})
    assert result.status == 405
    assert result.body["error"]["code"] == "method_not_allowed"


def test_overlong_or_empty_ids_are_404_not_5xx(api):
    assert api.get("/orders/" + "x" * 3000, user=ALICE).status == 404
    assert api.get("/orders/" + "x" * 128, user=ALICE).status == 404


def test_an_unverified_email_address_is_used_for_nothing(api):
    """Issue 21, item 8: an address whose email_verified is not true gets no notification and cannot be
    used by staff to assign a parcel; the local pool, like the template's, wants a new address verified."""
    from chalicelib import aws, users

    pool_id = api.stack["user_pool_id"]
    idp = aws.client("cognito-idp")
    described = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert described["UserAttributeUpdateSettings"]["AttributesRequireVerificationBeforeUpdate"] == ["email"]
    user_id = api.add_user("mallory@example.com")
    assert users.email_of(user_id) == "mallory@example.com"
    users._email.cache_clear()
    idp.admin_update_user_attributes(
        UserPoolId=pool_id,
        Username="mallory@example.com",
        UserAttributes=[
            {"Name": "email", "Value": "victim@example.com"},
            {"Name": "email_verified", "Value": "false"},
        ],
    )
    assert users.email_of(user_id) is None
    assert users.user_id_by_email("victim@example.com") is None
    users._email.cache_clear()
