"""People and credentials around the centre: staff members and the centre's API keys."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class StaffRole(StrEnum):
    """What a registered person does: centre staff take 人工 chats and get the centre's alerts,
    supervisors also get escalations, the justice bureau (司法局, Order 149 Arts. 3 and 5)
    receives and decides complaints and is not part of the centre's duty rota."""

    STAFF = "staff"
    SUPERVISOR = "supervisor"
    BUREAU = "bureau"


CENTRE_ROLES = (StaffRole.STAFF, StaffRole.SUPERVISOR)


class Staff(Model):
    """A centre staff member or a justice-bureau official reachable in WeChat (alerts, digests,
    人工 handoffs for the centre; complaints for the bureau)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=30)
    region = fields.CharField(max_length=12, db_index=True)  # 6-digit administrative code
    openid = fields.CharField(max_length=64, unique=True)
    role = fields.CharField(max_length=12, default=StaffRole.STAFF, db_index=True)
    supervisor = fields.BooleanField(default=False)  # role == supervisor, kept for queries
    unit = fields.CharField(max_length=60, default="")  # e.g. 柯桥区司法局, named in replies
    active = fields.BooleanField(default=True)
    on_duty = fields.BooleanField(default=True)
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
