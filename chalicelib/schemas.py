"""The base of every request body: unknown fields and wrong types are 400s, never coerced.

Bodies are declared in pydantic's syntax and validated by chalicelib.typed (pydantic's strict rules and
error entries, without importing pydantic on the request path); their pydantic twins give the contract.
"""

import json
from typing import TYPE_CHECKING, Annotated, Any

from chalicelib.typed import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from pydantic import GetJsonSchemaHandler


def optional_without_default(schema: dict[str, Any]) -> None:
    """A field a client may omit carries no JSON Schema `default` (a non-null one is said in words):
    openapi-typescript, with its default flags, types a property with a `default` as always present,
    so a storefront had to send `items: null`. The server fills defaults in either way."""
    required = set(schema.get("required", ()))
    for name, field in schema.get("properties", {}).items():
        if name in required or not isinstance(field, dict) or "default" not in field:
            continue
        default = field.pop("default")
        if default is not None:  # null is what an absent field means: nothing to say
            said = f"Default: `{json.dumps(default)}`."
            field["description"] = f"{field['description']} {said}" if field.get("description") else said


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: Any, handler: "GetJsonSchemaHandler"
    ) -> dict[str, Any]:
        schema = handler(core_schema)
        optional_without_default(handler.resolve_ref_schema(schema))
        return schema


def example(body: dict[str, Any], **config: Any) -> ConfigDict:
    """A request body model's config: Body's (forbid, strict, deferred), `config`, and one realistic
    example the OpenAPI document shows (a test posts every example to its route)."""
    return Body.model_config | ConfigDict(**config) | ConfigDict(json_schema_extra={"examples": [body]})


# --- field types every request body shares (declared once) -------------------------------------------

Id = Annotated[str, Field(min_length=1, max_length=64)]
TrackingNo = Annotated[str, Field(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9 -]+$")]
Carrier = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=500)]
Fen = Annotated[int, Field(ge=0, le=100_000_000)]
GoodsWeightG = Annotated[int, Field(ge=1, le=1_000_000)]


class ItemDims(Body):
    """An item's measured size in cm."""

    model_config = example({"l": 35, "w": 25, "h": 4})

    l: Annotated[int, Field(ge=1, le=500)]  # noqa: E741 - the contract's name
    w: Annotated[int, Field(ge=1, le=500)]
    h: Annotated[int, Field(ge=1, le=500)]


class PackageDims(Body):
    """A packed parcel's size in cm (a carton that a line can carry)."""

    model_config = example({"l": 40, "w": 30, "h": 20})

    l: Annotated[int, Field(ge=1, le=300)]  # noqa: E741 - the contract's name
    w: Annotated[int, Field(ge=1, le=300)]
    h: Annotated[int, Field(ge=1, le=300)]
