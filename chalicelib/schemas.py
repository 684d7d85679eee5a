"""The base of every request body: unknown fields and wrong types are 400s, never coerced.

`defer_build` keeps cold starts cheap: a model's validator is built on its first use, not at import.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
