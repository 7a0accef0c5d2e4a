"""People and credentials around the centre: staff members and the centre's API keys."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Staff(Model):
    """A centre staff member reachable in WeChat (alerts, digests, 人工 handoffs)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=30)
    region = fields.CharField(max_length=12, db_index=True)  # 6-digit administrative code
    openid = fields.CharField(max_length=64, unique=True)
    supervisor = fields.BooleanField(default=False)
    active = fields.BooleanField(default=True)
    on_duty = fields.BooleanField(default=True)
    replies = fields.IntField(default=0)  # handoff replies, for duty credit
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "staff"


class CenterKey(Model):
    """An API key of a centre's records system, scoped to one region. Only a hash is kept."""

    id = fields.IntField(primary_key=True)
    region = fields.CharField(max_length=12, db_index=True)
    key_hash = fields.CharField(max_length=64, unique=True)
    prefix = fields.CharField(max_length=12)  # first characters, to tell keys apart in lists
    label = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "center_key"
