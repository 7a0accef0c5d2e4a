"""Fixed-window request counters, in the database so every worker sees the same count."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class RateBucket(Model):
    key = fields.CharField(max_length=128, primary_key=True)  # e.g. login:<client address>
    window_start = fields.DatetimeField()
    count = fields.IntField(default=0)

    class Meta:
        table = "rate_bucket"
