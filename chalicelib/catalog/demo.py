"""The demo catalog loaded by `make run`."""

from __future__ import annotations


def seed(stack: dict) -> None:
    """Load the demo catalog (products, keyword index, images in the photo bucket)."""
