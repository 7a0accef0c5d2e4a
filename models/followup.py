"""Follow-up of a flagged callback answer (money asked, neglect, dissatisfied): the ZJ
platform's 满意度异常 list. Who looked into it and what they found, and Zhashui's verifying
visit (实地走访) — each a row of its own beside the first answer, which is never replaced."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

NOTE_MAX = 1000  # characters of a finding; one page of notes


class FollowUpKind(StrEnum):
    FINDING = "finding"  # a staff member looked into the answer and wrote what they found
    VISIT = "visit"  # a verifying visit to the beneficiary, with the form's answers again


class CallbackFollowUp(Model):
    id = fields.IntField(primary_key=True)
    callback = fields.ForeignKeyField(
        "models.Callback", related_name="followups", on_delete=fields.OnDelete.CASCADE
    )
    region = fields.CharField(max_length=12, db_index=True)
    kind = fields.CharField(max_length=8)
    by = fields.CharField(max_length=30)  # the staff member's name
    note = fields.TextField()
    fee_charged = fields.BooleanField(null=True)  # visit: Q1 again
    negligent = fields.BooleanField(null=True)  # visit: Q2 again
    satisfied = fields.BooleanField(null=True)  # visit: Q3 again
    resolved = fields.BooleanField(default=False)  # the flag is settled by this finding
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "callback_followup"
        # a callback's follow-ups (its page, and the worklists' "settled" mark)
        indexes = (("callback_id", "resolved"),)
