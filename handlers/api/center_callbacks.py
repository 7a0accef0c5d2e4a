"""The centre's callbacks: results and the phone worklist, phone/visit results, coverage.

`GET /api/v1/center/callbacks?since=&status=` lists the region's callbacks changed since a
time, newest first, paginated with `?limit=&cursor=` (`next_cursor` of one page is the
`cursor` of the next); `status=pending_phone` is the phone worklist. Staff who phoned or
visited record the answers with `POST /api/v1/center/callbacks/{id}/result` into the same
record as a WeChat answer, so `GET /api/v1/center/stats/callbacks` counts every channel.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from tortoise.expressions import Subquery
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
from handlers.api.center_cases import HandlerInfo, utc
from i18n import t
from models.callback import DETAILS_MAX, Answers, Callback, CallbackChannel, complete
from models.case import Case, CaseOrigin, CaseStatus
from models.masking import mask_name

MAX_PAGE = 200  # items per page; a worklist longer than that is read page by page


class CallbacksQuery(BaseModel):
    since: AwareDatetime | None = Field(None, description="changed at or after (ISO 8601)")
    status: Literal["scheduled", "invited", "pending_phone", "completed"] | None = None
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(None, pattern=r"^\d{1,18}$")


class CallbackItem(BaseModel):
    id: int
    case_no: str
    cause: str
    beneficiary: str = Field(description="masked name")
    handler: HandlerInfo
    closed_on: date | None
    status: str
    due_at: datetime
    invited_at: datetime | None
    channel: str | None
    called_by: str | None
    fee_charged: bool | None
    fee_details: str | None
    negligent: bool | None
    negligent_details: str | None
    satisfied: bool | None
    comments: str | None
    answered_at: datetime | None
    flagged: bool
    updated_at: datetime

    @classmethod
    def of(cls, cb: Callback, case: Case) -> CallbackItem:
        return cls(
            id=cb.id,
            case_no=case.case_no,
            cause=case.cause,
            beneficiary=mask_name(case.beneficiary_name),
            handler=HandlerInfo(name=case.handler_name, org=case.handler_org),
            closed_on=case.closed_on,
            status=cb.status,
            due_at=cb.due_at,
            invited_at=cb.invited_at,
            channel=cb.channel,
            called_by=cb.called_by,
            fee_charged=cb.fee_charged,
            fee_details=cb.fee_details,
            negligent=cb.negligent,
            negligent_details=cb.negligent_details,
            satisfied=cb.satisfied,
            comments=cb.comments,
            answered_at=cb.answered_at,
            flagged=cb.flagged,
            updated_at=cb.updated_at,
        )


class CallbackPage(BaseModel):
    items: list[CallbackItem]
    next_cursor: str | None = None


@operation(
    "GET",
    "/api/v1/center/callbacks",
    summary="Callbacks: results and phone worklist",
    tag="center",
    query=CallbacksQuery,
    response=CallbackPage,
    auth="api_key",
)
async def list_callbacks(request: web.Request) -> web.Response:
    key = await require_center(request)
    q = parse_query(request, CallbacksQuery)
    rows = Callback.filter(region=key.region)
    if q.since:
        rows = rows.filter(updated_at__gte=utc(q.since))
    if q.status:
        rows = rows.filter(status=q.status)
    page, next_cursor = await keyset_page(rows, cursor=q.cursor, limit=q.limit, related=("case",))
    return json_ok(
        CallbackPage(items=[CallbackItem.of(cb, cb.case) for cb in page], next_cursor=next_cursor)
    )


class ResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Literal["phone", "visit"]
    called_by: str = Field(min_length=1, max_length=30, description="who phoned or visited")
    fee_charged: bool
    fee_details: str | None = Field(None, max_length=DETAILS_MAX)
    negligent: bool
    negligent_details: str | None = Field(None, max_length=DETAILS_MAX)
    satisfied: bool
    comments: str | None = Field(None, max_length=DETAILS_MAX)
    answered_at: AwareDatetime | None = Field(None, description="default: now")


@operation(
    "POST",
    "/api/v1/center/callbacks/{id}/result",
    summary="Record a phone or visit callback",
    tag="center",
    body=ResultIn,
    response=CallbackItem,
    auth="api_key",
    errors=(404, 409),
)
async def record_result(request: web.Request) -> web.Response:
    key = await require_center(request)
    raw = request.match_info["id"]
    body = await parse_body(request, ResultIn)
    cb, case = await record_phone_result(
        request.app, region=key.region, raw_id=raw, body=body, locale=request_locale(request)
    )
    return json_ok(CallbackItem.of(cb, case))


async def record_phone_result(
    app: web.Application, *, region: str, raw_id: str, body: ResultIn, locale: str
) -> tuple[Callback, Case]:
    """Record a phone or visit answer into the callback's record (the API and the console)."""
    now = datetime.now(UTC)
    if body.answered_at and utc(body.answered_at) > now:
        raise ApiError(422, "validation", fields={"answered_at": t("validation.invalid", locale)})
    async with in_transaction() as conn:
        cb = (
            await Callback.filter(
                id=int(raw_id) if raw_id.isdigit() and len(raw_id) < 10 else 0, region=region
            )
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if cb is None:
            raise ApiError(404, "not_found", message_key="callbacks.error.not_found")
        case = await Case.filter(id=cb.case_id).using_db(conn).get()
        answers = Answers(
            fee_charged=body.fee_charged,
            negligent=body.negligent,
            satisfied=body.satisfied,
            fee_details=body.fee_details if body.fee_charged else None,
            negligent_details=body.negligent_details if body.negligent else None,
            comments=body.comments,
        )
        pushes = (
            None
            if cb.answered_at is not None
            else await complete(
                cb,
                case,
                answers,
                channel=CallbackChannel(body.channel),
                answered_at=utc(body.answered_at or now),
                conn=conn,
                called_by=body.called_by.strip(),
            )
        )
        if pushes is None:
            raise ApiError(409, "callback_completed", message_key="callbacks.error.completed")
        await notify.queue(app[settings_key], pushes, conn=conn)
        await cb.refresh_from_db(using_db=conn)
        return cb, case


class StatsQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: date | None = Field(
        None, alias="from", description="cases closed on or after; default 1 January of `to`'s year"
    )
    to: date | None = Field(None, description="cases closed on or before; default today")


class CallbackStats(BaseModel):
    closed_cases: int = Field(description="application cases (申请类) closed in the period")
    completed: int = Field(description="of those, callbacks completed")
    coverage: float | None = Field(
        description="回访率: completed / closed_cases; null with no "
        "cases. Notification cases (通知类) are outside it"
    )
    target: float = Field(description="policy share of closed cases to call back (Zhashui 0.9)")
    notification_cases: int = Field(
        description="notification cases closed in the period, outside the figure"
    )
    satisfied_share: float | None = Field(description="satisfied / completed")
    flagged: int


@operation(
    "GET",
    "/api/v1/center/stats/callbacks",
    summary="Callback coverage of a period",
    tag="center",
    query=StatsQuery,
    response=CallbackStats,
    auth="api_key",
)
async def callback_stats(request: web.Request) -> web.Response:
    key = await require_center(request)
    q = parse_query(request, StatsQuery)
    today = datetime.now(ZoneInfo(request.app[settings_key].timezone)).date()
    to = q.to or today
    start = q.from_ or date(to.year, 1, 1)
    if start > to:
        raise ApiError(
            422, "validation", fields={"from": t("callbacks.error.period", request_locale(request))}
        )
    closed_in = Case.filter(
        region=key.region, status=CaseStatus.CLOSED, closed_on__gte=start, closed_on__lte=to
    )
    # Zhashui's 回访率 counts application cases (申请类) only (DOMAIN §2)
    cases = closed_in.filter(origin=CaseOrigin.APPLICATION)
    closed = await cases.count()
    done = Callback.filter(
        region=key.region, case_id__in=Subquery(cases.values("id")), answered_at__not_isnull=True
    )
    completed = await done.count()
    satisfied = await done.filter(satisfied=True).count()
    flagged = await done.filter(flagged=True).count()
    return json_ok(
        CallbackStats(
            closed_cases=closed,
            completed=completed,
            coverage=round(completed / closed, 4) if closed else None,
            target=request.app[policy_key].callback_target,
            notification_cases=await closed_in.filter(origin=CaseOrigin.NOTIFICATION).count(),
            satisfied_share=round(satisfied / completed, 4) if completed else None,
            flagged=flagged,
        )
    )
