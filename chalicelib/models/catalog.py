"""Catalog tables (products, keyword index, ...)."""

from __future__ import annotations

MODELS: list[type] = []
