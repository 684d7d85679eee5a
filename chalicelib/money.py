"""Money is integer fen. Percentages are Decimal and rounded once, half-up, to the fen."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def percent_of(amount_fen: int, percent: Decimal | str | int) -> int:
    """`percent`% of `amount_fen`, rounded half-up to a whole fen (the one rounding rule)."""
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool):
        raise TypeError("amount_fen must be an int")
    exact = Decimal(amount_fen) * Decimal(str(percent)) / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fee(amount_fen: int, percent: Decimal | str | int, fixed_fen: int = 0) -> int:
    """A channel or service fee: a percentage of the amount plus a fixed part."""
    return percent_of(amount_fen, percent) + int(fixed_fen)


def format_cny(amount_fen: int) -> str:
    """Human form for emails: 12345 -> '¥123.45'."""
    sign = "-" if amount_fen < 0 else ""
    whole, fen = divmod(abs(amount_fen), 100)
    return f"{sign}¥{whole:,}.{fen:02d}"
