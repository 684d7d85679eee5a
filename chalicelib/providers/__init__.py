"""The payment port: one interface every payment provider implements, and which provider serves a channel.

A channel (`GET /payment-channels`) is collected by the provider `PAYMENT_PROVIDERS` maps it to (a JSON
object, e.g. `{"card": "stripe", "alipay": "stripe", "wechat_pay": "stripe", "paypal": "paypal"}`, which
the prod stage sets); in the local and test stages a channel it does not name is collected by `simulated`,
the signed test provider of the local stack and the test suite. Anywhere else an unnamed channel or an
unknown provider is a 503 that collects nothing: a deployed stack never falls back to the simulation. So
moving a channel to another provider is configuration, not code.

A provider does three things: `create` (ask it to collect an amount in a currency: what a storefront
needs to finish paying, a client secret or a checkout URL), `parse_webhook` (verify a delivery with the
provider's own scheme and normalize it into an `Event`) and `refund` (give back part of a collected
payment). Cost: one HTTPS call per `create` and `refund`, at most one per webhook (the fee of a
success). None of them writes to DynamoDB: chalicelib/payments.py applies events and records refunds
idempotently (by the provider's event id and cumulative amounts), so a provider may be called again for
the same payment with the same idempotency key and answer the same.
"""

from __future__ import annotations

import json

from chalicelib import config
from chalicelib.providers.port import (
    KINDS,
    Amount,
    Checkout,
    Event,
    Provider,
    ProviderDeferred,
    ProviderRefused,
    ProviderUnavailable,
    Refunded,
    charge_amount,
    to_fen,
)

__all__ = [
    "KINDS",
    "Amount",
    "Checkout",
    "Event",
    "Provider",
    "ProviderDeferred",
    "ProviderRefused",
    "ProviderUnavailable",
    "Refunded",
    "charge_amount",
    "for_channel",
    "get",
    "mapping",
    "to_fen",
]


def mapping() -> dict[str, str]:
    """channel -> provider name, from PAYMENT_PROVIDERS (unset or malformed: every channel simulated)."""
    raw = config.get("PAYMENT_PROVIDERS")
    try:
        table = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in table.items()} if isinstance(table, dict) else {}


REAL = config.REAL_PAYMENT_PROVIDERS


def provider_name(channel: str) -> str:
    name = mapping().get(channel)
    if name is None and config.get("STAGE") in config.LOCAL_STAGES:
        return "simulated"
    if name is None:
        raise ProviderUnavailable(f"The payment channel {channel} is not configured on this stage.")
    return name


def get(name: str) -> Provider:
    if name not in REAL and (name != "simulated" or config.get("STAGE") not in config.LOCAL_STAGES):
        raise ProviderUnavailable(f"The payment provider {name!r} is not available on this stage.")
    if name == "stripe":
        from chalicelib.providers import stripe_provider

        return stripe_provider.StripeProvider()
    if name == "paypal":
        from chalicelib.providers import paypal_provider

        return paypal_provider.PayPalProvider()
    from chalicelib.providers import simulated

    return simulated.SimulatedProvider()


def for_channel(channel: str) -> Provider:
    return get(provider_name(channel))
