"""Termination of legal aid (Art. 48) and objections to a refusal or termination (Art. 49).

A termination records the statutory reason (a code below), the centre's note and when; the
case is marked terminated and the 终止法律援助决定书 issued. An objection comes from the applicant
or recipient (in chat) and goes to the justice bureau that set up the centre, which reviews it
within 5 days (calendar days, Art. 49) and either upholds the decision or orders the centre to
correct it; the objector is told the result.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

# 法律援助法 Art. 48, in the law's order and words.
TERMINATION_REASONS = {
    "fraud": "受援人以欺骗或者其他不正当手段获得法律援助",
    "concealment": "受援人故意隐瞒与案件有关的重要事实或者提供虚假证据",
    "illegal_use": "受援人利用法律援助从事违法活动",
    "no_longer_eligible": "受援人的经济状况发生变化，不再符合法律援助条件",
    "proceedings_ended": "案件终止审理或者已经被撤销",
    "own_lawyer": "受援人自行委托律师或者其他代理人",
    "recipient_request": "受援人有正当理由要求终止法律援助",
    "other": "法律法规规定的其他情形",
}


def reason_text(code: str) -> str:
    return TERMINATION_REASONS.get(code, code)


class Termination(Model):
    id = fields.IntField(primary_key=True)
    region = fields.CharField(max_length=12, db_index=True)
    case_id = fields.IntField(db_index=True)
    application_id = fields.IntField(null=True)
    reason = fields.CharField(max_length=24)
    note = fields.CharField(max_length=500, null=True)
    actor = fields.CharField(max_length=64)
    at = fields.DatetimeField()

    class Meta:
        table = "termination"


class ObjectionStatus(StrEnum):
    RECEIVED = "received"  # with the bureau, to review within 5 days
    UPHELD = "upheld"  # 维持: the centre's decision stands
    CORRECTED = "corrected"  # 责令改正: the centre must correct it


class Objection(Model):
    id = fields.IntField(primary_key=True)
    region = fields.CharField(max_length=12, db_index=True)
    openid = fields.CharField(max_length=64, db_index=True)
    target = fields.CharField(max_length=16)  # refusal | termination
    application_id = fields.IntField(null=True)
    case_id = fields.IntField(null=True)
    text = fields.TextField()
    status = fields.CharField(max_length=16, default=ObjectionStatus.RECEIVED)
    filed_at = fields.DatetimeField()
    review_due = fields.DateField()
    decided_at = fields.DatetimeField(null=True)
    decision_note = fields.CharField(max_length=500, null=True)
    decided_by = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "objection"
