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


def test_an_access_token_is_401_and_says_to_send_the_id_token(api):
    from chalicelib import aws

    user = next(u for u in api.stack["users"] if u["username"] == ALICE)
    result = aws.client("cognito-idp").initiate_auth(
        ClientId=api.stack["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": ALICE, "PASSWORD": user["password"]},
    )
    access = result["AuthenticationResult"]["AccessToken"]
    answer = api.get("/me", headers={"Authorization": f"Bearer {access}"})
    _assert_401(answer)
    assert "send the ID token" in answer.body["error"]["message"]


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


def _pool_signed(claims: dict, header: dict | None = None) -> str:
    """A token signed with the local pool's own key (moto's), so only what a test changes is wrong."""
    from moto.utilities.utils import load_resource

    key = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy", **(header or {})})


def _claims(api) -> dict:
    return jwt.decode(api.token(ALICE), options={"verify_signature": False})


def test_a_token_without_exp_sub_or_token_use_is_401_even_signed_by_the_pool(api):
    claims = _claims(api)
    resigned = _pool_signed(claims)
    assert (
        api.get("/me", headers={"Authorization": f"Bearer {resigned}"}).status == 200
    )  # the key is the pool's
    for claim in ("exp", "sub", "token_use"):
        without = _pool_signed({k: v for k, v in claims.items() if k != claim})
        _assert_401(api.get("/me", headers={"Authorization": f"Bearer {without}"}))


def test_a_token_from_another_issuer_or_not_valid_yet_is_401_even_signed_by_the_pool(api):
    claims = _claims(api)
    elsewhere = _pool_signed({**claims, "iss": claims["iss"] + "x"})
    _assert_401(api.get("/me", headers={"Authorization": f"Bearer {elsewhere}"}))
    later = _pool_signed({**claims, "nbf": int(clock.now().timestamp()) + 600})
    _assert_401(api.get("/me", headers={"Authorization": f"Bearer {later}"}))
    earlier = _pool_signed({**claims, "nbf": int(clock.now().timestamp()) - 600})
    assert api.get("/me", headers={"Authorization": f"Bearer {earlier}"}).status == 200


def test_a_token_of_another_algorithm_keyed_by_the_pools_public_key_is_401(api):
    """HS256 with the public key as the HMAC secret: anyone has that key, only RS256 is accepted."""
    import base64
    import hashlib
    import hmac
    import json

    from cryptography.hazmat.primitives import serialization

    from chalicelib import auth

    n, e = auth.jwks.key(auth.jwks_url(), "dummy")
    public = rsa.RSAPublicNumbers(e, n).public_key()
    secret = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "kid": "dummy"}).encode())
    signing_input = f"{header}.{b64(json.dumps(_claims(api)).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    _assert_401(api.get("/me", headers={"Authorization": f"Bearer {signing_input}.{b64(mac)}"}))


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


def test_a_customer_signs_up_confirms_signs_in_and_resets_a_password_on_the_cognito_api(api):
    """The storefront's own forms (docs/storefront-auth.md): the public client's calls, no admin rights."""
    from chalicelib import aws

    idp = aws.client("cognito-idp")
    client_id, email = api.stack["client_id"], "carol@example.com"
    signed_up = idp.sign_up(
        ClientId=client_id,
        Username=email,
        Password="Carol-pass-2026",
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    assert signed_up["UserConfirmed"] is False
    # moto accepts any code; Cognito emails the real one
    idp.confirm_sign_up(ClientId=client_id, Username=email, ConfirmationCode="123456")
    tokens = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": "Carol-pass-2026"},
    )["AuthenticationResult"]
    me = api.get("/me", headers={"Authorization": f"Bearer {tokens['IdToken']}"})
    assert me.status == 200, me.body
    assert me.body["user_id"] == signed_up["UserSub"]
    assert me.body["email"] == email and me.body["groups"] == []

    idp.forgot_password(ClientId=client_id, Username=email)
    idp.confirm_forgot_password(
        ClientId=client_id, Username=email, ConfirmationCode="123456", Password="Carol-new-2026"
    )
    again = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": "Carol-new-2026"},
    )["AuthenticationResult"]["IdToken"]
    assert (
        api.get("/me", headers={"Authorization": f"Bearer {again}"}).body["user_id"] == signed_up["UserSub"]
    )


def test_make_user_creates_a_confirmed_customer_that_make_token_signs_in(api, monkeypatch, tmp_path, capsys):
    import json

    from infra.local import provision, token, user

    stack_file = tmp_path / "stack.json"
    stack_file.write_text(json.dumps(api.stack))
    monkeypatch.setattr(user, "STACK_FILE", stack_file)
    monkeypatch.setattr(user, "use_running_stack", lambda: json.loads(stack_file.read_text()))
    monkeypatch.setattr(token, "use_running_stack", lambda: json.loads(stack_file.read_text()))

    user.main("dave@example.com", "")
    assert "signed up and confirmed" in capsys.readouterr().out
    token.main("dave@example.com")
    id_token = capsys.readouterr().out.strip()
    me = api.get("/me", headers={"Authorization": f"Bearer {id_token}"})
    assert me.status == 200, me.body
    assert me.body["email"] == "dave@example.com" and me.body["groups"] == []
    assert [
        u["password"]
        for u in json.loads(stack_file.read_text())["users"]
        if u["username"] == "dave@example.com"
    ] == [provision.DEMO_PASSWORD]
    user.main("dave@example.com", "")  # rerunnable: reported, not signed up twice
    assert "already exists" in capsys.readouterr().out
