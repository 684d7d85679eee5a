"""Procurement inspection scope (seed): appearance only.

Checked: colour, significant damage, stains, size, model, version number. Apparel is checked against the
customer's remark and the size on the label or tag; colour and size discrepancies are recorded but are
outside the inspection's scope. Electronics: appearance only, never powered on; the arrival photos go
to the customer to confirm. Goods that cannot be transported are marked so the customer can negotiate a
return with the merchant.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.lifecycle import ItemStatus

CHECKS = ("color", "damage", "stains", "size", "model", "version")
OUTCOMES = ("ok", "issue", "n/a")
CATEGORIES = ("apparel", "electronics", "general")
RESULTS = ("pass", "issue", ItemStatus.NOT_TRANSPORTABLE)
HAZARDS = ("battery", "liquid", "powder", "magnet", "blade", "flammable", "other")
# outside the inspection's scope for apparel: recorded, never a reason to fail the inspection
APPAREL_OUT_OF_SCOPE = ("color", "size")


class InspectionRejected(ValueError):
    """The inspection record contradicts the inspection scope (a 400 for the staff console)."""


@dataclass(frozen=True)
class Inspection:
    category: str
    checks: dict[str, str]
    result: str
    in_scope_issues: tuple[str, ...]
    out_of_scope_discrepancies: tuple[str, ...]
    customer_confirmation_requested: bool
    hazards: tuple[str, ...]


def assess(
    category: str,
    checks: dict[str, str],
    result: str,
    *,
    label_size: str | None = None,
    hazards: list[str] | None = None,
    notes: str | None = None,
) -> Inspection:
    if category not in CATEGORIES:
        raise InspectionRejected(f"category must be one of {', '.join(CATEGORIES)}.")
    if set(checks) != set(CHECKS):
        raise InspectionRejected(f"checks must have exactly: {', '.join(CHECKS)}.")
    if any(v not in OUTCOMES for v in checks.values()):
        raise InspectionRejected(f"each check is one of {', '.join(OUTCOMES)}.")
    if result not in RESULTS:
        raise InspectionRejected(f"result must be one of {', '.join(RESULTS)}.")
    if category == "apparel" and not (label_size or "").strip():
        raise InspectionRejected("apparel is checked against the size on its label: send label_size.")
    issues = [name for name in CHECKS if checks[name] == "issue"]
    out_of_scope = [n for n in issues if category == "apparel" and n in APPAREL_OUT_OF_SCOPE]
    in_scope = [n for n in issues if n not in out_of_scope]
    hazards = list(hazards or [])
    if any(h not in HAZARDS for h in hazards):
        raise InspectionRejected(f"hazards are among {', '.join(HAZARDS)}.")
    if result == "pass" and in_scope:
        raise InspectionRejected(f"{', '.join(in_scope)} found an issue: the result cannot be pass.")
    if result == "issue" and not issues and not (notes or "").strip():
        raise InspectionRejected("an issue result needs a check marked issue or notes saying what is wrong.")
    if result == ItemStatus.NOT_TRANSPORTABLE and not hazards:
        raise InspectionRejected('say why the goods cannot travel: hazards, e.g. ["battery"].')
    return Inspection(
        category=category,
        checks=dict(checks),
        result=result,
        in_scope_issues=tuple(in_scope),
        out_of_scope_discrepancies=tuple(out_of_scope),
        customer_confirmation_requested=category == "electronics",
        hazards=tuple(hazards),
    )


# --- after delivery: what after-sales may be about (issue 22) ----------------------------------------------

# the seed's friendly reminder: these are never the inspection's fault, so no after-sales case covers them
OUTSIDE_INSPECTION_SCOPE = frozenset({"colour", "size_error", "performance"})
# what a customer reports about delivered goods: the inspection's own checks, and what is outside them
AFTER_DELIVERY_ISSUES = (
    "damage",
    "stains",
    "model",
    "version",
    "wrong_item",
    "missing_item",
    "colour",
    "size_error",
    "performance",
    "other",
)
OUTSIDE_SCOPE_REASON = (
    "Discrepancies in colour, size error and performance are not within the inspection scope (and "
    "electronics are checked by appearance only, never powered on), so after-sales cannot cover {issue}."
)


def after_delivery_refusal(issue: str) -> str | None:
    """Why a case about delivered goods with this issue is refused (None when the inspection covers it)."""
    if issue in OUTSIDE_INSPECTION_SCOPE:
        return OUTSIDE_SCOPE_REASON.format(issue=issue.replace("_", " "))
    return None
