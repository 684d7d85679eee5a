"""Checkpoints of scheduled jobs (where the last run got to), so a missed or interrupted run catches up."""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.models import Model

from chalicelib.models.base import table_meta


class JobState(Model):
    Meta = table_meta("jobs")

    job = UnicodeAttribute(hash_key=True)
    state = MapAttribute(default=dict)
    updated_at = UnicodeAttribute(null=True)
    version = VersionAttribute()


MODELS: list[type] = [JobState]
