"""Procurement inspection scope (seed): appearance only.

Checked: colour, significant damage, stains, size, model, version number. Apparel is checked against the
customer's latest remark and the size on the label or tag. "Discrepancies in color, size error, and
performance are not within the inspection scope" (Friendly Reminder 1), for every category: they are
recorded (`OUTSIDE_INSPECTION_SCOPE`) and never make an item fail. Electronics: appearance only, never
powered on; they pass only with at least one arrival photo, which goes to the customer to confirm. Goods
that cannot be transported are marked so the customer can negotiate a return with the merchant.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.lifecycle import ItemStatus

CHECKS = ("color", "damage", "stains", "size", "model", "version")
OUTCOMES = ("ok", "issue", "n/a")
CATEGORIES = ("apparel", "electronics", "general")
RESULTS = ("pass", "issue", ItemStatus.NOT_TRANSPORTABLE)
HAZARDS = ("battery", "liquid", "powder", "magnet", "blade", "flammable", "other")
# the seed's words for what is outside the inspection's scope (after-sales claims refuse the same)
OUTSIDE_INSPECTION_SCOPE = frozenset({"colour", "size_error", "performance"})
# the checks whose "issue" is such a discrepancy, in every category: recorded, never a reason to fail
OUT_OF_SCOPE_CHECKS = {"color": "colour", "size": "size_error"}


class InspectionRejected(ValueError):
    """The inspection record contradicts the inspection scope (a 400 for the staff console)."""


class ArrivalPhotoRequired(InspectionRejected):
    """Electronics pass only with an arrival photo the customer can confirm from (a 409: upload one)."""


@dataclass(frozen=True)
class Inspection:
    category: str
    checks: dict[str, str]
    result: str
    in_scope_issues: tuple[str, ...]
    out_of_scope_discrepancies: tuple[str, ...]
    customer_confirmation_requested: bool
    hazards: tuple[str, ...]
    outside_scope: tuple[str, ...] = ()  # OUTSIDE_INSPECTION_SCOPE words recorded


def assess(
    category: str,
    checks: dict[str, str],
    result: str,
    *,
    label_size: str | None = None,
    hazards: list[str] | None = None,
    notes: str | None = None,
    discrepancies: list[str] | None = None,
    photo_count: int = 0,
) -> Inspection:
    """The inspection as recorded, or InspectionRejected when it contradicts the scope. `discrepancies`:
    OUTSIDE_INSPECTION_SCOPE words the inspector noted; `photo_count`: the item's ingested photos."""
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
    out_of_scope = [n for n in issues if n in OUT_OF_SCOPE_CHECKS]
    in_scope = [n for n in issues if n not in out_of_scope]
    noted = set(discrepancies or ())
    if not noted <= OUTSIDE_INSPECTION_SCOPE:
        raise InspectionRejected(f"discrepancies are among {', '.join(sorted(OUTSIDE_INSPECTION_SCOPE))}.")
    outside = sorted(noted | {OUT_OF_SCOPE_CHECKS[n] for n in out_of_scope})
    hazards = list(hazards or [])
    if any(h not in HAZARDS for h in hazards):
        raise InspectionRejected(f"hazards are among {', '.join(HAZARDS)}.")
    if result == "pass" and in_scope:
        raise InspectionRejected(f"{', '.join(in_scope)} found an issue: the result cannot be pass.")
    if result == "issue" and not in_scope and not (notes or "").strip():
        raise InspectionRejected(
            "an issue result needs damage, stains, model or version marked issue, or notes saying what is "
            "wrong: colour, size error and performance are outside the inspection's scope."
        )
    if result == "pass" and category == "electronics" and photo_count < 1:
        raise ArrivalPhotoRequired(
            "Electronics pass only with at least one arrival photo for the customer to confirm: upload one."
        )
    if result == ItemStatus.NOT_TRANSPORTABLE and not hazards:
        raise InspectionRejected('say why the goods cannot travel: hazards, e.g. ["battery"].')
    return Inspection(
        category=category,
        checks=dict(checks),
        result=result,
        in_scope_issues=tuple(in_scope),
        out_of_scope_discrepancies=tuple(out_of_scope),
        customer_confirmation_requested=category == "electronics" and result == "pass",
        hazards=tuple(hazards),
        outside_scope=tuple(outside),
    )


# --- after delivery: what after-sales may be about (issue 22) ----------------------------------------------

# OUTSIDE_INSPECTION_SCOPE (above): never the inspection's fault, so no after-sales case covers them
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
