"""Formal documents (SF/T 0024 style): decision letters, notices, numbered per region and year.

A document is issued once: its Word file is rendered, stored (bot.storage) and never rewritten;
`sha256` lets anyone check a copy. A correction is a reissue: a new document with a new number,
and the old one marked void (`voided_at`, `replaced_by_id`). Numbers come from one counter row
per region, series and year, locked while it is incremented, so two workers never hand out the
same number. The number's text follows the policy's format, e.g. `{abbr}援决〔{year}〕{n}号`.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model


class DocKind(StrEnum):
    DECISION_GRANT = "decision_grant"  # 给予法律援助决定书
    DECISION_REFUSE = "decision_refuse"  # 不予法律援助决定书
    MATERIALS_NOTICE = "materials_notice"  # 补充材料通知书
    ASSIGNMENT_NOTICE = "assignment_notice"  # 指派通知书 (to the organisation)
    TERMINATION = "termination"  # 终止法律援助决定书


# Number series: grant and refusal letters share the 决定书 sequence, as centres number them.
SERIES = {
    DocKind.DECISION_GRANT: "decision",
    DocKind.DECISION_REFUSE: "decision",
    DocKind.MATERIALS_NOTICE: "materials",
    DocKind.ASSIGNMENT_NOTICE: "assignment",
    DocKind.TERMINATION: "termination",
}


class Document(Model):
    id = fields.IntField(primary_key=True)
    region = fields.CharField(max_length=12, db_index=True)
    kind = fields.CharField(max_length=24)
    series = fields.CharField(max_length=16)
    year = fields.IntField()
    seq = fields.IntField()
    number = fields.CharField(max_length=64)
    application_id = fields.IntField(null=True, db_index=True)
    case_id = fields.IntField(null=True, db_index=True)
    assignment_id = fields.IntField(null=True)
    storage_key = fields.CharField(max_length=255)
    sha256 = fields.CharField(max_length=64)
    size = fields.IntField()
    issued_at = fields.DatetimeField()
    voided_at = fields.DatetimeField(null=True)
    replaced_by_id = fields.IntField(null=True)

    class Meta:
        table = "formal_document"
        unique_together = (("region", "series", "year", "seq"),)


class DocumentCounter(Model):
    id = fields.IntField(primary_key=True)
    region = fields.CharField(max_length=12)
    series = fields.CharField(max_length=16)
    year = fields.IntField()
    value = fields.IntField(default=0)  # the last number handed out

    class Meta:
        table = "document_counter"
        unique_together = (("region", "series", "year"),)


async def next_seq(region: str, series: str, year: int, conn: BaseDBAsyncClient) -> int:
    """The next number of a series, under the counter row's lock (in `conn`'s transaction)."""
    await DocumentCounter.bulk_create(
        [DocumentCounter(region=region, series=series, year=year)],
        ignore_conflicts=True,
        using_db=conn,
    )
    counter = (
        await DocumentCounter.select_for_update()
        .using_db(conn)
        .get(region=region, series=series, year=year)
    )
    counter.value += 1
    await counter.save(using_db=conn, update_fields=["value"])
    return counter.value


def format_number(fmt: str, *, abbr: str, year: int, n: int) -> str:
    """`{abbr}援决〔{year}〕{n}号` -> 绍援决〔2026〕15号."""
    return fmt.format(abbr=abbr, year=year, n=n)
