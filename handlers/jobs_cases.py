"""Scheduler jobs for closed cases and 人工 tickets. Each is idempotent: re-running one queues
nothing twice (conditional updates plus outbox dedupe keys).

- callbacks: give every closed case its callback; invite bound beneficiaries whose callback is
  due (daytime only — many are old); move callbacks unanswered in WeChat for
  policy.callback_phone_after_days to the phone worklist (pending_phone).
- handoff: a ticket with no staff reply by its due time escalates to the supervisors.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from bot.keys import policy_key, settings_key
from bot.notify import alert_supervisors, console_link, notify_user
from bot.scheduler import every, job
from i18n import t
from models.callback import Callback, CallbackStatus, due_at
from models.case import Case, CaseStatus
from models.conversation import Conversation
from models.handoff import Handoff, HandoffStatus, local_hhmm

log = logging.getLogger(__name__)
# Local hours in which invitations go out: not before breakfast, not after the evening news.
INVITE_FROM, INVITE_UNTIL = time(8, 0), time(21, 0)
BATCH = 200  # rows per run; the next run (15 minutes later) takes the rest


@job("callbacks", every(15))
async def callbacks(app: web.Application, now: datetime) -> None:
    settings, policy = app[settings_key], app[policy_key]
    missing = (
        await Case.filter(status=CaseStatus.CLOSED, closed_on__not_isnull=True)
        .exclude(id__in=Subquery(Callback.all().values("case_id")))
        .limit(BATCH)
    )
    if missing:
        await Callback.bulk_create(
            [
                Callback(
                    case_id=c.id,
                    region=c.region,
                    due_at=due_at(c.closed_on, policy.callback_delay_days, settings.timezone),
                )
                for c in missing
                if c.closed_on is not None  # always (closed_on__not_isnull): for the type checker
            ],
            ignore_conflicts=True,
        )
    local = now.astimezone(ZoneInfo(settings.timezone)).time()
    if INVITE_FROM <= local < INVITE_UNTIL:
        await invite_due(app, now)
    moved = await to_phone_worklist(now, policy.callback_phone_after_days)
    if moved:
        log.info("%d callbacks moved to the phone worklist", moved)


async def to_phone_worklist(
    now: datetime,
    after_days: int,
    *,
    case_id: int | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> int:
    """Move callbacks unanswered in WeChat `after_days` past their due time to the phone
    worklist (all of them, or one case's: a case imported long after it closed goes there at
    once instead of waiting for the next run)."""
    q = Callback.filter(
        status__in=[CallbackStatus.SCHEDULED, CallbackStatus.INVITED],
        due_at__lte=now - timedelta(days=after_days),
        answered_at=None,
    )
    if case_id is not None:
        q = q.filter(case_id=case_id)
    if conn is not None:
        q = q.using_db(conn)
    return await q.update(status=CallbackStatus.PENDING_PHONE, phone_at=now, updated_at=now)


async def invite_due(app: web.Application, now: datetime) -> None:
    """Ask each bound beneficiary whose callback is due, in their language, once."""
    settings = app[settings_key]
    due = (
        await Callback.filter(
            status=CallbackStatus.SCHEDULED,
            due_at__lte=now,
            answered_at=None,
            case__openid__not_isnull=True,
        )
        .select_related("case")
        .limit(BATCH)
    )
    for cb in due:
        async with in_transaction() as conn:
            n = (
                await Callback.filter(id=cb.id, status=CallbackStatus.SCHEDULED)
                .using_db(conn)
                .update(status=CallbackStatus.INVITED, invited_at=now, updated_at=now)
            )
            if not n:
                continue
            conv = await Conversation.filter(openid=cb.case.openid).using_db(conn).first()
            locale = conv.locale if conv else None
            await notify_user(
                settings,
                openid=cb.case.openid,
                key=f"callback-invite:{cb.id}",
                text=t("callbacks.invite", locale, cause=cb.case.cause),
                kind="callback-invite",
                region=cb.region,
                conn=conn,
            )


@job("handoff_escalation", every(1))
async def handoff_escalation(app: web.Application, now: datetime) -> None:
    """Tickets nobody answered in time go to the region's supervisors."""
    settings = app[settings_key]
    late = await Handoff.filter(
        status__in=[HandoffStatus.WAITING, HandoffStatus.TAKEN],
        first_reply_at=None,
        escalated_at=None,
        due_at__lt=now,
    ).limit(BATCH)
    for h in late:
        async with in_transaction() as conn:
            n = (
                await Handoff.filter(id=h.id, escalated_at=None)
                .using_db(conn)
                .update(escalated_at=now)
            )
            if not n or not h.region:
                continue
            state = "未接待" if h.status == HandoffStatus.WAITING else "已接待未回复"
            await alert_supervisors(
                settings,
                region=h.region,
                key=f"handoff-overdue:{h.id}",
                title="人工服务超时",
                lines=[
                    f"咨询编号：{h.id}（{state}）",
                    f"应回复时间：{local_hhmm(h.due_at, settings.timezone)}",
                    f"回复“接 {h.id}”接待",
                ],
                kind="handoff-escalation",
                conn=conn,
                link=console_link(settings, f"handoffs/{h.id}"),
            )
