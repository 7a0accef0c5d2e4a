"""Scheduled watches over applications: owed materials and the 7-day decision deadline.

Every push has a dedupe key naming its cause (application, deadline, days before), so a job run
twice — two workers, a restart mid-run — sends each reminder or alert once (bot.outbox).

- Materials (容缺受理): the filing agent is reminded N days before `materials_due` (policy
  `materials_reminder_days_before`, default 3 and 1); when the date has passed with items still
  owed, the application is flagged (`materials_overdue_at`), the agent told and staff alerted.
- Decision (Art. 43, 7 days): when an undecided application's deadline (end of its
  `decision_due` day, local time) is within 24 h, the region's staff get an urgent alert.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from tortoise.transactions import in_transaction

from bot.keys import policy_key, settings_key
from bot.notify import alert_staff, console_link, notify_user
from bot.scheduler import daily_at, every, job
from i18n import t
from models.agent import Agent
from models.application import Application, Material, Status
from models.masking import mask_name

ZH = "zh_CN"  # staff alerts are in the centre's language
DECISION_ALERT_WINDOW = timedelta(hours=24)  # issue 5: "decision deadline within 24 h"


def _items(kinds: list[str], locale: str) -> str:
    return t("punct.list_sep", locale).join(t(f"material.{k}", locale) for k in kinds)


@job("application_materials", daily_at("09:00"))  # a humane hour for a reminder
async def materials_watch(app: web.Application, now: datetime) -> None:
    """Reminds agents of owed materials before the deadline; flags those past it."""
    settings, policy = app[settings_key], app[policy_key]
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    rows = await Application.filter(
        materials_due__isnull=False, materials_overdue_at=None, status__not=Status.REFUSED
    )
    for row in rows:
        due = row.materials_due
        assert due is not None  # materials_due__isnull=False above
        missing = await Material.owed_kinds(row.id)
        if not missing:
            continue
        agent = await Agent.get(id=row.agent_id)
        days_left = (due - today).days
        fields = {
            "id": row.id,
            "name": mask_name(row.applicant_name),
            "due": due.isoformat(),
            "days": days_left,
        }
        if days_left < 0:
            await _flag_overdue(app, row, agent, missing, fields, now)
            continue
        due_marks = [d for d in policy.materials_reminder_days_before if days_left <= d]
        if due_marks and agent.oa_openid:
            mark = min(due_marks)
            await notify_user(
                settings,
                openid=agent.oa_openid,
                kind="reminder",
                key=f"materials-reminder:{row.id}:{mark}",
                region=row.region,
                text=t(
                    "applications.reminder",
                    agent.locale,
                    items=_items(missing, agent.locale),
                    **fields,
                ),
            )


async def _flag_overdue(
    app: web.Application,
    row: Application,
    agent: Agent,
    missing: list[str],
    fields: dict,
    now: datetime,
) -> None:
    settings = app[settings_key]
    async with in_transaction() as conn:
        n = (
            await Application.filter(id=row.id, materials_overdue_at=None)
            .using_db(conn)
            .update(materials_overdue_at=now)
        )
        if not n:
            return
        if agent.oa_openid:
            await notify_user(
                settings,
                openid=agent.oa_openid,
                kind="reminder",
                key=f"materials-overdue:{row.id}",
                region=row.region,
                conn=conn,
                text=t(
                    "applications.overdue",
                    agent.locale,
                    items=_items(missing, agent.locale),
                    **fields,
                ),
            )
        await alert_staff(
            settings,
            region=row.region,
            key=f"materials-overdue:{row.id}",
            title=t("staff.overdue.title", ZH),
            conn=conn,
            link=console_link(settings, f"applications/{row.id}"),
            lines=[t("staff.overdue.line", ZH, items=_items(missing, ZH), **fields)],
        )


def decision_deadline(row: Application, tz: str) -> datetime:
    """The end of the decision_due day in local time (the last moment to decide)."""
    return datetime.combine(row.decision_due + timedelta(days=1), time(0), ZoneInfo(tz))


@job("application_decision_due", every(15))
async def decision_watch(app: web.Application, now: datetime) -> None:
    """Alerts the region's staff when an undecided application is due within 24 hours."""
    settings = app[settings_key]
    tz = settings.timezone
    horizon = (now + DECISION_ALERT_WINDOW).astimezone(ZoneInfo(tz)).date()
    rows = await Application.filter(status=Status.RECEIVED, decision_due__lte=horizon)
    for row in rows:
        deadline = decision_deadline(row, tz)
        if now < deadline - DECISION_ALERT_WINDOW:
            continue
        line = t(
            "staff.decision_due.line",
            ZH,
            id=row.id,
            name=mask_name(row.applicant_name),
            due=row.decision_due.isoformat(),
        )
        await alert_staff(
            settings,
            region=row.region,
            key=f"decision-due:{row.id}",
            title=t("staff.decision_due.title", ZH),
            lines=[line],
            link=console_link(settings, f"applications/{row.id}"),
        )
