"""The staff digest: one short message per region, daily at the policy time and weekly on Mondays.

`collect` reads the figures with aggregate queries only (COUNT ... GROUP BY on indexed columns,
a few rows for the nearest deadlines), so its cost does not grow with what it counts beyond
an index scan; `render` turns them into a title and a handful of lines that fit a phone screen
and a template message; `send` queues them through bot.notify.alert_staff (WeChat to the
region's staff, markdown to the WeCom robot) with a dedupe key per region and period, so a
re-run job or a second worker sends nothing twice.

Windows: "new" and "done" figures cover the period (the last 24 hours or 7 days up to now);
open work (awaiting decision, pending callbacks, open complaints) is as of now; callback
coverage counts cases closed since 1 January whose callback is due (closed at least
`callback_delay_days` ago) against the policy's target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import cast
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.expressions import F, Q
from tortoise.functions import Count

from bot.notify import alert_staff, console_link
from bot.settings import Settings
from i18n import t
from models.application import Application
from models.callback import Callback, CallbackStatus
from models.case import Case, CaseOrigin, CaseStatus
from models.complaint import Complaint, ComplaintStatus
from models.handoff import Handoff
from models.people import CenterKey, Staff
from models.policy import Policy

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
OPEN_APPLICATION = ("received", "need_materials")
OPEN_COMPLAINT = (
    ComplaintStatus.RECEIVED,
    ComplaintStatus.ACCEPTED,
    ComplaintStatus.INVESTIGATING,
    ComplaintStatus.EXTENDED,
)
SHOW_DUE = 3  # deadlines listed by number; more would not fit a phone screen
ACCEPT_SOON = timedelta(days=2)  # a complaint to accept within 2 days is "near its deadline"
CONCLUDE_SOON = timedelta(days=7)  # one to conclude within a week likewise
ZH = "zh_CN"  # staff read Chinese; an English catalog exists for development and tests


@dataclass(slots=True)
class Figures:
    region: str
    period: str
    since: datetime
    until: datetime
    today: date
    new_applications: int = 0
    awaiting: int = 0
    awaiting_due: list[tuple[int, date]] = field(default_factory=list)
    decisions_overdue: int = 0
    materials_overdue: int = 0
    callbacks_done: int = 0
    callbacks_satisfied: int = 0
    callbacks_pending: int = 0
    callbacks_phone: int = 0
    closed_cases: int = 0
    covered_cases: int = 0
    target: float = 0.0
    complaints: dict[str, int] = field(default_factory=dict)
    complaints_due: list[tuple[str, date]] = field(default_factory=list)
    handoff_breaches: int = 0

    @property
    def coverage(self) -> float | None:
        return self.covered_cases / self.closed_cases if self.closed_cases else None


async def collect(region: str, period: str, now: datetime, policy: Policy, tz: str) -> Figures:
    since = now - PERIODS[period]
    today = now.astimezone(ZoneInfo(tz)).date()
    f = Figures(region, period, since, now, today, target=policy.callback_target)

    apps = Application.filter(region=region)
    f.new_applications = await apps.filter(received_at__gte=since, received_at__lt=now).count()
    waiting = apps.filter(status__in=OPEN_APPLICATION)
    f.awaiting = await waiting.count()
    f.decisions_overdue = await waiting.filter(decision_due__lt=today).count()
    f.awaiting_due = list(
        await waiting.order_by("decision_due", "id")
        .limit(SHOW_DUE)
        .values_list("id", "decision_due")
    )
    f.materials_overdue = (
        await waiting.filter(materials_due__lt=today, materials__status="missing")
        .distinct()
        .count()
    )

    callbacks = Callback.filter(region=region)
    done = callbacks.filter(
        status=CallbackStatus.COMPLETED, answered_at__gte=since, answered_at__lt=now
    )
    f.callbacks_done = await done.count()
    f.callbacks_satisfied = await done.filter(satisfied=True).count()
    for status, n in (
        await callbacks.filter(status__in=(CallbackStatus.INVITED, CallbackStatus.PENDING_PHONE))
        .annotate(n=Count("id"))
        .group_by("status")
        .values_list("status", "n")
    ):
        f.callbacks_pending += n
        if status == CallbackStatus.PENDING_PHONE:
            f.callbacks_phone = n
    year_start = date(today.year, 1, 1)
    due_by = today - timedelta(days=policy.callback_delay_days)
    f.closed_cases, f.covered_cases = await _coverage(region, year_start, due_by)

    complaints = Complaint.filter(region=region, status__in=OPEN_COMPLAINT)
    f.complaints = dict(
        await complaints.annotate(n=Count("id")).group_by("status").values_list("status", "n")
    )
    near = Q(status=ComplaintStatus.RECEIVED, accept_due__lte=today + ACCEPT_SOON) | Q(
        status__in=OPEN_COMPLAINT[1:], conclude_due__lte=today + CONCLUDE_SOON
    )
    rows = await complaints.filter(near).values_list(
        "ticket", "status", "accept_due", "conclude_due"
    )
    f.complaints_due = sorted(
        (
            (ticket, accept if status == ComplaintStatus.RECEIVED else conclude)
            for ticket, status, accept, conclude in rows
        ),
        key=lambda r: r[1],
    )

    f.handoff_breaches = (
        await Handoff.filter(region=region, opened_at__gte=since, opened_at__lt=now)
        .filter(Q(first_reply_at__isnull=True, due_at__lt=now) | Q(first_reply_at__gt=F("due_at")))
        .count()
    )
    return f


async def _coverage(region: str, first: date, last: date) -> tuple[int, int]:
    """Application cases closed from `first` to `last` and how many have a completed callback:
    one scan of the cases joined to their callbacks (two separate counts read the case table
    twice). Notification cases (通知类) are outside the 回访率, as in Zhashui (DOMAIN §2)."""
    conn = connections.get("default")
    pg = conn.capabilities.dialect == "postgres"
    p = [f"${i}" for i in range(1, 7)] if pg else ["?"] * 6
    sql = (
        f'SELECT COUNT(*) AS closed, COUNT(cb.id) AS covered FROM "{Case._meta.db_table}" lc '
        f'LEFT JOIN "{Callback._meta.db_table}" cb ON cb.case_id = lc.id AND cb.status = {p[0]} '
        f"WHERE lc.region = {p[1]} AND lc.status = {p[2]} AND lc.closed_on >= {p[3]} "
        f"AND lc.closed_on <= {p[4]} AND lc.origin = {p[5]}"
    )
    _, rows = await conn.execute_query(
        sql,
        [
            CallbackStatus.COMPLETED.value,
            region,
            CaseStatus.CLOSED.value,
            *((first, last) if pg else (str(first), str(last))),
            CaseOrigin.APPLICATION.value,
        ],
    )
    return int(rows[0]["closed"]), int(rows[0]["covered"])


def _md(d: date) -> str:
    return f"{d.month}-{d.day:02d}" if d else ""


def render(f: Figures, locale: str = ZH) -> tuple[str, list[str]]:
    """The title and lines of the digest (each line one topic, short enough for a phone)."""
    title = t(f"digest.title.{f.period}", locale, region=f.region, date=_md(f.today))
    due = "、".join(
        t("digest.due_item", locale, ref=f"#{i}", date=_md(d)) for i, d in f.awaiting_due
    )
    lines = [
        t(
            "digest.applications",
            locale,
            new=f.new_applications,
            awaiting=f.awaiting,
            overdue=f.decisions_overdue,
        )
        + (t("digest.nearest", locale, items=due) if due else "")
    ]
    if f.materials_overdue:
        lines.append(t("digest.materials_overdue", locale, n=f.materials_overdue))
    coverage = (
        t(
            "digest.coverage",
            locale,
            share=f"{f.coverage:.0%}",
            done=f.covered_cases,
            closed=f.closed_cases,
        )
        if f.coverage is not None
        else t("digest.coverage_none", locale)
    )
    if f.target:
        coverage += t("digest.target", locale, target=f"{f.target:.0%}")
    lines.append(
        t(
            "digest.callbacks",
            locale,
            done=f.callbacks_done,
            pending=f.callbacks_pending,
            phone=f.callbacks_phone,
        )
        + coverage
    )
    if f.callbacks_done:
        lines.append(
            t(
                "digest.satisfaction",
                locale,
                satisfied=f.callbacks_satisfied,
                answered=f.callbacks_done,
            )
        )
    open_total = sum(f.complaints.values())
    text = t(
        "digest.complaints",
        locale,
        open=open_total,
        received=f.complaints.get(ComplaintStatus.RECEIVED, 0),
        investigating=open_total - f.complaints.get(ComplaintStatus.RECEIVED, 0),
    )
    if f.complaints_due:
        text += t(
            "digest.complaints_due",
            locale,
            n=len(f.complaints_due),
            items="、".join(
                t("digest.due_item", locale, ref=ticket, date=_md(d))
                for ticket, d in f.complaints_due[:SHOW_DUE]
            ),
        )
    lines.append(text)
    lines.append(t("digest.handoff", locale, n=f.handoff_breaches))
    return title, lines


def link(settings: Settings, f: Figures) -> str:
    """The console's Today page, which shows these figures and their trend."""
    query = urlencode({"period": f.period, "date": f.today.isoformat()})
    return console_link(settings, f"?{query}")


async def regions() -> list[str]:
    """Regions with someone to tell: active staff, or a centre key in use."""
    staff = await Staff.filter(active=True).distinct().values_list("region", flat=True)
    keys = await CenterKey.filter(revoked_at=None).distinct().values_list("region", flat=True)
    # flat=True gives values; tortoise's types say tuples
    return sorted(cast("set[str]", set(staff) | set(keys)))


def period_key(f: Figures, now: datetime, tz: str) -> str:
    local_now = now.astimezone(ZoneInfo(tz))
    return f"{local_now:%G-W%V}" if f.period == "weekly" else local_now.date().isoformat()


async def send(
    settings: Settings,
    policy: Policy,
    region: str,
    period: str,
    *,
    now: datetime | None = None,
    key: str | None = None,
) -> tuple[Figures, str, list[str], int]:
    """Collect, render and queue one region's digest; returns what was queued and to how many.

    `key` names the send for dedupe (default: region and period, so once per day or week).
    """
    now = now or datetime.now(UTC)
    f = await collect(region, period, now, policy, settings.timezone)
    title, lines = render(f)
    n = await alert_staff(
        settings,
        region=region,
        key=key or f"{period}:{region}:{period_key(f, now, settings.timezone)}",
        title=title,
        lines=lines,
        link=link(settings, f),
        kind="digest",
    )
    return f, title, lines, n
