"""Calling a marketplace API without hanging a Lambda: timeouts, bounded retries, a circuit breaker.

Every marketplace call goes through `call()`:

- connect and read timeouts on every request (SOURCE_CONNECT_TIMEOUT_SECONDS, SOURCE_READ_TIMEOUT_SECONDS);
- at most SOURCE_MAX_ATTEMPTS attempts, and only on answers worth repeating: a timeout or dropped
  connection, HTTP 429 / 5xx, or a body the adapter classifies as throttled. Waits between attempts
  are exponential with full jitter (a random wait in [0, SOURCE_BACKOFF_BASE_MS x 2^attempt]), and
  the whole call (attempts and waits) stays within SOURCE_DEADLINE_SECONDS: no new attempt starts
  when the time left could not cover it;
- a circuit breaker per marketplace: after SOURCE_BREAKER_FAILURES calls in a row failed (every attempt
  used up), the marketplace is not called for SOURCE_BREAKER_OPEN_SECONDS; calls then fail at once.
  After that one call is let through (half-open): a success closes the breaker, a failure re-opens it.
  The breaker lives in the process (one per Lambda container): containers learn separately, which
  bounds the damage to one deadline per container per open period and needs no shared state.

Failures surface as `SourceUnavailable`, a 503 `source_unavailable` for the storefront.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from chalicelib import clock, config, xray
from chalicelib.errors import ApiError
from chalicelib.logs import get_logger

if TYPE_CHECKING:
    import requests  # imported by the first call: the demo catalog's cold start never loads it

log = get_logger("catalog.remote")

# what an adapter says of a parsed answer body: OK, THROTTLED (retry), FAILED (an outage-like failure,
# counted by the breaker), REFUSED (a definite refusal of this call: not retried, not counted)
OK, THROTTLED, FAILED, REFUSED = "ok", "throttled", "failed", "refused"


class SourceUnavailable(ApiError):
    """A marketplace API is down, throttling us, misconfigured or behind an open circuit breaker."""

    status = 503
    code = "source_unavailable"


def setting_float(name: str, default: float) -> float:
    try:
        value = float(config.get(name) or default)
    except ValueError:
        return default
    return value if value >= 0 else default


def setting_int(name: str, default: int) -> int:
    try:
        value = int(config.get(name) or default)
    except ValueError:
        return default
    return value if value >= 0 else default


@dataclass
class Breaker:
    marketplace: str
    failures: int = 0
    opened_at: float | None = None

    def allows(self) -> bool:
        if self.opened_at is None:
            return True
        return clock.now().timestamp() - self.opened_at >= setting_float("SOURCE_BREAKER_OPEN_SECONDS", 30)

    def succeeded(self) -> None:
        self.failures, self.opened_at = 0, None

    def failed(self) -> None:
        self.failures += 1
        if self.failures >= max(1, setting_int("SOURCE_BREAKER_FAILURES", 5)):
            if self.opened_at is None or self.allows():
                log.warning(
                    "circuit opened", extra={"marketplace": self.marketplace, "failures": self.failures}
                )
            self.opened_at = clock.now().timestamp()


_breakers: dict[str, Breaker] = {}
_lock = threading.Lock()
_session = threading.local()


def breaker(marketplace: str) -> Breaker:
    with _lock:
        return _breakers.setdefault(marketplace, Breaker(marketplace))


def reset() -> None:
    """Close every breaker (tests; a new container starts this way)."""
    with _lock:
        _breakers.clear()


def _http() -> requests.Session:
    import requests

    session = getattr(_session, "value", None)
    if session is None:
        session = _session.value = requests.Session()
    return session


def _backoff(attempt: int) -> float:
    base = setting_float("SOURCE_BACKOFF_BASE_MS", 200) / 1000
    return random.uniform(0, min(base * 2**attempt, 5.0))


MAX_PAGE_BYTES = 256 * 1024  # of a web page's body: a share link's landing page is a few KB


@dataclass(frozen=True)
class WebPage:
    status: int
    location: str | None
    text: str


def _web_page(response: requests.Response) -> WebPage:
    return WebPage(
        response.status_code,
        response.headers.get("Location"),
        response.content[:MAX_PAGE_BYTES].decode(response.encoding or "utf-8", errors="replace"),
    )


def call(
    marketplace: str,
    method: str,
    url: str,
    *,
    params: dict | None = None,
    data: dict | None = None,
    classify: Callable[[Any], str],
    page: bool = False,
) -> Any:
    """The parsed JSON answer of one marketplace request, retried and bounded as described above.

    `page=True` (a web page, such as a short share link's): redirects are not followed, and the answer
    given to `classify` and returned is a `Page` (status, Location header, the first MAX_PAGE_BYTES of
    the body as text) instead of parsed JSON.

    `classify(body)` says OK (return it: includes definite answers such as "no such item"),
    THROTTLED (retry), FAILED (no retry: bad credentials, a malformed request) or REFUSED (no retry,
    and the breaker is not told: one caller's bad item never closes the marketplace for everyone).
    """
    gate = breaker(marketplace)
    if not gate.allows():
        raise SourceUnavailable(
            f"The {marketplace} marketplace is not answering; try again in a minute.",
            code="source_unavailable",
        )
    timeouts = (
        setting_float("SOURCE_CONNECT_TIMEOUT_SECONDS", 2),
        setting_float("SOURCE_READ_TIMEOUT_SECONDS", 5),
    )
    attempts = max(1, setting_int("SOURCE_MAX_ATTEMPTS", 3))
    deadline = time.monotonic() + setting_float("SOURCE_DEADLINE_SECONDS", 10)
    reason = "no attempt"
    import requests

    for attempt in range(attempts):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        retry = True
        try:
            with xray.http_call(method, url) as traced:
                response = _http().request(
                    method,
                    url,
                    params=params,
                    data=data,
                    timeout=(min(timeouts[0], left), min(timeouts[1], left)),
                    allow_redirects=not page,
                )
                traced.set_status(response.status_code)
        except requests.Timeout:
            reason = "timed out"
        except requests.RequestException as exc:
            reason = f"connection failed ({type(exc).__name__})"
        else:
            if response.status_code == 429:
                reason = "HTTP 429 (throttled)"
            elif response.status_code >= 500:
                reason = f"HTTP {response.status_code}"
            else:
                try:
                    body = _web_page(response) if page else response.json()
                except ValueError:
                    body, verdict = None, FAILED
                else:
                    verdict = classify(body)
                if verdict == OK:
                    gate.succeeded()
                    return body
                if verdict == REFUSED:
                    log.info("marketplace refused the call", extra={"marketplace": marketplace})
                    raise SourceUnavailable(
                        f"The {marketplace} marketplace refused this request; try again later."
                    )
                reason = "throttled" if verdict == THROTTLED else f"refused (HTTP {response.status_code})"
                retry = verdict == THROTTLED
        if not retry or attempt == attempts - 1:
            break
        wait = _backoff(attempt)
        if time.monotonic() + wait >= deadline:
            break
        time.sleep(wait)
    gate.failed()
    log.warning("marketplace call failed", extra={"marketplace": marketplace, "reason": reason})
    raise SourceUnavailable(
        f"The {marketplace} marketplace did not answer ({reason}); try again in a minute."
    )


# --- mapping helpers shared by the adapters -------------------------------------------------------
# Every number a marketplace sends is bounded here: anything outside is malformed (None / the default),
# never an overflow, an "Infinity", or a price no one would pay; the adapters drop what cannot be used.
MAX_STOCK = 10_000_000  # sellers write 99999 or 9999999 for "plenty"; 1e20 is garbage
MAX_QUANTITY = 100_000  # a minimum order or a price range's start quantity
MAX_FREIGHT_FEN = 1_000_000  # ¥10,000 of domestic freight for one order
MAX_WEIGHT_G = 1_000_000  # one tonne per unit
MAX_PAGES = 1000


def max_price_fen() -> int:
    """The highest unit price an adapter accepts (SOURCE_MAX_PRICE_FEN, the business's; ¥100,000)."""
    return max(1, setting_int("SOURCE_MAX_PRICE_FEN", 10_000_000))


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def fen(value: Any, maximum: int = MAX_FREIGHT_FEN) -> int | None:
    """Integer fen from a marketplace's yuan amount ("12.50", 12.5, "12"); None when absent, malformed,
    negative or above `maximum` fen."""
    if value == "":
        return None
    amount = _decimal(value)
    if amount is None or amount < 0 or amount * 100 > maximum:
        return None
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def price_fen(value: Any) -> int | None:
    """A unit price in fen: more than 0 and at most max_price_fen() (a ¥0 SKU is no price), else None."""
    amount = fen(value, max_price_fen())
    return amount if amount else None


def whole(value: Any, default: int = 0, maximum: int = MAX_STOCK) -> int:
    """A non-negative integer from a number or numeric text (stock, quantities); `default` when it is
    malformed, not finite, fractional or above `maximum`. Negative counts as 0."""
    number = _decimal(value)
    if number is None or number != number.to_integral_value() or number > maximum:
        return default
    return max(0, int(number))


def grams_from_kg(value: Any) -> int:
    """Grams from a weight in kilograms (1688's product weight, Taobao's item_weight); 0 (unknown)
    when malformed or above MAX_WEIGHT_G."""
    kg = _decimal(value)
    if kg is None or kg <= 0 or kg * 1000 > MAX_WEIGHT_G:
        return 0
    return int((kg * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def absolute_url(url: Any) -> str | None:
    """Marketplace picture links come as //img.alicdn.com/...: https; anything but http(s) is dropped."""
    if not isinstance(url, str) or not url.strip():
        return None
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    return url if url.startswith(("https://", "http://")) else None
