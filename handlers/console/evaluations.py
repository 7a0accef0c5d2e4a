"""Evaluation reports for the centre (DOMAIN §10): the region's rounds, and per round the cases
per grade and group, the objections and their outcomes, and the xlsx.

The figures come from handlers.quality.views.round_report, the function the API's
GET …/evaluations/{id}/report.xlsx is built from, and the download is that endpoint's own
response (handlers.api.center_evaluation_results.report_response).
"""

from __future__ import annotations

from collections import Counter

from aiohttp import web
from tortoise.functions import Count

from bot.api import ApiError
from bot.keys import settings_key
from handlers.api.center_evaluation_results import publish_round, report_response
from handlers.console.common import audit, int_id, paged
from handlers.console.session import Visitor, form_of, locale_of, page, render
from handlers.quality.views import CaseEvalOut, round_report, round_view
from i18n import t
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


def waiting_on(case: CaseEvalOut, loc: str) -> str | None:
    """Who the case waits for, by name, so that staff can chase them (None once graded)."""
    pair = case.pair
    if case.state == CaseState.SCORING and pair is not None:
        names = [e.name for e in (pair.leader, pair.member) if e.id not in case.scored_by]
        sep = t("console.evaluations.name_sep", loc)
        return t("console.evaluations.owes_score", loc, names=sep.join(names))
    if case.state == CaseState.DISAGREED and pair is not None:
        return t("console.evaluations.owes_decision", loc, name=pair.leader.name)
    if case.state == CaseState.RECHECK:
        return t("console.evaluations.owes_recheck", loc)
    return None


def chase_list(cases: list[CaseEvalOut]) -> list[tuple[str, int]]:
    """Each expert who still owes a score or a decision, with how many cases, most first."""
    owed: Counter[str] = Counter()
    for c in cases:
        if c.pair is None:
            continue
        if c.state == CaseState.SCORING:
            owed.update(e.name for e in (c.pair.leader, c.pair.member) if e.id not in c.scored_by)
        elif c.state == CaseState.DISAGREED:
            owed[c.pair.leader.name] += 1
    return owed.most_common()


async def _report_page(
    request: web.Request, visitor: Visitor, *, error: str | None = None, status: int = 200
) -> web.Response:
    ev = await _round(request, visitor)
    loc = locale_of(request)
    view = await round_view(ev, loc)
    tz = request.app[settings_key].timezone
    return render(
        request,
        "evaluation.html",
        {
            "ev": ev,
            "published_on": to_local(ev.published_at, tz).date() if ev.published_at else None,
            "report": round_report(view),
            "grades": GRADES,
            "waiting": {c.case_no: waiting_on(c, loc) for c in view.cases},
            "chase": chase_list(view.cases),
            "error": error,
            "done": request.query.get("done"),
            "told": request.query.get("told", ""),
        },
        status=status,
    )


@page("staff", "supervisor")
async def report(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/evaluations/{id}: the round's report, who still owes a score, 公布."""
    return await _report_page(request, visitor)


@page("staff", "supervisor")
async def publish(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """POST /console/evaluations/{id}/publish: the API's publish (handlers are told their
    grades, the objection window opens); a refusal is shown on the round's page."""
    await form_of(request, visitor)
    ev = await _round(request, visitor)
    try:
        out = await publish_round(request.app, ev)
    except ApiError as exc:
        if exc.status == 404:
            raise
        message = t(exc.message_key, locale_of(request), **exc.params)
        return await _report_page(request, visitor, error=message, status=exc.status)
    await audit(visitor, "evaluation_publish", f"evaluation:{ev.id}")
    raise web.HTTPFound(f"/console/evaluations/{ev.id}?done=published&told={out.handlers_notified}")


@page("staff", "supervisor")
async def report_xlsx(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """GET /console/evaluations/{id}/report.xlsx: the API's report, downloaded (audited)."""
    ev = await _round(request, visitor)
    await audit(visitor, "export_evaluation", f"evaluation:{ev.id}")
    return await report_response(request, ev)
