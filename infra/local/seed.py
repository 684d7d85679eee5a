"""Demo data for the local stack (`make run`): what a storefront developer sees on first start.

Local only (infra/local/ is not in the function zip). Idempotent: seeding again writes the same catalog
and leaves rates of the same day alone.
"""

from __future__ import annotations

from decimal import Decimal

from chalicelib.logs import get_logger

log = get_logger("demo")

# demo rates for the local stack (`make run`): units per 1 CNY, about those of late 2026
DEMO_RATES = {
    "USD": "0.1405",
    "EUR": "0.1212",
    "GBP": "0.1061",
    "AUD": "0.2145",
    "CAD": "0.1962",
    "JPY": "21.37",
    "KRW": "196.4",
    "SGD": "0.1823",
}


def seed_rates() -> dict:
    """Rates in force for the local stack, stamped now, so conversions work out of the box; the
    exchange_rates job replaces them with the configured source's."""
    from chalicelib import clock, currency

    now = clock.now()
    return currency.store(
        {code: Decimal(rate) for code, rate in DEMO_RATES.items()},
        source="demo",
        rate_date=now.date().isoformat(),
        rate_at=clock.iso(now),
    )


def seed(stack: dict) -> None:
    """Load every area's demo data into the freshly provisioned stack."""
    from chalicelib import clock
    from chalicelib.jobs import storage_sweep
    from infra.local import demo_catalog

    demo_catalog.seed(stack)
    storage_sweep.start_history(clock.now().date())
    seed_rates()  # rates in force, so ?currency= converts out of the box (docs/currencies.md)
    log.info("demo data seeded", extra={"users": [u["username"] for u in stack.get("users", [])]})
