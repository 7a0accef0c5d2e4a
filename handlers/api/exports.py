"""The centre's records: ledgers (xlsx), the disclosure workbook, the callback form (docx), and
the digest's figures (JSON, what the link in the staff digest shows).

All are scoped to the calling key's region. Ledgers take `?from=YYYY-MM-DD&to=YYYY-MM-DD`
(local days, inclusive; default the last 30 days; from after to -> 422) and stream however long
the range. The disclosure workbook takes `?half=2026H2`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, Field

from bot.api import ApiError, json_ok, operation, parse_query, request_locale
from bot.auth import require_center
from bot.keys import policy_key, settings_key
from handlers.records import digest, ledgers
from handlers.records.docx_forms import DOCX, callback_form
from handlers.records.exports import XLSX, LocalRange, half_range, xlsx_response
from i18n import t
from models.calendar import local_today
from models.case import Case, find_by_case_no

DEFAULT_DAYS = 30  # a link without a range gives the last month, what a monthly report needs
# Bounds far outside any legal-aid record, well inside what date arithmetic and Excel can hold.
FIRST_DAY, LAST_DAY = date(1900, 3, 1), date(2999, 12, 31)


class RangeQuery(BaseModel):
    from_: date | None = Field(
        None, alias="from", ge=FIRST_DAY, le=LAST_DAY, description="first local day, inclusive"
    )
    to: date | None = Field(
        None, ge=FIRST_DAY, le=LAST_DAY, description="last local day, inclusive"
    )


class HalfQuery(BaseModel):
    half: str = Field(
        ..., pattern=r"^(19|2\d)\d\dH[12]$", description="e.g. 2026H2 (July-December)"
    )


def period_of(request: web.Request) -> LocalRange:
    q = parse_query(request, RangeQuery)
    tz = request.app[settings_key].timezone
    last = q.to or local_today(tz)
    first = q.from_ or max(FIRST_DAY, last - timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise ApiError(
            422,
            "validation",
            fields={"from": t("exports.error.range_inverted", request_locale(request))},
        )
    return LocalRange(first, last, tz)


def ledger_operation(kind: Literal["applications", "callbacks", "complaints"], summary: str):
    async def handler(request: web.Request) -> web.StreamResponse:
        key = await require_center(request)
        period = period_of(request)
        sheets = ledgers.LEDGERS[kind](period, key.region)
        return await xlsx_response(request, sheets, f"{kind}_{period.label()}.xlsx")

    handler.__name__ = f"export_{kind}"
    operation(
        "GET",
        f"/api/v1/center/exports/{kind}.xlsx",
        summary=summary,
        tag="center",
        query=RangeQuery,
        auth="api_key",
        content_type=XLSX,
    )(handler)


ledger_operation("applications", "Applications ledger (received in the range)")
ledger_operation("callbacks", "Callback ledger, Zhashui form columns (answered in the range)")
ledger_operation("complaints", "Complaints ledger (received in the range)")


@operation(
    "GET",
    "/api/v1/center/exports/disclosure.xlsx",
    tag="center",
    query=HalfQuery,
    summary="Half-yearly disclosure: cases per firm, per handler, quality by grade",
    auth="api_key",
    content_type=XLSX,
)
async def export_disclosure(request: web.Request) -> web.StreamResponse:
    key = await require_center(request)
    q = parse_query(request, HalfQuery)
    period = half_range(q.half, request.app[settings_key].timezone)
    sheets = await ledgers.disclosure(period, key.region)
    return await xlsx_response(request, sheets, f"disclosure_{q.half}.xlsx")


@operation(
    "GET",
    "/api/v1/center/cases/{case_no}/callback-form.docx",
    tag="center",
    summary="The case's callback record as a Word document (Zhashui form)",
    auth="api_key",
    content_type=DOCX,
    errors=(404,),
)
async def export_callback_form(request: web.Request) -> web.Response:
    key = await require_center(request)
    found = await find_by_case_no(Case.filter(region=key.region), request.match_info["case_no"])
    if not found:
        raise ApiError(404, "not_found")
    case = found[0]
    body = await callback_form(case, request.app[settings_key].timezone)
    name = quote(f"回访记录表_{case.case_no}.docx")
    return web.Response(
        body=body,
        content_type=DOCX,
        headers={
            "Content-Disposition": f'attachment; filename="callback-form.docx"; '
            f"filename*=UTF-8''{name}",
            "Cache-Control": "no-store",
        },
    )


class DigestQuery(BaseModel):
    period: Literal["daily", "weekly"] = "daily"


class DigestOut(BaseModel):
    region: str
    period: str
    since: datetime
    until: datetime
    title: str
    lines: list[str]
    figures: dict[str, Any]


@operation(
    "GET",
    "/api/v1/center/digest",
    summary="The region's digest figures as of now",
    tag="center",
    query=DigestQuery,
    response=DigestOut,
    auth="api_key",
)
async def get_digest(request: web.Request) -> web.Response:
    """What the staff digest says, with every figure, for the link in the digest."""
    key = await require_center(request)
    q = parse_query(request, DigestQuery)
    f = await digest.collect(
        key.region,
        q.period,
        datetime.now(UTC),
        request.app[policy_key],
        request.app[settings_key].timezone,
    )
    title, lines = digest.render(f, request_locale(request))
    figures = {
        k: getattr(f, k) for k in f.__slots__ if k not in ("region", "period", "since", "until")
    }
    figures["coverage"] = f.coverage
    return json_ok(
        DigestOut(
            region=f.region,
            period=f.period,
            since=f.since,
            until=f.until,
            title=title,
            lines=lines,
            figures=figures,
        )
    )
