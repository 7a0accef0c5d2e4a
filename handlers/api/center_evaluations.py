"""Evaluation rounds (DOMAIN §10): draw, two scores per case, the leader's decision, re-check,
publication, objections and their review. Rules in models.evaluation_rules; views in
handlers.quality.views; pushes in handlers.quality.notices.

`POST /api/v1/center/evaluations` draws a round; `GET …/{id}` and `GET …/{id}/cases/{case_no}`
show it (scores hidden until both experts of the pair have scored).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from tortoise.transactions import in_transaction

from bot.api import ApiError, json_ok, operation, parse_body, request_locale
from bot.auth import require_center
from bot.keys import policy_key, settings_key
from bot.settings import Settings
from handlers.api.center_cases import case_no_of
from handlers.quality import notices
from handlers.quality.common import check_period, int_param
from handlers.quality.views import CaseEvalOut, EvaluationOut, case_view, round_view, round_views
from i18n import t
from models.case import find_by_case_no
from models.codes import GRADES
from models.evaluation import (
    Evaluation,
    EvaluationCase,
    EvaluationPair,
    Expert,
    GradeObjection,
)
from models.evaluation_rules import (
    EvaluationError,
    RoundSpec,
    cancel_round,
    create_round,
    file_objection,
    leader_decision,
    recheck,
    record_score,
    replace_expert,
    review_objection,
)
from models.policy import Policy

log = logging.getLogger(__name__)
SEED_MAX = 2**53 - 1  # a seed must survive JSON in any client (a double's integer range)
EXCLUDE_MAX = 10_000  # case numbers a ministry or city draw can have taken
Grade = Literal["excellent", "good", "pass", "fail"]
assert set(GRADES) == {"excellent", "good", "pass", "fail"}


class EvaluationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["sample", "all"]
    closed_from: date = Field(ge=date(2000, 1, 1), le=date(2999, 12, 31))
    closed_to: date = Field(
        ge=date(2000, 1, 1), le=date(2999, 12, 31), description="not after today"
    )
    rate: float | None = Field(None, ge=0.01, le=1, description="sample only; default the policy's")
    seed: int | None = Field(
        None,
        ge=0,
        le=SEED_MAX,
        description="publish it: the same seed and population give the same draw",
    )
    exclude_case_nos: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list,
        max_length=EXCLUDE_MAX,
        description="cases already drawn by the ministry or the city",
    )


class ScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expert_id: int = Field(ge=1, le=2**31 - 1)
    score: Annotated[float, Field(ge=0, le=100, strict=True)]
    items: (
        dict[Annotated[str, Field(max_length=40)], Annotated[float, Field(ge=0, le=100)]] | None
    ) = Field(None, max_length=20)
    notes: str | None = Field(None, max_length=2000)


class GradeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expert_id: int = Field(ge=1, le=2**31 - 1)
    grade: Grade


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)


class GradeReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upheld: bool
    grade: Grade | None = Field(
        None, description="the new grade: required when upheld, refused (422) when not"
    )
    reviewers: str = Field(
        min_length=1, max_length=200, description="required: the review group (复评组)"
    )
    note: str | None = Field(None, max_length=1000)


class ReplaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old_expert_id: int = Field(ge=1, le=2**31 - 1, description="the pair's leader or member")
    new_expert_id: int = Field(
        ge=1, le=2**31 - 1, description="active, same group, not in the pair, no 回避 conflict"
    )


class CancelOut(BaseModel):
    id: int
    cancelled: bool
    case_nos: list[str] = Field(description="the round's cases, drawable again")


class EvaluationList(BaseModel):
    items: list[EvaluationOut]


def _fail(exc: EvaluationError, locale: str = "zh_CN") -> ApiError:
    """The rule's refusal as an API error; a group-specific refusal names the group, one about
    a decided grade says how it was decided; a grade code is shown as the locale's label."""
    params = dict(exc.params)
    variant = params.pop("group", None) or params.pop("how", None)
    key = f"quality.error.{exc.code}" + (f".{variant}" if variant else "")
    if params.get("grade"):
        params["grade"] = t(f"grade.{params['grade']}", locale)
    err = ApiError.with_params(
        exc.status, exc.code if exc.status != 422 else "validation", key, params
    )
    if exc.field:
        err.fields = {exc.field: t(key, locale, **params)}
    return err


async def _round(request: web.Request, region: str) -> Evaluation:
    ev = await Evaluation.get_or_none(region=region, id=int_param(request, "id"))
    if ev is None:
        raise ApiError(404, "not_found", message_key="quality.error.no_round")
    return ev


async def _case(ev: Evaluation, case_no: str, conn=None) -> EvaluationCase:
    found = await find_by_case_no(
        EvaluationCase.filter(evaluation_id=ev.id).select_related("pair", "case"),
        case_no,
        "case__case_no",
        conn,
    )
    ec = found[0] if found else None
    if ec is None:
        raise ApiError(404, "not_found", message_key="quality.error.not_in_round")
    return ec


async def _expert(region: str, expert_id: int, conn) -> Expert:
    expert = await Expert.get_or_none(region=region, id=expert_id, active=True).using_db(conn)
    if expert is None:
        raise ApiError(403, "forbidden", message_key="quality.error.no_expert")
    return expert


# A rule run on one case of a round: (body, case, round, policy, now, conn).
Act = Callable[[Any, EvaluationCase, Evaluation, Policy, datetime, Any], Awaitable[None]]


async def act_on_case(
    app: web.Application, ev: Evaluation, case_no: str, body: BaseModel, act: Act, locale: str
) -> CaseEvalOut:
    """Lock the round's case, run the rule, answer the case's view (a refusal -> ApiError).

    The API's endpoints and the console's expert page both come through here, so a score,
    a decision or a re-check is the same code whichever way it arrives."""
    policy, now = app[policy_key], datetime.now(UTC)
    try:
        async with in_transaction() as conn:
            ec = await _case(ev, case_no, conn)
            await EvaluationCase.filter(id=ec.id).using_db(conn).select_for_update().first()
            await act(body, ec, ev, policy, now, conn)
            return await case_view(ec, locale, conn)
    except EvaluationError as exc:
        raise _fail(exc, locale) from None


async def score_act(body: ScoreIn, ec, ev, policy, now, conn) -> None:
    """One expert's score (each expert of the pair once: 403 for others, 409 the second time)."""
    expert = await _expert(ev.region, body.expert_id, conn)
    await record_score(
        ec, expert, body.score, policy, items=body.items, notes=body.notes, now=now, conn=conn
    )


async def decision_act(body: GradeIn, ec, ev, policy, now, conn) -> None:
    """The pair's leader settles a disagreement (403 for anyone else)."""
    expert = await _expert(ev.region, body.expert_id, conn)
    await leader_decision(ec, expert, body.grade, policy, now=now, conn=conn)


async def recheck_act(body: GradeIn, ec, ev, policy, now, conn) -> None:
    """An expert outside the pair re-checks an excellent or failed grade (Shaoxing)."""
    expert = await _expert(ev.region, body.expert_id, conn)
    await recheck(ec, expert, body.grade, policy, now=now, conn=conn)


@operation(
    "POST",
    "/api/v1/center/evaluations",
    summary="Draw an evaluation round",
    tag="quality",
    body=EvaluationIn,
    response=EvaluationOut,
    status=201,
    auth="api_key",
    errors=(409,),
)
async def post_evaluation(request: web.Request) -> web.Response:
    key = await require_center(request)
    body = await parse_body(request, EvaluationIn)
    check_period(request, body.closed_from, body.closed_to, ("closed_from", "closed_to"), past=True)
    spec = RoundSpec(
        method=body.method,
        closed_from=body.closed_from,
        closed_to=body.closed_to,
        seed=body.seed if body.seed is not None else secrets.randbelow(10**9),
        rate=body.rate,
        exclude_case_nos=tuple(body.exclude_case_nos),
    )
    try:
        async with in_transaction() as conn:
            ev = await create_round(key.region, spec, request.app[policy_key], conn=conn)
            view = await round_view(ev, request_locale(request), conn)
    except EvaluationError as exc:
        raise _fail(exc, request_locale(request)) from None
    return json_ok(view, status=201)


@operation(
    "POST",
    "/api/v1/center/evaluations/{id}/cancel",
    summary="Cancel a round drawn by mistake, before any score",
    tag="quality",
    response=CancelOut,
    auth="api_key",
    errors=(404, 409),
)
async def post_cancel(request: web.Request) -> web.Response:
    key = await require_center(request)
    ev = await _round(request, key.region)
    try:
        async with in_transaction() as conn:
            ev = await Evaluation.filter(id=ev.id).using_db(conn).select_for_update().get()
            case_nos = await cancel_round(ev, conn=conn)
    except EvaluationError as exc:
        raise _fail(exc, request_locale(request)) from None
    log.info("evaluation round %s cancelled (%d cases)", ev.id, len(case_nos))
    return json_ok(CancelOut(id=ev.id, cancelled=True, case_nos=case_nos))


@operation(
    "POST",
    "/api/v1/center/evaluations/{id}/pairs/{pair_id}/replace",
    summary="Replace an expert of a pair of an unpublished round (the old one's scores stay)",
    tag="quality",
    body=ReplaceIn,
    response=EvaluationOut,
    auth="api_key",
    errors=(404, 409, 422),
)
async def post_replace(request: web.Request) -> web.Response:
    key = await require_center(request)
    ev = await _round(request, key.region)
    body = await parse_body(request, ReplaceIn)
    loc = request_locale(request)
    try:
        async with in_transaction() as conn:
            pair = (
                await EvaluationPair.filter(evaluation_id=ev.id, id=int_param(request, "pair_id"))
                .using_db(conn)
                .select_for_update()
                .first()
            )
            if pair is None:
                raise ApiError(404, "not_found", message_key="quality.error.no_pair")
            await replace_expert(
                ev,
                pair,
                body.old_expert_id,
                body.new_expert_id,
                actor=f"center_key:{key.id}",
                now=datetime.now(UTC),
                conn=conn,
            )
            view = await round_view(ev, loc, conn)
    except EvaluationError as exc:
        raise _fail(exc, loc) from None
    log.info(
        "evaluation %s pair %s: expert %s replaced by %s",
        ev.id,
        pair.id,
        body.old_expert_id,
        body.new_expert_id,
    )
    return json_ok(view)


@operation(
    "GET",
    "/api/v1/center/evaluations",
    summary="The region's evaluation rounds",
    tag="quality",
    response=EvaluationList,
    auth="api_key",
)
async def list_evaluations(request: web.Request) -> web.Response:
    key = await require_center(request)
    rounds = await Evaluation.filter(region=key.region).order_by("-id").limit(50)
    loc = request_locale(request)
    return json_ok(EvaluationList(items=await round_views(list(rounds), loc)))


@operation(
    "GET",
    "/api/v1/center/evaluations/{id}",
    summary="One round: cases, scores, grades",
    tag="quality",
    response=EvaluationOut,
    auth="api_key",
    errors=(404,),
)
async def get_evaluation(request: web.Request) -> web.Response:
    key = await require_center(request)
    return json_ok(await round_view(await _round(request, key.region), request_locale(request)))


@operation(
    "GET",
    "/api/v1/center/evaluations/{id}/cases/{case_no}",
    summary="One case of a round",
    tag="quality",
    response=CaseEvalOut,
    auth="api_key",
    errors=(404,),
)
async def get_evaluation_case(request: web.Request) -> web.Response:
    key = await require_center(request)
    ec = await _case(await _round(request, key.region), case_no_of(request))
    return json_ok(await case_view(ec, request_locale(request)))


async def _act(request: web.Request, model: type[BaseModel], act: Act, status: int = 200):
    """Parse the body and run `act` on the path's case of the caller's region's round."""
    key = await require_center(request)
    ev = await _round(request, key.region)
    body = await parse_body(request, model)
    view = await act_on_case(
        request.app, ev, case_no_of(request), body, act, request_locale(request)
    )
    return json_ok(view, status=status)


@operation(
    "POST",
    "/api/v1/center/evaluations/{id}/cases/{case_no}/scores",
    summary="An expert's score (each expert of the pair once)",
    tag="quality",
    body=ScoreIn,
    response=CaseEvalOut,
    status=201,
    auth="api_key",
    errors=(403, 404, 409),
)
async def post_score(request: web.Request) -> web.Response:
    return await _act(request, ScoreIn, score_act, status=201)


@operation(
    "POST",
    "/api/v1/center/evaluations/{id}/cases/{case_no}/decision",
    summary="The pair leader settles a disagreement",
    tag="quality",
    body=GradeIn,
    response=CaseEvalOut,
    auth="api_key",
    errors=(403, 404, 409),
)
async def post_decision(request: web.Request) -> web.Response:
    return await _act(request, GradeIn, decision_act)


@operation(
    "POST",
    "/api/v1/center/evaluations/{id}/cases/{case_no}/recheck",
    summary="An expert re-checks an excellent or failed grade (Shaoxing)",
    tag="quality",
    body=GradeIn,
    response=CaseEvalOut,
    auth="api_key",
    errors=(403, 404, 409),
)
async def post_recheck(request: web.Request) -> web.Response:
    return await _act(request, GradeIn, recheck_act)


@operation(
    "POST",
    "/api/v1/center/evaluations/{id}/cases/{case_no}/objection",
    summary="Record a handler's written objection to a published grade",
    tag="quality",
    body=ObjectionIn,
    response=CaseEvalOut,
    status=201,
    auth="api_key",
    errors=(404, 409),
)
async def post_objection(request: web.Request) -> web.Response:
    settings = request.app[settings_key]

    async def act(body: ObjectionIn, ec, ev, policy, now, conn):
        obj = await file_objection(
            ec, ev, body.text.strip(), policy, openid=None, now=now, conn=conn
        )
        await notices.objection_filed(settings, ev, ec, obj, conn=conn)

    return await _act(request, ObjectionIn, act, status=201)


@operation(
    "POST",
    "/api/v1/center/evaluations/{id}/cases/{case_no}/objection/review",
    summary="The bureau's review group decides an objection",
    tag="quality",
    body=GradeReviewIn,
    response=CaseEvalOut,
    auth="api_key",
    errors=(404, 409),
)
async def post_review(request: web.Request) -> web.Response:
    return await _act(request, GradeReviewIn, review_act(request.app[settings_key]))


def review_act(settings: Settings) -> Act:
    """The review group's decision on the case's objection, and the handler told the result.
    The API's review and the console's 异议复评 form both run this through act_on_case."""

    async def act(body: GradeReviewIn, ec, ev, policy, now, conn) -> None:
        obj = await GradeObjection.get_or_none(eval_case_id=ec.id).using_db(conn)
        if obj is None:
            raise EvaluationError(404, "no_objection")
        await review_objection(
            obj,
            ec,
            upheld=body.upheld,
            grade=body.grade,
            reviewers=body.reviewers.strip(),
            note=body.note,
            policy=policy,
            now=now,
            conn=conn,
        )
        await notices.objection_reviewed(settings, ev, ec, obj, conn=conn)

    return act
