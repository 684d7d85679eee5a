"""The notices the seed asks us to show a customer (its wording, in plain English), and which apply to an
item now: order, inspection and storage answers carry them (`responses/items.py`), `GET /policies` lists
them all (chalicelib/policies.py). Pure: no I/O, cheap enough for every item answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib import lifecycle


@dataclass(frozen=True)
class Notice:
    key: str
    text: str


NOTICES = [
    Notice(
        "inspection_scope",
        "Inspection is of appearance only: significant damage, stains, model and version number; apparel "
        "is checked against your latest remark and the size on its label or tag. Electronics are never "
        "powered on: we send arrival photos for you to confirm. Discrepancies in colour, size error and "
        "performance are not within the inspection's scope: we record them, but they never fail an item.",
    ),
    Notice(
        "packing_difference",
        "When the packed weight and size cost more than you paid for the package, the difference is taken "
        "from your wallet; when your wallet is short, the package waits for you to pay it. When they cost "
        "less, the difference is refunded to your wallet.",
    ),
    Notice(
        "shelf_life",
        "Storage does not cover shelf life: perishable goods may expire while stored, at your risk.",
    ),
    Notice(
        "assumed_agreed",
        "For information we cannot confirm, such as goods without obvious damage or stains, we assume you "
        "have communicated and reached an agreement with the merchant; an item waiting for your answer "
        "after its inspection is taken as accepted when its feedback deadline passes.",
    ),
    Notice(
        "third_party",
        "We buy from third-party shops on your behalf; the goods, their descriptions and any intellectual "
        "property are the shop's responsibility, not ours.",
    ),
    Notice(
        "transport_conditions",
        "Goods that do not meet transport conditions (batteries, liquids, powders, magnets, blades...) are "
        "marked; only lines that accept them can carry them, or you may arrange a return with the merchant.",
    ),
]


NOTICE = {n.key: n for n in NOTICES}
# words in a title that suggest a shelf life (food, drink, cosmetics, medicine): the shelf-life notice
PERISHABLE_WORDS = (
    "food", "snack", "tea", "coffee", "candy", "chocolate", "biscuit", "cookie", "noodle", "sauce",
    "spice", "honey", "jerky", "fruit", "milk", "wine", "juice", "cosmetic", "cream", "lotion", "serum",
    "mask", "lipstick", "perfume", "vitamin", "supplement", "medicine", "零食", "茶", "食品",
)  # fmt: skip


def looks_perishable(title: str) -> bool:
    """A title that suggests a shelf life (an English or Chinese word of PERISHABLE_WORDS)."""
    words = set(re.findall(r"[a-z]+", title.lower()))
    return any(w in words or (w + "s") in words or (not w.isascii() and w in title) for w in PERISHABLE_WORDS)


def notices_for(item) -> list[Notice]:
    """The notices that apply to `item` (a commerce.Item) now, for the order, inspection and storage
    answers that show it: bought from a third-party shop; the inspection's scope once it is inspected;
    the "assume agreed" rule while it waits on the customer; the shelf-life exclusion for goods that
    look perishable; transport conditions for goods that cannot travel. Pure."""
    keys = []
    if item.source == lifecycle.ItemSource.ORDER:
        keys.append("third_party")
    if item.inspection is not None or item.status in lifecycle.AWAITING_FEEDBACK:
        keys.append("inspection_scope")
    if item.status in lifecycle.AWAITING_FEEDBACK:
        keys.append("assumed_agreed")
    if looks_perishable(item.title or ""):
        keys.append("shelf_life")
    if item.status == lifecycle.ItemStatus.NOT_TRANSPORTABLE:
        keys.append("transport_conditions")
    return [NOTICE[k] for k in keys]
