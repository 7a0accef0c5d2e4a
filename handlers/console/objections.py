"""Objections to evaluation grades (异议复评) for the people who review them: the justice
bureau (Wanzhou: 区司法局 organises the review group) and the centre. The list puts the ones
awaiting review first, by their deadline; an objection's page shows the handler's reason and
records the review group's decision.

The review is the API's own: handlers.api.center_evaluations.act_on_case with review_act
(`POST /api/v1/center/evaluations/{id}/cases/{case_no}/objection/review`), so the grade, the
consequences and the handler's notice follow the same rules whichever way it arrives.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from bot.api import ApiError
from bot.keys import settings_key
from handlers.api.center_evaluations import GradeReviewIn, act_on_case, review_act
from handlers.console.common import audit, int_id, local_today, paged
from handlers.console.session import Visitor, form_of, locale_of, page, render
from i18n import t
from models.bureau import covered_regions
from models.codes import GRADES
from models.evaluation import GradeObjection, ObjectionState

ROLES = ("staff", "supervisor", "bureau")
TABS = ("pending", "reviewed")


def visible(visitor: Visitor):
    """A bureau sees its region's objections and those of the regions below it (as with
    complaints); the centre its own region's."""
    if visitor.role == "bureau":
        return GradeObjection.filter(region__startswith=covered_regions(visitor.region))
    return GradeObjection.filter(region=visitor.region)


@page(*ROLES)
async def listing(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/objections?tab=pending|reviewed: awaiting review by deadline, or done."""
    tab = request.query.get("tab") if request.query.get("tab") in TABS else "pending"
    rows = visible(visitor)
    if tab == "pending":
        rows = rows.filter(state=ObjectionState.PENDING).order_by("review_due", "id")
    else:
        rows = rows.exclude(state=ObjectionState.PENDING).order_by("-reviewed_at", "-id")
    items, pager = await paged(request, rows, related=("eval_case__case",))
    return render(
        request,
        "objections.html",
        {"items": items, "tab": tab, "tabs": TABS, "pager": pager, "today": local_today(request)},
    )


async def _load(request: web.Request, visitor: Visitor) -> GradeObjection:
    obj = (
        await visible(visitor)
        .filter(id=int_id(request))
        .select_related("eval_case__case", "eval_case__evaluation")
        .first()
    )
    if obj is None:
        raise ApiError(404, "not_found", message_key="console.objections.unknown")
    return obj


async def _page(
    request: web.Request,
    visitor: Visitor,
    *,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> web.Response:
    obj = await _load(request, visitor)
    return render(
        request,
        "objection.html",
        {
            "o": obj,
            "case": obj.eval_case.case,
            "ev": obj.eval_case.evaluation,
            "grades": GRADES,
            "today": local_today(request),
            "error": error,
            "form": form or {},
            "done": request.query.get("done"),
        },
        status=status,
    )


@page(*ROLES)
async def detail(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/objections/{id}: the objection, its deadline and the review form."""
    return await _page(request, visitor)


@page(*ROLES)
async def review(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """POST /console/objections/{id}/review: upheld (with the new grade) or the grade kept, the
    review group's names and a note; the handler is told the result."""
    form = await form_of(request, visitor)
    obj = await _load(request, visitor)
    loc = locale_of(request)
    upheld = form.get("upheld")
    if upheld not in ("yes", "no"):
        return await _page(
            request, visitor, error=t("console.objections.say_upheld", loc), status=422, form=form
        )
    try:
        body = GradeReviewIn.model_validate(
            {
                "upheld": upheld == "yes",
                "grade": (form.get("grade") or None) if upheld == "yes" else None,
                "reviewers": form.get("reviewers", ""),
                "note": form.get("note") or None,
            }
        )
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors() else "reviewers"
        key = {
            "grade": "console.objections.grade_required",
            "note": "console.objections.note_long",
        }.get(field, "console.objections.reviewers_required")
        return await _page(request, visitor, error=t(key, loc), status=422, form=form)
    ec = obj.eval_case
    act = review_act(request.app[settings_key])
    try:
        await act_on_case(request.app, ec.evaluation, ec.case.case_no, body, act, loc)
    except ApiError as exc:
        if exc.status == 404:
            raise
        message = t(exc.message_key, loc, **exc.params)
        return await _page(request, visitor, error=message, status=exc.status, form=form)
    await audit(visitor, "objection_review", f"objection:{obj.id}")
    raise web.HTTPFound(f"/console/objections/{obj.id}?done=reviewed")
