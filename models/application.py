"""Legal-aid applications filed by agents, their materials, idempotency records and access audit.

The applicant's name, ID number, phone and address are personal information (法律援助法 Art. 21):
they are encrypted at rest (EncryptedTextField) and found by a keyed hash (blind index) of the
ID number; everything agents and WeChat pushes see is masked. The eligibility facts the rules
derived (hardship basis, urgency, deadlines) are stored as decided at filing, so a later policy
change does not rewrite history.
"""

from __future__ import annotations

from enum import StrEnum
from typing import cast

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from models.fields import EncryptedTextField
from models.idcard import parse_id_number

FACTS_MAX = 2000  # characters: a page of facts; the centre interviews the applicant anyway
TEXT_MAX = 200  # address, opposing party, income source, assets: one line each


class Status(StrEnum):
    RECEIVED = "received"  # filed, waiting for the centre's decision (7 days, Art. 43)
    NEED_MATERIALS = "need_materials"  # the centre asked for more before deciding
    GRANTED = "granted"
    REFUSED = "refused"


FINAL = frozenset({Status.GRANTED, Status.REFUSED})
DECISIONS = ("granted", "refused", "need_materials")


class Application(Model):
    id = fields.IntField(primary_key=True)
    region = fields.CharField(max_length=12, db_index=True)
    agent: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Agent", related_name="applications", on_delete=fields.RESTRICT
    )
    channel = fields.CharField(max_length=8)  # "api" (mini-program) or "chat"
    status = fields.CharField(max_length=16, default=Status.RECEIVED, db_index=True)

    applicant_name = EncryptedTextField()
    applicant_id_number = EncryptedTextField()
    applicant_id_index = fields.CharField(max_length=64, db_index=True)  # blind_index(18 chars)
    applicant_phone = EncryptedTextField()
    applicant_address = EncryptedTextField()

    matter = fields.CharField(max_length=40)
    facts = fields.TextField()
    opposing_party = fields.CharField(max_length=TEXT_MAX, null=True)
    limitation_deadline = fields.DateField(null=True)
    hardship_basis = fields.CharField(max_length=16)
    exempt_category = fields.CharField(max_length=32, null=True)
    statement = fields.JSONField(null=True)  # household_size, monthly_income_yuan, ...
    pledge = fields.JSONField(null=True)  # accepted, confirmed_by, text_version, witness, at, place
    location = fields.JSONField(null=True)  # where the agent filed (for the pledge record)
    other_reason = fields.CharField(max_length=500, null=True)  # Art. 24 因其他原因: which
    migrant_worker = fields.BooleanField(default=False)  # 城乡务工人员 (green channel)

    urgent = fields.BooleanField(default=False)
    urgent_reasons = fields.JSONField(default=list)
    warnings = fields.JSONField(default=list)
    received_at = fields.DatetimeField()
    decision_due = fields.DateField()
    materials_due = fields.DateField(null=True)
    missing_acknowledged_at = fields.DatetimeField(null=True)  # 容缺受理 notice accepted
    materials_overdue_at = fields.DatetimeField(null=True)  # flagged when materials_due passed

    decision_reason = fields.CharField(max_length=500, null=True)
    case_no = fields.CharField(max_length=64, null=True)
    decided_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)

    materials: fields.ReverseRelation[Material]

    # For `python -m bot rotate-key`: how to recompute each blind index from the row.
    BLIND_INDEXES = {
        "applicant_id_index": lambda row: parse_id_number(row.applicant_id_number).number_18
    }

    class Meta:
        table = "application"
        # the digest and the console's queue: a region's open applications by due date (urgent
        # beside it, so the queue's order is read from the index alone), new ones by arrival,
        # decided ones newest first (without them each reads every row); Today's weekly charts
        # of decisions by decision time and of late ones by due date
        indexes = (
            ("region", "status", "decision_due", "urgent"),
            ("region", "received_at"),
            ("region", "status", "decided_at"),
            ("region", "decided_at"),
            ("region", "decision_due", "decided_at"),
        )


class Material(Model):
    """One material: declared in hand, owed (missing), or an uploaded file / chat photo."""

    id = fields.IntField(primary_key=True)
    application: fields.ForeignKeyRelation[Application] = fields.ForeignKeyField(
        "models.Application", related_name="materials", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=32)
    status = fields.CharField(max_length=16)  # provided | missing
    source = fields.CharField(max_length=16, default="declared")  # declared | upload | chat
    storage_key = fields.CharField(max_length=255, null=True)  # uploaded file (bot.storage)
    content_type = fields.CharField(max_length=40, null=True)
    size = fields.IntField(null=True)
    sha256 = fields.CharField(max_length=64, null=True)
    wechat_media_id = fields.CharField(max_length=128, null=True)  # photo sent in chat
    wechat_pic_url = fields.CharField(max_length=512, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "application_material"

    @classmethod
    async def owed_kinds(
        cls, application_id: int, conn: BaseDBAsyncClient | None = None
    ) -> list[str]:
        """The kinds still owed for the application, each once, in the order they were asked."""
        kinds = cast(  # flat=True gives values; tortoise's types say tuples
            "list[str]",
            await cls.filter(application_id=application_id, status="missing")
            .using_db(conn)
            .order_by("id")
            .values_list("kind", flat=True),
        )
        return list(dict.fromkeys(kinds))


class IdempotencyRecord(Model):
    """An Idempotency-Key an agent used, the hash of the body it came with, and the result."""

    id = fields.BigIntField(primary_key=True)
    agent: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Agent", related_name="idempotency_records", on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=128)
    request_hash = fields.CharField(max_length=64)
    application: fields.ForeignKeyRelation[Application] = fields.ForeignKeyField(
        "models.Application", related_name="idempotency_records", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "idempotency_record"
        unique_together = (("agent", "key"),)


class DataAccess(Model):
    """Audit of reads of full personal data by the centre (DESIGN "Personal data")."""

    id = fields.BigIntField(primary_key=True)
    actor = fields.CharField(max_length=64)  # e.g. "center_key:3"
    action = fields.CharField(max_length=32)  # list, decide, material
    region = fields.CharField(max_length=12)
    application_ids = fields.JSONField(default=list)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "data_access"
