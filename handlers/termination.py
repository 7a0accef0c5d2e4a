"""Terminating legal aid (Art. 48) and objections to a refusal or termination (Art. 49).

`terminate` does everything in the caller's transaction: the case ends (no callback for a case
that did not conclude), its live assignment ends, the 终止法律援助决定书 is issued, and the
recipient (the application's follower or the case's bound beneficiary), the handler and the
centre's records system are told. `file_objection` records an objection and alerts the region's
bureau staff with the review deadline (5 days); `review_objection` records the bureau's decision
and tells the objector.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from bot.keys import policy_key, settings_key
from bot.notify import alert_staff, emit_event, notify_user
from handlers.applicant import follower
from handlers.document_render import Letter
from handlers.documents import TITLES, cn_date, issue, objection_line
from i18n import t
from models.application import Application
from models.assignment import LIVE, Assignment, AssignmentStatus
from models.bureau import find_bureau, objection_review_due
from models.calendar import local_today
from models.callback import Callback
from models.case import Case, CaseStatus
from models.conversation import Conversation
from models.document import DocKind, Document
from models.pool import Handler
from models.termination import Objection, ObjectionStatus, Termination, reason_text

ZH = "zh_CN"


async def _locale(openid: str, conn) -> str:
    conv = await Conversation.get_or_none(openid=openid).using_db(conn)
    return conv.locale if conv else ZH


def termination_letter(
    app: web.Application, case: Case, application: Application | None, reason: str, note: str | None
) -> Letter:
    """The 终止法律援助决定书: to the recipient, with the statutory reason and the objection route."""
    policy = app[policy_key]
    today = local_today(app[settings_key].timezone)
    if application is not None:
        who = f"{application.applicant_name}（公民身份号码：{application.applicant_id_number}）"
        matter = t(f"matter.{application.matter}", ZH)
    else:
        who = case.beneficiary_name + (
            f"（公民身份号码：{case.beneficiary_id_number}）" if case.beneficiary_id_number else ""
        )
        matter = case.cause
    return Letter(
        TITLES[DocKind.TERMINATION],
        number="",
        addressee=who,
        issuer=policy.centre_name,
        date=cn_date(today),
        paragraphs=[
            f"本中心决定给予你法律援助（事项：{matter}，案件编号：{case.case_no}）。"
            f"因{reason_text(reason)}，根据《中华人民共和国法律援助法》第四十八条规定，"
            "本中心决定终止法律援助。" + (f"{note}" if note else ""),
            objection_line(policy, "决定"),
        ],
    )


async def terminate(
    app: web.Application,
    case: Case,
    reason: str,
    note: str | None,
    *,
    actor: str,
    conn: BaseDBAsyncClient,
) -> tuple[Termination, Document]:
    settings = app[settings_key]
    now = datetime.now(UTC)
    application = (
        await Application.get_or_none(id=case.application_id, region=case.region).using_db(conn)
        if case.application_id
        else None
    )
    case.status = CaseStatus.TERMINATED
    await case.save(using_db=conn, update_fields=["status", "updated_at"])
    await Callback.filter(case_id=case.id, answered_at=None).using_db(conn).delete()
    term = await Termination.create(
        region=case.region,
        case_id=case.id,
        application_id=case.application_id,
        reason=reason,
        note=note,
        actor=actor,
        at=now,
        using_db=conn,
    )
    doc = await issue(
        app,
        DocKind.TERMINATION,
        termination_letter(app, case, application, reason, note),
        region=case.region,
        conn=conn,
        case_id=case.id,
        application_id=case.application_id,
    )
    openid = case.openid or (await follower(application.id, conn) if application else None)
    if openid:
        loc = await _locale(openid, conn)
        await notify_user(
            settings,
            openid=openid,
            key=f"termination:{term.id}",
            kind="applicant",
            region=case.region,
            conn=conn,
            text=t(
                "applicant.terminated",
                loc,
                id=case.application_id or "-",
                matter=case.cause,
                reason=reason_text(reason),
                bureau=app[policy_key].bureau_name,
            ),
        )
    if application is not None:
        live = (
            await Assignment.filter(application_id=application.id, status__in=LIVE)
            .using_db(conn)
            .first()
        )
        if live is not None:
            await (
                Assignment.filter(id=live.id)
                .using_db(conn)
                .update(status=AssignmentStatus.ENDED, active_key=None, ended_at=now)
            )
            handler = await Handler.get(id=live.handler_id).using_db(conn)
            if handler.openid:
                await notify_user(
                    settings,
                    openid=handler.openid,
                    kind="assignment",
                    key=f"termination:{term.id}:handler",
                    region=case.region,
                    conn=conn,
                    text=t(
                        "termination.handler",
                        handler.locale,
                        case_no=case.case_no,
                        reason=reason_text(reason),
                    ),
                )
    await emit_event(
        settings,
        event_type="case.terminated",
        key=f"termination:{term.id}",
        region=case.region,
        conn=conn,
        data={
            "case_no": case.case_no,
            "application_id": case.application_id,
            "reason": reason,
            "document": doc.number,
        },
    )
    return term, doc


async def file_objection(
    app: web.Application,
    *,
    openid: str,
    region: str,
    target: str,
    text: str,
    application_id: int | None,
    case_id: int | None,
    ref: str,
    now: datetime,
    conn: BaseDBAsyncClient,
) -> Objection:
    """Record an objection and route it to the region's bureau with its 5-day deadline."""
    settings = app[settings_key]
    due = objection_review_due(local_today(settings.timezone), app[policy_key])
    bureau = await find_bureau(region, conn)  # the nearest registered one: county, city, province
    obj = await Objection.create(
        region=region,
        openid=openid,
        target=target,
        text=text,
        application_id=application_id,
        case_id=case_id,
        filed_at=now,
        review_due=due,
        using_db=conn,
    )
    await alert_staff(
        settings,
        region=bureau.region if bureau else region,
        key=f"objection:{obj.id}",
        kind="objection",
        bureau=bureau is not None,
        conn=conn,
        title=t("objection.staff.title", ZH, bureau=app[policy_key].bureau_name),
        lines=[
            t(
                "objection.staff.line",
                ZH,
                id=obj.id,
                ref=ref,
                target=t(f"objection.target.{target}", ZH),
                due=due.isoformat(),
            )
        ],
    )
    return obj


async def review_objection(
    app: web.Application,
    obj: Objection,
    decision: str,
    note: str | None,
    *,
    actor: str,
    conn: BaseDBAsyncClient,
) -> None:
    """The bureau's decision (upheld: the centre's decision stands; corrected: the centre must
    correct it), told to the objector and to the centre's staff."""
    settings = app[settings_key]
    obj.status, obj.decision_note = ObjectionStatus(decision), note
    obj.decided_at, obj.decided_by = datetime.now(UTC), actor
    await obj.save(
        using_db=conn, update_fields=["status", "decision_note", "decided_at", "decided_by"]
    )
    loc = await _locale(obj.openid, conn)
    await notify_user(
        settings,
        openid=obj.openid,
        key=f"objection:{obj.id}:reviewed",
        kind="objection",
        region=obj.region,
        conn=conn,
        text=t(
            f"objection.reviewed.{decision}",
            loc,
            bureau=app[policy_key].bureau_name,
            note=note or "-",
        ),
    )
    if decision == ObjectionStatus.CORRECTED:
        await alert_staff(
            settings,
            region=obj.region,
            key=f"objection:{obj.id}:corrected",
            kind="objection",
            conn=conn,
            title=t("objection.staff.corrected_title", ZH),
            lines=[t("objection.staff.corrected_line", ZH, id=obj.id, note=note or "-")],
        )
