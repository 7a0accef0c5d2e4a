"""The region's evaluation experts (评估专家库): `GET/POST /api/v1/center/experts`,
`POST /api/v1/center/experts/{id}/disable` (it warns of the expert's cases still waiting in open
rounds) and `…/enable`.

An expert belongs to the criminal or the civil/administrative group; their own organisation (if
they practise) keeps them from evaluating its cases. With an openid they log in to the staff
console by the same scan as staff, and see only the cases given to them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator
from tortoise.exceptions import IntegrityError

from bot.api import ApiError, json_ok, operation, parse_body, request_locale
from bot.auth import require_center
from handlers.quality.common import int_param
from i18n import t
from models.contact import validate_name
from models.evaluation import CaseState, Expert
from models.evaluation_rules import waiting_on
from models.masking import mask_openid


class ExpertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=30)
    group: Literal["criminal", "civil_admin"]
    org: str | None = Field(
        None, min_length=1, max_length=100, description="the expert's own organisation (回避)"
    )
    openid: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{6,64}$")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return validate_name(v)


class ExpertOut(BaseModel):
    id: int
    region: str
    name: str
    group: str
    org: str | None
    openid: str | None = Field(description="masked")
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, e: Expert) -> ExpertOut:
        return cls(
            id=e.id,
            region=e.region,
            name=e.name,
            group=e.group,
            org=e.org,
            openid=mask_openid(e.openid) if e.openid else None,
            active=e.active,
            created_at=e.created_at,
        )


class WaitingCase(BaseModel):
    evaluation_id: int
    pair_id: int
    case_no: str
    waiting_for: str = Field(description="score | decision (the leader's)")


class ExpertStateOut(ExpertOut):
    waiting_cases: list[WaitingCase] = Field(
        description="cases of unpublished rounds waiting for this expert"
    )
    warning: str | None = Field(
        description="when disabled with cases waiting: they are stranded until the expert is "
        "enabled again or replaced in the pair (…/pairs/{pair_id}/replace)"
    )


class ExpertList(BaseModel):
    items: list[ExpertOut]


@operation(
    "GET",
    "/api/v1/center/experts",
    summary="The region's evaluation experts",
    tag="quality",
    response=ExpertList,
    auth="api_key",
)
async def list_experts(request: web.Request) -> web.Response:
    key = await require_center(request)
    rows = await Expert.filter(region=key.region).order_by("id")
    return json_ok(ExpertList(items=[ExpertOut.of(e) for e in rows]))


@operation(
    "POST",
    "/api/v1/center/experts",
    summary="Add an evaluation expert",
    tag="quality",
    body=ExpertIn,
    response=ExpertOut,
    status=201,
    auth="api_key",
    errors=(409,),
)
async def add_expert(request: web.Request) -> web.Response:
    key = await require_center(request)
    body = await parse_body(request, ExpertIn)
    try:
        expert = await Expert.create(region=key.region, **body.model_dump())
    except IntegrityError:
        raise ApiError(409, "conflict", message_key="quality.error.openid_taken") from None
    return json_ok(ExpertOut.of(expert), status=201)


async def _state(request: web.Request, active: bool) -> web.Response:
    key = await require_center(request)
    expert = await Expert.get_or_none(region=key.region, id=int_param(request, "id"))
    if expert is None:
        raise ApiError(404, "not_found", message_key="quality.error.no_expert")
    if expert.active != active:
        expert.active, expert.disabled_at = active, None if active else datetime.now(UTC)
        await expert.save(update_fields=["active", "disabled_at"])
    waiting = [
        WaitingCase(
            evaluation_id=ec.evaluation_id,
            pair_id=ec.pair_id,
            case_no=ec.case.case_no,
            waiting_for="decision" if ec.state == CaseState.DISAGREED else "score",
        )
        for ec in await waiting_on(expert.id)
    ]
    warning = None
    if waiting and not expert.active:
        warning = t(
            "quality.expert.stranded",
            request_locale(request),
            id=expert.id,
            n=len(waiting),
            rounds="、".join(sorted({str(w.evaluation_id) for w in waiting})),
        )
    out = ExpertOut.of(expert).model_dump()
    return json_ok(ExpertStateOut(**out, waiting_cases=waiting, warning=warning))


@operation(
    "POST",
    "/api/v1/center/experts/{id}/disable",
    summary="Disable an expert (warns of their cases waiting in open rounds)",
    tag="quality",
    response=ExpertStateOut,
    auth="api_key",
    errors=(404,),
)
async def disable_expert(request: web.Request) -> web.Response:
    return await _state(request, active=False)


@operation(
    "POST",
    "/api/v1/center/experts/{id}/enable",
    summary="Enable a disabled expert again",
    tag="quality",
    response=ExpertStateOut,
    auth="api_key",
    errors=(404,),
)
async def enable_expert(request: web.Request) -> web.Response:
    return await _state(request, active=True)
