"""International shipping: lines, the package service fee, value-added services and the one price rule.

Everything here is pure (no I/O) and works in integer fen and grams. `price()` is the single pricing
function: it computes the quote before packing (items' weights and volumes summed) and the final charge
after packing (the measured package), so the two can never disagree on the rule.

Defaults follow published rates (volumetric divisors 5000/6000/8000, insurance 2-3 % of declared value,
packing services, restricted goods, a special line that accepts batteries). Each table can be replaced
by JSON in the environment: SHIPPING_LINES, PACKAGE_SERVICE_FEE, VALUE_ADDED_SERVICES.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from chalicelib import money

# Goods a line may refuse. Items carry them as catalog transport flags (`attributes.transport_flags`)
# or as hazards recorded by the inspection; `brand` marks branded goods some express couriers refuse.
RESTRICTED_GOODS = ("battery", "liquid", "powder", "magnet", "blade", "flammable", "brand", "other")
_EXPRESS_REFUSES = ["battery", "liquid", "powder", "magnet", "blade", "flammable", "brand", "other"]
_POSTAL_REFUSES = ["battery", "liquid", "powder", "magnet", "blade", "flammable", "other"]

_EU_CORE = ["AT", "BE", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "LU", "NL", "PL", "PT", "SE"]
_WIDE = sorted(
    {
        *_EU_CORE,
        *["CZ", "GR", "HU", "RO", "CH", "NO", "GB"],
        *["US", "CA", "MX", "BR", "CL"],
        *["AU", "NZ", "JP", "KR", "SG", "MY", "TH", "PH", "VN", "ID", "IN", "HK", "MO"],
        *["AE", "SA", "IL", "TR", "ZA"],
    }
)

# Rates in fen per first weight and per further step (CNY, 2025 retail levels of the agents' lines).
DEFAULT_LINES: list[dict] = [
    {
        "line_id": "ems",
        "name": "EMS",
        "carrier": "EMS",
        "countries": _WIDE,
        "first_weight_g": 500,
        "first_fee_fen": 18000,
        "step_weight_g": 500,
        "step_fee_fen": 4800,
        "volumetric_divisor": 6000,
        "max_weight_g": 30000,
        "restrictions": _POSTAL_REFUSES,
        "est_days": "7-15",
    },
    {
        "line_id": "china_post_sal",
        "name": "China Post SAL (economy air)",
        "carrier": "China Post",
        "countries": sorted(
            {*_EU_CORE, "GB", "CH", "NO", "US", "CA", "AU", "NZ", "JP", "KR", "SG", "MY", "TH", "IL"}
        ),
        "first_weight_g": 1000,
        "first_fee_fen": 9500,
        "step_weight_g": 1000,
        "step_fee_fen": 7500,
        "volumetric_divisor": 8000,
        "max_weight_g": 30000,
        "restrictions": _POSTAL_REFUSES,
        "est_days": "15-30",
    },
    {
        "line_id": "dhl_express",
        "name": "DHL Express Worldwide",
        "carrier": "DHL",
        "countries": _WIDE,
        "first_weight_g": 500,
        "first_fee_fen": 26000,
        "step_weight_g": 500,
        "step_fee_fen": 6800,
        "volumetric_divisor": 5000,
        "max_weight_g": 70000,
        "restrictions": _EXPRESS_REFUSES,
        "est_days": "3-6",
    },
    {
        "line_id": "fedex_ip",
        "name": "FedEx International Priority",
        "carrier": "FedEx",
        "countries": _WIDE,
        "first_weight_g": 500,
        "first_fee_fen": 24000,
        "step_weight_g": 500,
        "step_fee_fen": 6200,
        "volumetric_divisor": 5000,
        "max_weight_g": 68000,
        "restrictions": _EXPRESS_REFUSES,
        "est_days": "4-7",
    },
    {
        "line_id": "sf_international",
        "name": "SF International Economy",
        "carrier": "SF Express",
        "countries": sorted(
            {"US", "CA", "GB", "DE", "FR", "AU", "NZ", "JP", "KR", "SG", "MY", "TH", "HK", "MO"}
        ),
        "first_weight_g": 500,
        "first_fee_fen": 15000,
        "step_weight_g": 500,
        "step_fee_fen": 4500,
        "volumetric_divisor": 6000,
        "max_weight_g": 30000,
        "restrictions": _EXPRESS_REFUSES,
        "est_days": "6-12",
    },
    {
        "line_id": "special_battery_air",
        "name": "Special Line Air (batteries, electronics, magnets)",
        "carrier": "YunExpress",
        "countries": sorted({*_EU_CORE, "GB", "US", "CA", "AU", "NZ", "JP"}),
        "first_weight_g": 500,
        "first_fee_fen": 13000,
        "step_weight_g": 500,
        "step_fee_fen": 5500,
        "volumetric_divisor": 6000,
        "max_weight_g": 20000,
        "restrictions": ["liquid", "powder", "blade", "flammable", "brand", "other"],
        "est_days": "8-15",
    },
]

# The package service fee (handling and consolidation): ¥15 a package (about the $3 agents charge for
# a rehearsal/consolidation), ¥2 for each item consolidated beyond the first, plus an optional percent
# of the shipping fee (0 by default). Override with PACKAGE_SERVICE_FEE.
DEFAULT_SERVICE_FEE = {"package_fen": 1500, "per_extra_item_fen": 200, "percent_of_shipping": "0"}

# Optional value-added services. unit: "package" (fee_fen once), "item" (fee_fen per item) or
# "declared_value" (percent of the declared goods value plus fee_fen). Override with VALUE_ADDED_SERVICES.
DEFAULT_SERVICES: list[dict] = [
    {
        "service": "insurance",
        "name": "Shipping insurance (3% of the declared value)",
        "unit": "declared_value",
        "percent": "3",
        "fee_fen": 0,
        "work": False,  # a financial product: nothing for the packer to do
    },
    {
        "service": "reinforcement",
        "name": "Reinforced packing (corner guards, extra carton, bubble wrap)",
        "unit": "package",
        "fee_fen": 1500,
    },
    {
        "service": "remove_packaging",
        "name": "Remove original packaging to cut volume",
        "unit": "item",
        "fee_fen": 200,
    },
    {
        "service": "extra_photos",
        "name": "Three extra photos of every item before packing",
        "unit": "item",
        "fee_fen": 600,
    },
    {
        "service": "vacuum",
        "name": "Vacuum sealing (soft goods)",
        "unit": "package",
        "fee_fen": 1000,
    },
]


class RuleError(ValueError):
    """Input the rules refuse (unknown service, impossible shipment): a 400 for the client."""


def _positive(value, name: str) -> int:
    number = int(value)
    if number <= 0 or number != value:
        raise ValueError(f"{name} must be a positive integer")
    return number


@dataclass(frozen=True)
class Line:
    line_id: str
    name: str
    carrier: str
    countries: tuple[str, ...]
    first_weight_g: int
    first_fee_fen: int
    step_weight_g: int
    step_fee_fen: int
    volumetric_divisor: int
    max_weight_g: int
    restrictions: tuple[str, ...]
    est_days: str

    @classmethod
    def from_json(cls, data: dict) -> Line:
        return cls(
            line_id=str(data["line_id"]),
            name=str(data["name"]),
            carrier=str(data["carrier"]),
            countries=tuple(str(c).upper() for c in data.get("countries", ())),
            first_weight_g=_positive(data["first_weight_g"], "first_weight_g"),
            first_fee_fen=int(data["first_fee_fen"]),
            step_weight_g=_positive(data["step_weight_g"], "step_weight_g"),
            step_fee_fen=int(data["step_fee_fen"]),
            volumetric_divisor=_positive(data["volumetric_divisor"], "volumetric_divisor"),
            max_weight_g=_positive(data["max_weight_g"], "max_weight_g"),
            restrictions=tuple(str(r) for r in data.get("restrictions", ())),
            est_days=str(data.get("est_days", "")),
        )

    def serves(self, country: str) -> bool:
        return country.upper() in self.countries

    def as_json(self) -> dict:
        low, _, high = self.est_days.partition("-")
        return {
            "line_id": self.line_id,
            "name": self.name,
            "carrier": self.carrier,
            "first_weight_g": self.first_weight_g,
            "first_fee_fen": self.first_fee_fen,
            "step_weight_g": self.step_weight_g,
            "step_fee_fen": self.step_fee_fen,
            "volumetric_divisor": self.volumetric_divisor,
            "max_weight_g": self.max_weight_g,
            "restrictions": list(self.restrictions),
            "est_days": self.est_days,
            "est_days_min": int(low) if low.isdigit() else None,
            "est_days_max": int(high or low) if (high or low).isdigit() else None,
            "countries": list(self.countries),
        }

    def rates(self) -> dict:
        """What a package snapshots at submission so packing reprices with the agreed rates."""
        data = asdict(self)
        data["countries"] = list(self.countries)
        data["restrictions"] = list(self.restrictions)
        return data


@dataclass(frozen=True)
class ServiceFeeRule:
    package_fen: int
    per_extra_item_fen: int
    percent_of_shipping: Decimal

    @classmethod
    def from_json(cls, data: dict) -> ServiceFeeRule:
        rule = cls(
            int(data.get("package_fen", 0)),
            int(data.get("per_extra_item_fen", 0)),
            Decimal(str(data.get("percent_of_shipping", "0"))),
        )
        if rule.package_fen < 0 or rule.per_extra_item_fen < 0 or rule.percent_of_shipping < 0:
            raise ValueError("service fee parts must not be negative")
        return rule

    def fee_fen(self, shipping_fen: int, item_count: int) -> int:
        extra_items = max(0, item_count - 1)
        return money.fee(shipping_fen, self.percent_of_shipping, self.package_fen) + (
            self.per_extra_item_fen * extra_items
        )

    def as_json(self) -> dict:
        return {
            "package_fen": self.package_fen,
            "per_extra_item_fen": self.per_extra_item_fen,
            "percent_of_shipping": str(self.percent_of_shipping),
        }


@dataclass(frozen=True)
class Service:
    service: str
    name: str
    unit: str  # package | item | declared_value
    fee_fen: int = 0
    percent: Decimal = Decimal(0)
    work: bool = True  # the packer performs it: a work item ticked off before packing (service_work.py)

    @classmethod
    def from_json(cls, data: dict) -> Service:
        unit = str(data["unit"])
        if unit not in ("package", "item", "declared_value"):
            raise ValueError(f"unknown service unit {unit!r}")
        service = cls(
            str(data["service"]),
            str(data.get("name", data["service"])),
            unit,
            int(data.get("fee_fen", 0)),
            Decimal(str(data.get("percent", "0"))),
            # snapshots taken before `work` existed: a percentage of the value is insurance, not work
            bool(data.get("work", unit != "declared_value")),
        )
        if service.fee_fen < 0 or service.percent < 0:
            raise ValueError("service prices must not be negative")
        return service

    def fee(self, item_count: int, declared_value_fen: int) -> int:
        if self.unit == "package":
            return self.fee_fen
        if self.unit == "item":
            return self.fee_fen * item_count
        return money.fee(declared_value_fen, self.percent, self.fee_fen)

    def as_json(self) -> dict:
        return {
            "service": self.service,
            "name": self.name,
            "unit": self.unit,
            "fee_fen": self.fee_fen,
            "percent": str(self.percent),
            "work": self.work,
        }


def _table(name: str, default):
    raw = os.environ.get(name)
    return json.loads(raw) if raw else default


def lines() -> dict[str, Line]:
    """Every configured line by id (SHIPPING_LINES overrides the defaults)."""
    return {
        line.line_id: line for line in (Line.from_json(d) for d in _table("SHIPPING_LINES", DEFAULT_LINES))
    }


def service_fee_rule() -> ServiceFeeRule:
    return ServiceFeeRule.from_json(_table("PACKAGE_SERVICE_FEE", DEFAULT_SERVICE_FEE))


def services() -> dict[str, Service]:
    return {
        s.service: s for s in (Service.from_json(d) for d in _table("VALUE_ADDED_SERVICES", DEFAULT_SERVICES))
    }


def _positive_setting(name: str) -> int:
    from chalicelib import config

    raw = config.setting(name)
    return int(raw) if raw.isdigit() and int(raw) > 0 else int(config.BUSINESS_DEFAULTS[name])


def auto_confirm_days() -> int:
    """Days after shipping when an unconfirmed package of a line with no delivery estimate is taken as
    delivered (AUTO_CONFIRM_DAYS); lines with an estimate use `line_auto_confirm_days`."""
    return _positive_setting("AUTO_CONFIRM_DAYS")


def auto_confirm_margin_days() -> int:
    """Days past a line's longest delivery estimate before a package counts as delivered."""
    return _positive_setting("AUTO_CONFIRM_MARGIN_DAYS")


def longest_estimate_days(line: Line) -> int | None:
    """The upper end of the line's delivery estimate (`"15-30"` -> 30, `"7"` -> 7); None without one."""
    low, _, high = line.est_days.partition("-")
    top = (high or low).strip()
    return int(top) if top.isdigit() else None


def line_auto_confirm_days(line: Line) -> int:
    """Days after shipping when an unconfirmed package on `line` is taken as delivered: the line's longest
    delivery estimate plus AUTO_CONFIRM_MARGIN_DAYS, so a slow line is never confirmed while still in
    transit; AUTO_CONFIRM_DAYS for a line without an estimate."""
    longest = longest_estimate_days(line)
    return auto_confirm_days() if longest is None else longest + auto_confirm_margin_days()


# --- the price -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shipment:
    """What is priced: before packing the items' weights and volumes summed, after it the package."""

    weight_g: int
    volume_cm3: int
    item_count: int
    declared_value_fen: int


@dataclass(frozen=True)
class Price:
    actual_weight_g: int
    volumetric_weight_g: int
    chargeable_weight_g: int
    shipping_fen: int
    service_fee_fen: int
    services_fen: int
    service_lines: dict[str, int] = field(default_factory=dict)

    @property
    def total_fen(self) -> int:
        return self.shipping_fen + self.service_fee_fen + self.services_fen

    def as_json(self) -> dict:
        return {
            "actual_weight_g": self.actual_weight_g,
            "volumetric_weight_g": self.volumetric_weight_g,
            "chargeable_weight_g": self.chargeable_weight_g,
            "shipping_fen": self.shipping_fen,
            "service_fee_fen": self.service_fee_fen,
            "services_fen": self.services_fen,
            "services_breakdown": dict(self.service_lines),
            "total_fen": self.total_fen,
        }


def volumetric_weight_g(volume_cm3: int, divisor: int) -> int:
    """`l*w*h*1000 / divisor` grams, rounded up to a whole gram (carriers never round weight down)."""
    return -(-volume_cm3 * 1000 // divisor)


def chargeable_weight_g(weight_g: int, volume_cm3: int, divisor: int) -> int:
    return max(weight_g, volumetric_weight_g(volume_cm3, divisor))


def shipping_fee_fen(line: Line, chargeable_g: int) -> int:
    """first_fee + ceil(max(0, chargeable - first_weight) / step_weight) * step_fee."""
    steps = -(-max(0, chargeable_g - line.first_weight_g) // line.step_weight_g)
    return line.first_fee_fen + steps * line.step_fee_fen


def price(
    line: Line,
    shipment: Shipment,
    chosen: Iterable[str] = (),
    fee_rule: ServiceFeeRule | None = None,
    catalog: dict[str, Service] | None = None,
) -> Price:
    """The price of `shipment` on `line` with the chosen value-added services; all integers."""
    for name, value in asdict(shipment).items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise RuleError(f"{name} must be a non-negative integer")
    fee_rule = fee_rule or service_fee_rule()
    catalog = services() if catalog is None else catalog
    volumetric = volumetric_weight_g(shipment.volume_cm3, line.volumetric_divisor)
    chargeable = max(shipment.weight_g, volumetric)
    shipping = shipping_fee_fen(line, chargeable)
    service_lines: dict[str, int] = {}
    for name in chosen:
        if name not in catalog:
            raise RuleError(f"Unknown service {name!r}; one of: {', '.join(catalog)}.")
        if name in service_lines:
            raise RuleError(f"Service {name!r} is listed twice.")
        service_lines[name] = catalog[name].fee(shipment.item_count, shipment.declared_value_fen)
    return Price(
        actual_weight_g=shipment.weight_g,
        volumetric_weight_g=volumetric,
        chargeable_weight_g=chargeable,
        shipping_fen=shipping,
        service_fee_fen=fee_rule.fee_fen(shipping, shipment.item_count),
        services_fen=sum(service_lines.values()),
        service_lines=service_lines,
    )


# --- which lines may carry what -----------------------------------------------------------------------


def refusal(line: Line, country: str, weight_g: int, goods: Iterable[str]) -> str | None:
    """Why `line` cannot carry these goods to `country` (None when it can)."""
    if not line.serves(country):
        return f"{line.name} does not deliver to {country.upper()}."
    refused = sorted(set(goods) & set(line.restrictions))
    if refused:
        return f"{line.name} does not carry {', '.join(refused)}."
    if weight_g > line.max_weight_g:
        return f"{line.name} carries at most {line.max_weight_g} g; these goods weigh {weight_g} g."
    return None


def rates_snapshot(line: Line, chosen: Iterable[str]) -> dict:
    """The line, service fee rule and chosen services' prices in force at submission."""
    catalog = services()
    return {
        "line": line.rates(),
        "service_fee": service_fee_rule().as_json(),
        "services": {name: catalog[name].as_json() for name in chosen if name in catalog},
    }


def from_snapshot(rates: dict) -> tuple[Line, ServiceFeeRule, dict[str, Service]]:
    return (
        Line.from_json(rates["line"]),
        ServiceFeeRule.from_json(rates["service_fee"]),
        {name: Service.from_json(data) for name, data in rates["services"].items()},
    )


# --- tracking links ---------------------------------------------------------------------------------------

# carrier (lower case, letters and digits only; matched as a prefix) -> tracking page; override with
# TRACKING_URLS. Carriers not listed get the universal 17TRACK page.
DEFAULT_TRACKING_URLS = {
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={tracking_no}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={tracking_no}",
    "ups": "https://www.ups.com/track?tracknum={tracking_no}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={tracking_no}",
    "sf": "https://htm.sf-express.com/hk/en/dynamic_function/waybill/#search/bill-number/{tracking_no}",
    "yunexpress": "https://www.yuntrack.com/parcelTracking?id={tracking_no}",
}
UNIVERSAL_TRACKING_URL = "https://t.17track.net/en#nums={tracking_no}"


def tracking_url(carrier: str, tracking_no: str) -> str:
    """The public tracking page of `tracking_no` at `carrier` (EMS and China Post: 17TRACK)."""
    from urllib.parse import quote

    key = "".join(ch for ch in carrier.lower() if ch.isalnum())
    table = _table("TRACKING_URLS", DEFAULT_TRACKING_URLS)
    template = next(
        (url for name, url in sorted(table.items(), key=lambda kv: -len(kv[0])) if key.startswith(name)),
        UNIVERSAL_TRACKING_URL,
    )
    return template.format(tracking_no=quote(tracking_no, safe=""))
