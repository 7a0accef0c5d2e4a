"""Complaints: the list with statutory due dates coloured by urgency, one complaint, and every
allowed next step with the message its complainant will get.

Steps go through handlers.api.center_complaints.step_complaint (the API's function, with its
checks: allowed transition, extend once and within the policy, reason/result required).
"""

from __future__ import annotations

from datetime import date

from aiohttp import web
from pydantic import ValidationError

from bot.api import ApiError
from handlers.api.center_complaints import ComplaintStep, step_complaint
from handlers.console.common import audit, local_today, paged
from handlers.console.session import Visitor, form_of, locale_of, page, render
from i18n import t
from models.bureau import covered_regions
from models.complaint import TRANSITIONS, Complaint, ComplaintStatus, fmt_date, normalize_ticket

ROLES = ("staff", "supervisor", "bureau")
TABS = ("open", "received", "accepted", "investigating", "extended", "concluded", "not_accepted")
OPEN = (
    ComplaintStatus.RECEIVED,
    ComplaintStatus.ACCEPTED,
    ComplaintStatus.INVESTIGATING,
    ComplaintStatus.EXTENDED,
)
SOON_DAYS = 2  # a due date this close is amber; past it is red


def scoped(visitor: Visitor):
    """The complaints a visitor may see: a centre's own region; a bureau's region and, for a
    city or province bureau, the regions below it (models.bureau routes complaints there)."""
    if visitor.role == "bureau":
        return Complaint.filter(region__startswith=covered_regions(visitor.region))
    return Complaint.filter(region=visitor.region)


def due_of(c: Complaint) -> date | None:
    if c.status == ComplaintStatus.RECEIVED:
        return c.accept_due
    return c.conclude_due if c.status in OPEN else None


def urgency(due: date | None, today: date) -> str:
    if due is None:
        return ""
    return "bad" if due < today else ("warn" if (due - today).days <= SOON_DAYS else "ok")


@page(*ROLES)
async def listing(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/complaints?tab=…: open ones by nearest due date."""
    tab = request.query.get("tab", "open")
    tab = tab if tab in TABS else "open"
    rows = scoped(visitor)
    rows = rows.filter(status__in=OPEN) if tab == "open" else rows.filter(status=tab)
    rows = (
        rows.order_by("accept_due", "id")
        if tab in ("open", "received")
        else rows.order_by("-updated_at", "-id")
    )
    items, pager = await paged(request, rows)
    today = local_today(request)
    if tab == "open":  # received ones by acceptance date, others by conclusion date
        items.sort(key=lambda c: (due_of(c) or today, c.id))
    return render(
        request,
        "complaints.html",
        {
            "items": [(c, due_of(c), urgency(due_of(c), today)) for c in items],
            "tab": tab,
            "tabs": TABS,
            "pager": pager,
        },
    )


async def _detail(
    request: web.Request, visitor: Visitor, *, error: str | None = None, status: int = 200
) -> web.Response:
    ticket = normalize_ticket(request.match_info["ticket"]) or "-"
    c = await scoped(visitor).filter(ticket=ticket).select_related("case").first()
    if c is None:
        raise ApiError(404, "not_found", message_key="complaint.error.not_found")
    loc = locale_of(request)
    nxt = sorted(TRANSITIONS.get(c.status, ()), key=list(ComplaintStatus).index)
    if c.extended_days:
        nxt = [s for s in nxt if s != ComplaintStatus.EXTENDED]
    placeholder = t("console.complaints.placeholder", loc)
    previews = {
        s: t(
            f"complaint.status.{s}",
            c.locale,
            ticket=c.ticket,
            accept_due=fmt_date(c.accept_due, c.locale),
            conclude_due=fmt_date(c.conclude_due, c.locale),
            reason=placeholder,
            result=placeholder,
            days="N",
            received_on=fmt_date(c.received_on, c.locale),
        )
        for s in nxt
    }
    today = local_today(request)
    return render(
        request,
        "complaint.html",
        {
            "c": c,
            "due": due_of(c),
            "urgency": urgency(due_of(c), today),
            "next": nxt,
            "previews": previews,
            "error": error,
            "done": request.query.get("done"),
        },
        status=status,
    )


@page(*ROLES)
async def detail(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/complaints/{ticket}."""
    return await _detail(request, visitor)


@page(*ROLES)
async def step(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """POST …/step: accept, refuse, investigate, extend once, conclude."""
    form = await form_of(request, visitor)
    loc = locale_of(request)
    days = form.get("days") or None
    try:
        body = ComplaintStep.model_validate(  # the form as typed; the model says what is wrong
            {
                "status": form.get("status", ""),
                "reason": form.get("reason") or None,
                "result": form.get("result") or None,
                "days": int(days)
                if days and days.isdigit() and len(days) < 5
                else (0 if days else None),
                "handled_by": visitor.member.name,
            }
        )
    except ValidationError:
        return await _detail(
            request, visitor, status=422, error=t("console.complaints.step_invalid", loc)
        )
    ticket = normalize_ticket(request.match_info["ticket"]) or "-"
    region = await scoped(visitor).filter(ticket=ticket).values_list("region", flat=True)
    if not region:
        raise ApiError(404, "not_found", message_key="complaint.error.not_found")
    try:
        c = await step_complaint(
            request.app, region=region[0], ticket=ticket, body=body, locale=loc
        )
    except ApiError as exc:
        if exc.status == 404:
            raise
        msg = (
            "; ".join(exc.fields.values()) if exc.fields else t(exc.message_key, loc, **exc.params)
        )
        return await _detail(request, visitor, status=exc.status, error=msg)
    await audit(visitor, f"complaint_{body.status}", f"complaint:{c.ticket}")
    raise web.HTTPFound(f"/console/complaints/{c.ticket}?done={body.status}")
