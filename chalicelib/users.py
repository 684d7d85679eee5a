"""Who a user is, from the Cognito user pool (the source of truth for email addresses)."""

from __future__ import annotations

from functools import lru_cache

from chalicelib import aws, config


@lru_cache(maxsize=4096)
def _email(pool_id: str, user_id: str) -> str | None:
    response = aws.client("cognito-idp").list_users(
        UserPoolId=pool_id, Filter=f'sub = "{user_id}"', Limit=1, AttributesToGet=["email"]
    )
    for user in response.get("Users", []):
        for attribute in user.get("Attributes", []):
            if attribute["Name"] == "email":
                return attribute["Value"]
    return None


def email_of(user_id: str) -> str | None:
    """The user's email address, or None if the user is gone."""
    if not user_id or '"' in user_id:
        return None
    return _email(config.get("USER_POOL_ID"), user_id)


def user_id_by_email(email: str) -> str | None:
    """The `sub` of the user with this email address, or None."""
    if not email or '"' in email:
        return None
    response = aws.client("cognito-idp").list_users(
        UserPoolId=config.get("USER_POOL_ID"), Filter=f'email = "{email}"', Limit=1
    )
    for user in response.get("Users", []):
        for attribute in user.get("Attributes", []):
            if attribute["Name"] == "sub":
                return attribute["Value"]
    return None
