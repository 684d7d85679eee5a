"""Responses of the public shipping catalog: lines, value-added services, the package service fee."""

from __future__ import annotations

from typing import Literal

from chalicelib.responses.base import Fen, Out
from chalicelib.typed import ConfigDict, Field


class ShippingLine(Out):
    """An international shipping line and its rate card (grams and fen)."""

    line_id: str
    name: str
    carrier: str
    first_weight_g: int = Field(description="Weight covered by the first fee.")
    first_fee_fen: Fen
    step_weight_g: int = Field(description="Each further step of chargeable weight.")
    step_fee_fen: Fen
    volumetric_divisor: int = Field(description="Volumetric weight = l*w*h (cm) * 1000 / divisor grams.")
    max_weight_g: int
    restrictions: list[str] = Field(description="Goods the line refuses (battery, liquid, brand...).")
    est_days: str = Field(description='Estimated transit days, e.g. "7-15".')
    est_days_min: int | None
    est_days_max: int | None
    countries: list[str] = Field(description="ISO 3166-1 alpha-2 destinations it serves.")


_LINE_EXAMPLE = {
    "line_id": "ems",
    "name": "EMS",
    "carrier": "EMS",
    "first_weight_g": 500,
    "first_fee_fen": 18000,
    "step_weight_g": 500,
    "step_fee_fen": 4800,
    "volumetric_divisor": 6000,
    "max_weight_g": 30000,
    "restrictions": ["battery", "liquid", "powder", "magnet", "blade", "flammable", "other"],
    "est_days": "7-15",
    "est_days_min": 7,
    "est_days_max": 15,
    "countries": ["AU", "DE", "FR", "GB", "JP", "US"],
}


class ShippingLinePage(Out):
    """Every shipping line (or those serving `?country=`), in one page."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_LINE_EXAMPLE], "next_cursor": None}]}
    )

    items: list[ShippingLine]
    next_cursor: str | None


class PackageService(Out):
    """A value-added service a package may ask for, and its price."""

    service: str = Field(description="The name to send in a package's `services`.")
    name: str
    unit: Literal["package", "item", "declared_value"] = Field(
        description="package: fee_fen once; item: fee_fen per item; declared_value: percent of the "
        "declared goods value plus fee_fen."
    )
    fee_fen: Fen
    percent: str = Field(description='A decimal percentage as a string, e.g. "3".')
    work: bool = Field(
        description="The warehouse performs it: the packer ticks it off (or refunds it) before packing."
    )


class PackageServiceFee(Out):
    """The package service fee (handling and consolidation) charged on every package."""

    package_fen: Fen
    per_extra_item_fen: Fen = Field(description="For each item consolidated beyond the first.")
    percent_of_shipping: str = Field(description='A decimal percentage of the shipping fee, e.g. "0".')


class PackageServiceCatalog(Out):
    """Value-added services, the package service fee rule and the auto-confirm period."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "services": [
                        {
                            "service": "insurance",
                            "name": "Shipping insurance (3% of the declared value)",
                            "unit": "declared_value",
                            "fee_fen": 0,
                            "percent": "3",
                            "work": False,
                        },
                        {
                            "service": "reinforcement",
                            "name": "Reinforced packing (corner guards, extra carton, bubble wrap)",
                            "unit": "package",
                            "fee_fen": 1500,
                            "percent": "0",
                            "work": True,
                        },
                    ],
                    "service_fee": {
                        "package_fen": 1500,
                        "per_extra_item_fen": 200,
                        "percent_of_shipping": "0",
                    },
                    "auto_confirm_days": 20,
                    "auto_confirm_margin_days": 5,
                }
            ]
        }
    )

    services: list[PackageService]
    service_fee: PackageServiceFee
    auto_confirm_days: int = Field(
        description="Days after shipping when a package of a line without a delivery estimate counts as "
        "delivered."
    )
    auto_confirm_margin_days: int = Field(
        description="A package counts as delivered this many days after its line's longest delivery "
        "estimate (`est_days`) has passed since shipping, unless the customer confirms it first."
    )
