"""Who hears what about an evaluation round, always through the outbox.

- At publication every handler bound in WeChat is told the grades of their cases, with how to
  object (`异议 <案号> <理由>`) and until when.
- An objection alerts the region's bureau (the justice bureau reviews objections; Wanzhou); the
  review's result is told back to the handler.

The handler of a case is the pool member (models.pool) of the case's handler name in the case's
organisation: the centre's records name them so on every case.
"""

from __future__ import annotations

from collections import defaultdict

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.notify import alert_staff, console_link, notify_user
from bot.settings import Settings
from i18n import t
from models.bureau import find_bureau
from models.evaluation import Evaluation, EvaluationCase, GradeObjection
from models.pool import Handler, handler_of_case, handlers_of_cases

REASON_SHOWN = 120  # characters of the handler's reason in the alert; the page has it all


async def published(
    settings: Settings, ev: Evaluation, cases: list[EvaluationCase], *, conn: BaseDBAsyncClient
) -> int:
    """Tell each bound handler their cases' grades; returns how many handlers were told."""
    by_handler: dict[int, list[EvaluationCase]] = defaultdict(list)
    handlers: dict[int, tuple[Handler, str]] = {}  # with their openid
    of_case = await handlers_of_cases([ec.case for ec in cases], conn)
    for ec in cases:
        handler = of_case.get(ec.case.id)
        if handler is not None and handler.openid:
            handlers[handler.id] = handler, handler.openid
            by_handler[handler.id].append(ec)
    for hid, ecs in by_handler.items():
        h, openid = handlers[hid]
        lines = [
            t(
                "quality.notice.grade_line",
                h.locale,
                case_no=ec.case.case_no,
                grade=t(f"grade.{ec.grade}", h.locale),
            )
            for ec in ecs
        ]
        text = "\n".join(
            [
                t("quality.notice.published", h.locale, round=ev.id),
                *lines,
                t(
                    "quality.notice.how_to_object",
                    h.locale,
                    until=ev.objections_until.isoformat() if ev.objections_until else "-",
                ),
            ]
        )
        await notify_user(
            settings,
            openid=openid,
            key=f"evaluation:{ev.id}:handler:{hid}",
            text=text,
            kind="evaluation",
            region=ev.region,
            conn=conn,
        )
    return len(by_handler)


async def objection_filed(
    settings: Settings,
    ev: Evaluation,
    ec: EvaluationCase,
    obj: GradeObjection,
    *,
    conn: BaseDBAsyncClient,
) -> None:
    """The bureau hears of the objection: the case, its handler, the reason and the review
    deadline, with a link to the objection's page in the console (where the review is
    recorded)."""
    reason = " ".join(obj.text.split())
    if len(reason) > REASON_SHOWN:
        reason = reason[: REASON_SHOWN - 1] + "…"
    await alert_bureau(
        settings,
        ev.region,
        key=f"grade-objection:{obj.id}",
        title=t("quality.alert.objection_title", "zh_CN"),
        lines=[
            t(
                "quality.alert.objection_line",
                "zh_CN",
                case_no=ec.case.case_no,
                grade=t(f"grade.{obj.previous_grade}", "zh_CN"),
                due=obj.review_due.isoformat(),
            ),
            t(
                "console.alert.objection_handler",
                "zh_CN",
                org=ec.case.handler_org or "",
                name=ec.case.handler_name or "",
            ),
            t("console.alert.objection_reason", "zh_CN", text=reason),
        ],
        link=console_link(settings, f"objections/{obj.id}"),
        conn=conn,
    )


async def alert_bureau(
    settings: Settings,
    region: str,
    *,
    key: str,
    title: str,
    lines: list[str],
    link: str | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> int:
    """Objections to grades are reviewed by the justice bureau (Wanzhou: 区司法局): its nearest
    registered members (county, then city, then province) hear of them; where no bureau is
    registered yet, the centre's staff do, so that the objection is not lost."""
    bureau = await find_bureau(region, conn)
    return await alert_staff(
        settings,
        region=bureau.region if bureau else region,
        key=key,
        title=title,
        lines=lines,
        link=link,
        kind="objection",
        conn=conn,
        bureau=bureau is not None,
    )


async def objection_reviewed(
    settings: Settings,
    ev: Evaluation,
    ec: EvaluationCase,
    obj: GradeObjection,
    *,
    conn: BaseDBAsyncClient,
) -> None:
    """The handler who objected (in chat, or the case's bound handler) hears the result."""
    handler = await handler_of_case(ec.case, conn)
    openid = obj.openid or (handler.openid if handler else None)
    if not openid:
        return
    locale = handler.locale if handler else "zh_CN"
    key = (
        "quality.notice.review_upheld"
        if obj.state == "upheld"
        else "quality.notice.review_rejected"
    )
    grade = obj.new_grade if obj.state == "upheld" else obj.previous_grade
    await notify_user(
        settings,
        openid=openid,
        key=f"grade-objection:{obj.id}:reviewed",
        text="\n".join(
            [t(key, locale, case_no=ec.case.case_no, grade=t(f"grade.{grade}", locale))]
            + ([t("quality.notice.review_note", locale, note=obj.note)] if obj.note else [])
        ),
        kind="objection",
        region=ev.region,
        conn=conn,
    )
