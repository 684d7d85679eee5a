"""Customs declaration rules by destination (issue 24, part 5): pure code, integers in fen.

A package's declaration is one line per kind of goods (`description_en`, `quantity`, `unit_value_fen`,
`hs_code`?, `origin`); its total is the declared value. The destination's rules are a table the
business configures (`config.customs_rules()`, JSON in CUSTOMS_RULES): a recipient tax id where a
country requires one, an IOSS number for EU parcels of low value, and the UPU value limit that picks the
CN22 or the CN23 form. Formats are checked where they are well defined. Sources (looked up, not from
memory; docs/customs.md has the links):

- CPF (Brazil): 11 digits, the last two check digits mod 11 over weights 10..2 and 11..2 (Receita
  Federal's rule as python-stdnum `stdnum/br/cpf.py` and poliquin/brazilnum implement it; 968.811.342-58
  valid, 327.861.067-97 not, per brazilnum's README). A number of one repeated digit passes the sums and
  is refused.
- PCCC (Korea): "P" and 12 digits (e.g. P123123123123), Korea Customs Service via FedEx's 2015 notice
  and DHL Express's South Korea page (required on B2C/C2C shipments since 2019).
- IOSS: "IM" and 10 digits (e.g. IM0123456789), for EU consignments of an intrinsic value up to
  EUR 150; one IOSS number per shipment (Agencia Tributaria's manual for low value shipments, ED 13 16).
- CN22 up to 300 SDR, CN23 above (UPU Convention forms; dutiable.io and postal operators' guides).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# the EU-27: IOSS covers imports into any member state
EU = (
    *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"),
    *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
)

_CPF = re.compile(r"^\d{3}\.?\d{3}\.?\d{3}-?\d{2}$")
_PCCC = re.compile(r"^P\d{12}$")
_IOSS = re.compile(r"^IM\d{10}$")
HS_CODE = r"^\d{6}(\d{2}){0,2}$"  # 6 digits (the Harmonized System), 8 or 10 with national subheadings


class CustomsRefusal(ValueError):
    """What the destination's customs rules refuse: a 400 naming the field and the rule."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def valid_cpf(raw: str) -> bool:
    """A Brazilian CPF with both check digits right (formatted `000.000.000-00` or bare digits)."""
    if not _CPF.match(raw):
        return False
    digits = [int(c) for c in raw if c.isdigit()]
    if len(set(digits)) == 1:
        return False
    for n in (9, 10):
        total = sum(d * w for d, w in zip(digits[:n], range(n + 1, 1, -1), strict=True))
        if (total * 10 % 11) % 10 != digits[n]:
            return False
    return True


def valid_pccc(raw: str) -> bool:
    return bool(_PCCC.match(raw))


def valid_ioss(raw: str) -> bool:
    return bool(_IOSS.match(raw))


TAX_IDS = {
    "cpf": ("a CPF (11 digits, e.g. 968.811.342-58)", valid_cpf),
    "pccc": ("a Personal Customs Clearance Code (P and 12 digits, e.g. P123123123123)", valid_pccc),
}


@dataclass(frozen=True)
class Line:
    description_en: str
    quantity: int
    unit_value_fen: int
    hs_code: str | None = None
    origin: str = "CN"
    item_id: str | None = None

    @property
    def value_fen(self) -> int:
        return self.unit_value_fen * self.quantity

    def as_json(self) -> dict:
        return {
            "description_en": self.description_en,
            "quantity": self.quantity,
            "unit_value_fen": self.unit_value_fen,
            "value_fen": self.value_fen,
            "hs_code": self.hs_code,
            "origin": self.origin,
            "item_id": self.item_id,
        }


@dataclass(frozen=True)
class Rules:
    """The destination rules as the business configured them."""

    tax_ids: dict[str, str]  # country -> kind of recipient tax id required (cpf, pccc)
    ioss_countries: tuple[str, ...]
    ioss_max_fen: int  # EUR 150 in fen at the configured rate
    ioss_number: str  # the business's own IOSS registration ("" when it has none)
    cn22_max_fen: int  # 300 SDR in fen

    @classmethod
    def from_json(cls, data: dict) -> Rules:
        return cls(
            tax_ids={str(k).upper(): str(v) for k, v in (data.get("recipient_tax_id") or {}).items()},
            ioss_countries=tuple(str(c).upper() for c in data.get("ioss_countries", EU)),
            ioss_max_fen=int(data.get("ioss_max_value_fen", 0)),
            ioss_number=str(data.get("ioss_number") or ""),
            cn22_max_fen=int(data["cn22_max_value_fen"]),
        )


@dataclass(frozen=True)
class Declaration:
    lines: tuple[Line, ...]
    recipient_tax_id: str | None
    ioss_number: str | None
    form: str  # CN22 | CN23

    @property
    def total_fen(self) -> int:
        return sum(line.value_fen for line in self.lines)

    def as_json(self) -> dict:
        return {
            "lines": [line.as_json() for line in self.lines],
            "total_fen": self.total_fen,
            "recipient_tax_id": self.recipient_tax_id,
            "ioss_number": self.ioss_number,
            "form": self.form,
        }


def form_for(total_fen: int, rules: Rules) -> str:
    """CN22 up to the UPU limit (300 SDR), CN23 above."""
    return "CN22" if total_fen <= rules.cn22_max_fen else "CN23"


def declare(
    country: str, lines: list[Line], recipient_tax_id: str | None, ioss_number: str | None, rules: Rules
) -> Declaration:
    """The declaration of these lines to `country`, or CustomsRefusal for what its rules refuse."""
    country = country.upper()
    if not lines:
        raise CustomsRefusal("customs.lines", "A customs declaration needs at least one line.")
    for n, line in enumerate(lines):
        if line.quantity < 1 or line.unit_value_fen < 0:
            raise CustomsRefusal(f"customs.lines[{n}]", "A line needs a quantity of 1 or more and a value.")
    total = sum(line.value_fen for line in lines)
    kind = rules.tax_ids.get(country)
    tax_id = (recipient_tax_id or "").strip() or None
    if kind:
        what, valid = TAX_IDS[kind]
        if tax_id is None:
            raise CustomsRefusal(
                "customs.recipient_tax_id", f"Customs in {country} require the recipient's {what}."
            )
        if not valid(tax_id):
            raise CustomsRefusal("customs.recipient_tax_id", f"{tax_id!r} is not {what}.")
    ioss = (ioss_number or "").strip().upper() or None
    if ioss is not None and not valid_ioss(ioss):
        raise CustomsRefusal("customs.ioss_number", "An IOSS number is IM and 10 digits (IM0123456789).")
    limit = f"EUR 150 (¥{rules.ioss_max_fen / 100:,.2f})"
    if country in rules.ioss_countries and total <= rules.ioss_max_fen:
        ioss = ioss or rules.ioss_number or None
        if ioss is None:
            raise CustomsRefusal(
                "customs.ioss_number",
                f"A parcel to {country} worth up to {limit} is declared under IOSS: give the IOSS number "
                "its VAT was paid under.",
            )
    elif ioss is not None:
        raise CustomsRefusal(
            "customs.ioss_number", f"IOSS covers parcels to the EU worth up to {limit}, not this one."
        )
    return Declaration(tuple(lines), tax_id, ioss, form_for(total, rules))
