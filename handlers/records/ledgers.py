"""The centre's ledgers: which rows, which columns, in the words of the paper forms.

Each function returns the sheets of one workbook for handlers.records.exports.write_workbook. Columns of the
callback ledger follow the Zhashui callback form (DOMAIN §2) plus the channel, the case number
and the quality grade with its subsidy coefficient (DOMAIN §5); the disclosure workbook follows
Beijing's half-yearly 附件4–7. Names of beneficiaries and applicants are shown in full (the
ledger is the centre's own record); ID and phone numbers are masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from tortoise.functions import Count

from handlers.records import ledger_assignment as assignment_ledger
from handlers.records.exports import Batches, Column, LocalRange, Sheet, keyset, local, one_batch
from i18n import t
from models.application import Application, Material
from models.callback import Callback, CallbackStatus
from models.case import Case
from models.complaint import Complaint
from models.masking import mask_id, mask_phone, scrub
from models.quality import QualityReview
from models.subsidy import Subsidy

ZH = "zh_CN"
# Empty cells are None, not "": openpyxl skips None outright, which matters at 100,000 rows.
YES_NO = {True: "是", False: "否", None: None}
HAVE = {True: "有", False: "无", None: None}
SATISFIED = {True: "满意", False: "不满意", None: None}
CHANNEL = {"wechat": "微信", "phone": "电话", "visit": "走访"}
APPLICATION_STATUS = {
    "received": "待审查",
    "need_materials": "待补充材料",
    "granted": "给予法律援助",
    "refused": "不予援助",
}
COMPLAINT_STATUS = {
    "received": "已收到",
    "accepted": "已受理",
    "not_accepted": "不予受理",
    "investigating": "调查中",
    "extended": "已延期",
    "concluded": "已办结",
}
COMPLAINT_ABOUT = {
    "handler": "承办人员",
    "centre": "法律援助中心",
    "firm": "律所或法律服务所",
    "other": "其他",
}
COMPLAINT_GROUNDS = {
    "money": "收取或索要钱物",
    "delay": "拖延办理",
    "attitude": "服务态度",
    "no_progress": "不告知进展",
    "privacy": "泄露隐私",
    "duty": "不履行职责",
    "other": "其他",
}
KINDS = ("civil", "criminal", "administrative")
GRADES = ("excellent", "good", "pass", "fail")


def _free(text: str | None) -> str | None:
    """Free text someone typed (a complaint, a remark): any phone or ID number in it masked."""
    return scrub(text, free_text=True) if text else text


def _region(query, region: str | None):
    return query.filter(region=region) if region else query


async def _grades(case_ids: list[int]) -> dict[int, tuple[str, float | None]]:
    """The grade label and subsidy coefficient of each reviewed case among `case_ids`."""
    rows = await QualityReview.filter(case_id__in=case_ids).values_list(
        "case_id", "grade", "coefficient"
    )
    return {case_id: (t(f"grade.{grade}", ZH), coefficient) for case_id, grade, coefficient in rows}


CALLBACK_COLUMNS = [
    Column("序号", 6),
    Column("案号", 22),
    Column("案由", 18),
    Column("受援人姓名", 10),
    Column("案件承办人", 10),
    Column("承办单位", 20),
    Column("结案时间", 12),
    Column("回访日期", 18),
    Column("回访方式", 8),
    Column("回访人", 10),
    Column("是否收取费用或索要钱物", 12),
    Column("收费情况说明", 24),
    Column("是否压案不办、门难进、脸难看", 14),
    Column("情况说明", 24),
    Column("对案件办理是否满意", 10),
    Column("意见和建议", 30),
    Column("质量等级", 8),
    Column("补贴系数", 8),
]


def callbacks(period: LocalRange, region: str | None) -> list[Sheet]:
    """Completed callbacks answered within the period, in the order they were recorded."""
    query = _region(
        Callback.filter(
            status=CallbackStatus.COMPLETED,
            answered_at__gte=period.start,
            answered_at__lt=period.end,
        ),
        region,
    )

    fields = (
        "id",
        "case_id",
        "case__case_no",
        "case__cause",
        "case__beneficiary_name",
        "case__handler_name",
        "case__handler_org",
        "case__closed_on",
        "answered_at",
        "channel",
        "called_by",
        "fee_charged",
        "fee_details",
        "negligent",
        "negligent_details",
        "satisfied",
        "comments",
    )

    async def rows() -> Batches:
        n = 0
        async for batch in keyset(query, fields):
            grades = await _grades([r[1] for r in batch])
            out = []
            for (
                _,
                case_id,
                case_no,
                cause,
                name,
                handler,
                org,
                closed_on,
                answered_at,
                channel,
                called_by,
                fee,
                fee_details,
                negligent,
                negligent_details,
                satisfied,
                comments,
            ) in batch:
                n += 1
                grade, coefficient = grades.get(case_id, (None, None))
                out.append(
                    [
                        n,
                        case_no,
                        cause,
                        name,
                        handler,
                        org,
                        closed_on,
                        local(answered_at, period.tz),
                        CHANNEL.get(channel or "", channel),
                        called_by,
                        YES_NO[fee],
                        _free(fee_details),
                        HAVE[negligent],
                        _free(negligent_details),
                        SATISFIED[satisfied],
                        _free(comments),
                        grade,
                        coefficient,
                    ]
                )
            yield out

    return [Sheet("回访登记表", CALLBACK_COLUMNS, rows())]


APPLICATION_COLUMNS = [
    Column("序号", 6),
    Column("申请编号", 10),
    Column("收到时间", 18),
    Column("申请人", 10),
    Column("身份证号码", 20),
    Column("联系电话", 14),
    Column("申请事项", 30),
    Column("经济困难条件", 16),
    Column("免予核查类别", 20),
    Column("加急", 6),
    Column("缺少材料", 30),
    Column("材料补充期限", 12),
    Column("审查期限", 12),
    Column("状态", 10),
    Column("决定时间", 18),
    Column("案号", 22),
    Column("决定理由", 30),
    Column("代办人", 10),
    Column("村（居）", 14),
    *assignment_ledger.APPLICATION_COLUMNS,
]


def applications(period: LocalRange, region: str | None) -> list[Sheet]:
    """Applications received within the period."""
    query = _region(
        Application.filter(received_at__gte=period.start, received_at__lt=period.end), region
    )

    fields = (
        "id",
        "received_at",
        "applicant_name",
        "applicant_id_number",
        "applicant_phone",
        "matter",
        "hardship_basis",
        "exempt_category",
        "urgent",
        "materials_due",
        "decision_due",
        "status",
        "decided_at",
        "case_no",
        "decision_reason",
        "agent__name",
        "agent__village",
    )

    async def rows() -> Batches:
        n = 0
        async for batch in keyset(query, fields):
            missing: dict[int, list[str]] = {}
            for app_id, kind in (
                await Material.filter(
                    application_id__in=[r[0] for r in batch],
                    status="missing",
                )
                .order_by("id")
                .values_list("application_id", "kind")
            ):
                kinds = missing.setdefault(app_id, [])
                if kind not in kinds:
                    kinds.append(kind)
            assigned = await assignment_ledger.current([r[0] for r in batch], period.tz)
            out = []
            for (
                app_id,
                received_at,
                name,
                id_number,
                phone,
                matter,
                basis,
                exempt,
                urgent,
                materials_due,
                decision_due,
                status,
                decided_at,
                case_no,
                reason,
                agent,
                village,
            ) in batch:
                n += 1
                out.append(
                    [
                        n,
                        app_id,
                        local(received_at, period.tz),
                        name,
                        mask_id(id_number),
                        mask_phone(phone),
                        t(f"matter.{matter}", ZH),
                        t(f"hardship.{basis}", ZH),
                        t(f"exempt.{exempt}", ZH) if exempt else "",
                        YES_NO[bool(urgent)],
                        "、".join(t(f"material.{k}", ZH) for k in missing.get(app_id, ())) or "无",
                        materials_due,
                        decision_due,
                        APPLICATION_STATUS.get(status, status),
                        local(decided_at, period.tz),
                        case_no or "",
                        _free(reason) or "",
                        agent,
                        village,
                        *assignment_ledger.cells(assigned, app_id),
                    ]
                )
            yield out

    return [Sheet("申请登记表", APPLICATION_COLUMNS, rows())]


COMPLAINT_COLUMNS = [
    Column("序号", 6),
    Column("投诉编号", 12),
    Column("收到日期", 12),
    Column("投诉对象", 14),
    Column("投诉事由", 14),
    Column("案号", 22),
    Column("投诉内容", 40),
    Column("照片", 6),
    Column("状态", 10),
    Column("受理期限", 12),
    Column("受理日期", 12),
    Column("办结期限", 12),
    Column("延期天数", 8),
    Column("不予受理或延期理由", 24),
    Column("处理结果", 30),
    Column("决定日期", 12),
    Column("经办人", 10),
]


def complaints(period: LocalRange, region: str | None) -> list[Sheet]:
    """Complaints received within the period (one file per complaint, 一事一卷)."""
    query = _region(
        Complaint.filter(received_on__gte=period.first, received_on__lte=period.last), region
    )

    fields = (
        "id",
        "ticket",
        "received_on",
        "about",
        "grounds",
        "case__case_no",
        "text",
        "photos",
        "status",
        "accept_due",
        "accepted_on",
        "conclude_due",
        "extended_days",
        "reason",
        "result",
        "decided_on",
        "handled_by",
    )

    async def rows() -> Batches:
        n = 0
        async for batch in keyset(query, fields):
            out = []
            for (
                _,
                ticket,
                received_on,
                about,
                grounds,
                case_no,
                text,
                photos,
                status,
                accept_due,
                accepted_on,
                conclude_due,
                extended,
                reason,
                result,
                decided_on,
                handled_by,
            ) in batch:
                n += 1
                out.append(
                    [
                        n,
                        ticket,
                        received_on,
                        COMPLAINT_ABOUT.get(about, about),
                        COMPLAINT_GROUNDS.get(grounds, grounds),
                        case_no or "",
                        _free(text),
                        len(photos or []) or "",
                        COMPLAINT_STATUS.get(status, status),
                        accept_due,
                        accepted_on,
                        conclude_due,
                        extended or "",
                        _free(reason) or "",
                        _free(result) or "",
                        decided_on,
                        handled_by or "",
                    ]
                )
            yield out

    return [Sheet("投诉登记表", COMPLAINT_COLUMNS, rows())]


def _totals(counts: dict[str, dict[str, int]], keys: Sequence[str]) -> list[int]:
    """The 合计 row: each column's sum over the organisations, then the sum of their totals."""
    return [
        *(sum(c[k] for c in counts.values()) for k in keys),
        sum(sum(c.values()) for c in counts.values()),
    ]


def _busiest_first(counts: dict[str, dict[str, int]]) -> list[tuple[str, dict[str, int]]]:
    return sorted(counts.items(), key=lambda item: (-sum(item[1].values()), item[0]))


async def disclosure(period: LocalRange, region: str | None) -> list[Sheet]:
    """Beijing 附件5–7 for cases closed within the period: per firm, per handler, by grade."""
    closed = _region(Case.filter(closed_on__gte=period.first, closed_on__lte=period.last), region)
    # Cases that started here count under the pool's names (their assignment); the others, as
    # the centre's system sent them, are counted by the database.
    outside = closed.filter(application_id__isnull=True)
    orgs: dict[str, dict[str, int]] = {}
    people: dict[tuple[str, str], int] = {}
    for org, kind, n in (
        await outside.annotate(n=Count("id"))
        .group_by("handler_org", "kind")
        .values_list("handler_org", "kind", "n")
    ):
        orgs.setdefault(org, dict.fromkeys(KINDS, 0))[kind] += n
    for name, org, n in (
        await outside.annotate(n=Count("id"))
        .group_by("handler_name", "handler_org")
        .values_list("handler_name", "handler_org", "n")
    ):
        people[(name, org)] = people.get((name, org), 0) + n
    here = await closed.filter(application_id__isnull=False).values_list(
        "id", "application_id", "handler_name", "handler_org", "kind"
    )
    pool = await assignment_ledger.pool_names({app_id: case_id for case_id, app_id, *_ in here})
    for case_id, _, name, org, kind in here:
        name, org = pool.get(case_id, (name, org))
        orgs.setdefault(org, dict.fromkeys(KINDS, 0))[kind] += 1
        people[(name, org)] = people.get((name, org), 0) + 1
    firm_rows = [
        [i, org, *(c[k] for k in KINDS), sum(c.values())]
        for i, (org, c) in enumerate(_busiest_first(orgs), start=1)
    ]
    firm_rows.append(["合计", "", *_totals(orgs, KINDS)])

    by_handler = [(name, org, n) for (name, org), n in people.items()]
    handler_rows = [
        [i, name, org, n]
        for i, (name, org, n) in enumerate(
            sorted(by_handler, key=lambda r: (-r[2], r[1], r[0])), start=1
        )
    ]

    reviewed = QualityReview.filter(
        case__closed_on__gte=period.first, case__closed_on__lte=period.last
    )
    reviewed = reviewed.filter(case__region=region) if region else reviewed
    by_grade = (
        await reviewed.annotate(n=Count("id"))
        .group_by("case__handler_org", "grade")
        .values_list("case__handler_org", "grade", "n")
    )
    grades: dict[str, dict[str, int]] = {}
    for org, grade, n in by_grade:
        grades.setdefault(org, dict.fromkeys(GRADES, 0))[grade] = n
    grade_rows = [
        [i, org, *(g[k] for k in GRADES), sum(g.values())]
        for i, (org, g) in enumerate(_busiest_first(grades), start=1)
    ]
    totals = _totals(grades, GRADES)
    grade_rows.append(["合计", "", *totals])
    grade_rows.append(["占比", "", *(f"{v / totals[4]:.1%}" if totals[4] else "" for v in totals)])

    return [
        Sheet(
            "附件5 各承办机构办案数",
            [
                Column("序号", 6),
                Column("承办机构", 30),
                Column("民事", 8),
                Column("刑事", 8),
                Column("行政", 8),
                Column("合计", 8),
            ],
            one_batch(firm_rows),
        ),
        Sheet(
            "附件6 各承办人员办案数",
            [
                Column("序号", 6),
                Column("承办人员", 12),
                Column("承办机构", 30),
                Column("案件数", 8),
            ],
            one_batch(handler_rows),
        ),
        Sheet(
            "附件7 法律援助案件质量同行评估结果",
            [
                Column("序号", 6),
                Column("承办机构", 30),
                *(Column(t(f"grade.{g}", ZH), 8) for g in GRADES),
                Column("合计", 8),
            ],
            one_batch(grade_rows),
        ),
        await _graded_cases(period, region),
        await _subsidies_paid(period, region),
        await assignment_ledger.assignment_sheet(period, region),
    ]


async def _graded_cases(period: LocalRange, region: str | None) -> Sheet:
    """附件7 in detail: every graded case closed in the period, with its organisation and handler."""
    reviewed = QualityReview.filter(
        case__closed_on__gte=period.first, case__closed_on__lte=period.last
    )
    reviewed = reviewed.filter(case__region=region) if region else reviewed
    rows = await reviewed.order_by(
        "case__handler_org", "case__handler_name", "case__case_no"
    ).values_list("case__case_no", "case__handler_org", "case__handler_name", "grade")
    return Sheet(
        "附件7 评估结果明细",
        [
            Column("序号", 6),
            Column("案号", 22),
            Column("承办机构", 30),
            Column("承办人员", 12),
            Column("评估等次", 10),
        ],
        one_batch(
            [
                [i, no, org, name, t(f"grade.{grade}", ZH)]
                for i, (no, org, name, grade) in enumerate(rows, start=1)
            ]
        ),
    )


async def _subsidies_paid(period: LocalRange, region: str | None) -> Sheet:
    """附件4: subsidies paid within the period, per handler and organisation, net of claw-backs."""
    paid = Subsidy.filter(paid_at__gte=period.start, paid_at__lt=period.end)
    paid = paid.filter(region=region) if region else paid
    rows = await paid.values_list(
        "case__handler_org", "case__handler_name", "paid_amount", "clawback_amount"
    )
    per: dict[tuple[str, str], list] = {}
    for org, name, amount, clawed in rows:
        acc = per.setdefault((org, name), [0, Decimal(0), Decimal(0)])
        acc[0] += 1
        acc[1] += amount or 0
        acc[2] += clawed or 0
    lines = [
        [i, org, name, n, float(amount), float(clawed)]
        for i, ((org, name), (n, amount, clawed)) in enumerate(
            sorted(per.items(), key=lambda kv: (-kv[1][1], kv[0])), start=1
        )
    ]
    if lines:
        lines.append(
            [
                "合计",
                None,
                None,
                sum(r[3] for r in lines),
                round(sum(r[4] for r in lines), 2),
                round(sum(r[5] for r in lines), 2),
            ]
        )
    return Sheet(
        "附件4 办案补贴发放情况",
        [
            Column("序号", 6),
            Column("承办机构", 30),
            Column("承办人员", 12),
            Column("发放件数", 10),
            Column("发放金额（元）", 14),
            Column("追回金额（元）", 14),
        ],
        one_batch(lines),
    )


LEDGERS = {"applications": applications, "callbacks": callbacks, "complaints": complaints}
