"""Who a user is, from the Cognito user pool (the source of truth for email addresses).

Only a verified address counts: notifications go to it and staff assign parcels by it. The pool makes a
user verify a new address before Cognito changes `email` (UserAttributeUpdateSettings), and an address
whose `email_verified` is not true is treated as none (a user created or changed outside that flow).
"""

from __future__ import annotations

from functools import lru_cache

from chalicelib import aws, config


def _verified(user: dict, name: str) -> str | None:
    """The attribute `name` of a listed user whose email is verified, else None."""
    attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
    return attributes.get(name) if attributes.get("email_verified") == "true" else None


@lru_cache(maxsize=4096)
def _email(pool_id: str, user_id: str) -> str | None:
    response = aws.client("cognito-idp").list_users(
        UserPoolId=pool_id, Filter=f'sub = "{user_id}"', Limit=1, AttributesToGet=["email", "email_verified"]
    )
    for user in response.get("Users", []):
        return _verified(user, "email")
    return None


def email_of(user_id: str) -> str | None:
    """The user's verified email address, or None (the user is gone, or the address is unverified)."""
    if not user_id or '"' in user_id:
        return None
    return _email(config.get("USER_POOL_ID"), user_id)


def user_id_by_email(email: str) -> str | None:
    """The `sub` of the user whose verified email address this is, or None."""
    if not email or '"' in email:
        return None
    response = aws.client("cognito-idp").list_users(
        UserPoolId=config.get("USER_POOL_ID"), Filter=f'email = "{email}"', Limit=1
    )
    for user in response.get("Users", []):
        return _verified(user, "sub")
    return None
