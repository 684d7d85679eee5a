"""Responses of the staff previews: what recording a purchase or packing a package would settle now.

The decision is `chalicelib.rules.settlement.decide`, the one rule purchasing and packing apply when
they commit; the console shows these answers instead of computing them itself.
"""

from __future__ import annotations

from typing import Literal, Self

from chalicelib.responses.base import Out
from chalicelib.responses.packages import _PRICE_EXAMPLE, PackagePrice
from chalicelib.rules import settlement as rule
from chalicelib.rules.settlement import Settlement as S
from chalicelib.typed import ConfigDict, Field

# what the rule decides; `declined` is the customer's later answer, never a decision
Decided = Literal[
    S.NONE.value, S.CHARGED.value, S.REFUNDED.value, S.AWAITING_CONFIRMATION.value, S.AWAITING_PAYMENT.value
]

_DECISION_EXAMPLE = {
    "difference_fen": 600,
    "consent_threshold_fen": 890,
    "settlement": S.CHARGED.value,
    "charge_fen": 600,
    "refund_fen": 0,
    "due_fen": 0,
}


class SettlementDecision(Out):
    """How a difference between what was paid and what is owed settles (if committed now)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DECISION_EXAMPLE]})

    difference_fen: int = Field(description="Owed minus paid, in fen: negative when the customer overpaid.")
    consent_threshold_fen: int | None = Field(
        description="The largest charge made without asking the customer; null when none is asked (packing)."
    )
    settlement: Decided = Field(
        description="none; charged from the wallet; refunded to it; awaiting_confirmation (over the consent "
        "threshold: the customer pays or declines); awaiting_payment (the wallet is short)."
    )
    charge_fen: int = Field(ge=0, description="Charged from the customer's wallet now.")
    refund_fen: int = Field(ge=0, description="Refunded to the customer's wallet now.")
    due_fen: int = Field(ge=0, description="Left for the customer to pay.")

    @classmethod
    def of(cls, difference: rule.Difference, decision: rule.Decision) -> Self:
        return cls.build(
            difference_fen=difference.amount_fen,
            consent_threshold_fen=difference.consent_threshold_fen,
            settlement=decision.settlement.value,
            charge_fen=decision.charge_fen,
            refund_fen=decision.refund_fen,
            due_fen=decision.due_fen,
        )


class PurchasePreview(Out):
    """What recording the purchase at this actual unit price would settle now; nothing is recorded."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": "itm_01JD3Q8Y6Z5N7B2K4M9P0R1S2T",
                    "quantity": 2,
                    "listed_unit_price_fen": 8900,
                    "actual_unit_price_fen": 9200,
                    "quantity_purchased": 2,
                    "short_refund_fen": 0,
                    "price_difference_fen": 600,
                    "shipping_difference_fen": 0,
                    "decision": _DECISION_EXAMPLE,
                }
            ]
        }
    )

    item_id: str
    quantity: int
    listed_unit_price_fen: int = Field(description="The unit price the customer paid.")
    actual_unit_price_fen: int = Field(description="As sent: what the shop charges per unit.")
    quantity_purchased: int = Field(description="What the shop sells (as sent, else the quantity ordered).")
    short_refund_fen: int = Field(ge=0, description="The units the shop does not sell, refunded now.")
    price_difference_fen: int = Field(description="(actual - listed unit price) x quantity_purchased.")
    shipping_difference_fen: int = Field(
        description="The shop's actual freight minus what is left paid for its shipping (0 when not sent)."
    )
    decision: SettlementDecision = Field(
        description="How the price and shipping differences together settle now."
    )


class PackPreview(Out):
    """What packing at this weight and size would charge and settle now; nothing is recorded."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "package_id": "pkg_01JD3Q8Y6Z5N7B2K4M9P0R1S2T",
                    "price": _PRICE_EXAMPLE,
                    "held_fen": 29000,
                    "decision": {
                        "difference_fen": 1074,
                        "consent_threshold_fen": None,
                        "settlement": S.CHARGED.value,
                        "charge_fen": 1074,
                        "refund_fen": 0,
                        "due_fen": 0,
                    },
                    "rehearsal": False,
                }
            ]
        }
    )

    package_id: str
    price: PackagePrice = Field(description="The final charge by the rates agreed at submission.")
    held_fen: int = Field(description="What the package holds paid: paid minus refunded.")
    decision: SettlementDecision
    rehearsal: bool = Field(
        description="The customer ordered a rehearsal: packing moves no money, the package waits for the "
        "customer to confirm the exact final charge (decision: awaiting_confirmation).",
    )
