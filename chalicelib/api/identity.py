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
    """The signed-in user: id, email and staff groups."""
    return req.user.as_json()
