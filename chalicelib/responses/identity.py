"""Responses of the identity routes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.responses.base import Out


class Health(Out):
    """The API is up."""

    status: Literal["ok"]


class Me(Out):
    """The signed-in user."""

    user_id: str = Field(description="The Cognito `sub`: the customer's id everywhere in the API.")
    email: str
    groups: list[str] = Field(description="Staff groups (reviewer, warehouse, admin); empty for customers.")
    currency: str | None = Field(
        default=None, description="The saved display currency (PUT /me/preferences); null: CNY only."
    )
