"""The customer's currency: the supported currencies and rates, and the saved display preference."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import currency
from chalicelib.responses.currencies import CurrencyList, Preferences
from chalicelib.schemas import Body, example
from chalicelib.typed import Field
from chalicelib.web import Req, route

bp = Blueprint(__name__)


class PreferencesBody(Body):
    """The caller's display currency: amounts on every currency route are also shown in it."""

    model_config = example({"currency": "USD"})

    currency: str | None = Field(
        max_length=8, description="A code of GET /currencies (e.g. USD), or null to show CNY only."
    )


@route(bp, "/currencies", public=True, response=CurrencyList)
def list_currencies(req: Req) -> CurrencyList:
    """Supported currencies with the rate in force (units per CNY, margin included), its source and time."""
    return CurrencyList.of(currency.listing())


@route(bp, "/me/preferences", "PUT", body=PreferencesBody, response=Preferences)
def save_preferences(req: Req) -> dict:
    """Save the caller's display currency: converted amounts on every currency route without ?currency."""
    code = None if req.body.currency is None else currency.check_code(req.body.currency)
    return currency.save_preference(req.user.user_id, code)
