"""The region's evaluation experts (评估专家库): `GET/POST /api/v1/center/experts`,
`POST /api/v1/center/experts/{id}/disable`.

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

from bot.api import ApiError, json_ok, operation, parse_body
from bot.auth import require_center
from handlers.quality.common import int_param
from models.contact import validate_name
from models.evaluation import Expert
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


@operation(
    "POST",
    "/api/v1/center/experts/{id}/disable",
    summary="Disable an expert",
    tag="quality",
    response=ExpertOut,
    auth="api_key",
    errors=(404,),
)
async def disable_expert(request: web.Request) -> web.Response:
    key = await require_center(request)
    expert = await Expert.get_or_none(region=key.region, id=int_param(request, "id"))
    if expert is None:
        raise ApiError(404, "not_found", message_key="quality.error.no_expert")
    if expert.active:
        expert.active, expert.disabled_at = False, datetime.now(UTC)
        await expert.save(update_fields=["active", "disabled_at"])
    return json_ok(ExpertOut.of(expert))
