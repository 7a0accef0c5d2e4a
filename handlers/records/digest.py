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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.expressions import F, Q, RawSQL
from tortoise.functions import Count
from tortoise.queryset import QuerySet

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
LIST_DUE = 10  # complaint deadlines the figures carry (the console's Today lists them)
ACCEPT_SOON = timedelta(days=2)  # a complaint to accept within 2 days is "near its deadline"
CONCLUDE_SOON = timedelta(days=7)  # one to conclude within a week likewise
# what _counts counts (Tortoise takes any expression where its stubs say a field name)
ONE: Any = RawSQL("1")
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
    complaints_due: list[tuple[str, date]] = field(default_factory=list)  # the LIST_DUE nearest
    complaints_due_count: int = 0  # all those near or past their deadline
    handoff_breaches: int = 0

    @property
    def coverage(self) -> float | None:
        return self.covered_cases / self.closed_cases if self.closed_cases else None


async def collect(region: str, period: str, now: datetime, policy: Policy, tz: str) -> Figures:
    """One period's figures (see `collect_many`)."""
    return (await collect_many(region, (period,), now, policy, tz))[period]


async def collect_many(
    region: str,
    periods: Sequence[str],
    now: datetime,
    policy: Policy,
    tz: str,
    *,
    coverage: CoverageDays | None = None,
) -> dict[str, Figures]:
    """The figures of several periods at once (the console's Today shows the day and the week):
    what is "as of now" (open work, coverage, complaints) is read once and shared, and each
    windowed figure is one query over the widest window with a conditional count per period
    (COUNT(CASE WHEN … THEN 1 END)), so two periods cost what one does. `coverage`, when the
    caller has read it (coverage_by_day over at least coverage_window), is not read again."""
    today = now.astimezone(ZoneInfo(tz)).date()
    out = {
        p: Figures(region, p, now - PERIODS[p], now, today, target=policy.callback_target)
        for p in periods
    }
    since = min(f.since for f in out.values())

    apps = Application.filter(region=region)
    new = await _counts(
        apps.filter(received_at__gte=since, received_at__lt=now),
        {p: Q(received_at__gte=f.since) for p, f in out.items()},
    )
    waiting = apps.filter(status__in=OPEN_APPLICATION)
    open_now = await _counts(waiting, {"awaiting": Q(), "overdue": Q(decision_due__lt=today)})
    awaiting_due = list(
        await waiting.order_by("decision_due", "id")
        .limit(SHOW_DUE)
        .values_list("id", "decision_due")
    )
    materials_overdue = (
        await waiting.filter(materials_due__lt=today, materials__status="missing")
        .distinct()
        .count()
    )

    callbacks = Callback.filter(region=region)
    done = await _counts(
        callbacks.filter(
            status=CallbackStatus.COMPLETED, answered_at__gte=since, answered_at__lt=now
        ),
        {
            **{f"done_{p}": Q(answered_at__gte=f.since) for p, f in out.items()},
            **{f"ok_{p}": Q(answered_at__gte=f.since, satisfied=True) for p, f in out.items()},
        },
    )
    pending = await _counts(
        callbacks.filter(status__in=(CallbackStatus.INVITED, CallbackStatus.PENDING_PHONE)),
        {s.value: Q(status=s) for s in (CallbackStatus.INVITED, CallbackStatus.PENDING_PHONE)},
    )
    first, last = coverage_window(today, policy)
    if coverage is None:
        coverage = await coverage_by_day(region, first, last)
    closed_cases, covered_cases = coverage_between(coverage, first, last)

    complaints = Complaint.filter(region=region, status__in=OPEN_COMPLAINT)
    accept_by, conclude_by = today + ACCEPT_SOON, today + CONCLUDE_SOON
    near = Q(status=ComplaintStatus.RECEIVED, accept_due__lte=accept_by) | Q(
        status__in=OPEN_COMPLAINT[1:], conclude_due__lte=conclude_by
    )
    complaint_counts = await _counts(
        complaints, {**{s.value: Q(status=s) for s in OPEN_COMPLAINT}, "near": near}
    )
    by_status = {s.value: complaint_counts[s.value] for s in OPEN_COMPLAINT}
    by_status = {s: n for s, n in by_status.items() if n}
    # the nearest deadlines: to accept (received) or to conclude (the others), LIST_DUE of each
    # kind by date, merged
    to_accept = await (
        complaints.filter(status=ComplaintStatus.RECEIVED, accept_due__lte=accept_by)
        .order_by("accept_due", "id")
        .limit(LIST_DUE)
        .values_list("ticket", "accept_due")
    )
    to_conclude = await (
        complaints.filter(status__in=OPEN_COMPLAINT[1:], conclude_due__lte=conclude_by)
        .order_by("conclude_due", "id")
        .limit(LIST_DUE)
        .values_list("ticket", "conclude_due")
    )
    complaints_due = sorted([*to_accept, *to_conclude], key=lambda r: r[1])[:LIST_DUE]

    breaches = await _counts(
        Handoff.filter(region=region, opened_at__gte=since, opened_at__lt=now).filter(
            Q(first_reply_at__isnull=True, due_at__lt=now) | Q(first_reply_at__gt=F("due_at"))
        ),
        {p: Q(opened_at__gte=f.since) for p, f in out.items()},
    )

    for p, f in out.items():
        f.new_applications = new[p]
        f.awaiting, f.decisions_overdue = open_now["awaiting"], open_now["overdue"]
        f.awaiting_due = list(awaiting_due)
        f.materials_overdue = materials_overdue
        f.callbacks_done, f.callbacks_satisfied = done[f"done_{p}"], done[f"ok_{p}"]
        f.callbacks_phone = pending[CallbackStatus.PENDING_PHONE]
        f.callbacks_pending = f.callbacks_phone + pending[CallbackStatus.INVITED]
        f.closed_cases, f.covered_cases = closed_cases, covered_cases
        f.complaints = dict(by_status)
        f.complaints_due = list(complaints_due)
        f.complaints_due_count = complaint_counts["near"]
        f.handoff_breaches = breaches[p]
    return out


async def _counts(rows: QuerySet, counts: dict[str, Q]) -> dict[str, int]:
    """Several counts of one filtered query in a single scan: COUNT(CASE WHEN q THEN 1 END)
    per name (an empty Q counts every row). A constant, not the id, so that an index holding
    the filtered columns answers alone (PostgreSQL's index-only scan)."""
    found = await rows.annotate(
        **{
            f"n_{name}": Count(ONE, _filter=q) if q.children or q.filters else Count(ONE)
            for name, q in counts.items()
        }
    ).values(*(f"n_{name}" for name in counts))
    row = found[0] if found else {}
    return {name: int(row.get(f"n_{name}") or 0) for name in counts}


CoverageDays = dict[date, tuple[int, int]]  # closing day -> (cases closed, with a callback)


def coverage_window(today: date, policy: Policy) -> tuple[date, date]:
    """The closing days the coverage counts: since 1 January, callback due (closed at least
    `callback_delay_days` ago)."""
    return date(today.year, 1, 1), today - timedelta(days=policy.callback_delay_days)


async def coverage_by_day(region: str, first: date, last: date) -> CoverageDays:
    """Application cases closed each day from `first` to `last` and how many of them have a
    completed callback: one scan of the cases joined to their callbacks, each side read from
    an index alone (legal_case by region, status, closing date and origin; callback by case
    and status), grouped in the index's order. The console's Today reads it once for the
    year's coverage and the weekly chart. Notification cases (通知类) are outside the 回访率,
    as in Zhashui (DOMAIN §2)."""
    conn = connections.get("default")
    pg = conn.capabilities.dialect == "postgres"
    p = [f"${i}" for i in range(1, 7)] if pg else ["?"] * 6
    sql = (
        "SELECT lc.closed_on AS day, COUNT(*) AS closed, COUNT(cb.case_id) AS covered "
        f'FROM "{Case._meta.db_table}" lc LEFT JOIN "{Callback._meta.db_table}" cb '
        f"ON cb.case_id = lc.id AND cb.status = {p[0]} "
        f"WHERE lc.region = {p[1]} AND lc.status = {p[2]} AND lc.closed_on >= {p[3]} "
        f"AND lc.closed_on <= {p[4]} AND lc.origin = {p[5]} GROUP BY lc.closed_on"
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
    return {
        (r["day"] if isinstance(r["day"], date) else date.fromisoformat(r["day"])): (
            int(r["closed"]),
            int(r["covered"]),
        )
        for r in rows
    }


def coverage_between(days: CoverageDays, first: date, last: date) -> tuple[int, int]:
    inside = [v for d, v in days.items() if first <= d <= last]
    return sum(c for c, _ in inside), sum(n for _, n in inside)


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
            n=f.complaints_due_count,
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
