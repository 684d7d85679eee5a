"""The business's rules as a customer or a storefront can read them: each value in force, read from the
one place the code takes it from (`config.py`'s business settings, the rule modules' constants and
tables), with its sentence in plain English; and the notices the seed asks us to show.

`rules()` is what `GET /policies` answers and what docs/policies.md is generated from (`python -m
chalicelib.policies`, part of `make docs`; tests/unit/test_policies.py fails when the document is stale).
Pure reads of the environment and constants: no AWS call, cheap to serve.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib import config, money
from chalicelib.orders import ESTIMATES, REVIEW_WORKING_HOURS
from chalicelib.rules import charges, shipping
from chalicelib.rules import storage as storage_rules
from chalicelib.rules.notices import NOTICES, Notice, notices_for  # noqa: F401 - the notices GET /policies lists
from chalicelib.storage import EXTENSION_DAYS as STORAGE_EXTENSION_DAYS

MERCHANT_SHIPS_IN_DAYS = ESTIMATES["merchant_ships_in_days"]
DOMESTIC_TRANSIT_DAYS = ESTIMATES["domestic_transit_days"]


@dataclass(frozen=True)
class Rule:
    key: str
    value: int | str
    unit: str
    text: str


def _days(raw: str) -> list[int]:
    return sorted({int(x) for x in raw.split(",") if x.strip()}, reverse=True)


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def rules() -> list[Rule]:
    """Every business rule with the value in force (the environment's, else the default)."""
    cny = money.format_cny
    storage_days = storage_rules.STORAGE_DAYS
    reminders = _days(config.setting("REMINDER_DAYS"))
    percent = config.get_decimal("PRICE_DIFFERENCE_CONFIRM_PERCENT")
    cap = config.get_int("PRICE_DIFFERENCE_CONFIRM_FEN")
    fee = shipping.service_fee_rule()
    found = [
        Rule(
            "review_working_hours",
            REVIEW_WORKING_HOURS,
            "working hours",
            f"A paid order is reviewed within {REVIEW_WORKING_HOURS} working hours (09:00-18:00 Beijing "
            "time, Monday to Friday, public holidays excluded).",
        ),
        Rule(
            "merchant_ships_in_days",
            MERCHANT_SHIPS_IN_DAYS,
            "days",
            f"Merchants usually ship within {MERCHANT_SHIPS_IN_DAYS} days of our purchase (an estimate).",
        ),
        Rule(
            "domestic_transit_days",
            DOMESTIC_TRANSIT_DAYS,
            "days",
            f"Domestic delivery to our warehouse usually takes {DOMESTIC_TRANSIT_DAYS} days (an estimate).",
        ),
        Rule(
            "price_difference_consent_percent",
            str(percent),
            "percent",
            f"When the shop charges more than the listed price, the difference is taken from your wallet "
            f"without asking up to the lower of {percent} % of what you paid for the goods and "
            f"{cny(cap)}; above that, or when your wallet is short, we ask you to pay or decline it "
            "(declining cancels the item and refunds it).",
        ),
        Rule(
            "price_difference_consent_fen",
            cap,
            "fen",
            f"The most a higher purchase price is charged without asking: {cny(cap)}.",
        ),
        Rule(
            "storage_days",
            storage_days,
            "days",
            f"Goods are stored free for {storage_days} days from the In Warehouse status. Goods not "
            "submitted in a package by then are treated as abandoned and destroyed, without further notice.",
        ),
        Rule(
            "reminder_days",
            ",".join(str(d) for d in reminders),
            "days before the deadline",
            f"We email a reminder {_and([str(d) for d in reminders])} days before the storage deadline.",
        ),
        Rule(
            "storage_extension_fen",
            config.get_int("STORAGE_EXTENSION_FEN"),
            "fen per item per 30 days",
            f"Storage can be extended by {STORAGE_EXTENSION_DAYS} days at a time for "
            f"{cny(config.get_int('STORAGE_EXTENSION_FEN'))} per item.",
        ),
        Rule(
            "max_storage_days",
            config.get_int("MAX_STORAGE_DAYS"),
            "days",
            f"With extensions, goods are stored at most {config.get_int('MAX_STORAGE_DAYS')} days.",
        ),
        Rule(
            "exceptional_parcel_days",
            storage_rules.EXCEPTIONAL_PARCEL_DAYS,
            "days",
            f"A parcel that arrives without logistics information matching a customer is kept "
            f"{storage_rules.EXCEPTIONAL_PARCEL_DAYS} days for its owner to be identified, then destroyed; "
            "nobody is reminded, since nobody is known.",
        ),
        Rule(
            "package_payment_days",
            config.get_int("PACKAGE_PAYMENT_DAYS"),
            "days",
            f"A submitted package must be paid within {config.get_int('PACKAGE_PAYMENT_DAYS')} days; after "
            "that it expires and its items go back to storage.",
        ),
        *_packing_rules(),
        Rule(
            "auto_confirm_days",
            shipping.auto_confirm_days(),
            "days",
            "A shipped package you have not confirmed is taken as delivered once its line's longest "
            f"delivery estimate plus {shipping.auto_confirm_margin_days()} days has passed since shipping "
            f"({shipping.auto_confirm_days()} days for a line without an estimate).",
        ),
        Rule(
            "message_max_chars",
            config.get_int("MESSAGE_MAX_CHARS"),
            "characters",
            f"A message to us about an order or a package is plain text of at most "
            f"{config.get_int('MESSAGE_MAX_CHARS')} characters.",
        ),
        Rule(
            "message_email_batch_minutes",
            config.get_int("MESSAGE_EMAIL_BATCH_MINUTES"),
            "minutes",
            f"Our replies to your messages are emailed to you "
            f"{config.get_int('MESSAGE_EMAIL_BATCH_MINUTES')} minutes after the first one, together with any "
            "others written meanwhile.",
        ),
        Rule(
            "package_service_fee_fen",
            fee.package_fen,
            "fen per package",
            f"Packing and consolidation cost {cny(fee.package_fen)} a package, plus "
            f"{cny(fee.per_extra_item_fen)} for each item beyond the first"
            + (
                f", plus {fee.percent_of_shipping} % of the shipping fee." if fee.percent_of_shipping else "."
            ),
        ),
        Rule(
            "reprice_tolerance_percent",
            str(config.get_decimal("REPRICE_TOLERANCE_PERCENT")),
            "percent",
            f"When a shop's price moves by at most {config.get_decimal('REPRICE_TOLERANCE_PERCENT')} % "
            "between your cart and your order, the order takes the new price and shows it; a larger move "
            "asks you to accept the new price first.",
        ),
        Rule(
            "currency_margin_percent",
            str(config.get_decimal("CURRENCY_MARGIN_PERCENT")),
            "percent",
            f"Prices in your currency use the European Central Bank's daily reference rate plus a "
            f"{config.get_decimal('CURRENCY_MARGIN_PERCENT')} % margin; you always pay in CNY.",
        ),
        Rule(
            "feedback_days",
            config.get_int("FEEDBACK_DAYS"),
            "days",
            "When an inspection finds an issue, or electronics wait for your confirmation from their "
            f"arrival photos, you have {config.get_int('FEEDBACK_DAYS')} days to accept, confirm or open an "
            "after-sales case; with no answer by then we assume you have reached an agreement with the "
            "merchant, and the item is stored as accepted. Its storage period starts then.",
        ),
        Rule(
            "feedback_reminder_days",
            config.get_int("FEEDBACK_REMINDER_DAYS"),
            "days before the feedback deadline",
            f"We email a reminder {config.get_int('FEEDBACK_REMINDER_DAYS')} days before that feedback "
            "deadline.",
        ),
        Rule(
            "forwarding_max_open",
            config.get_int("FORWARDING_MAX_OPEN_PER_CUSTOMER"),
            "declarations",
            f"You may have at most {config.get_int('FORWARDING_MAX_OPEN_PER_CUSTOMER')} forwarding "
            "declarations open at a time.",
        ),
    ]
    found += _replacement_rules()
    found += after_delivery_rules()
    for channel in charges.channels().values():
        if not channel.external:
            continue
        found.append(
            Rule(
                f"bank_fee_{channel.channel}",
                f"{channel.percent}% + {channel.fixed_fen}",
                "percent + fen",
                f"Paying by {channel.name} adds the provider's fee: {channel.percent} % of the amount plus "
                f"{cny(channel.fixed_fen)}. Paying from your wallet adds nothing.",
            )
        )
    for service in shipping.services().values():
        amount = f"{service.percent} % of the declared value" if service.unit == "declared_value" else ""
        fixed = cny(service.fee_fen) + {"package": " a package", "item": " an item"}.get(service.unit, "")
        price = _and([x for x in (amount, fixed if service.fee_fen or not amount else "") if x])
        found.append(
            Rule(
                f"service_{service.service}",
                service.fee_fen if service.unit != "declared_value" else f"{service.percent}%",
                {"package": "fen per package", "item": "fen per item"}.get(service.unit, "percent"),
                f"Optional service, {service.name}: {price}.",
            )
        )
    found.append(_photo_request_rule())
    return found + _customs_rules()


def _customs_rules() -> list[Rule]:
    """What the destinations' customs require of a package's declaration (config.customs_rules())."""
    table = config.customs_rules()
    names = {"cpf": "the recipient's CPF", "pccc": "the recipient's Personal Customs Clearance Code"}
    tax_ids = {c: names.get(k, k) for c, k in sorted((table.get("recipient_tax_id") or {}).items())}
    ioss = int(table.get("ioss_max_value_fen", 0))
    cn22 = int(table["cn22_max_value_fen"])
    return [
        Rule(
            "customs_recipient_tax_ids",
            ", ".join(f"{c}:{k}" for c, k in sorted((table.get("recipient_tax_id") or {}).items())),
            "country:tax id",
            "A package's customs declaration needs "
            + _and([f"{name} to {country}" for country, name in tax_ids.items()])
            + ".",
        ),
        Rule(
            "customs_ioss_max_value_fen",
            ioss,
            "fen",
            f"A package to the EU declared at up to {money.format_cny(ioss)} (EUR 150) needs the IOSS number "
            "its VAT was paid under.",
        ),
        Rule(
            "customs_cn22_max_value_fen",
            cn22,
            "fen",
            f"A package declared at up to {money.format_cny(cn22)} (300 SDR) travels with a CN22 customs "
            "form, above it with a CN23.",
        ),
    ]


def _packing_rules() -> list[Rule]:
    """Packing without surprises (issue 24): the consent threshold, the answer deadline, its reminders."""
    cny = money.format_cny
    percent = config.get_decimal("PACKING_DIFFERENCE_CONFIRM_PERCENT")
    cap = config.get_int("PACKING_DIFFERENCE_CONFIRM_FEN")
    days = config.get_int("PACKING_ANSWER_DAYS")
    reminders = _days(config.setting("PACKING_ANSWER_REMINDER_DAYS"))
    return [
        Rule(
            "packing_difference_consent_percent",
            str(percent),
            "percent",
            f"When the packed weight and size cost more than you paid for the package, the difference is "
            f"taken from your wallet without asking up to the lower of {percent} % of what you paid and "
            f"{cny(cap)} (each quote says the most it can come to); above that, or when your wallet is "
            "short, the package waits for you to pay the difference or send it back to storage.",
        ),
        Rule(
            "packing_difference_consent_fen",
            cap,
            "fen",
            f"The most a packing difference is charged without asking: {cny(cap)}.",
        ),
        Rule(
            "packing_answer_days",
            days,
            "days",
            f"A packed package waiting for your answer (a difference to pay, a rehearsal to confirm) waits "
            f"{days} days, with reminders {_and([str(d) for d in reminders])} days before; with no answer "
            "it goes back to storage and what you paid is refunded (less a rehearsal already done).",
        ),
    ]


def _replacement_rules() -> list[Rule]:
    """A replacement SKU offered for an item the shop cannot supply, and its answer deadline."""
    days, reminder = config.get_int("REPLACEMENT_ANSWER_DAYS"), config.get_int("REPLACEMENT_REMINDER_DAYS")
    return [
        Rule(
            "replacement_answer_days",
            days,
            "days",
            f"When the shop cannot supply an item and we offer another SKU of the product, you have {days} "
            "days to accept or decline it; with no answer by then we decline it for you, since we never buy "
            "something you did not choose: the item is cancelled and refunded (with its shop's domestic "
            "shipping when nothing else comes from that shop).",
        ),
        Rule(
            "replacement_reminder_days",
            reminder,
            "days before the offer's deadline",
            f"We email a reminder {reminder} days before that deadline.",
        ),
    ]


def after_delivery_rules() -> list[Rule]:
    """Auto-confirm, after-sales after delivery and insurance claims (issue 22)."""
    margin = shipping.auto_confirm_margin_days()
    after_sales = config.get_int("AFTER_SALES_DAYS_AFTER_DELIVERY")
    damage = config.get_int("CLAIM_DAMAGE_DAYS")
    grace = config.get_int("CLAIM_LOST_GRACE_DAYS")
    window = config.get_int("CLAIM_LOST_WINDOW_DAYS")
    percent = config.get_int("CLAIM_COMPENSATION_PERCENT")
    return [
        Rule(
            "auto_confirm_margin_days",
            margin,
            "days",
            f"A shipped package counts as delivered {margin} days after its line's longest delivery "
            "estimate has passed since shipping, unless you confirm receipt first.",
        ),
        Rule(
            "after_sales_days_after_delivery",
            after_sales,
            "days",
            f"Within {after_sales} days of delivery you may open an after-sales case for an issue our "
            "inspection should have caught (damage, stains, wrong model or version), with photos; colour, "
            "size error and performance are outside the inspection's scope.",
        ),
        Rule(
            "claim_damage_days",
            damage,
            "days",
            f"An insured package that arrived damaged may be claimed within {damage} days of delivery.",
        ),
        Rule(
            "claim_lost_grace_days",
            grace,
            "days",
            f"An insured package may be claimed lost once its line's longest delivery estimate plus {grace} "
            "days has passed since shipping.",
        ),
        Rule(
            "claim_lost_window_days",
            window,
            "days",
            f"Loss and customs seizure claims close {window} days after shipping (or {damage} days after "
            "the loss window opens, when the line is slower).",
        ),
        Rule(
            "claim_compensation_percent",
            percent,
            "percent",
            f"An approved claim compensates at most {percent} % of the insured value: the goods value "
            "declared for the package plus the shipping paid, and never more than was paid.",
        ),
    ]


def _photo_request_rule() -> Rule:
    """More photos of one inspected item, asked for from the item: the extra-photos service's fee."""
    from chalicelib import photo_requests

    fee = photo_requests.fee_fen()
    return Rule(
        "photo_request_fen",
        fee,
        "fen per request",
        f"More photos of an inspected item, asked for from the item: {money.format_cny(fee)} from your "
        "wallet (the extra-photos service's fee). The warehouse takes them before the item is packed and "
        "emails you the links; if the item leaves us first, the fee is refunded.",
    )


def markdown() -> str:
    lines = [
        "# Policies: the rules in force",
        "",
        "Generated from `chalicelib/policies.py`, which reads each value where the code takes it from",
        "(`chalicelib/config.py`'s business settings, the rule modules), with the defaults of the code;",
        "a stage's environment may override them, and `GET /policies` answers the values in force there.",
        "`make docs` writes this file; a test fails when it is stale.",
        "",
        "| key | value | unit | rule |",
        "|---|---|---|---|",
    ]
    for r in rules():
        lines.append(f"| `{r.key}` | {r.value} | {r.unit} | {r.text} |")
    lines += ["", "## Notices", "", "| key | notice |", "|---|---|"]
    for n in NOTICES:
        lines.append(f"| `{n.key}` | {n.text} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from pathlib import Path

    target = Path(__file__).resolve().parents[1] / "docs" / "policies.md"
    target.write_text(markdown())
    print(f"wrote {target}")
