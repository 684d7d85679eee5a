"""Orders, items, carts, wallet ledger, payments, idempotency records."""

from __future__ import annotations

MODELS: list[type] = []
