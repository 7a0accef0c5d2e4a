"""Legal-aid cases as the centre's records system reports them (PUT /api/v1/center/cases/...).

The centre owns the case; we keep what the callback (回访), complaints and the progress view
need: the cause, the handler, the status and closing date, and the beneficiary. The
beneficiary's name, phone and ID number are personal data (法律援助法 Art. 21): encrypted at
rest, shown masked. A case is bound to the beneficiary's WeChat openid when they scan the QR
code of its closing notice; the first openid to scan keeps it.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.fields import EncryptedTextField


class CaseKind(StrEnum):
    CIVIL = "civil"
    CRIMINAL = "criminal"
    ADMINISTRATIVE = "administrative"


class CaseStatus(StrEnum):
    ACCEPTED = "accepted"  # 受理
    ASSIGNED = "assigned"  # 指派
    IN_PROGRESS = "in_progress"  # 办理中
    CLOSED = "closed"  # 结案: the callback is scheduled from closed_on
    TERMINATED = "terminated"  # 终止: no callback (the aid ended, the case did not conclude)


class CaseOrigin(StrEnum):
    """How the case came to the centre: an application (申请类) or a court's, prosecutor's or
    police notice (通知类, Art. 25–28). Callback coverage counts application cases only, as
    Zhashui does (DOMAIN §2)."""

    APPLICATION = "application"
    NOTIFICATION = "notification"


class Case(Model):
    id = fields.IntField(primary_key=True)
    region = fields.CharField(max_length=12, db_index=True)
    case_no = fields.CharField(max_length=64)  # the centre's number, unique within its region
    kind = fields.CharField(max_length=16)
    cause = fields.CharField(max_length=100)  # 案由
    beneficiary_name = EncryptedTextField()
    beneficiary_phone = EncryptedTextField()
    beneficiary_id_number: str | None = EncryptedTextField(null=True)
    beneficiary_id_index = fields.CharField(max_length=64, null=True, db_index=True)  # blind index
    handler_name = fields.CharField(max_length=30)
    handler_org = fields.CharField(max_length=100)
    status = fields.CharField(max_length=16)
    origin = fields.CharField(max_length=12, default=CaseOrigin.APPLICATION)
    closed_on = fields.DateField(null=True)
    application_id = fields.IntField(null=True)  # our application, when it started here
    special = fields.BooleanField(default=False)  # Shaoxing: special cases are not evaluated
    openid = fields.CharField(max_length=64, null=True, db_index=True)  # bound beneficiary
    bound_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    # For `python -m bot rotate-key`: how to recompute each blind index from the row.
    BLIND_INDEXES = {"beneficiary_id_index": lambda row: row.beneficiary_id_number}

    class Meta:
        table = "legal_case"  # CASE is an SQL keyword
        unique_together = (("region", "case_no"),)
        # the digest and the coverage figure count a region's cases by status and closing date;
        # origin last so that the 回访率 (application cases only) is read from the index alone
        indexes = (("region", "status", "closed_on", "origin"),)


# --- case numbers as people type them -------------------------------------------------------

# NFKC makes （）［］ and full-width digits ASCII; the brackets left (〔〕【】〖〗 and ASCII) and
# every space are dropped: (2026)万法援6号, （2026）万法援6号, 〔2026〕万法援6号, 2026万法援6号 and
# "( 2026 ) 万法援 6 号" are one case number.
_NO_BRACKETS = str.maketrans("", "", "()[]〔〕【】〖〗")
_YEAR = re.compile(r"^\d+")
CASE_NO_NEAR_MAX = 50  # stored spellings sharing a tail looked at, at most


def case_no_key(text: str) -> str:
    """A case number reduced to what identifies it: the same key for every way it is typed."""
    return "".join(unicodedata.normalize("NFKC", text).split()).translate(_NO_BRACKETS)


def _field(row: Any, path: str) -> str:
    for part in path.split("__"):
        row = getattr(row, part)
    return str(row)


async def find_by_case_no(
    rows: QuerySet[Any], text: str, field: str = "case_no", conn: Any = None
) -> list[Any]:
    """`rows` whose case number (`field`, e.g. `case__case_no` with the case selected) is
    `text` however it is typed: the exact spelling first, else the stored spellings ending
    like it (the part after the year) whose key is the same. Every lookup of a case number
    someone typed goes through here."""
    exact = await rows.filter(**{field: text}).using_db(conn)
    if exact:
        return list(exact)
    key = case_no_key(text)
    tail = _YEAR.sub("", key)
    if not key or not tail:
        return []
    near = await rows.filter(**{f"{field}__endswith": tail}).using_db(conn).limit(CASE_NO_NEAR_MAX)
    return [r for r in near if case_no_key(_field(r, field)) == key]
