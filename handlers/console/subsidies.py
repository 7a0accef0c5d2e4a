"""Case subsidies (办案补贴) for the centre's staff: the list `GET /api/v1/center/subsidies`
gives (cases closed in a period, by status, a page at a time), and 标记已发放 / 追回 on each.

Both the list and the money records are the API's own functions
(handlers.api.center_subsidies.subsidy_page and record_money with pay_record or
claw_back_record), so the amounts, the statuses and the rules on what may be paid or clawed
back are the same whichever way they arrive.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from pydantic import ValidationError

from bot.api import ApiError
from handlers.api.center_subsidies import (
    MoneyIn,
    SubsidyQuery,
    UndoIn,
    claw_back_record,
    pay_record,
    record_money,
    subsidy_page,
    undo_record,
)
from handlers.console.common import PAGE_SIZE, audit, int_id, local_today
from handlers.console.session import Visitor, form_of, locale_of, page, render
from i18n import t

STATUSES = ("awaiting_check", "awaiting_grade", "payable", "nothing_due", "paid", "clawed_back")
FILTERS = ("from", "to", "status", "cursor")


def _query(request: web.Request, raw: dict[str, str]) -> tuple[SubsidyQuery, str | None]:
    """The list's filters from the address (this year by default); a bad one is said and the
    default used instead."""
    today = local_today(request)
    picked = {
        "from": raw.get("from") or date(today.year, 1, 1).isoformat(),
        "to": raw.get("to") or today.isoformat(),
        "status": raw.get("status") or None,
        "cursor": raw.get("cursor") or None,
        "limit": PAGE_SIZE,
    }
    try:
        return SubsidyQuery.model_validate(picked), None
    except ValidationError:
        fallback = {"from": date(today.year, 1, 1), "to": today, "limit": PAGE_SIZE}
        return SubsidyQuery.model_validate(fallback), t(
            "console.subsidies.bad_filter", locale_of(request)
        )


async def _list_page(
    request: web.Request,
    visitor: Visitor,
    raw: dict[str, str],
    *,
    error: str | None = None,
    status: int = 200,
    done: str | None = None,
) -> web.Response:
    q, bad = _query(request, raw)
    try:
        found = await subsidy_page(request, visitor.region, q)
    except ApiError as exc:  # a period the API refuses (e.g. from after to)
        bad = t(exc.message_key, locale_of(request), **exc.params)
        q, _ = _query(request, {})
        found = await subsidy_page(request, visitor.region, q)
    filters = {"from": q.from_.isoformat(), "to": q.to.isoformat(), "status": q.status or ""}
    shown = {k: v for k, v in filters.items() if v}  # no empty status in the links
    here = urlencode({k: v for k, v in {**filters, "cursor": q.cursor or ""}.items() if v})
    return render(
        request,
        "subsidies.html",
        {
            "items": found.items,
            "filters": filters,
            "statuses": STATUSES,
            "next": "?" + urlencode({**shown, "cursor": found.next_cursor})
            if found.next_cursor
            else None,
            "first": "?" + urlencode(shown) if q.cursor else None,
            "back": here,
            "error": error or bad,
            "done": done or request.query.get("done"),
        },
        status=status,
    )


@page("staff", "supervisor")
async def listing(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/subsidies?from=&to=&status=&cursor=: the region's subsidies."""
    return await _list_page(request, visitor, {k: request.query.get(k, "") for k in FILTERS})


async def _money(request: web.Request, visitor: Visitor, record, action: str):
    form = await form_of(request, visitor)
    back = {k: v for k, v in _back(form.get("back", "")).items() if k in FILTERS}
    loc = locale_of(request)
    subsidy_id = int_id(request)
    amount = form.get("amount", "").replace("，", ".").replace(",", ".")
    body: MoneyIn | UndoIn
    try:
        if action == "undo":
            body = UndoIn.model_validate({"note": form.get("note", "")})
        else:
            body = MoneyIn.model_validate(
                {"amount": amount or None, "note": form.get("note") or None}
            )
    except ValidationError:
        key = "console.subsidies.undo_note" if action == "undo" else "console.subsidies.bad_amount"
        return await _list_page(request, visitor, back, error=t(key, loc), status=422)
    try:
        await record_money(request, visitor.region, body, record, visitor.actor)
    except ApiError as exc:
        if exc.status == 404:
            raise
        message = t(exc.message_key, loc, **exc.params)
        return await _list_page(request, visitor, back, error=message, status=exc.status)
    await audit(visitor, f"subsidy_{action}", f"subsidy:{subsidy_id}")
    query = urlencode({**back, "done": action})
    raise web.HTTPFound(f"/console/subsidies?{query}#subsidy-{subsidy_id}")


def _back(raw: str) -> dict[str, str]:
    """The list's filters the form came from (to go back to the same page)."""
    return dict(parse_qsl(raw[:500]))


@page("staff", "supervisor")
async def paid(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """POST /console/subsidies/{id}/paid: the API's 标记已发放 (amount: the one worked out
    unless another is given with a note)."""
    return await _money(request, visitor, pay_record, "paid")


@page("staff", "supervisor")
async def claw_back(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """POST /console/subsidies/{id}/claw-back: the API's 追回 (what was paid, unless said)."""
    return await _money(request, visitor, claw_back_record, "claw_back")


@page("staff", "supervisor")
async def undo(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """POST /console/subsidies/{id}/undo: the API's undo of the last money record made by
    mistake (a note saying what the mistake was is required)."""
    return await _money(request, visitor, undo_record, "undo")
