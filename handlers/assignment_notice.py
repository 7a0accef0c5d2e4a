"""What follows an assignment: the handler told in WeChat, the case and the centre updated.

Everything here runs in the assignment's transaction and queues through the outbox, so an
assignment that rolls back tells nobody. Texts carry the recipient's masked name only.

A bound handler's chat is set to answer the assignment (`1` accept, `2` conflict) when they are
not in the middle of something else; otherwise `我的案件` reaches the same question.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from bot.keys import policy_key, settings_key
from bot.notify import alert_staff, emit_event, notify_user
from bot.settings import Settings
from handlers.applicant import tell_assignment
from handlers.documents import issue, letter_for, void_live
from i18n import t
from models.application import Application
from models.assignment import Assignment, AssignmentStatus
from models.calendar import local_today
from models.case import Case, CaseStatus
from models.conversation import Conversation
from models.document import DocKind
from models.masking import mask_name
from models.pool import Handler, Org
from models.rotation import AssignError, assign

log = logging.getLogger(__name__)
ZH = "zh_CN"  # staff alerts are in the centre's language
ANSWER_FLOW, ANSWER_STEP = "assignment_answer", "answer"


def case_ref(application: Application, locale: str) -> str:
    """How people name the case: the centre's number once there is one, else the application."""
    if application.case_no:
        return application.case_no
    return t("assignment.application_ref", locale, id=application.id)


async def after_assignment(
    app: web.Application, a: Assignment, application: Application, *, conn: BaseDBAsyncClient
) -> None:
    """Tell the handler, record the handler on the case, and emit the centre event."""
    settings, policy = app[settings_key], app[policy_key]
    handler = await Handler.get(id=a.handler_id).using_db(conn)
    org = await Org.get(id=a.org_id).using_db(conn)
    letter = await letter_for(
        DocKind.ASSIGNMENT_NOTICE,
        policy,
        application=application,
        today=local_today(settings.timezone),
        tz=settings.timezone,
        conn=conn,
        assignment=a,
        handler=handler,
        org=org,
    )
    await issue(
        app,
        DocKind.ASSIGNMENT_NOTICE,
        letter,
        region=a.region,
        conn=conn,
        application_id=application.id,
        assignment_id=a.id,
    )
    if handler.openid:
        loc = handler.locale
        text = t(
            "assignment.push",
            loc,
            ref=case_ref(application, loc),
            name=mask_name(application.applicant_name),
            matter=t(f"matter.{application.matter}", loc),
            org=org.name,
            phone=org.phone or "-",
            due=a.agreement_due.isoformat(),
        )
        await notify_user(
            settings,
            openid=handler.openid,
            key=f"assignment:{a.id}",
            text=text,
            kind="assignment",
            region=a.region,
            public_numbers=(org.phone,),
            conn=conn,
        )
        await offer_answer(handler.openid, a.id, conn)
    await (
        Case.filter(region=a.region, application_id=application.id)
        .using_db(conn)
        .update(handler_name=handler.name, handler_org=org.name, updated_at=datetime.now(UTC))
    )
    await (
        Case.filter(region=a.region, application_id=application.id, status=CaseStatus.ACCEPTED)
        .using_db(conn)
        .update(status=CaseStatus.ASSIGNED)
    )
    await tell_assignment(app, application, a, conn=conn)
    await emit_event(
        settings,
        event_type="application.assigned",
        key=f"assignment:{a.id}",
        region=a.region,
        conn=conn,
        data={
            "application_id": application.id,
            "assignment_id": a.id,
            "handler_id": handler.id,
            "handler": handler.name,
            "org_id": org.id,
            "org": org.name,
            "priority": a.priority,
            "uses_turn": a.uses_turn,
            "group_case": a.group_case,
            "agreement_due": a.agreement_due.isoformat(),
        },
    )


async def offer_answer(openid: str, assignment_id: int, conn: BaseDBAsyncClient) -> None:
    """Put the handler's chat on the 1/2 question, unless another flow is under way."""
    conv = await Conversation.select_for_update().using_db(conn).get_or_none(openid=openid)
    state: dict[str, Any] = {  # the columns of a Conversation
        "flow": ANSWER_FLOW,
        "step": ANSWER_STEP,
        "data": {"assignment": assignment_id},
        "history": [],
        "expires_at": None,
    }
    if conv is None:
        await Conversation.bulk_create(
            [Conversation(openid=openid, **state)], ignore_conflicts=True, using_db=conn
        )
    elif conv.flow is None or conv.flow == ANSWER_FLOW:
        await Conversation.filter(openid=openid).using_db(conn).update(**state)


async def alert_unassigned(
    settings: Settings,
    region: str,
    app_id: int,
    exc: AssignError,
    *,
    conn: BaseDBAsyncClient | None = None,
) -> None:
    """Staff hear at once that nobody eligible is left (once per application and day)."""
    today = local_today(settings.timezone)
    await alert_staff(
        settings,
        region=region,
        key=f"unassigned:{app_id}:{today}",
        title=t("assignment.staff.none_title", ZH),
        conn=conn,
        lines=[
            t(
                "assignment.staff.none_line",
                ZH,
                id=app_id,
                reason=t(f"assignment.error.{exc.code}", ZH, **exc.params),
            )
        ],
    )


async def reassign_after_conflict(
    app: web.Application, a: Assignment, reason: str, *, now: datetime, conn: BaseDBAsyncClient
) -> Assignment | None:
    """End `a` as a conflict and assign again by the same rules; the centre is told either way.

    Returns the new assignment, or None when nobody eligible is left (staff are alerted)."""
    settings, policy = app[settings_key], app[policy_key]
    a.status, a.active_key, a.conflict_reason, a.ended_at = (
        AssignmentStatus.CONFLICT,
        None,
        reason,
        now,
    )
    await a.save(
        using_db=conn, update_fields=["status", "active_key", "conflict_reason", "ended_at"]
    )
    await void_live(DocKind.ASSIGNMENT_NOTICE, assignment_id=a.id, conn=conn)
    application = await Application.get(id=a.application_id).using_db(conn)
    old = await Handler.get(id=a.handler_id).using_db(conn)
    new: Assignment | None
    try:
        new = await assign(
            application,
            cap=policy.handler_monthly_case_cap,
            now=now,
            today=local_today(settings.timezone),
            group_case=a.group_case,
            actor="reassign",
            conn=conn,
        )
    except AssignError as exc:
        new = None
        detail = t(f"assignment.error.{exc.code}", ZH, **exc.params)
    else:
        await after_assignment(app, new, application, conn=conn)
        new_handler = await Handler.get(id=new.handler_id).using_db(conn)
        detail = t("assignment.staff.reassigned_to", ZH, name=new_handler.name)
    await alert_staff(
        settings,
        region=a.region,
        key=f"conflict:{a.id}",
        conn=conn,
        title=t("assignment.staff.conflict_title", ZH),
        lines=[
            t(
                "assignment.staff.conflict_line",
                ZH,
                ref=case_ref(application, ZH),
                name=old.name,
                reason=reason,
            ),
            detail,
        ],
    )
    await emit_event(
        settings,
        event_type="assignment.conflict",
        key=f"assignment:{a.id}",
        region=a.region,
        conn=conn,
        data={
            "application_id": a.application_id,
            "assignment_id": a.id,
            "handler_id": old.id,
            "reason": reason,
            "reassigned_to": new.id if new else None,
        },
    )
    log.info("assignment %s ended by a conflict; reassigned: %s", a.id, bool(new))
    return new
