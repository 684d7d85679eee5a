"""PynamoDB models, one small file per item type. `all_models()` lists every table we own."""

from __future__ import annotations


def all_models() -> list[type]:
    """Every model with a table of its own; provisioning, infra and docs iterate this list."""
    return []
