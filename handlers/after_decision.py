"""What a decision on an application sets going, in the decision's own transaction.

The decision endpoint calls `after_decision` once per new decision; everything here only queues
(outbox) or writes rows, so a decision that rolls back leaves nothing behind (but a stored file:
documents are written to storage before the commit). Each decision issues its document
(给予/不予法律援助决定书, 补充材料通知书) and the filing agent gets a link to it. A grant is
assigned at once when the region's policy assigns here and automatically (`assignment: here`,
`assignment_auto`), and only when the region has a pool at all: a centre that has not set up
its organisations yet assigns by hand, and the deadline watch (handlers.jobs_assignment) alerts
staff when the policy's days run out.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from bot.keys import policy_key, settings_key
from bot.notify import notify_user
from handlers.applicant import tell_decision
from handlers.assignment_notice import after_assignment, alert_unassigned
from handlers.documents import LINK_DAYS, TITLES, agent_link, issue, letter_for
from i18n import t
from models.agent import Agent
from models.application import Application
from models.calendar import local_today
from models.document import DocKind, Document
from models.pool import Handler
from models.rotation import AssignError, assign

log = logging.getLogger(__name__)
DOCUMENT_OF = {
    "granted": DocKind.DECISION_GRANT,
    "refused": DocKind.DECISION_REFUSE,
    "need_materials": DocKind.MATERIALS_NOTICE,
}


async def after_decision(
    app: web.Application, row: Application, *, conn: BaseDBAsyncClient
) -> None:
    """Runs the consequences of `row`'s new decision (see the module docstring)."""
    kind = DOCUMENT_OF.get(row.status)
    if kind is not None:
        await issue_and_tell_agent(app, row, kind, conn=conn)
    await tell_decision(app, row, conn=conn)
    if row.status == "granted":
        await auto_assign(app, row, conn=conn)


async def issue_and_tell_agent(
    app: web.Application, row: Application, kind: DocKind, *, conn: BaseDBAsyncClient
) -> Document:
    """Issue the decision's document and give the filing agent a link to show or print it."""
    settings, policy = app[settings_key], app[policy_key]
    letter = await letter_for(
        kind,
        policy,
        application=row,
        today=local_today(settings.timezone),
        tz=settings.timezone,
        conn=conn,
        reason=row.decision_reason,
    )
    doc = await issue(app, kind, letter, region=row.region, conn=conn, application_id=row.id)
    agent = await Agent.get(id=row.agent_id).using_db(conn)
    if agent.oa_openid:
        await notify_user(
            settings,
            openid=agent.oa_openid,
            key=f"document:{doc.id}",
            kind="document",
            region=row.region,
            conn=conn,
            text=t(
                "documents.agent_link",
                agent.locale,
                id=row.id,
                title=TITLES[kind],
                number=doc.number,
                url=agent_link(settings, doc),
                days=LINK_DAYS,
            ),
        )
    return doc


async def auto_assign(
    app: web.Application, row: Application, *, conn: BaseDBAsyncClient, alert: bool = True
) -> bool:
    """Assign a granted application by the rules when the policy says so; True if assigned.

    When nobody eligible is left, staff are alerted (once per application and day) and the
    deadline watch tries again: a new month lifts the cap, a readmission refills the pool."""
    settings, policy = app[settings_key], app[policy_key]
    if policy.assignment != "here" or not policy.assignment_auto:
        return False
    if not await Handler.filter(region=row.region).using_db(conn).exists():
        return False
    today = local_today(settings.timezone)
    try:
        a = await assign(
            row,
            cap=policy.handler_monthly_case_cap,
            now=datetime.now(UTC),
            today=today,
            actor="auto",
            conn=conn,
        )
    except AssignError as exc:
        if exc.code == "already_assigned" or not alert:
            return False
        log.info("application %s not assigned automatically: %s", row.id, exc.code)
        await alert_unassigned(settings, row.region, row.id, exc, conn=conn)
        return False
    await after_assignment(app, a, row, conn=conn)
    return True
