"""Evaluation reports for the centre (DOMAIN §10): the region's rounds, and per round the cases
per grade and group, the objections and their outcomes, and the xlsx.

The figures come from handlers.quality.views.round_report, the function the API's
GET …/evaluations/{id}/report.xlsx is built from, and the download is that endpoint's own
response (handlers.api.center_evaluation_results.report_response).
"""

from __future__ import annotations

from aiohttp import web
from tortoise.functions import Count

from bot.api import ApiError
from bot.keys import settings_key
from handlers.api.center_evaluation_results import report_response
from handlers.console.common import audit, int_id, paged
from handlers.console.session import Visitor, locale_of, page, render
from handlers.quality.views import round_report, round_view
from models.calendar import to_local
from models.codes import GRADES
from models.evaluation import CaseState, Evaluation, EvaluationCase


async def _round(request: web.Request, visitor: Visitor) -> Evaluation:
    ev = await Evaluation.get_or_none(id=int_id(request), region=visitor.region)
    if ev is None:
        raise ApiError(404, "not_found", message_key="quality.error.no_round")
    return ev


@page("staff", "supervisor")
async def rounds(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/evaluations: the region's rounds, newest first, with their progress."""
    items, pager = await paged(request, Evaluation.filter(region=visitor.region).order_by("-id"))
    graded = {
        r["evaluation_id"]: r["n"]
        for r in await EvaluationCase.filter(
            evaluation_id__in=[ev.id for ev in items], state=CaseState.GRADED
        )
        .annotate(n=Count("id"))
        .group_by("evaluation_id")
        .values("evaluation_id", "n")
    }
    return render(request, "evaluations.html", {"items": items, "graded": graded, "pager": pager})


@page("staff", "supervisor")
async def report(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/evaluations/{id}: the round's report."""
    ev = await _round(request, visitor)
    view = await round_view(ev, locale_of(request))
    tz = request.app[settings_key].timezone
    return render(
        request,
        "evaluation.html",
        {
            "ev": ev,
            "published_on": to_local(ev.published_at, tz).date() if ev.published_at else None,
            "report": round_report(view),
            "grades": GRADES,
        },
    )


@page("staff", "supervisor")
async def report_xlsx(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """GET /console/evaluations/{id}/report.xlsx: the API's report, downloaded (audited)."""
    ev = await _round(request, visitor)
    await audit(visitor, "export_evaluation", f"evaluation:{ev.id}")
    return await report_response(request, ev)
