"""Scheduled watches over assignments: the assignment deadline and the agreement deadline.

- Assignment (Art. 43: within 3 days of the grant; Shaoxing the same day, policy `assign_days`):
  a granted application with no live assignment is tried again automatically (policy
  `assignment_auto`; a new month lifts the cap, a readmission refills the pool), and when the
  last day has ended without a handler the region's staff get an alert, once.
- Objections (Art. 49): one alert when the bureau has not decided within 5 days.
- Agreement (程序规定 Art. 27: within 5 days of the assignment): the handler is reminded the day
  before; once the day has passed unsigned, staff are alerted and the handler told, once.

Dedupe keys name the cause, so a job run twice sends nothing twice (bot.outbox).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from bot.keys import policy_key, settings_key
from bot.notify import alert_staff, notify_user
from bot.scheduler import daily_at, every, job
from handlers.after_decision import auto_assign
from handlers.assignment_notice import ZH, case_ref
from i18n import t
from models.application import Application, Status
from models.assignment import LIVE, Assignment
from models.bureau import find_bureau
from models.pool import Handler
from models.termination import Objection, ObjectionStatus

REMIND_DAYS_BEFORE = 1  # the agreement reminder goes out the day before it is due
# Grants older than this were alerted about long ago (once); the watch need not scan them.
WATCH_WINDOW = timedelta(days=31)


def assign_deadline(row: Application, days: int, tz: str) -> datetime:
    """The end of the last local day to assign a handler granted on `row.decided_at`."""
    assert row.decided_at is not None  # set when the application was granted
    decided = row.decided_at.astimezone(ZoneInfo(tz)).date()
    return datetime.combine(decided + timedelta(days=days + 1), time(0), ZoneInfo(tz))


@job("assignment_due", every(15))
async def assignment_watch(app: web.Application, now: datetime) -> None:
    """Retries automatic assignment of unassigned grants; alerts once past the deadline."""
    settings, policy = app[settings_key], app[policy_key]
    if policy.assignment != "here":
        return
    live = Assignment.filter(status__in=LIVE).values("application_id")
    rows = (
        await Application.filter(status=Status.GRANTED, decided_at__gte=now - WATCH_WINDOW)
        .exclude(id__in=Subquery(live))
        .order_by("id")
    )
    for row in rows:
        async with in_transaction() as conn:
            if await auto_assign(app, row, conn=conn, alert=False):
                continue
            if now < assign_deadline(row, policy.assign_days, settings.timezone):
                continue
            await alert_staff(
                settings,
                region=row.region,
                key=f"assign-overdue:{row.id}",
                title=t("assignment.staff.overdue_title", ZH),
                conn=conn,
                lines=[t("assignment.staff.overdue_line", ZH, id=row.id, days=policy.assign_days)],
            )


@job("agreement_due", daily_at("09:00"))  # a humane hour for a reminder
async def agreement_watch(app: web.Application, now: datetime) -> None:
    """Reminds handlers of an unsigned agreement the day before; alerts staff after the day."""
    settings = app[settings_key]
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    rows = await Assignment.filter(
        status__in=LIVE,
        agreement_signed_at=None,
        agreement_due__lte=today + timedelta(days=REMIND_DAYS_BEFORE),
    )
    for a in rows:
        handler = await Handler.get(id=a.handler_id)
        application = await Application.get(id=a.application_id)
        overdue = a.agreement_due < today
        kind = "overdue" if overdue else "reminder"
        if handler.openid:
            await notify_user(
                settings,
                openid=handler.openid,
                kind="reminder",
                key=f"agreement-{kind}:{a.id}",
                region=a.region,
                text=t(
                    f"assignment.agreement.{kind}",
                    handler.locale,
                    ref=case_ref(application, handler.locale),
                    due=a.agreement_due.isoformat(),
                ),
            )
        if overdue:
            await alert_staff(
                settings,
                region=a.region,
                key=f"agreement-overdue:{a.id}",
                title=t("assignment.staff.agreement_title", ZH),
                lines=[
                    t(
                        "assignment.staff.agreement_line",
                        ZH,
                        ref=case_ref(application, ZH),
                        name=handler.name,
                        due=a.agreement_due.isoformat(),
                    )
                ],
            )


@job("objection_due", daily_at("09:00"))
async def objection_watch(app: web.Application, now: datetime) -> None:
    """Alerts the region's staff (the bureau) once when an objection's 5 days have passed."""
    settings = app[settings_key]
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    for obj in await Objection.filter(status=ObjectionStatus.RECEIVED, review_due__lt=today):
        bureau = await find_bureau(obj.region)
        await alert_staff(
            settings,
            region=bureau.region if bureau else obj.region,
            key=f"objection-overdue:{obj.id}",
            bureau=bureau is not None,
            kind="objection",
            title=t("objection.staff.overdue_title", ZH),
            lines=[
                t("objection.staff.overdue_line", ZH, id=obj.id, due=obj.review_due.isoformat())
            ],
        )
