"""Records: the ledgers and the disclosure workbook for a chosen range (the same generators as
/api/v1/center/exports/…), and the region's failed pushes with a retry."""

from __future__ import annotations

from aiohttp import web

from bot.api import ApiError
from bot.keys import settings_key
from handlers.api.center_outbox import OutboxItem, retry_push
from handlers.api.exports import HalfQuery, period_of
from handlers.console.common import audit, local_today, paged
from handlers.console.session import Visitor, form_of, page, render
from handlers.records import ledgers
from handlers.records.exports import half_range, xlsx_response
from models.outbox import OutboxMessage, OutboxStatus

KINDS = ("applications", "callbacks", "complaints")


@page("staff", "supervisor")
async def page_records(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/records: download forms and the failed pushes."""
    rows = OutboxMessage.filter(region=visitor.region, status=OutboxStatus.FAILED).order_by("-id")
    items, pager = await paged(request, rows)
    today = local_today(request)
    half = f"{today.year}H{1 if today.month <= 6 else 2}"
    return render(
        request,
        "records.html",
        {
            "kinds": KINDS,
            "failed": [OutboxItem.of(r) for r in items],
            "pager": pager,
            "today": today,
            "half": half,
            "done": request.query.get("done"),
        },
    )


@page("staff", "supervisor")
async def export(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """GET /console/records/export?kind=…&from=&to= (or kind=disclosure&half=2026H2)."""
    kind = request.query.get("kind", "")
    if kind == "disclosure":
        try:
            q = HalfQuery.model_validate({"half": request.query.get("half", "")})
        except ValueError:
            raise ApiError(422, "validation") from None
        period = half_range(q.half, request.app[settings_key].timezone)
        sheets = await ledgers.disclosure(period, visitor.region)
        await audit(visitor, "export_disclosure", q.half)
        return await xlsx_response(request, sheets, f"disclosure_{q.half}.xlsx")
    if kind not in KINDS:
        raise ApiError(404, "not_found")
    period = period_of(request)
    await audit(visitor, f"export_{kind}", period.label())
    return await xlsx_response(
        request, ledgers.LEDGERS[kind](period, visitor.region), f"{kind}_{period.label()}.xlsx"
    )


@page("staff", "supervisor")
async def retry(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """POST /console/records/outbox/{id}/retry: queue a failed push again."""
    await form_of(request, visitor)
    row = await retry_push(request.app, region=visitor.region, raw_id=request.match_info["id"])
    await audit(visitor, "outbox_retry", f"outbox:{row.id}")
    raise web.HTTPFound("/console/records?done=retried")
