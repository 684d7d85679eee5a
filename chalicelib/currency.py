"""The customer's currency: rates in force, the one conversion rule, converted response bodies, snapshots.

Stored money and the ledger stay integer fen (CNY). A caller who asks for a currency (`?currency=USD`
on a route declared with `web.route(..., currency=True)`, or the customer's saved preference) gets,
after the body is serialized, a `<name>_minor` integer next to every `<name>_fen` field and a top-level
`display_currency` object. docs/currencies.md is the customer-facing description; in short:

- `rate` is units of the currency per 1 CNY with our margin included; it is the reference rate (no
  margin, from the source) times (1 + CURRENCY_MARGIN_PERCENT / 100), so every CNY amount costs the
  customer the margin more in their currency than at the reference rate (the customer's disfavour),
  the same way for charges and for refunds (a refund uses the rate snapshotted when the customer paid).
- One rounding rule: `minor = fen / 100 * rate * 10**minor_units`, in decimal arithmetic, rounded
  once, ROUND_HALF_UP (halves away from zero) to a whole minor unit (cents; yen and won have none).
- A rate whose `rate_at` is older than CURRENCY_MAX_AGE_HOURS is stale: it is never shown or
  snapshotted. Only an explicit `?currency=` on a read answers 503 `rate_unavailable`; everything else
  (a saved preference, any write: a display currency never stops the ledger) answers in CNY with a
  `display_currency_unavailable` object saying why.

Cost: no request of its own on a route that batch-reads first: the rate asked for, or without
`?currency` the caller's preference and every current rate, ride on the route's first BatchGetItem
(`Pending`); otherwise one BatchGetItem. GET /currencies reads every rate in one BatchGetItem.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from chalicelib import clock, config
from chalicelib.errors import ApiError, ValidationError

# ISO 4217: code -> (name, minor units)
CURRENCIES: dict[str, tuple[str, int]] = {
    "USD": ("US dollar", 2),
    "EUR": ("Euro", 2),
    "GBP": ("Pound sterling", 2),
    "AUD": ("Australian dollar", 2),
    "CAD": ("Canadian dollar", 2),
    "JPY": ("Japanese yen", 0),
    "KRW": ("South Korean won", 0),
    "SGD": ("Singapore dollar", 2),
}
RATE_PLACES = Decimal("1E-10")  # rates are kept and applied with 10 decimal places
SHOWN_PLACES = Decimal("1E-6")  # cny_per_unit is shown only (conversions use `rate`)
# plausible reference rates, units per 1 CNY, for any supported currency (about 0.1 for USD/EUR/GBP, 200
# for KRW): outside these a rate is a source's error, and below the floor it would round to nothing
MIN_RATE, MAX_RATE = Decimal("0.0001"), Decimal("10000")
CLOCK_SKEW = timedelta(minutes=5)  # a source's time this far ahead of ours is still "now"


class RateUnavailable(ApiError):
    status = 503
    code = "rate_unavailable"


def margin_percent() -> Decimal:
    return Decimal(config.get("CURRENCY_MARGIN_PERCENT"))


def max_age() -> timedelta:
    return timedelta(hours=config.get_int("CURRENCY_MAX_AGE_HOURS"))


def minor_units(code: str) -> int:
    return CURRENCIES[code][1]


def check_code(raw: str | None) -> str:
    """An upper-cased supported code; 400 naming the supported ones otherwise."""
    code = (raw or "").strip().upper()
    if code not in CURRENCIES:
        raise ValidationError(
            f"currency must be one of {', '.join(CURRENCIES)} (got {str(raw)[:16]!r}); see GET /currencies."
        )
    return code


def decimal_text(value: Decimal) -> str:
    """A decimal string without exponent or trailing zeros: '0.1408', '190.5'."""
    text = format(value.normalize(), "f")
    return text


def applied_rate(reference: Decimal, margin: Decimal) -> Decimal:
    """Units per CNY the customer is charged at: the reference with the margin in our favour."""
    return (reference * (1 + margin / 100)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def to_minor(amount_fen: int, rate: Decimal | str, units: int) -> int:
    """THE conversion: fen -> the currency's minor units at `rate` (units per CNY), rounded once, half-up."""
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool):
        raise TypeError("amount_fen must be an int")
    exact = Decimal(amount_fen) * Decimal(str(rate)) * (Decimal(10) ** units) / 100
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Display:
    """The rate a response is converted with (and a write snapshots)."""

    code: str
    rate: Decimal  # units per CNY, margin included
    reference_rate: Decimal
    margin_percent: Decimal
    rate_at: str
    rate_date: str
    source: str

    @property
    def minor_units(self) -> int:
        return minor_units(self.code)

    def convert(self, amount_fen: int) -> int:
        return to_minor(amount_fen, self.rate, self.minor_units)

    @property
    def cny_per_unit(self) -> Decimal:
        """CNY per 1 unit of the currency (1 / rate), shown only."""
        return (1 / self.rate).quantize(SHOWN_PLACES, rounding=ROUND_HALF_UP)

    def as_json(self) -> dict:
        """The `display_currency` object of converted responses."""
        return {
            "code": self.code,
            "minor_units": self.minor_units,
            "rate": decimal_text(self.rate),
            "cny_per_unit": decimal_text(self.cny_per_unit),
            "rate_at": self.rate_at,
            "source": self.source,
            "margin_percent": decimal_text(self.margin_percent),
        }

    def snapshot(self) -> dict:
        """What an order, package payment, top-up and ledger entry keep (rates as strings)."""
        return {
            "code": self.code,
            "minor_units": self.minor_units,
            "rate": decimal_text(self.rate),
            "rate_at": self.rate_at,
            "source": self.source,
            "margin_percent": decimal_text(self.margin_percent),
        }


def plausible(rate: Any) -> bool:
    """True for a finite reference rate within [MIN_RATE, MAX_RATE] (units per CNY)."""
    try:
        value = Decimal(str(rate))
    except ArithmeticError:
        return False
    return value.is_finite() and MIN_RATE <= value <= MAX_RATE


def usable(row: Any) -> bool:
    """A stored rate row that may be shown and converted with: a plausible rate, not dated ahead of now."""
    return plausible(row.reference_rate) and not _in_future(row.rate_at)


def _in_future(rate_at: str) -> bool:
    try:
        return clock.parse_iso(rate_at) > clock.now() + CLOCK_SKEW
    except ValueError:
        return True


def _display(row: Any, margin: Decimal | None = None) -> Display:
    margin = margin_percent() if margin is None else margin
    reference = Decimal(row.reference_rate)
    return Display(
        code=row.currency,
        rate=applied_rate(reference, margin),
        reference_rate=reference,
        margin_percent=margin,
        rate_at=row.rate_at,
        rate_date=row.rate_date,
        source=row.source,
    )


def is_stale(rate_at: str) -> bool:
    """Older than CURRENCY_MAX_AGE_HOURS, or dated ahead of now (a future date never ages: never trusted)."""
    return _in_future(rate_at) or clock.now() - clock.parse_iso(rate_at) > max_age()


# --- reading the rates in force ------------------------------------------------------------------


def current_rows() -> dict[str, Any]:
    """{code: ExchangeRate "current" row} for the supported currencies that have one (one BatchGetItem)."""
    from chalicelib import db
    from chalicelib.models.currency import CURRENT, ExchangeRate

    found = db.batch_read([(ExchangeRate, (code, CURRENT)) for code in CURRENCIES])
    return {key[1][0]: row for key, row in found.items()}


def rate_in_force(code: str) -> Display:
    """The rate to convert with now; 503 rate_unavailable when there is none or it is stale."""
    from chalicelib.models.currency import CURRENT, ExchangeRate

    key = (ExchangeRate, (code, CURRENT))
    pending = _current.get()
    if pending is not None and pending.read(key):  # this request's riders read every current rate already
        return _in_force(code, pending.row(key))
    try:
        row = ExchangeRate.get(code, CURRENT)
    except ExchangeRate.DoesNotExist:
        row = None
    return _in_force(code, row)


def _in_force(code: str, row: Any) -> Display:
    """`row` (the stored current rate, or None) as the rate to convert with; 503 when it may not be."""
    if row is None:
        raise RateUnavailable(f"No exchange rate for {code} yet; amounts are available in CNY.")
    if not usable(row):
        raise RateUnavailable(
            f"The stored {code} rate is not usable ({row.source}, {row.rate_at}); amounts are available in "
            "CNY (without ?currency) meanwhile."
        )
    if is_stale(row.rate_at):
        raise RateUnavailable(
            f"The {code} rate ({row.source}, {row.rate_at}) is older than "
            f"{config.get_int('CURRENCY_MAX_AGE_HOURS')} hours, so we do not convert with it; amounts are "
            "available in CNY (without ?currency) meanwhile."
        )
    return _display(row)


@dataclass(frozen=True)
class Listed:
    """A supported currency as GET /currencies lists it: the rate in force (None: none yet)."""

    code: str
    name: str
    minor_units: int
    margin_percent: Decimal
    shown: Display | None
    stale: bool


def listing() -> list[Listed]:
    """GET /currencies: every supported currency, with its rate in force (or none yet) and staleness."""
    rows = current_rows()
    margin = margin_percent()
    listed = []
    for code, (name, units) in CURRENCIES.items():
        row = rows.get(code)
        usable_row = row is not None and usable(row)  # an unusable stored rate is shown as none, never a 500
        shown = _display(row, margin) if usable_row else None
        stale = is_stale(row.rate_at) if usable_row else True
        listed.append(Listed(code, name, units, margin, shown, stale))
    return listed


# --- the caller's currency for this request -------------------------------------------------------

_current: ContextVar[Pending | None] = ContextVar("procure_display_currency", default=None)


@dataclass(frozen=True)
class Unavailable:
    """A currency asked for without a usable rate now: the answer stays in CNY and says so."""

    code: str
    message: str

    def as_json(self) -> dict:
        """The `display_currency_unavailable` object of such answers."""
        return {"code": self.code, "message": self.message}


class Pending:
    """The caller's currency for this request, resolved at first use: `?currency=` (400 at once if
    unsupported), else the signed-in caller's saved preference, else none. What it needs (the
    preference and the current rates, or the one rate asked for) rides on the route's first batch read
    (chalicelib/db.py `ride`), or is read in one BatchGetItem when the route makes none first.
    503 only for an explicit `?currency=` when `may_refuse` (a read): a saved preference, or any write,
    is answered in CNY instead."""

    def __init__(self, query: dict[str, str], user_id: str | None, *, may_refuse: bool = True) -> None:
        self.explicit = "currency" in query
        self.code = check_code(query.get("currency")) if self.explicit else None
        self.user_id = user_id
        self.may_refuse = may_refuse
        self._rows: dict | None = None
        self._done = False
        self._value: Display | Unavailable | None = None
        self._error: RateUnavailable | None = None
        self.keys: list[tuple[type, tuple]] = []
        if not self.explicit and not user_id:  # nothing to read: the models are not even imported
            self._done = True
            return
        from chalicelib.models.currency import CURRENT, ExchangeRate, UserPreference

        if self.explicit:
            self.keys = [(ExchangeRate, (self.code, CURRENT))]
        else:
            # the preference decides which rate: every current rate comes along (one request, not two)
            self.keys = [(UserPreference, (user_id,))] + [(ExchangeRate, (c, CURRENT)) for c in CURRENCIES]

    def take(self, found: dict) -> None:
        if self._rows is None:
            self._rows = found

    def read(self, key: tuple[type, tuple]) -> bool:
        """Whether this request read `key` already (absent from `row` then means it does not exist)."""
        return self._rows is not None and key in self.keys

    def row(self, key: tuple[type, tuple]) -> Any:
        return (self._rows or {}).get(key)

    def value(self) -> Display | Unavailable | None:
        """The Display, None (no currency asked for) or, without a usable rate, Unavailable."""
        if not self._done:
            if self._rows is None:
                from chalicelib import db

                self.take(db.batch_read(self.keys))
            self._value, self._error = self._resolve(self._rows or {})
            self._done = True
        if self._error is not None:
            raise self._error
        return self._value

    def _resolve(self, rows: dict) -> tuple[Display | Unavailable | None, RateUnavailable | None]:
        from chalicelib.models.currency import CURRENT, ExchangeRate, UserPreference

        code = self.code
        if not self.explicit:
            prefs = rows.get((UserPreference, (self.user_id,)))
            code = prefs.currency if prefs is not None and prefs.currency in CURRENCIES else None
        if not code:
            return None, None
        try:
            return _in_force(code, rows.get((ExchangeRate, (code, CURRENT)))), None
        except RateUnavailable as exc:
            if self.may_refuse and self.explicit:
                return None, exc
            return Unavailable(
                code, f"No current {code} exchange rate: amounts are shown in CNY (fen) only."
            ), None


def bind(pending: Pending):
    """Bind what this request converts (and its writes snapshot) with; its reads ride along the route's
    first batch read. Returns the tokens for `unbind`."""
    from chalicelib import db

    return _current.set(pending), (db.ride(pending.keys, pending.take) if pending.keys else None)


def unbind(tokens) -> None:
    from chalicelib import db

    current_token, ride_token = tokens
    if ride_token is not None:
        db.unride(ride_token)
    _current.reset(current_token)


def current() -> Display | None:
    """The currency the caller of the running request asked for (None: none, or outside a request)."""
    pending = _current.get()
    if pending is None:
        return None
    display = pending.value()
    return display if isinstance(display, Display) else None


def snapshot() -> dict | None:
    """The snapshot a write of this request stores (None when no currency was asked for)."""
    display = current()
    return display.snapshot() if display is not None else None


def stored(value: Any) -> dict | None:
    """A snapshot read back from a MapAttribute (or None)."""
    if value is None:
        return None
    raw = value.as_dict() if hasattr(value, "as_dict") else dict(value)
    return raw or None


# --- converting a serialized body ---------------------------------------------------------------


def convert_body(body: Any, display: Display | Unavailable) -> Any:
    """`body` with `<name>_minor` next to every integer `<name>_fen` (at any depth) and, on an object
    body, `display_currency`. Snapshots (`fx`) keep their own amounts and are left as they are.
    Unavailable: the body as it is (CNY), with `display_currency_unavailable` on an object body."""
    if isinstance(display, Unavailable):
        return {**body, "display_currency_unavailable": display.as_json()} if isinstance(body, dict) else body

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        out: dict = {}
        for key, item in value.items():
            out[key] = item if key == "fx_snapshot" else walk(item)
            if not (isinstance(key, str) and key.endswith("_fen")):
                continue
            minor = key.removesuffix("_fen") + "_minor"
            # an amount the view already states in minor units keeps it: a provider's payment carries
            # `currency` and `amount_minor` as actually charged (docs/currencies.md)
            if isinstance(item, int) and not isinstance(item, bool) and minor not in value:
                out[minor] = display.convert(item)
        return out

    converted = walk(body)
    if isinstance(converted, dict):
        converted["display_currency"] = display.as_json()
    return converted


# --- preferences ------------------------------------------------------------------------------


def preference(user_id: str) -> str | None:
    from chalicelib.models.currency import UserPreference

    try:
        code = UserPreference.get(user_id, consistent_read=True).currency  # a save is seen at once
    except UserPreference.DoesNotExist:
        return None
    return code if code in CURRENCIES else None


def save_preference(user_id: str, code: str | None) -> dict:
    """Set (or with None clear) the caller's display currency; a concurrent change is a 409."""
    from pynamodb.exceptions import PutError

    from chalicelib import db
    from chalicelib.errors import Conflict
    from chalicelib.models.currency import UserPreference

    try:
        prefs = UserPreference.get(user_id, consistent_read=True)
    except UserPreference.DoesNotExist:
        prefs = UserPreference(user_id)
    if prefs.currency == code and prefs.version is not None:
        return {"currency": code}  # nothing to change (idempotent)
    prefs.currency = code
    prefs.updated_at = clock.now_iso()
    try:
        prefs.save()  # the version condition (or "does not exist yet") guards the read
    except PutError as exc:
        if db.lost_race(exc):
            raise Conflict("Your preferences were changed by another request meanwhile; try again.") from None
        raise
    return {"currency": code}


# --- writing rates (the job, and infra/local/seed.py's demo rates) -------------------------------------


def refusal(code: str, rate: Decimal, current: Any, *, source: str) -> str | None:
    """Why a published rate must not be used (a metric reason), or None: outside the plausible bounds,
    or moved more than CURRENCY_MAX_DAILY_CHANGE_PERCENT from the usable rate in force of the same source."""
    if not plausible(rate):
        return "out_of_bounds"
    if current is None or current.source != source or not usable(current):
        return None  # nothing of this source to compare with (first run, or replacing the demo seed)
    limit = Decimal(config.get("CURRENCY_MAX_DAILY_CHANGE_PERCENT"))
    change = abs(Decimal(str(rate)) / Decimal(current.reference_rate) - 1) * 100
    return "jump" if change > limit else None


def store(rates: dict[str, Decimal], *, source: str, rate_date: str, rate_at: str) -> dict:
    """Record `rates` (units per CNY, no margin) published for `rate_date`: a history row per currency
    (written once) and the current row when this date is newer than the one in force. Idempotent: the
    same date again writes nothing. A date ahead of today refuses every rate; an implausible rate or a
    jump (`refusal`) refuses that currency: refused rates are not written and keep ageing. Returns
    {"updated": [...], "unchanged": [...], "refused": {code: reason}}."""
    from pynamodb.exceptions import PutError

    from chalicelib import db
    from chalicelib.models.currency import CURRENT, ExchangeRate

    now = clock.now_iso()
    today = clock.now().date().isoformat()
    in_force = current_rows()
    result: dict[str, Any] = {"updated": [], "unchanged": [], "refused": {}}
    if rate_date > today or _in_future(rate_at):
        result["refused"] = {code: "future_date" for code in CURRENCIES if code in rates}
        return result
    for code in CURRENCIES:
        if code not in rates:
            continue
        current = in_force.get(code)
        if (
            current is not None
            and current.rate_date >= rate_date
            and current.source == source
            and usable(current)
        ):
            result["unchanged"].append(code)
            continue
        reason = refusal(code, rates[code], current, source=source)
        if reason:
            result["refused"][code] = reason
            continue
        text = decimal_text(rates[code].quantize(RATE_PLACES, rounding=ROUND_HALF_UP))
        fields = {
            "reference_rate": text,
            "source": source,
            "rate_date": rate_date,
            "rate_at": rate_at,
            "fetched_at": now,
        }
        try:
            ExchangeRate(code, rate_date, **fields).save(condition=ExchangeRate.day.does_not_exist())
        except PutError as exc:
            if not db.lost_race(exc):
                raise  # the history row exists: written by an earlier or concurrent run
        # a row dated ahead of today (written before dates were checked) is replaced by any real one
        newer = (
            ExchangeRate.day.does_not_exist()
            | (ExchangeRate.rate_date < rate_date)
            | (ExchangeRate.rate_date > today)
        )
        if current is not None and current.source != source:
            newer = newer | (ExchangeRate.source != source)  # a real source replaces the demo seed
        try:
            ExchangeRate(code, CURRENT, **fields).save(condition=newer)
            result["updated"].append(code)
        except PutError as exc:
            if not db.lost_race(exc):
                raise
            result["unchanged"].append(code)  # a concurrent run stored this date (or a newer one) first
    return result
