"""Demo data for the local stack (`make run`): what a storefront developer sees on first start."""

from __future__ import annotations

from chalicelib.logs import get_logger

log = get_logger("demo")


def seed(stack: dict) -> None:
    """Load every area's demo data into the freshly provisioned stack."""
    from chalicelib import clock, currency
    from chalicelib.catalog import demo as catalog_demo
    from chalicelib.jobs import storage_sweep

    catalog_demo.seed(stack)
    storage_sweep.start_history(clock.now().date())
    currency.seed_demo()  # rates in force, so ?currency= converts out of the box (docs/currencies.md)
    log.info("demo data seeded", extra={"users": [u["username"] for u in stack.get("users", [])]})
