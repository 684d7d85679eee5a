"""Field helpers shared by the warehouse-side response modules."""

from __future__ import annotations

from typing import Any

from pydantic import Field


def absent(*, format: str | None = None, **kwargs: Any) -> Any:
    """A key that is sometimes absent (never null): not required, and no `default: null` in the schema.

    Responses are dumped with `exclude_unset`, so when the view leaves the key out it stays out. Use it on
    plain types (`str`, not `Timestamp`): pydantic cannot compose this field's schema hook with an
    annotated one, so a timestamp passes `format="date-time"` here instead.
    """

    def schema(field_schema: dict[str, Any]) -> None:
        field_schema.pop("default", None)
        if format:
            field_schema["format"] = format

    return Field(default=None, json_schema_extra=schema, **kwargs)


def example_of(model: Any) -> dict[str, Any]:
    """A copy of `model`'s first documented example (empty when it has none), to build examples on."""
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    return dict(examples[0]) if examples else {}
