"""Catalog: search by keyword, pasted link or image; product detail."""

from __future__ import annotations

from chalice import Blueprint

bp = Blueprint(__name__)
