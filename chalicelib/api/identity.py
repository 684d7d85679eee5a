"""Identity: health check and who-am-I."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.responses.identity import Health, Me
from chalicelib.web import Req, route

bp = Blueprint(__name__)


@route(bp, "/health", public=True, response=Health)
def health(req: Req) -> dict:
    """Liveness check."""
    return {"status": "ok"}


@route(bp, "/me", response=Me)
def me(req: Req) -> dict:
    """The signed-in user: id, email, staff groups and saved display currency."""
    from chalicelib import currency

    return {**req.user.as_json(), "currency": currency.preference(req.user.user_id)}
