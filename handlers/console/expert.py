"""The expert's page (我的评估): the cases of the evaluation rounds given to the signed-in expert,
a score sheet per case made for a phone, the leader's decision on a disagreement and, where
the policy re-checks a grade (Shaoxing: excellent and fail), the re-check by an expert of the
same group outside the pair.

Every action is the API's own: handlers.api.center_evaluations.act_on_case with score_act,
decision_act or recheck_act, the expert being the signed-in one (never a form field). Back to
back (背靠背): the case's view (handlers.quality.views.case_view) hides both scores until both
experts have scored; before that the page shows the expert their own score only.
"""

from __future__ import annotations

import math
import unicodedata

from aiohttp import web
from pydantic import ValidationError
from tortoise.expressions import Q

from bot.api import ApiError
from bot.keys import policy_key
from handlers.api.center_evaluations import (
    GradeIn,
    ScoreIn,
    act_on_case,
    decision_act,
    recheck_act,
    score_act,
)
from handlers.console.common import int_id
from handlers.console.session import ROLES, Visitor, form_of, locale_of, page, render
from handlers.quality.views import case_view, round_views
from i18n import t
from models.codes import GRADES
from models.evaluation import (
    CaseState,
    Evaluation,
    EvaluationCase,
    EvaluationPair,
    EvaluationScore,
    Expert,
)
from models.policy import ScoreItem

HOME = "/console/expert"
ROUNDS_SHOWN = 12  # the newest rounds an expert took part in; older ones are long settled
NOTES_MAX = 2000  # as the API's ScoreIn
NUMBER_MAX_LEN = 8  # "100.00" and a little room


def me(visitor: Visitor) -> Expert:
    """The signed-in expert (403 for staff who are not registered as one)."""
    if visitor.expert is None:
        raise ApiError(403, "forbidden", message_key="console.expert.not_expert")
    return visitor.expert


def recheck_candidates(expert: Expert):
    """Cases waiting for a re-check that this expert may do: their region and group, a pair
    they are not in, and not a case of their own organisation (回避)."""
    rows = (
        EvaluationCase.filter(
            state=CaseState.RECHECK, evaluation__region=expert.region, pair__group=expert.group
        )
        .exclude(pair__leader_id=expert.id)
        .exclude(pair__member_id=expert.id)
    )
    return rows.exclude(case__handler_org=expert.org) if expert.org else rows


@page(*ROLES)
async def mine(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/expert: the rounds and cases given to me, and re-checks waiting for me."""
    expert = me(visitor)
    loc = locale_of(request)
    round_ids = await EvaluationPair.filter(
        Q(leader_id=expert.id) | Q(member_id=expert.id), evaluation__region=expert.region
    ).values_list("evaluation_id", flat=True)
    rounds = (
        await Evaluation.filter(id__in=set(round_ids)).order_by("-id").limit(ROUNDS_SHOWN)
        if round_ids
        else []
    )
    views = await round_views(list(rounds), loc, only_expert=expert.id)
    ids = {
        (r["evaluation_id"], r["case__case_no"]): r["id"]
        for r in await EvaluationCase.filter(
            Q(pair__leader_id=expert.id) | Q(pair__member_id=expert.id),
            evaluation_id__in=[ev.id for ev in rounds],
        ).values("id", "evaluation_id", "case__case_no")
    }
    rechecks = (
        await recheck_candidates(expert)
        .select_related("case", "evaluation")
        .order_by("evaluation_id", "id")
        .limit(100)
    )
    todo = sum(
        1
        for v in views
        for c in v.cases
        if (c.state == CaseState.SCORING and expert.id not in c.scored_by)
        or (c.state == CaseState.DISAGREED and c.pair and c.pair.leader.id == expert.id)
    )
    return render(
        request,
        "expert.html",
        {
            "expert": expert,
            "views": views,
            "ids": ids,
            "rechecks": rechecks,
            "todo": todo + len(rechecks),
        },
    )


async def _load(request: web.Request, expert: Expert) -> tuple[EvaluationCase, str]:
    """The case of the path and what I am to it: leader, member or re-checker (404 when it
    is not given to me: another expert's case is simply not there)."""
    ec = (
        await EvaluationCase.filter(id=int_id(request), evaluation__region=expert.region)
        .select_related("case", "pair", "evaluation")
        .first()
    )
    if ec is not None:
        if expert.id == ec.pair.leader_id:
            return ec, "leader"
        if expert.id == ec.pair.member_id:
            return ec, "member"
        if ec.decided_how == "recheck" and ec.decided_by_id == expert.id:
            return ec, "rechecker"  # the re-check I made
        if await recheck_candidates(expert).filter(id=ec.id).exists():
            return ec, "rechecker"
    raise ApiError(404, "not_found", message_key="console.expert.not_yours")


async def _case_page(
    request: web.Request,
    visitor: Visitor,
    *,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> web.Response:
    expert = me(visitor)
    ec, role = await _load(request, expert)
    loc = locale_of(request)
    view = await case_view(ec, loc)
    own = await EvaluationScore.get_or_none(eval_case_id=ec.id, expert_id=expert.id)
    other = ec.pair.member_id if role == "leader" else ec.pair.leader_id
    items = request.app[policy_key].evaluation_items.get(ec.pair.group, ())
    in_pair = role in ("leader", "member")
    return render(
        request,
        "expert_case.html",
        {
            "ec": ec,
            "ev": ec.evaluation,
            "case": ec.case,
            "view": view,
            "my_role": role,
            "own": own,
            "other_scored": in_pair and other in view.scored_by,
            "items": items,
            "grades": GRADES,
            "can_score": in_pair and own is None and ec.state == CaseState.SCORING,
            "can_decide": role == "leader" and ec.state == CaseState.DISAGREED,
            "can_recheck": role == "rechecker" and ec.state == CaseState.RECHECK,
            "notes_max": NOTES_MAX,
            "form": form or {},
            "error": error,
            "done": request.query.get("done"),
        },
        status=status,
    )


@page(*ROLES)
async def case(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/expert/cases/{id}: the case, the scores I may see, what I can do."""
    return await _case_page(request, visitor)


def number(raw: str | None) -> float | None:
    """A score typed on a phone: full-width digits and a comma as the decimal point are fine;
    anything that is not a finite number is None."""
    text = unicodedata.normalize("NFKC", raw or "").strip().replace(",", ".")
    if not text or len(text) > NUMBER_MAX_LEN:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def score_sheet(
    form: dict[str, str], items: tuple[ScoreItem, ...], loc: str
) -> tuple[float, dict[str, float] | None] | str:
    """The total and the items from the form, or the message saying what to fix. With the
    policy's items the total is their sum; without, the expert gives the total."""
    if not items:
        total = number(form.get("score"))
        if total is None or not 0 <= total <= 100:
            return t("console.expert.score_required", loc)
        return total, None
    points: dict[str, float] = {}
    for i, item in enumerate(items):
        value = number(form.get(f"item-{i}"))
        if value is None or not 0 <= value <= item.points:
            return t("console.expert.item_required", loc, item=item.name, max=f"{item.points:g}")
        points[item.name] = value
    return round(sum(points.values()), 2), points


async def _refused(
    request: web.Request, visitor: Visitor, exc: ApiError, form: dict[str, str]
) -> web.Response:
    """A rule's refusal shown on the case page (404 stays a 404 page)."""
    if exc.status == 404:
        raise exc
    loc = locale_of(request)
    key = {
        "already_scored": "console.expert.already_scored",
        "not_scoring": "console.expert.not_scoring",
    }.get(exc.code, exc.message_key)
    return await _case_page(
        request, visitor, error=t(key, loc, **exc.params), status=exc.status, form=form
    )


@page(*ROLES)
async def score(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """POST /console/expert/cases/{id}/score: my score, once (a second one is refused, 409)."""
    form = await form_of(request, visitor)
    expert = me(visitor)
    ec, _ = await _load(request, expert)
    loc = locale_of(request)
    items = request.app[policy_key].evaluation_items.get(ec.pair.group, ())
    sheet = score_sheet(form, items, loc)
    notes = form.get("notes") or None
    if isinstance(sheet, str) or (notes and len(notes) > NOTES_MAX):
        message = sheet if isinstance(sheet, str) else t("console.expert.notes_long", loc)
        return await _case_page(request, visitor, error=message, status=422, form=form)
    total, points = sheet
    try:
        body = ScoreIn(expert_id=expert.id, score=total, items=points, notes=notes)
        await act_on_case(request.app, ec.evaluation, ec.case.case_no, body, score_act, loc)
    except ValidationError:
        return await _case_page(
            request, visitor, error=t("console.expert.score_required", loc), status=422, form=form
        )
    except ApiError as exc:
        return await _refused(request, visitor, exc, form)
    raise web.HTTPFound(f"{HOME}/cases/{ec.id}?done=scored")


async def _grade(request: web.Request, visitor: Visitor, act, done: str) -> web.StreamResponse:
    form = await form_of(request, visitor)
    expert = me(visitor)
    ec, _ = await _load(request, expert)
    loc = locale_of(request)
    if form.get("grade") not in GRADES:
        return await _case_page(
            request, visitor, error=t("console.expert.grade_required", loc), status=422
        )
    body = GradeIn.model_validate({"expert_id": expert.id, "grade": form["grade"]})  # checked above
    try:
        await act_on_case(request.app, ec.evaluation, ec.case.case_no, body, act, loc)
    except ApiError as exc:
        return await _refused(request, visitor, exc, form)
    raise web.HTTPFound(f"{HOME}/cases/{ec.id}?done={done}")


@page(*ROLES)
async def decide(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """POST /console/expert/cases/{id}/decision: the leader settles a disagreement (the
    member is refused, 403, as over the API)."""
    return await _grade(request, visitor, decision_act, "decided")


@page(*ROLES)
async def recheck(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """POST /console/expert/cases/{id}/recheck: an expert outside the pair confirms or changes
    an excellent or failed grade (Shaoxing)."""
    return await _grade(request, visitor, recheck_act, "rechecked")
