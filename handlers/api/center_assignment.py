"""Assigning a granted application to a handler, and the region's rotation.

`POST /api/v1/center/applications/{id}/assignment` chooses by DOMAIN §9 (models.rotation) or
records the centre's own choice with its priority; `GET` on the same path lists the
application's assignments (a conflict leaves one behind). `GET /api/v1/center/rotation` shows
the published order, each organisation's and handler's turns and cases this month, and who is
next per specialty. Where the province's platform assigns (policy `assignment: external`) the
endpoint answers 409 and the case upsert carries the handler.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from tortoise.transactions import in_transaction

from bot.api import ApiError, json_ok, operation, parse_body
from bot.auth import require_center
from bot.keys import policy_key, settings_key
from bot.outbox import wake
from handlers.api.center_applications import path_id
from handlers.assignment_notice import after_assignment, alert_unassigned
from models.application import Application
from models.assignment import Assignment, Priority
from models.calendar import local_today
from models.pool import Handler, Org
from models.rotation import AssignError, assign, next_up


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    handler_id: int | None = Field(None, ge=1, le=2**31 - 1)
    priority: Literal["chosen", "same_case", "duty", "village_consultant", "difficult"] | None = (
        None
    )
    group_case: bool = Field(False, description="group cases are outside the monthly cap")


class HandlerBrief(BaseModel):
    id: int
    name: str
    kind: str
    bound: bool


class OrgBrief(BaseModel):
    id: int
    name: str
    kind: str
    phone: str | None


class AssignmentOut(BaseModel):
    id: int
    application_id: int
    handler: HandlerBrief
    org: OrgBrief
    priority: str = Field(
        description="rotation, chosen, same_case, duty, village_consultant, difficult"
    )
    uses_turn: bool
    group_case: bool
    status: str = Field(description="assigned, accepted, conflict, ended")
    assigned_at: datetime
    agreement_due: date
    accepted_at: datetime | None
    conflict_reason: str | None

    @classmethod
    async def of(cls, a: Assignment, conn=None) -> AssignmentOut:
        h = await Handler.get(id=a.handler_id).using_db(conn)
        o = await Org.get(id=a.org_id).using_db(conn)
        return cls(
            id=a.id,
            application_id=a.application_id,
            handler=HandlerBrief(id=h.id, name=h.name, kind=h.kind, bound=h.openid is not None),
            org=OrgBrief(id=o.id, name=o.name, kind=o.kind, phone=o.phone),
            priority=a.priority,
            uses_turn=a.uses_turn,
            group_case=a.group_case,
            status=a.status,
            assigned_at=a.assigned_at,
            agreement_due=a.agreement_due,
            accepted_at=a.accepted_at,
            conflict_reason=a.conflict_reason,
        )


class AssignmentList(BaseModel):
    items: list[AssignmentOut]


def assign_error(exc: AssignError) -> ApiError:
    """An unknown handler is 404, a body missing its handler or priority 422, the rest 409."""
    status = (
        404
        if exc.code == "handler_unknown"
        else 422
        if exc.code in ("handler_required", "priority_required")
        else 409
    )
    return ApiError.with_params(status, exc.code, f"assignment.error.{exc.code}", exc.params)


@operation(
    "POST",
    "/api/v1/center/applications/{id}/assignment",
    summary="Assign a granted application to a handler",
    tag="center",
    body=AssignmentIn,
    response=AssignmentOut,
    status=201,
    auth="api_key",
    errors=(404, 409),
)
async def create_assignment(request: web.Request) -> web.Response:
    key = await require_center(request)
    app_id = path_id(request)
    body = await parse_body(request, AssignmentIn) if request.can_read_body else AssignmentIn()
    settings, policy = request.app[settings_key], request.app[policy_key]
    if policy.assignment == "external":
        raise ApiError(409, "assignment_external", message_key="assignment.error.external")
    now = datetime.now(UTC)
    try:
        async with in_transaction() as conn:
            row = (
                await Application.select_for_update()
                .using_db(conn)
                .get_or_none(id=app_id, region=key.region)
            )
            if row is None:
                raise ApiError(404, "not_found")
            a = await assign(
                row,
                cap=policy.handler_monthly_case_cap,
                now=now,
                today=local_today(settings.timezone),
                handler_id=body.handler_id,
                priority=Priority(body.priority) if body.priority else None,
                group_case=body.group_case,
                actor=f"center_key:{key.id}",
                conn=conn,
            )
            await after_assignment(request.app, a, row, conn=conn)
            out = await AssignmentOut.of(a, conn)
    except AssignError as exc:
        if exc.code == "no_eligible_handler":
            async with in_transaction() as conn:
                await alert_unassigned(settings, key.region, app_id, exc, conn=conn)
            wake(request.app)
        raise assign_error(exc) from None
    wake(request.app)
    return json_ok(out, status=201)


@operation(
    "GET",
    "/api/v1/center/applications/{id}/assignment",
    summary="The application's assignments, newest first",
    tag="center",
    response=AssignmentList,
    auth="api_key",
    errors=(404,),
)
async def list_assignments(request: web.Request) -> web.Response:
    key = await require_center(request)
    row = await Application.get_or_none(id=path_id(request), region=key.region)
    if row is None:
        raise ApiError(404, "not_found")
    rows = await Assignment.filter(application_id=row.id).order_by("-id")
    return json_ok(AssignmentList(items=[await AssignmentOut.of(a) for a in rows]))


class RotationHandler(BaseModel):
    id: int
    name: str
    kind: str
    specialties: list[str]
    turns: int
    cases_this_month: int
    available: bool
    why_not: str | None = Field(description="out_of_pool, capped, specialty (civil view)")


class RotationOrg(BaseModel):
    id: int
    name: str
    position: int
    turns: int
    handlers: list[RotationHandler]


class NextUp(BaseModel):
    handler: HandlerBrief
    org: OrgBrief


class RotationOut(BaseModel):
    region: str
    policy: str
    assignment: str = Field(description="here (we assign) or external (the province's platform)")
    monthly_cap: int | None
    orgs: list[RotationOrg]
    next: dict[str, NextUp | None] = Field(description="who is next per specialty")


@operation(
    "GET",
    "/api/v1/center/rotation",
    summary="The rotation: published order, who is next",
    tag="center",
    response=RotationOut,
    auth="api_key",
)
async def rotation(request: web.Request) -> web.Response:
    key = await require_center(request)
    settings, policy = request.app[settings_key], request.app[policy_key]
    today = local_today(settings.timezone)
    pool, _ = await next_up(key.region, cap=policy.handler_monthly_case_cap, today=today)
    orgs = []
    for o in pool.orgs:
        items = [
            RotationHandler(
                id=h.id,
                name=h.name,
                kind=h.kind,
                specialties=h.specialties,
                turns=h.turns,
                cases_this_month=pool.used[h.id],
                available=pool.why_not(h) is None,
                why_not=pool.why_not(h),
            )
            for h in pool.handlers
            if h.org_id == o.id
        ]
        orgs.append(
            RotationOrg(id=o.id, name=o.name, position=o.position, turns=o.turns, handlers=items)
        )
    nxt: dict[str, NextUp | None] = {}
    for specialty in ("civil", "criminal", "administrative"):
        pool.specialty = specialty
        h = pool.next_in_rotation()
        org = next((o for o in pool.orgs if h and o.id == h.org_id), None)
        nxt[specialty] = (
            NextUp(
                handler=HandlerBrief(id=h.id, name=h.name, kind=h.kind, bound=h.openid is not None),
                org=OrgBrief(id=org.id, name=org.name, kind=org.kind, phone=org.phone),
            )
            if h and org
            else None
        )
    return json_ok(
        RotationOut(
            region=key.region,
            policy=policy.name,
            assignment=policy.assignment,
            monthly_cap=policy.handler_monthly_case_cap,
            orgs=orgs,
            next=nxt,
        )
    )
