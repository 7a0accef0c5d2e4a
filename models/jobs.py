"""Scheduler bookkeeping: a row per job and period, so a job runs once per period."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class JobRun(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64)
    period = fields.CharField(max_length=32)  # e.g. 2026-11-22 for a daily job
    finished_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "job_run"
        unique_together = (("name", "period"),)
