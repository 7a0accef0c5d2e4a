"""The centre's organisations and handler pool: `/api/v1/center/orgs`, `/api/v1/center/handlers`.

The same operations as `python -m bot orgs|handlers`, scoped to the key's region: another
region's organisation or handler is as absent as none (404). Every entry, removal and
readmission is dated with its reason (models.pool.PoolEvent) and listed with the handler.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator
from tortoise.transactions import in_transaction

from bot.api import ApiError, json_ok, operation, parse_body, request_locale
from bot.auth import require_center
from handlers.api.center_applications import path_id
from i18n import t
from models.agent import INVITE_TTL
from models.calendar import local_today
from models.contact import validate_name
from models.pool import (
    Handler,
    Org,
    PoolError,
    add_handler,
    add_org,
    check_org_name,
    check_org_phone,
    check_reason,
    create_handler_invite,
    readmit_handler,
    remove_handler,
)

Specialty = Literal["civil", "criminal", "administrative"]


class OrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["firm", "office"]
    phone: str | None = Field(None, max_length=20)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_org_name(v)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return check_org_phone(v)


class OrgOut(BaseModel):
    id: int
    region: str
    name: str
    kind: str
    phone: str | None
    position: int = Field(description="published rotation order")
    turns: int
    handlers_in_pool: int = 0

    @classmethod
    def of(cls, o: Org, in_pool: int = 0) -> OrgOut:
        return cls(
            id=o.id,
            region=o.region,
            name=o.name,
            kind=o.kind,
            phone=o.phone,
            position=o.position,
            turns=o.turns,
            handlers_in_pool=in_pool,
        )


class OrgList(BaseModel):
    items: list[OrgOut]


class HandlerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=30)
    org_id: int = Field(ge=1, le=2**31 - 1)
    kind: Literal["lawyer", "grassroots", "duty_lawyer"]
    specialties: list[Specialty] = Field(default_factory=list, max_length=3)
    agent_id: int | None = Field(None, ge=1, le=2**31 - 1)
    reason: str = Field("入库", min_length=1, max_length=200, description="why they enter")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return validate_name(v)


class PoolEventOut(BaseModel):
    action: str = Field(description="entry | removal | readmission")
    reason: str
    until: date | None
    actor: str
    at: datetime


class HandlerOut(BaseModel):
    id: int
    region: str
    name: str
    kind: str
    org: OrgOut
    specialties: list[str]
    agent_id: int | None
    bound: bool = Field(description="the handler bound their WeChat")
    in_pool: bool = Field(description="eligible for assignments today")
    removed_until: date | None
    turns: int
    events: list[PoolEventOut]

    @classmethod
    async def of(cls, h: Handler) -> HandlerOut:
        org = await Org.get(id=h.org_id)
        events = await h.events.all().order_by("id")
        return cls(
            id=h.id,
            region=h.region,
            name=h.name,
            kind=h.kind,
            org=OrgOut.of(org),
            specialties=h.specialties,
            agent_id=h.agent_id,
            bound=h.openid is not None,
            in_pool=h.eligible_on(local_today()),
            removed_until=h.removed_until,
            turns=h.turns,
            events=[
                PoolEventOut(
                    action=e.action, reason=e.reason, until=e.until, actor=e.actor, at=e.at
                )
                for e in events
            ],
        )


class HandlerList(BaseModel):
    items: list[HandlerOut]


class RemovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=200)
    until: date | None = Field(None, description="back in the pool after this day")

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str) -> str:
        return check_reason(v)


class ReadmissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("重新入库", min_length=1, max_length=200)


class HandlerInvitationOut(BaseModel):
    code: str = Field(description="send 绑定 <code> to the official account")
    expires_at: datetime


def _pool_error(request: web.Request, exc: PoolError) -> ApiError:
    """Conflicts with what exists are 409; an unknown agent is a field to correct (422)."""
    if exc.code == "agent_unknown":
        return ApiError(
            422,
            "validation",
            fields={"agent_id": t("pool.error.agent_unknown", request_locale(request))},
        )
    return ApiError(409, exc.code, message_key=f"pool.error.{exc.code}")


@operation(
    "POST",
    "/api/v1/center/orgs",
    summary="Add a service organisation",
    tag="center",
    body=OrgIn,
    response=OrgOut,
    status=201,
    auth="api_key",
    errors=(409,),
)
async def create_org(request: web.Request) -> web.Response:
    key = await require_center(request)
    body = await parse_body(request, OrgIn)
    async with in_transaction() as conn:
        try:
            org = await add_org(key.region, body.name, body.kind, body.phone, conn=conn)
        except PoolError as exc:
            raise _pool_error(request, exc) from None
    return json_ok(OrgOut.of(org), status=201)


@operation(
    "GET",
    "/api/v1/center/orgs",
    summary="The region's organisations, in rotation order",
    tag="center",
    response=OrgList,
    auth="api_key",
)
async def list_orgs(request: web.Request) -> web.Response:
    key = await require_center(request)
    orgs = await Org.filter(region=key.region).order_by("position", "id")
    today = local_today()
    items = []
    for o in orgs:
        handlers = await Handler.filter(org_id=o.id)
        items.append(OrgOut.of(o, sum(h.eligible_on(today) for h in handlers)))
    return json_ok(OrgList(items=items))


async def _handler(request: web.Request, region: str) -> Handler:
    handler = await Handler.get_or_none(id=path_id(request), region=region)
    if handler is None:
        raise ApiError(404, "not_found")
    return handler


@operation(
    "POST",
    "/api/v1/center/handlers",
    summary="Add a handler to the pool",
    tag="center",
    body=HandlerIn,
    response=HandlerOut,
    status=201,
    auth="api_key",
    errors=(409,),
)
async def create_handler(request: web.Request) -> web.Response:
    key = await require_center(request)
    body = await parse_body(request, HandlerIn)
    async with in_transaction() as conn:
        org = await Org.get_or_none(id=body.org_id, region=key.region).using_db(conn)
        if org is None:
            raise ApiError(
                422,
                "validation",
                fields={"org_id": t("pool.error.org_unknown", request_locale(request))},
            )
        try:
            handler = await add_handler(
                org,
                body.name,
                body.kind,
                specialties=body.specialties,
                agent_id=body.agent_id,
                reason=body.reason,
                actor=f"center_key:{key.id}",
                conn=conn,
            )
        except PoolError as exc:
            raise _pool_error(request, exc) from None
    return json_ok(await HandlerOut.of(handler), status=201)


@operation(
    "GET",
    "/api/v1/center/handlers",
    summary="The region's handler pool",
    tag="center",
    response=HandlerList,
    auth="api_key",
)
async def list_handlers(request: web.Request) -> web.Response:
    key = await require_center(request)
    rows = await Handler.filter(region=key.region).order_by("org_id", "id")
    return json_ok(HandlerList(items=[await HandlerOut.of(h) for h in rows]))


@operation(
    "GET",
    "/api/v1/center/handlers/{id}",
    summary="One handler with their pool history",
    tag="center",
    response=HandlerOut,
    auth="api_key",
    errors=(404,),
)
async def get_handler(request: web.Request) -> web.Response:
    key = await require_center(request)
    return json_ok(await HandlerOut.of(await _handler(request, key.region)))


@operation(
    "POST",
    "/api/v1/center/handlers/{id}/removal",
    summary="Remove from the pool",
    tag="center",
    body=RemovalIn,
    response=HandlerOut,
    auth="api_key",
    errors=(404,),
)
async def remove(request: web.Request) -> web.Response:
    key = await require_center(request)
    handler = await _handler(request, key.region)
    body = await parse_body(request, RemovalIn)
    async with in_transaction() as conn:
        await remove_handler(
            handler, body.reason, until=body.until, actor=f"center_key:{key.id}", conn=conn
        )
    return json_ok(await HandlerOut.of(handler))


@operation(
    "POST",
    "/api/v1/center/handlers/{id}/readmission",
    summary="Back into the pool",
    tag="center",
    body=ReadmissionIn,
    response=HandlerOut,
    auth="api_key",
    errors=(404,),
)
async def readmit(request: web.Request) -> web.Response:
    key = await require_center(request)
    handler = await _handler(request, key.region)
    body = await parse_body(request, ReadmissionIn) if request.can_read_body else ReadmissionIn()
    async with in_transaction() as conn:
        await readmit_handler(
            handler, check_reason(body.reason), actor=f"center_key:{key.id}", conn=conn
        )
    return json_ok(await HandlerOut.of(handler))


@operation(
    "POST",
    "/api/v1/center/handlers/{id}/invitation",
    summary="A single-use code for the handler to bind WeChat",
    tag="center",
    response=HandlerInvitationOut,
    status=201,
    auth="api_key",
    errors=(404,),
)
async def invite(request: web.Request) -> web.Response:
    key = await require_center(request)
    handler = await _handler(request, key.region)
    now = datetime.now(UTC)
    code = await create_handler_invite(handler, now)
    return json_ok(HandlerInvitationOut(code=code, expires_at=now + INVITE_TTL), status=201)
