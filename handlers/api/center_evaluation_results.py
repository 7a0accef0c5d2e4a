"""Publishing a round and reporting on it: `POST /api/v1/center/evaluations/{id}/publish` tells
every handler their grades (Wanzhou: within 5 working days of the round's end) and opens the
objection window; `GET …/{id}/report.xlsx` is the round's report (grades per group, each case,
the objections and their outcomes).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

from aiohttp import web
from pydantic import BaseModel
from tortoise.transactions import in_transaction

from bot.api import json_ok, operation
from bot.auth import require_center
from bot.keys import policy_key, settings_key
from handlers.api.center_evaluations import _fail, _round
from handlers.quality import notices
from handlers.quality.views import EvaluationOut, round_report, round_view
from handlers.records.exports import XLSX, Column, Sheet, one_batch, xlsx_response
from i18n import t
from models.codes import GRADES
from models.evaluation import Evaluation
from models.evaluation_rules import EvaluationError, publish

ZH = "zh_CN"
HOW = {"agreed": "两评一致", "leader": "组长确定", "recheck": "专家复核", "review": "异议复评"}
OBJECTION = {"pending": "待复评", "upheld": "异议成立", "rejected": "维持原等次"}


class PublishOut(BaseModel):
    id: int
    published_at: datetime
    objections_until: date
    handlers_notified: int


@operation(
    "POST",
    "/api/v1/center/evaluations/{id}/publish",
    summary="Publish a finished round and tell each handler their grades",
    tag="quality",
    response=PublishOut,
    auth="api_key",
    errors=(404, 409),
)
async def post_publish(request: web.Request) -> web.Response:
    key = await require_center(request)
    return json_ok(await publish_round(request.app, await _round(request, key.region)))


async def publish_round(app: web.Application, ev: Evaluation) -> PublishOut:
    """Publish the round and tell its handlers (a refusal -> ApiError). The API's publish and
    the console's 公布 button both come through here."""
    try:
        async with in_transaction() as conn:
            ev = await Evaluation.filter(id=ev.id).using_db(conn).select_for_update().get()
            cases = await publish(ev, app[policy_key], now=datetime.now(UTC), conn=conn)
            told = await notices.published(app[settings_key], ev, cases, conn=conn)
    except EvaluationError as exc:
        raise _fail(exc) from None
    assert ev.published_at is not None and ev.objections_until is not None  # publish set them
    return PublishOut(
        id=ev.id,
        published_at=ev.published_at,
        objections_until=ev.objections_until,
        handlers_notified=told,
    )


@operation(
    "GET",
    "/api/v1/center/evaluations/{id}/report.xlsx",
    summary="The round's report",
    tag="quality",
    auth="api_key",
    content_type=XLSX,
    errors=(404,),
)
async def get_report(request: web.Request) -> web.StreamResponse:
    key = await require_center(request)
    return await report_response(request, await _round(request, key.region))


async def report_response(request: web.Request, ev: Evaluation) -> web.StreamResponse:
    """The round's report as an xlsx download (the API's and the console's link)."""
    view = await round_view(ev, ZH)  # a Chinese record, like the ledgers
    return await xlsx_response(request, report_sheets(view), f"evaluation_{ev.id}.xlsx")


def report_sheets(view: EvaluationOut) -> list[Sheet]:
    """Counts per grade and group, every case, the objections: the round's report."""
    report = round_report(view)

    def count_row(label: str, n: Counter[str]) -> list[object]:
        return [label, *(n[k] for k in GRADES), n["none"], n.total()]

    summary = [count_row(t(f"quality.group.{g}", ZH), n) for g, n in report.counts.items()]
    summary.append(count_row("合计", report.total))
    cases = []
    for i, c in enumerate(report.cases, start=1):
        first, second = [*c.scores, None, None][:2]
        cases.append(
            [
                i,
                c.case_no,
                t(f"quality.group.{c.group}", ZH),
                c.handler["org"],
                c.handler["name"],
                first.score if first else None,
                second.score if second else None,
                t(f"grade.{c.grade}", ZH) if c.grade else c.state_label,
                HOW.get(c.decided_how or ""),
                c.decided_by.name if c.decided_by else None,
            ]
        )
    objected = [(c, c.objection) for c in report.objections if c.objection]
    objections = [
        [
            i,
            c.case_no,
            c.handler["name"],
            o.text,
            t(f"grade.{o.previous_grade}", ZH),
            OBJECTION[o.state],
            t(f"grade.{o.new_grade}", ZH) if o.new_grade else None,
            o.reviewers,
            o.review_due.isoformat(),
        ]
        for i, (c, o) in enumerate(objected, start=1)
    ]
    return [
        Sheet(
            "等次统计",
            [
                Column("组别", 14),
                *(Column(t(f"grade.{g}", ZH), 8) for g in GRADES),
                Column("未定", 8),
                Column("合计", 8),
            ],
            one_batch(summary),
        ),
        Sheet(
            "评估案件",
            [
                Column("序号", 6),
                Column("案号", 22),
                Column("组别", 12),
                Column("承办机构", 24),
                Column("承办人员", 10),
                Column("评分一", 8),
                Column("评分二", 8),
                Column("等次", 8),
                Column("确定方式", 10),
                Column("确定人", 10),
            ],
            one_batch(cases),
        ),
        Sheet(
            "异议复评",
            [
                Column("序号", 6),
                Column("案号", 22),
                Column("承办人员", 10),
                Column("异议理由", 40),
                Column("原等次", 8),
                Column("结果", 10),
                Column("新等次", 8),
                Column("复评组", 20),
                Column("复评期限", 12),
            ],
            one_batch(objections),
        ),
    ]
