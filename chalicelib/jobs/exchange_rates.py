"""The exchange-rate refresh (hourly): reads the configured source (CURRENCY_SOURCE, the ECB's daily
reference rates by default) and stores the rates of the supported currencies (docs/currencies.md).

Idempotent and cheap: one GET to the source, one BatchGetItem of the rates in force, and writes only
when the source published a newer date than the one in force (history rows are written once, with a
does-not-exist condition, the current row with a "newer date" condition), so running it again the same
day, or two runs at once, change nothing. The ECB publishes once per working day around 16:00 CET; an
hourly run picks that up within the hour and catches up after a failed run by itself.

A file dated ahead of today, a rate outside the plausible bounds, or one that moved more than
CURRENCY_MAX_DAILY_CHANGE_PERCENT since the rate in force is held back (not stored, counted in
`ExchangeRatesRefused`, alarmed) and the run does not count as completed: the rate in force keeps ageing.
A failing source stores nothing and the run does not count as completed (no JobCompleted heartbeat);
the rates in force keep ageing and become stale after CURRENCY_MAX_AGE_HOURS, when converted routes
answer 503 rate_unavailable. Every run reports which currencies are stale (`ExchangeRatesStale`).
"""

from __future__ import annotations

from chalicelib import clock, currency, metrics, rate_sources
from chalicelib.logs import get_logger

log = get_logger("jobs.exchange_rates")

JOB = "exchange_rates"


def stale_codes() -> list[str]:
    rows = currency.current_rows()
    return [code for code in currency.CURRENCIES if code not in rows or currency.is_stale(rows[code].rate_at)]


def run(context=None) -> dict:
    result: dict = {"job": JOB, "now": clock.now_iso(), "source": None, "finished": False}
    try:
        published = rate_sources.fetch()
    except rate_sources.SourceError as exc:
        log.error("exchange rates not refreshed", extra={"reason": str(exc)})
        result["error"] = str(exc)
    else:
        stored = currency.store(
            published.rates,
            source=published.source,
            rate_date=published.rate_date,
            rate_at=published.rate_at,
        )
        result.update(
            {
                "source": published.source,
                "rate_date": published.rate_date,
                "updated": stored["updated"],
                "unchanged": stored["unchanged"],
                "refused": stored["refused"],
                "missing": published.missing,
                "finished": not stored["refused"],
            }
        )
        for reason in stored["refused"].values():
            metrics.count("ExchangeRatesRefused", reason=reason)
        if stored["refused"]:
            log.error(
                "exchange rates held back", extra={"refused": stored["refused"], "date": published.rate_date}
            )
        if published.missing:
            log.warning("the source lacks supported currencies", extra={"missing": published.missing})
    result["stale"] = stale_codes()
    metrics.record("ExchangeRatesStale", len(result["stale"]))
    log.info("exchange rates run", extra=result)
    return result
