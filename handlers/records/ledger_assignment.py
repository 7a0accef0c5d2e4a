"""What the ledgers say about assignments (DOMAIN §9): handler, organisation, priority, date.

The applications ledger gets four columns from each application's current assignment (a live
one, else the last that ended by termination; one ended by a conflict of interest was never the
case's); the disclosure workbook gets a sheet of the assignments made in the period, and its
附件5/6 take the organisation and handler of cases that started here from the assignment rather
than from the free text the centre's system sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from handlers.records.exports import Column, LocalRange, Sheet, local, one_batch
from models.assignment import Assignment, AssignmentStatus

PRIORITY = {
    "rotation": "轮候",
    "chosen": "点援",
    "same_case": "同一案件延续",
    "duty": "值班人员首问",
    "village_consultant": "村（居）法律顾问代办",
    "difficult": "重大疑难（集体讨论）",
}
APPLICATION_COLUMNS = [
    Column("承办人员", 10),
    Column("承办机构", 24),
    Column("指派方式", 14),
    Column("指派日期", 12),
]


async def current(application_ids: Iterable[int], tz: str) -> dict[int, list[Any]]:
    """application id -> [handler, organisation, priority, local date] of its assignment."""
    rows = (
        await Assignment.filter(application_id__in=list(application_ids))
        .exclude(status=AssignmentStatus.CONFLICT)
        .order_by("id")
        .values_list("application_id", "handler__name", "org__name", "priority", "assigned_at")
    )
    out: dict[int, list[Any]] = {}
    for app_id, handler, org, priority, at in rows:  # later rows win: the newest assignment
        assigned = local(at, tz)
        out[app_id] = [
            handler,
            org,
            PRIORITY.get(priority, priority),
            assigned.date() if assigned else None,
        ]
    return out


def cells(found: dict[int, list[Any]], app_id: int) -> list[Any]:
    return found.get(app_id) or [None] * len(APPLICATION_COLUMNS)


async def pool_names(case_ids_by_application: dict[int, int]) -> dict[int, tuple[str, str]]:
    """case id -> (handler, organisation) for cases whose application was assigned here."""
    found = (
        await Assignment.filter(application_id__in=list(case_ids_by_application))
        .exclude(status=AssignmentStatus.CONFLICT)
        .order_by("id")
        .values_list("application_id", "handler__name", "org__name")
    )
    return {case_ids_by_application[a]: (h, o) for a, h, o in found}


async def assignment_sheet(period: LocalRange, region: str | None) -> Sheet:
    """指派明细: every assignment made in the period, with its priority and outcome."""
    q = Assignment.filter(assigned_at__gte=period.start, assigned_at__lt=period.end)
    q = q.filter(region=region) if region else q
    rows = await q.order_by("id").values_list(
        "application_id",
        "application__case_no",
        "handler__name",
        "org__name",
        "priority",
        "uses_turn",
        "group_case",
        "assigned_at",
        "status",
        "conflict_reason",
    )
    status = {
        "assigned": "待答复",
        "accepted": "已接受",
        "conflict": "利益冲突改派",
        "ended": "已终止",
    }
    out = [
        [
            i,
            app_id,
            case_no or "",
            handler,
            org,
            PRIORITY.get(p, p),
            "是" if turn else "否",
            "是" if group else "",
            local(at, period.tz),
            status.get(s, s),
            reason or "",
        ]
        for i, (app_id, case_no, handler, org, p, turn, group, at, s, reason) in enumerate(
            rows, start=1
        )
    ]
    return Sheet(
        "指派明细",
        [
            Column("序号", 6),
            Column("申请编号", 10),
            Column("案号", 22),
            Column("承办人员", 10),
            Column("承办机构", 24),
            Column("指派方式", 14),
            Column("占用轮次", 8),
            Column("群体性案件", 8),
            Column("指派时间", 18),
            Column("状态", 10),
            Column("冲突原因", 30),
        ],
        one_batch(out),
    )
