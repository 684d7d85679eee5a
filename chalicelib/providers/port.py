"""The payment port's types: what every provider takes and answers (chalicelib/providers/__init__.py says
how a channel finds its provider). Pure data and arithmetic: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from chalicelib import currency
from chalicelib.errors import ApiError


class ProviderUnavailable(ApiError):
    """The provider did not answer, refused our credentials or is not configured: nothing was collected."""

    status = 503
    code = "provider_unavailable"


class ProviderDeferred(ProviderUnavailable):
    """The provider answered and refused the request for now, for a reason of its own that passes (our
    balance there short, the payment's capture still pending, an open case on it): nothing was done, and
    the same request under a new key may succeed later. Asking again under the same key may only replay
    the refusal (Stripe keeps a key's answer, errors included)."""

    def __init__(self, message: str, *, issue: str | None = None, **kw):
        super().__init__(message, **kw)
        self.issue = issue  # the provider's own code (PayPal's issue, Stripe's error code)


class ProviderRefused(ApiError):
    """The provider answered and refused the request for good (a 4xx about it, not a timeout or a 5xx):
    asking again with the same key gets the same refusal."""

    status = 422
    code = "provider_refused"

    def __init__(self, message: str, *, issue: str | None = None, **kw):
        super().__init__(message, **kw)
        self.issue = issue  # the provider's own code of the refusal (PayPal's issue, Stripe's error code)


@dataclass(frozen=True)
class Amount:
    """Money in a currency's minor units as a provider counts it (`CNY` minor units are fen)."""

    currency: str  # ISO 4217, upper case
    minor: int


@dataclass(frozen=True)
class Checkout:
    """What the provider answered to `create`: its reference and what the storefront completes it with."""

    ref: str
    client_secret: str | None = None
    checkout_url: str | None = None


@dataclass(frozen=True)
class Event:
    """A verified provider event, normalized. `kind` is one of KINDS; amounts are the provider's."""

    event_id: str
    kind: str
    type: str  # the provider's own event type, for logs and the ignored answer
    ref: str | None = None  # the provider's payment (a PaymentIntent, a PayPal order)
    payment_id: str | None = None  # ours, when the provider echoes our metadata
    amount: Amount | None = None  # collected: collected; refund: refunded so far; dispute: disputed
    fee: Amount | None = None  # collected: the provider's fee, in its balance currency
    fee_base: Amount | None = None  # the balance transaction's gross, in the fee's currency
    dispute_id: str | None = None
    dispute_status: str | None = None  # the provider's status of the dispute (needs_response, OPEN...)
    charge: str | None = None  # collected: the provider's charge whose fee is read (Stripe's latest_charge)
    # PayPal: its capture (what refunds name); one refund's own id (a provider that reports each refund
    # alone, not a cumulative amount)
    capture_id: str | None = None
    refund_id: str | None = None
    # dispute_decided: how the provider decided it, a lifecycle.DisputeStatus value (won or lost)
    outcome: str | None = None


# dispute: opened (the provider took or holds the funds); dispute_decided: decided (`outcome` says how; its
# amount is the disputed one, for a decision that overtook its opening); `to_capture`: the customer
# approved a PayPal order, which is captured next
KINDS = (
    "collected",
    "refused",
    "called_off",
    "refund",
    "dispute",
    "dispute_decided",
    "ignored",
    "to_capture",
)


@dataclass(frozen=True)
class Refunded:
    """A refund the provider accepted (`pending` or `succeeded`)."""

    refund_id: str
    status: str
    amount: Amount


class Provider(Protocol):
    name: str

    def currencies(self, channel: str) -> frozenset[str]:
        """Currencies the channel can be charged in through this provider (besides CNY)."""
        ...

    def create(self, payment, amount: Amount) -> Checkout: ...

    def parse_webhook(self, headers: dict[str, str], raw_body: bytes) -> Event: ...

    def refund(self, payment, amount: Amount, key: str) -> Refunded: ...


def charge_amount(provider: Provider, channel: str, charge_fen: int, fx: dict | None) -> Amount:
    """What to ask the provider for: the customer's currency at the snapshotted rate where the channel
    takes it, else CNY (fen are CNY's minor units), or else the provider's settlement currency at the rate
    in force (a provider that cannot charge CNY, PayPal: 503 rate_unavailable without a rate)."""
    if fx and fx.get("code") in provider.currencies(channel):
        return Amount(fx["code"], currency.to_minor(charge_fen, fx["rate"], int(fx["minor_units"])))
    fallback = getattr(provider, "fallback_currency", None)
    if fallback is not None:
        code = fallback()
        rate = currency.rate_in_force(code)
        return Amount(code, currency.to_minor(charge_fen, rate.rate, rate.minor_units))
    return Amount("CNY", int(charge_fen))


def to_fen(part: Amount, whole: Amount, whole_fen: int) -> int:
    """`part` in fen, in proportion to `whole` (same currency) which is worth `whole_fen`: how a
    provider's fee or refund in any currency maps onto what the payment was worth to us."""
    if part.currency == "CNY":
        return int(part.minor)
    if not whole.minor or part.currency != whole.currency:
        return 0
    exact = Decimal(part.minor) * Decimal(whole_fen) / Decimal(whole.minor)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
