"""Assignments of granted applications to pool handlers (指派), DOMAIN §9.

One row per handler given the case; a conflict of interest ends the row (status `conflict`) and
a new one is made for the next handler. `active_key` is set (`app:<id>`) while an assignment is
live and cleared when it ends, so the database itself refuses two live assignments of one
application, whatever two workers do at once. `month` is the local month of the assignment,
for Beijing's cap of cases per person per month (group cases excepted).

The rotation's counters live on the organisations and handlers (models.pool `turns`); a region's
RotationLock row is locked for the whole choice, so two workers assigning in one region at once
take turns and never give one turn twice (PostgreSQL row lock; sqlite has one writer anyway).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

AGREEMENT_DAYS = 5  # 程序规定 Art. 27: the organisation signs with the recipient within 5 days


class Priority(StrEnum):
    """Why this handler got the case (Shaoxing II.(三)2, Beijing IV.(三))."""

    ROTATION = "rotation"  # 轮候
    CHOSEN = "chosen"  # 点援: the recipient chose a handler in the pool
    SAME_CASE = "same_case"  # the same recipient's same case at another stage
    DUTY = "duty"  # the 12348/online duty person who guided or helped file it
    VILLAGE_CONSULTANT = "village_consultant"  # the village consultant who helped file it
    DIFFICULT = "difficult"  # difficult, major or group case, by collective discussion


# Whether a priority uses up the handler's turn (DOMAIN §9); the rotation always does.
USES_TURN = {
    Priority.ROTATION: True,
    Priority.CHOSEN: True,
    Priority.SAME_CASE: True,
    Priority.DUTY: False,
    Priority.VILLAGE_CONSULTANT: False,
    Priority.DIFFICULT: False,
}


class AssignmentStatus(StrEnum):
    ASSIGNED = "assigned"  # told to the handler, waiting for 1 accept / 2 conflict
    ACCEPTED = "accepted"
    CONFLICT = "conflict"  # the handler reported a conflict or cannot act: reassigned
    ENDED = "ended"  # the aid was terminated


LIVE = (AssignmentStatus.ASSIGNED, AssignmentStatus.ACCEPTED)


class Assignment(Model):
    id = fields.IntField(primary_key=True)
    region = fields.CharField(max_length=12, db_index=True)
    application: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Application", related_name="assignments", on_delete=fields.CASCADE
    )
    handler: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Handler", related_name="assignments", on_delete=fields.RESTRICT
    )
    org: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Org", related_name="assignments", on_delete=fields.RESTRICT
    )
    priority = fields.CharField(max_length=24)
    uses_turn = fields.BooleanField()
    group_case = fields.BooleanField(default=False)
    status = fields.CharField(max_length=16, default=AssignmentStatus.ASSIGNED)
    active_key = fields.CharField(max_length=32, null=True, unique=True)
    month = fields.CharField(max_length=7)  # local YYYY-MM, for the monthly cap
    assigned_at = fields.DatetimeField()
    agreement_due = fields.DateField()
    accepted_at = fields.DatetimeField(null=True)
    agreement_signed_at = fields.DatetimeField(null=True)
    ended_at = fields.DatetimeField(null=True)
    conflict_reason = fields.CharField(max_length=200, null=True)
    actor = fields.CharField(max_length=64)  # center_key:N, auto, reassign

    class Meta:
        table = "assignment"
        indexes = (("handler_id", "month"),)


class RotationLock(Model):
    """One row per region, locked while a handler is chosen (see the module docstring)."""

    region = fields.CharField(max_length=12, primary_key=True)

    class Meta:
        table = "rotation_lock"


def agreement_due(assigned_on: date) -> date:
    return assigned_on + timedelta(days=AGREEMENT_DAYS)


def month_of(local: datetime | date) -> str:
    return f"{local.year:04d}-{local.month:02d}"
