"""Order charges: product + domestic shipping (per shop) + bank channel fee (per channel)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from decimal import Decimal

from chalicelib import money

# Realistic defaults (published fees: PayPal 3%-4.5% + about $0.30); override with PAYMENT_CHANNELS.
DEFAULT_CHANNELS = [
    {"channel": "balance", "name": "Wallet balance", "percent": "0", "fixed_fen": 0},
    {"channel": "alipay", "name": "Alipay", "percent": "1.0", "fixed_fen": 0},
    {"channel": "wechat_pay", "name": "WeChat Pay", "percent": "1.0", "fixed_fen": 0},
    {"channel": "card", "name": "Visa / Mastercard", "percent": "3.0", "fixed_fen": 150},
    {"channel": "paypal", "name": "PayPal", "percent": "4.4", "fixed_fen": 230},
]


@dataclass(frozen=True)
class Channel:
    channel: str
    name: str
    percent: Decimal
    fixed_fen: int

    @property
    def external(self) -> bool:
        return self.channel != "balance"

    def fee_fen(self, amount_fen: int) -> int:
        if amount_fen <= 0 or not self.external:
            return 0
        return money.fee(amount_fen, self.percent, self.fixed_fen)

    def as_json(self) -> dict:
        return {
            "channel": self.channel,
            "name": self.name,
            "percent": str(self.percent),
            "fixed_fen": self.fixed_fen,
            "external": self.external,
        }


def channels() -> dict[str, Channel]:
    raw = os.environ.get("PAYMENT_CHANNELS")
    table = json.loads(raw) if raw else DEFAULT_CHANNELS
    return {
        c["channel"]: Channel(c["channel"], c["name"], Decimal(str(c["percent"])), int(c["fixed_fen"]))
        for c in table
    }


@dataclass(frozen=True)
class Line:
    """One line to charge: a SKU's unit price × quantity, from a shop with its domestic shipping fee."""

    unit_price_fen: int
    quantity: int
    shop_id: str
    shop_shipping_fen: int


@dataclass(frozen=True)
class OrderCharges:
    product_fen: int
    domestic_shipping_fen: int
    bank_fee_fen: int
    total_fen: int

    def as_json(self) -> dict:
        return {
            "product_fen": self.product_fen,
            "domestic_shipping_fen": self.domestic_shipping_fen,
            "bank_fee_fen": self.bank_fee_fen,
            "total_fen": self.total_fen,
        }


def shipping_by_shop(lines: list[Line]) -> dict[str, int]:
    """Domestic shipping per shop: once per shop (the merchant ships one parcel to our warehouse), the
    highest fee among its lines."""
    per_shop: dict[str, int] = {}
    for line in lines:
        per_shop[line.shop_id] = max(per_shop.get(line.shop_id, 0), line.shop_shipping_fen)
    return per_shop


def order_charges(lines: list[Line], channel: Channel) -> OrderCharges:
    """Goods, domestic shipping once per shop (`shipping_by_shop`) and the channel's bank fee."""
    product = sum(line.unit_price_fen * line.quantity for line in lines)
    shipping = sum(shipping_by_shop(lines).values())
    bank_fee = channel.fee_fen(product + shipping)
    return OrderCharges(product, shipping, bank_fee, product + shipping + bank_fee)
