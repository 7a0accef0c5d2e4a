"""Today: the digest's figures for today and the week (handlers.records.digest.collect_many,
the function the pushed digest and GET /api/v1/center/digest use, reading both periods in one
pass) and charts over the last 12 weeks."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.keys import policy_key, settings_key
from handlers.console import charts
from handlers.console.session import Visitor, page, render
from handlers.records import digest


@page("staff", "supervisor", "bureau", "expert")
async def page_today(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """GET /console/ (the digest's link): figures, then pictures of the trend."""
    if visitor.role == "bureau":  # the bureau's work is complaints; its Today is that list
        raise web.HTTPFound("/console/complaints")
    if visitor.role == "expert":  # an expert's front page is their own cases
        raise web.HTTPFound("/console/expert")
    settings, policy = request.app[settings_key], request.app[policy_key]
    now, region, tz = datetime.now(UTC), visitor.region, settings.timezone
    today = now.astimezone(ZoneInfo(tz)).date()
    weeks = charts.Weeks(today, tz)
    # cases closed and covered per day, read once for the year's figure and the weekly chart
    first, last = digest.coverage_window(today, policy)
    coverage = await digest.coverage_by_day(region, min(first, weeks.first), max(last, today))
    figures = await digest.collect_many(
        region, ("daily", "weekly"), now, policy, tz, coverage=coverage
    )
    daily, weekly = figures["daily"], figures["weekly"]
    apps = await charts.applications(region, weeks, today)
    cbs = await charts.callbacks(region, weeks, coverage=coverage)
    hos = await charts.handoffs(region, weeks, policy)
    labels = weeks.labels
    return render(
        request,
        "today.html",
        {
            "daily": daily,
            "weekly": weekly,
            "today": today,
            "c_apps": charts.chart(apps["received"], apps["decided"], labels=labels),
            "c_overdue": charts.chart(apps["overdue"], labels=labels),
            "c_coverage": charts.chart(
                cbs["coverage"], target=policy.callback_target, top=1.0, labels=labels
            ),
            "c_satisfaction": charts.chart(cbs["satisfaction"], top=1.0, labels=labels),
            "c_handoff_share": charts.chart(hos["share"], top=1.0, labels=labels),
            "c_handoff": charts.chart(
                hos["p50"], hos["p90"], target=policy.handoff_day_reply_minutes, labels=labels
            ),
            "handoff_limit": policy.handoff_day_reply_minutes,
            "complaints": daily.complaints,
            "complaints_due": daily.complaints_due,
            "complaints_due_more": daily.complaints_due_count - len(daily.complaints_due),
            "chart": charts,
        },
    )
