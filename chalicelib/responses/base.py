"""The base of every response model and the field types responses share.

- `Out`: unknown fields are a contract violation (`extra="forbid"`); validation is lax, because views
  hand over DynamoDB values (`Decimal`) that the model turns into the documented JSON types.
- Component names are plain identifiers (`OrderDetail`, not `orders.Detail`): every mainstream client
  generator accepts them. Names are unique across modules (a test checks).
- Money is integer fen (`Fen`), timestamps are ISO 8601 strings in UTC (`Timestamp`, `format:
  date-time`), dates are `Day` (`format: date`).
- Views own the JSON: a model's `of(...)` classmethod builds it from the domain objects a service
  returns (`OrderDetail.of(order, items, payment)`); services never build response dicts.
"""

from typing import TYPE_CHECKING, Annotated, Any, Self

from chalicelib.typed import BaseModel, ConfigDict, Field
from chalicelib.typed import ValidationError as TypedError

if TYPE_CHECKING:
    from chalicelib.lifecycle import (
        CaseStatus,
        DeclarationStatus,
        ItemStatus,
        OrderStatus,
        PackageStatus,
        ParcelStatus,
        PhotoStatus,
    )

# the status enums response models type their `status` with, re-exported from chalicelib.lifecycle on
# first use (`__getattr__`): a route whose responses name none (the catalog's) does not import the
# lifecycle tables
STATUS_ENUMS = (
    "CaseStatus",
    "DeclarationStatus",
    "ItemStatus",
    "OrderStatus",
    "PackageStatus",
    "ParcelStatus",
    "PhotoStatus",
)


def __getattr__(name: str) -> Any:
    if name in STATUS_ENUMS:
        from chalicelib import lifecycle

        value = getattr(lifecycle, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    @classmethod
    def build(cls, **fields: Any) -> Self:
        """This model of `fields` (what every `of` constructor returns); the keys left out stay absent.

        Nothing is validated here: the answer is rendered by the fields' declared types when it is sent
        (web.serialize_response), where local and test stages also check it against the model's pydantic
        twin, so a field of the wrong type fails the tests there. A key the model does not document is a
        contract violation (`violation`): an error in local and test stages, logged and left out elsewhere.
        """
        try:
            return cls.model_validate(fields)
        except TypedError as exc:
            violation(cls.__name__, exc)
            return cls.model_validate({k: v for k, v in fields.items() if k in cls.__typed_fields__})

    @classmethod
    def of_result(cls, result: Any) -> Self:
        """This model of what a service returned (an `OrderResult`, an item...): how a route renders a
        unit of work's result for its idempotency record (web.serialize_response). Models of money routes
        define it."""
        raise TypeError(f"{cls.__name__} is not built from a {type(result).__name__}")


def violation(where: str, exc: Any) -> None:
    """A response that breaks its documented schema: logged; in local and test stages a 500 (tests fail
    on it), elsewhere the caller sends the body as built, so a contract slip never takes a route down."""
    from chalicelib import config
    from chalicelib.errors import ApiError
    from chalicelib.logs import get_logger

    problems = [
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)[:5]
    ]
    get_logger("http").error("response_contract_violation", extra={"route": where, "problems": problems})
    if config.get("STAGE") in config.LOCAL_STAGES:
        raise ApiError(f"Response of {where} breaks its documented schema: {problems}") from None


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
    "violation",
]
