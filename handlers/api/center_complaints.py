"""The centre's complaints: the list with due dates, one complaint, and each procedural step.

`GET /api/v1/center/complaints?since=&status=` (newest first, `?limit=&cursor=` pagination)
and `PATCH /api/v1/center/complaints/{ticket}` moving received -> accepted | not_accepted
(reason) -> investigating -> concluded (result), or extended (reason, days <= policy). Each
step is told to the complainant through the outbox. Repeating the current status (a retried
request) changes nothing and answers 200.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from tortoise.transactions import in_transaction

from bot import notify
from bot.api import (
    ApiError,
    json_ok,
    keyset_page,
    operation,
    parse_body,
    parse_query,
    request_locale,
)
from bot.auth import require_center
from bot.keys import policy_key, settings_key
from handlers.api.center_cases import utc
from i18n import t
from models.complaint import Complaint, normalize_ticket, notify_due, step_problem, transition

MAX_PAGE = 200  # items per page
NOTE_MAX = 1000  # characters of a reason or result; the complainant reads it in a chat bubble


class ComplaintsQuery(BaseModel):
    since: AwareDatetime | None = Field(None, description="changed at or after (ISO 8601)")
    status: (
        Literal["received", "accepted", "not_accepted", "investigating", "extended", "concluded"]
        | None
    ) = None
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(None, pattern=r"^\d{1,18}$")


class ComplaintItem(BaseModel):
    ticket: str
    status: str
    about: str
    grounds: str
    case_no: str | None
    text: str
    photos: list[str] = Field(description="WeChat picture URLs")
    source: str
    received_on: date
    accept_due: date
    accepted_on: date | None
    conclude_due: date | None
    extended_days: int
    reason: str | None
    result: str | None
    decided_on: date | None
    handled_by: str | None
    bureau: str | None = Field(
        description="the justice bureau the complaint went to (its unit "
        "name); null when none was registered"
    )
    notify_due: date | None = Field(
        description="the written decision reaches the complainant "
        "and the party complained about by then (working days)"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Complaint, policy) -> ComplaintItem:
        case = c.case if c.case_id else None
        assert c.ticket is not None  # null only inside the transaction that inserts the row
        return cls(
            ticket=c.ticket,
            status=c.status,
            about=c.about,
            grounds=c.grounds,
            case_no=case.case_no if case else None,
            text=c.text,
            photos=[p.get("pic_url") or "" for p in c.photos or []],
            source=c.source,
            received_on=c.received_on,
            accept_due=c.accept_due,
            accepted_on=c.accepted_on,
            conclude_due=c.conclude_due,
            extended_days=c.extended_days,
            reason=c.reason,
            result=c.result,
            decided_on=c.decided_on,
            handled_by=c.handled_by,
            bureau=c.bureau,
            notify_due=notify_due(c, policy),
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class ComplaintPage(BaseModel):
    items: list[ComplaintItem]
    next_cursor: str | None = None


@operation(
    "GET",
    "/api/v1/center/complaints",
    summary="Complaints with their due dates",
    tag="center",
    query=ComplaintsQuery,
    response=ComplaintPage,
    auth="api_key",
)
async def list_complaints(request: web.Request) -> web.Response:
    key = await require_center(request)
    q = parse_query(request, ComplaintsQuery)
    rows = Complaint.filter(region=key.region)
    if q.since:
        rows = rows.filter(updated_at__gte=utc(q.since))
    if q.status:
        rows = rows.filter(status=q.status)
    page, next_cursor = await keyset_page(rows, cursor=q.cursor, limit=q.limit, related=("case",))
    policy = request.app[policy_key]
    return json_ok(
        ComplaintPage(items=[ComplaintItem.of(c, policy) for c in page], next_cursor=next_cursor)
    )


def _ticket(request: web.Request) -> str:
    return normalize_ticket(request.match_info["ticket"]) or "-"


@operation(
    "GET",
    "/api/v1/center/complaints/{ticket}",
    summary="One complaint",
    tag="center",
    response=ComplaintItem,
    auth="api_key",
    errors=(404,),
)
async def get_complaint(request: web.Request) -> web.Response:
    key = await require_center(request)
    c = (
        await Complaint.filter(ticket=_ticket(request), region=key.region)
        .select_related("case")
        .first()
    )
    if c is None:
        raise ApiError(404, "not_found", message_key="complaint.error.not_found")
    return json_ok(ComplaintItem.of(c, request.app[policy_key]))


class ComplaintStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["accepted", "not_accepted", "investigating", "extended", "concluded"]
    reason: str | None = Field(
        None,
        min_length=1,
        max_length=NOTE_MAX,
        description="required for not_accepted and extended",
    )
    result: str | None = Field(
        None, min_length=1, max_length=NOTE_MAX, description="required for concluded"
    )
    days: int | None = Field(None, ge=1, description="extension in days (extended)")
    handled_by: str | None = Field(None, max_length=30)


def _check(body: ComplaintStep, c: Complaint, policy, loc: str) -> None:
    """The request must be a legal next step with what that step needs."""
    problem = step_problem(
        c, body.status, reason=body.reason, result=body.result, days=body.days, policy=policy
    )
    if problem is None:
        return
    if problem.conflict or problem.field is None:  # (only a conflict has no field)
        code = "extend_once" if problem.key.endswith("extend_once") else "invalid_transition"
        params = {
            k: t(f"complaint.state.{v}", loc) if k in ("current", "wanted") else v
            for k, v in problem.params.items()
        }  # labels, not codes like "received"
        raise ApiError.with_params(409, code, problem.key, params)
    raise ApiError(422, "validation", fields={problem.field: t(problem.key, loc, **problem.params)})


@operation(
    "PATCH",
    "/api/v1/center/complaints/{ticket}",
    summary="Next step of a complaint",
    tag="center",
    body=ComplaintStep,
    response=ComplaintItem,
    auth="api_key",
    errors=(404, 409),
)
async def patch_complaint(request: web.Request) -> web.Response:
    key = await require_center(request)
    body = await parse_body(request, ComplaintStep)
    c = await step_complaint(
        request.app,
        region=key.region,
        ticket=_ticket(request),
        body=body,
        locale=request_locale(request),
    )
    return json_ok(ComplaintItem.of(c, request.app[policy_key]))


async def step_complaint(
    app: web.Application, *, region: str, ticket: str, body: ComplaintStep, locale: str
) -> Complaint:
    """Apply one procedural step to a complaint of `region` (the API and the console)."""
    settings, policy = app[settings_key], app[policy_key]
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        c = (
            await Complaint.filter(ticket=ticket, region=region)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if c is None:
            raise ApiError(404, "not_found", message_key="complaint.error.not_found")
        if body.status != c.status or body.status == "extended":
            _check(body, c, policy, locale)
            pushes = await transition(
                c,
                body.status,
                today=now.astimezone(ZoneInfo(settings.timezone)).date(),
                policy=policy,
                conn=conn,
                reason=body.reason,
                result=body.result,
                days=body.days,
                handled_by=body.handled_by,
                now=now,
            )
            await notify.queue(settings, pushes, conn=conn)
        await c.fetch_related("case", using_db=conn)
        return c
