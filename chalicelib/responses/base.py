"""The base of every response model and the field types responses share.

- `Out`: unknown fields are a contract violation (`extra="forbid"`); validation is lax, because views
  hand over DynamoDB values (`Decimal`) that the model turns into the documented JSON types.
- Component names are plain identifiers (`OrderDetail`, not `orders.Detail`): every mainstream client
  generator accepts them. Names are unique across modules (a test checks).
- Money is integer fen (`Fen`), timestamps are ISO 8601 strings in UTC (`Timestamp`, `format:
  date-time`), dates are `Day` (`format: date`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.lifecycle import (
    CaseStatus,
    DeclarationStatus,
    ItemStatus,
    OrderStatus,
    PackageStatus,
    ParcelStatus,
    PhotoStatus,
)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, use_enum_values=True)


class CmDims(Out):
    """A size in whole centimetres: length, width, height."""

    l: int  # noqa: E741 - the contract's name
    w: int
    h: int


Fen = Annotated[int, Field(description="Integer fen (CNY cents).")]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]


def absent(description: str | None = None, *, format: str | None = None, **kwargs: Any) -> Any:
    """A key that is sometimes absent (never null): not required, and no `default: null` in the schema.

    Responses are dumped with `exclude_unset`, so when the view leaves the key out it stays out. Use it on
    plain types (`str`, not `Timestamp`): pydantic cannot compose this field's schema hook with an
    annotated one, so a timestamp passes `format="date-time"` here instead.
    """

    def schema(field_schema: dict[str, Any]) -> None:
        field_schema.pop("default", None)
        if format:
            field_schema["format"] = format

    if description is not None:
        kwargs["description"] = description
    return Field(default=None, json_schema_extra=schema, **kwargs)


def example_of(model: Any) -> dict[str, Any]:
    """A copy of `model`'s first documented example (empty when it has none), to build examples on."""
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    return dict(examples[0]) if examples else {}


__all__ = [
    "CaseStatus",
    "CmDims",
    "Day",
    "DeclarationStatus",
    "Fen",
    "ItemStatus",
    "OrderStatus",
    "Out",
    "PackageStatus",
    "ParcelStatus",
    "PhotoStatus",
    "Timestamp",
    "absent",
    "example_of",
]
