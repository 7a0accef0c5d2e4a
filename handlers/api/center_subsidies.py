"""Case subsidies (办案补贴): `GET /api/v1/center/subsidies?from=&to=&status=`, the money recorded
by `POST …/subsidies/{id}/paid` and `…/claw-back`, and Beijing's closing check
`POST /api/v1/center/cases/{case_no}/quality-check`. Amounts and statuses: models.subsidy.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from tortoise.transactions import in_transaction

from bot.api import MAX_ID, ApiError, json_ok, operation, parse_body, parse_query
from bot.auth import require_center
from bot.keys import policy_key
from handlers.api.center_cases import find_case
from handlers.quality.common import check_period, int_param
from models.case import Case, CaseStatus
from models.people import Staff
from models.quality import QualityReview
from models.subsidy import QualityCheck, Subsidy, SubsidyStatus, assess

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
    status: Literal["awaiting_check", "awaiting_grade", "payable", "paid", "clawed_back"] | None = (
        None
    )
    limit: int = Field(100, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(None, pattern=r"^\d{1,10}$")


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


class SubsidyList(BaseModel):
    items: list[SubsidyOut]
    next_cursor: str | None


class MoneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: float | None = Field(None, ge=0, le=1_000_000, description="default: the amount due")
    note: str | None = Field(None, max_length=200)


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
    check_period(request, q.from_, q.to, ("from", "to"), past=False)
    await ensure_rows(key.region, q.from_, q.to)
    rows = Subsidy.filter(
        region=key.region,
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
    return json_ok(SubsidyList(items=items, next_cursor=str(cursor) if more else None))


async def _subsidy(request: web.Request, region: str, conn) -> tuple[Subsidy, SubsidyOut]:
    row = (
        await Subsidy.filter(region=region, id=int_param(request, "id"))
        .using_db(conn)
        .select_for_update()
        .first()
    )
    if row is None:
        raise ApiError(404, "not_found", message_key="quality.error.no_subsidy")
    case = await Case.get(id=row.case_id).using_db(conn)
    (view,) = await _views([case], request.app[policy_key], conn)
    return row, view


@operation(
    "POST",
    "/api/v1/center/subsidies/{id}/paid",
    summary="Record a subsidy as paid",
    tag="quality",
    body=MoneyIn,
    response=SubsidyOut,
    auth="api_key",
    errors=(404, 409),
)
async def post_paid(request: web.Request) -> web.Response:
    def pay(row: Subsidy, view: SubsidyOut, body: MoneyIn) -> None:
        if view.status != SubsidyStatus.PAYABLE:
            raise ApiError(409, "conflict", message_key=f"quality.error.not_payable.{view.status}")
        amount = body.amount if body.amount is not None else view.amount
        if amount is None:
            raise ApiError(422, "validation", message_key="quality.error.amount_needed")
        row.paid_at, row.paid_amount, row.note = datetime.now(UTC), Decimal(str(amount)), body.note

    return await _record_money(request, pay)


async def _record_money(
    request: web.Request, apply: Callable[[Subsidy, SubsidyOut, MoneyIn], None]
) -> web.Response:
    """Paid or clawed back: `apply` checks the status and sets the fields; the row is saved and
    the subsidy shown again, in one transaction."""
    key = await require_center(request)
    body = await parse_body(request, MoneyIn)
    async with in_transaction() as conn:
        row, view = await _subsidy(request, key.region, conn)
        apply(row, view, body)
        await row.save(using_db=conn)
        case = await Case.get(id=row.case_id).using_db(conn)
        (view,) = await _views([case], request.app[policy_key], conn)
    return json_ok(view)


@operation(
    "POST",
    "/api/v1/center/subsidies/{id}/claw-back",
    summary="Record a paid subsidy as clawed back",
    tag="quality",
    body=MoneyIn,
    response=SubsidyOut,
    auth="api_key",
    errors=(404, 409),
)
async def post_claw_back(request: web.Request) -> web.Response:
    def claw_back(row: Subsidy, view: SubsidyOut, body: MoneyIn) -> None:
        if view.status != SubsidyStatus.PAID:
            raise ApiError(409, "conflict", message_key="quality.error.not_paid")
        amount = body.amount if body.amount is not None else float(row.paid_amount or 0)
        row.clawed_back_at, row.clawback_amount = datetime.now(UTC), Decimal(str(amount))
        row.note = body.note or row.note

    return await _record_money(request, claw_back)


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
