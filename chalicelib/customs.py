"""A package's customs declaration (issue 24, part 5): its lines, as sent or prefilled from the items,
checked against the destination's rules (chalicelib/rules/customs.py, configured in config.py).

Runs inside `packages.create`'s unit of work on what it already read (the items, the request's
currency): no I/O of its own, so a refused declaration writes nothing. A line's value may be given in
the customer's currency (`unit_value_minor`) and is converted to fen at the rate the request snapshots
(the same rate its answer shows); the declaration keeps that snapshot.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from chalicelib import config, currency
from chalicelib.errors import ValidationError
from chalicelib.items import plain
from chalicelib.models.commerce import Item
from chalicelib.rules import customs as rules

MAX_DESCRIPTION = 100  # characters of a prefilled description (a CN22 line is short)


class CustomsRefused(ValidationError):
    code = "customs_refused"


def current_rules() -> rules.Rules:
    return rules.Rules.from_json(config.customs_rules())


def _goods_value_fen(item: Item) -> int:
    purchase = plain(item.purchase) or {}
    return int(purchase.get("actual_unit_price_fen", item.unit_price_fen) or 0)


def _english(title: str) -> str:
    """A prefilled description: the item's title in printable ASCII (customs forms are read in English)."""
    text = " ".join("".join(c if " " <= c <= "~" else " " for c in title or "").split())
    return text[:MAX_DESCRIPTION] or "Goods"


def prefilled(items: list[Item]) -> list[rules.Line]:
    """One line per item: its title, quantity and the unit price paid for it, made in China."""
    return [
        rules.Line(
            description_en=_english(item.title),
            quantity=int(item.quantity or 1),
            unit_value_fen=_goods_value_fen(item),
            item_id=item.item_id,
        )
        for item in items
    ]


def _to_fen(minor: int, display: currency.Display) -> int:
    """The customer's minor units back to fen at the request's rate, rounded once, half-up."""
    exact = Decimal(minor) * 100 / (display.rate * (Decimal(10) ** display.minor_units))
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _line(n: int, sent: dict, item_ids: set[str]) -> rules.Line:
    fen, minor = sent.get("unit_value_fen"), sent.get("unit_value_minor")
    field = f"customs.lines[{n}]"
    if (fen is None) == (minor is None):
        raise _refused(f"{field}.unit_value_fen", "Give unit_value_fen or unit_value_minor, one of them.")
    if minor is not None:
        display = currency.current()
        if display is None:
            raise _refused(
                f"{field}.unit_value_minor",
                "unit_value_minor is in the customer's currency: ask for one (?currency= or the saved "
                "preference) with a current rate, or send unit_value_fen.",
            )
        fen = _to_fen(int(minor), display)
    if sent.get("item_id") is not None and sent["item_id"] not in item_ids:
        raise _refused(f"{field}.item_id", f"{sent['item_id']} is not an item of this package.")
    return rules.Line(
        description_en=sent["description_en"],
        quantity=int(sent["quantity"]),
        unit_value_fen=int(fen),
        hs_code=sent.get("hs_code"),
        origin=(sent.get("origin") or "CN").upper(),
        item_id=sent.get("item_id"),
    )


def _refused(field: str, message: str) -> CustomsRefused:
    return CustomsRefused(message, details=[{"field": field, "problem": message}])


def declaration(items: list[Item], country: str, sent: dict | None, declared_value_fen: int | None) -> dict:
    """The declaration as the package stores it (`rules.Declaration.as_json()` and the rate snapshot of
    values sent in the customer's currency), or a 400 `customs_refused` naming what its rules refuse."""
    sent = sent or {}
    item_ids = {i.item_id for i in items}
    if sent.get("lines"):
        lines = [_line(n, line, item_ids) for n, line in enumerate(sent["lines"])]
    else:
        lines = prefilled(items)
    total = sum(line.value_fen for line in lines)
    if declared_value_fen is not None and declared_value_fen != total:
        raise _refused(
            "declared_value_fen",
            f"declared_value_fen ({declared_value_fen} fen) is not the declaration lines' total ({total} "
            "fen): the declared value is the lines' total; send customs.lines with the values to declare.",
        )
    try:
        declared = rules.declare(
            country, lines, sent.get("recipient_tax_id"), sent.get("ioss_number"), current_rules()
        )
    except rules.CustomsRefusal as exc:
        raise _refused(exc.field, str(exc)) from None
    stored = declared.as_json()
    used_minor = any(line.get("unit_value_minor") is not None for line in sent.get("lines") or [])
    stored["fx"] = currency.snapshot() if used_minor else None
    # the sender printed on the form, as configured when the package was submitted
    stored["sender"] = dict(config.customs_rules().get("sender") or config.CUSTOMS_DEFAULTS["sender"])
    return stored
