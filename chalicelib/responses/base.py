"""The base of every response model and the field types responses share.

- `Out`: unknown fields are a contract violation (`extra="forbid"`); validation is lax, because views
  hand over DynamoDB values (`Decimal`) that the model turns into the documented JSON types.
- Component names are plain identifiers (`OrderDetail`, not `orders.Detail`): every mainstream client
  generator accepts them. Names are unique across modules (a test checks).
- Money is integer fen (`Fen`), timestamps are ISO 8601 strings in UTC (`Timestamp`, `format:
  date-time`), dates are `Day` (`format: date`).
"""

from __future__ import annotations

from typing import Annotated

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


Fen = Annotated[int, Field(description="Integer fen (CNY cents).")]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]

__all__ = [
    "CaseStatus",
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
]
