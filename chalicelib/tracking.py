"""Domestic tracking numbers as staff scan them and customers type them: one normal form."""

from __future__ import annotations


def normalise_tracking(tracking_no: str) -> str:
    return "".join(tracking_no.split()).upper()
