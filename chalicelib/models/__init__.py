"""PynamoDB models, one small file per area. `all_models()` lists every table we own.

Each area module exposes MODELS: the model classes whose tables it owns (one per table; models
sharing a table list it once).
"""

from __future__ import annotations


def all_models() -> list[type]:
    """Every model with a table of its own; provisioning, infra and docs iterate this list."""
    from chalicelib.models import (
        catalog,
        claims,
        commerce,
        currency,
        jobs,
        messages,
        outbox,
        packages,
        photos,
        warehouse,
        withdrawals,
    )

    return [
        *catalog.MODELS,
        *commerce.MODELS,
        *photos.MODELS,
        *warehouse.MODELS,
        *jobs.MODELS,
        *packages.MODELS,
        *currency.MODELS,
        *outbox.MODELS,
        *withdrawals.MODELS,
        *messages.MODELS,
        *claims.MODELS,
    ]
