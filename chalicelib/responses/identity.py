"""Responses of the identity routes."""

from __future__ import annotations

from typing import Literal

from chalicelib.responses.base import Out
from chalicelib.typed import ConfigDict, Field


class Health(Out):
    """The API is up."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"]


class Me(Out):
    """The signed-in user."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "0f6c2a4e-8b1d-4f3a-9c7e-2d5b8a1e6f40",
                    "email": "alice@example.com",
                    "groups": [],
                    "currency": "USD",
                }
            ]
        }
    )

    user_id: str = Field(description="The Cognito `sub`: the customer's id everywhere in the API.")
    email: str
    groups: list[str] = Field(description="Staff groups (reviewer, warehouse, admin); empty for customers.")
    currency: str | None = Field(
        description="The saved display currency (PUT /me/preferences); null: CNY only."
    )
