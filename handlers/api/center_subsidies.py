"""Case subsidies (办案补贴): `GET /api/v1/center/subsidies?from=&to=&status=`, the money recorded
by `POST …/subsidies/{id}/paid` and `…/claw-back` (and `…/undo` of a mistake), and Beijing's closing check
`POST /api/v1/center/cases/{case_no}/quality-check`. Amounts and statuses: models.subsidy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from tortoise.transactions import in_transaction

from bot.api import MAX_ID, ApiError, json_ok, operation, parse_body, parse_query, request_locale
from bot.auth import require_center
from bot.keys import policy_key
from handlers.api.center_cases import find_case
from handlers.quality.common import check_period, int_param
from i18n import t
from models.case import Case, CaseStatus
from models.people import Staff
from models.quality import QualityReview
from models.subsidy import (
    Assessment,
    QualityCheck,
    Subsidy,
    SubsidyError,
    SubsidyEvent,
    assess,
    claw_back,
    pay,
    undo,
)

log = logging.getLogger(__name__)
MAX_PAGE = 500  # rows per page


class SubsidyQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: date = Field(
        alias="from",
        ge=date(2000, 1, 1),
        le=date(2999, 12, 31),
        description="cases closed on or after",
    )
    to: date = Field(ge=date(2000, 1, 1), le=date(2999, 12, 31), description="closed on or before")
    status: (
        Literal["awaiting_check", "awaiting_grade", "payable", "nothing_due", "paid", "clawed_back"]
        | None
    ) = None
    limit: int = Field(100, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(None, pattern=r"^\d{1,10}$")


class MoneyEventOut(BaseModel):
    action: str = Field(description="paid | claw_back | undo_paid | undo_claw_back")
    amount: float | None
    note: str | None
    actor: str
    at: datetime


class SubsidyOut(BaseModel):
    id: int
    case_no: str
    kind: str
    handler: dict[str, str]
    closed_on: date | None
    special: bool
    base: float | None = Field(description="the policy's fee for the kind; null: not set")
    grade: str | None
    coefficient: float | None
    amount: float | None
    status: str
    claw_back_due: bool = Field(description="paid, then graded fail where the policy claws back")
    quality_check: bool | None = Field(description="the closing check: passed, failed or none")
    paid_at: datetime | None
    paid_amount: float | None
    clawed_back_at: datetime | None
    clawback_amount: float | None
    history: list[MoneyEventOut] = Field(description="every money record and undo, oldest first")


class SubsidyList(BaseModel):
    items: list[SubsidyOut]
    next_cursor: str | None


class MoneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: float | None = Field(
        None,
        gt=0,
        le=1_000_000,
        description="default: the amount due (paid) or paid (claw-back); another needs a note",
    )
    note: str | None = Field(None, max_length=200)


class UndoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=200, description="required: what the mistake was")


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    passed: bool
    reviewer_id: int = Field(ge=1, le=MAX_ID, description="the centre's quality reviewer (staff)")


class CheckOut(BaseModel):
    case_no: str
    passed: bool
    reviewer: str
    checked_at: datetime


def _f(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


async def _views(cases: list[Case], policy, conn=None) -> list[SubsidyOut]:
    ids = [c.id for c in cases]
    rows = {s.case_id: s for s in await Subsidy.filter(case_id__in=ids).using_db(conn)}
    grades = dict(
        await QualityReview.filter(case_id__in=ids).using_db(conn).values_list("case_id", "grade")
    )
    checks = dict(
        await QualityCheck.filter(case_id__in=ids).using_db(conn).values_list("case_id", "passed")
    )
    history: dict[int, list[MoneyEventOut]] = {}
    for e in (
        await SubsidyEvent.filter(subsidy_id__in=[r.id for r in rows.values()])
        .using_db(conn)
        .order_by("id")
    ):
        history.setdefault(e.subsidy_id, []).append(
            MoneyEventOut(action=e.action, amount=_f(e.amount), note=e.note, actor=e.actor, at=e.at)
        )
    out = []
    for c in cases:
        row = rows[c.id]
        a = assess(
            kind=c.kind,
            special=c.special,
            grade=grades.get(c.id),
            check_passed=checks.get(c.id),
            row=row,
            policy=policy,
        )
        out.append(
            SubsidyOut(
                id=row.id,
                case_no=c.case_no,
                kind=c.kind,
                handler={"name": c.handler_name, "org": c.handler_org},
                closed_on=c.closed_on,
                special=c.special,
                base=_f(a.base),
                grade=a.grade,
                coefficient=a.coefficient,
                amount=_f(a.amount),
                status=a.status,
                claw_back_due=a.claw_back_due,
                quality_check=checks.get(c.id),
                paid_at=row.paid_at,
                paid_amount=_f(row.paid_amount),
                clawed_back_at=row.clawed_back_at,
                clawback_amount=_f(row.clawback_amount),
                history=history.get(row.id, []),
            )
        )
    return out


async def ensure_rows(region: str, first: date, last: date) -> None:
    """One subsidy row per closed case of the period (idempotent; rows carry the money)."""
    ids = await Case.filter(
        region=region, status=CaseStatus.CLOSED, closed_on__gte=first, closed_on__lte=last
    ).values_list("id", flat=True)
    have = set(await Subsidy.filter(case_id__in=ids).values_list("case_id", flat=True))
    await Subsidy.bulk_create(
        [Subsidy(case_id=i, region=region) for i in ids if i not in have], ignore_conflicts=True
    )


@operation(
    "GET",
    "/api/v1/center/subsidies",
    summary="Subsidies of the cases closed in a period",
    tag="quality",
    query=SubsidyQuery,
    response=SubsidyList,
    auth="api_key",
)
async def list_subsidies(request: web.Request) -> web.Response:
    key = await require_center(request)
    q = parse_query(request, SubsidyQuery)
    return json_ok(await subsidy_page(request, key.region, q))


async def subsidy_page(request: web.Request, region: str, q: SubsidyQuery) -> SubsidyList:
    """One page of the region's subsidies (the API's list and the console's 补贴 page)."""
    check_period(request, q.from_, q.to, ("from", "to"), past=False)
    await ensure_rows(region, q.from_, q.to)
    rows = Subsidy.filter(
        region=region,
        case__closed_on__gte=q.from_,
        case__closed_on__lte=q.to,
        case__status=CaseStatus.CLOSED,
    )
    policy = request.app[policy_key]
    items: list[SubsidyOut] = []
    cursor = min(int(q.cursor), MAX_ID) if q.cursor else None
    more = False
    # Statuses are worked out, not stored: read pages newest first until this page is full.
    while True:
        batch = rows.filter(id__lt=cursor) if cursor else rows
        page = await batch.order_by("-id").limit(q.limit + 1).select_related("case")
        rows_left, page = len(page) > q.limit, page[: q.limit]
        views = await _views([s.case for s in page], policy)
        for view in views:
            cursor = view.id
            if q.status is None or view.status == q.status:
                items.append(view)
                if len(items) == q.limit:
                    break
        if len(items) == q.limit:
            more = rows_left or (bool(views) and cursor != views[-1].id)
            break
        if not rows_left:
            break
    return SubsidyList(items=items, next_cursor=str(cursor) if more else None)


async def _subsidy(request: web.Request, region: str, conn) -> tuple[Subsidy, Case]:
    row = (
        await Subsidy.filter(region=region, id=int_param(request, "id"))
        .using_db(conn)
        .select_for_update()
        .first()
    )
    if row is None:
        raise ApiError(404, "not_found", message_key="quality.error.no_subsidy")
    return row, await Case.get(id=row.case_id).using_db(conn)


async def _assessment(case: Case, row: Subsidy, policy, conn) -> Assessment:
    grade = await QualityReview.filter(case_id=case.id).using_db(conn).first()
    check = await QualityCheck.filter(case_id=case.id).using_db(conn).first()
    return assess(
        kind=case.kind,
        special=case.special,
        grade=grade.grade if grade else None,
        check_passed=check.passed if check else None,
        row=row,
        policy=policy,
    )


# the body is the endpoint's own model (MoneyIn, UndoIn): Any, as Callable is contravariant
Record = Callable[[Subsidy, Assessment, Any, str, datetime], SubsidyEvent]


def _amount(body: MoneyIn) -> Decimal | None:
    return Decimal(str(body.amount)) if body.amount is not None else None


@operation(
    "POST",
    "/api/v1/center/subsidies/{id}/paid",
    summary="Record a subsidy as paid",
    tag="quality",
    body=MoneyIn,
    response=SubsidyOut,
    auth="api_key",
    errors=(404, 409, 422),
)
async def post_paid(request: web.Request) -> web.Response:
    return await _record_money(request, MoneyIn, pay_record)


def pay_record(
    row: Subsidy, a: Assessment, body: MoneyIn, actor: str, now: datetime
) -> SubsidyEvent:
    return pay(row, a, _amount(body), body.note, actor=actor, now=now)


def claw_back_record(
    row: Subsidy, a: Assessment, body: MoneyIn, actor: str, now: datetime
) -> SubsidyEvent:
    return claw_back(row, a, _amount(body), body.note, actor=actor, now=now)


@operation(
    "POST",
    "/api/v1/center/subsidies/{id}/claw-back",
    summary="Record a paid subsidy as clawed back",
    tag="quality",
    body=MoneyIn,
    response=SubsidyOut,
    auth="api_key",
    errors=(404, 409, 422),
)
async def post_claw_back(request: web.Request) -> web.Response:
    return await _record_money(request, MoneyIn, claw_back_record)


@operation(
    "POST",
    "/api/v1/center/subsidies/{id}/undo",
    summary="Undo the last money record (a claw-back, else the payment) made by mistake",
    tag="quality",
    body=UndoIn,
    response=SubsidyOut,
    auth="api_key",
    errors=(404, 409, 422),
)
async def post_undo(request: web.Request) -> web.Response:
    return await _record_money(request, UndoIn, undo_record)


def undo_record(
    row: Subsidy, a: Assessment, body: UndoIn, actor: str, now: datetime
) -> SubsidyEvent:
    return undo(row, body.note.strip(), actor=actor, now=now)


async def _record_money(request: web.Request, model: type[BaseModel], record: Record):
    """Paid, clawed back or undone: `record` applies the rule (models.subsidy) to the locked
    row; the row and its event are saved and the subsidy shown again, in one transaction."""
    key = await require_center(request)
    body = await parse_body(request, model)
    return json_ok(await record_money(request, key.region, body, record, f"center_key:{key.id}"))


async def record_money(
    request: web.Request, region: str, body: BaseModel, record: Record, actor: str
) -> SubsidyOut:
    """The path's subsidy of `region`, locked; `record` (pay_record, claw_back_record, the
    undo) applied and saved with its event (a refusal -> ApiError). The API's endpoints and
    the console's buttons both come through here."""
    policy, loc = request.app[policy_key], request_locale(request)
    async with in_transaction() as conn:
        row, case = await _subsidy(request, region, conn)
        a = await _assessment(case, row, policy, conn)
        try:
            event = record(row, a, body, actor, datetime.now(UTC))
        except SubsidyError as exc:
            message = t(f"quality.error.{exc.code}", loc, **exc.params)
            err = ApiError.with_params(
                exc.status,
                "validation" if exc.status == 422 else "conflict",
                f"quality.error.{exc.code}",
                exc.params,
            )
            err.fields = {exc.field: message} if exc.field else {}
            raise err from None
        await row.save(using_db=conn)
        event.subsidy_id = row.id
        await event.save(using_db=conn)
        (view,) = await _views([case], policy, conn)
    log.info("subsidy %s: %s by %s", row.id, event.action, event.actor)
    return view


@operation(
    "POST",
    "/api/v1/center/cases/{case_no}/quality-check",
    summary="The closing quality check (Beijing: subsidies wait for a pass)",
    tag="quality",
    body=CheckIn,
    response=CheckOut,
    auth="api_key",
    errors=(404,),
)
async def post_quality_check(request: web.Request) -> web.Response:
    key = await require_center(request)
    case = await find_case(request, key.region)
    body = await parse_body(request, CheckIn)
    reviewer = await Staff.get_or_none(id=body.reviewer_id, region=key.region, active=True)
    if reviewer is None:
        raise ApiError(
            422, "validation", fields={"reviewer_id": "?"}, message_key="quality.error.no_reviewer"
        )
    now = datetime.now(UTC)
    await QualityCheck.update_or_create(
        case_id=case.id,
        defaults={
            "region": key.region,
            "passed": body.passed,
            "reviewer_id": reviewer.id,
            "checked_at": now,
        },
    )
    return json_ok(
        CheckOut(case_no=case.case_no, passed=body.passed, reviewer=reviewer.name, checked_at=now)
    )
