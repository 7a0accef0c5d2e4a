"""Supervisors: staff of the region (add, disable, on duty, supervisor), agent invites, centre
keys, and the audit log (reveals and decisions in the console, full-data reads by the API).

The same model functions as the CLI (`python -m bot staff|agents|center-keys`); a code or key
is shown once on the page that created it, never again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from bot.auth import create_center_key
from bot.keys import settings_key
from bot.notify import queue
from handlers.console.common import audit as audit_line
from handlers.console.common import paged
from handlers.console.session import Visitor, form_of, locale_of, page, render, role_of
from i18n import t
from models.agent import Agent, AgentKind, create_invite
from models.application import DataAccess
from models.console import ConsoleSession, StaffAudit
from models.contact import InvalidInput, validate_name
from models.handoff import release_tickets
from models.masking import mask_openid
from models.people import CenterKey, Staff

OPENID_MAX = 64


async def _page(
    request: web.Request,
    visitor: Visitor,
    *,
    notice: str | None = None,
    secret: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    staff = await Staff.filter(region=visitor.region).order_by("id")
    keys = await CenterKey.filter(region=visitor.region).order_by("-id").limit(20)
    agents = await Agent.filter(region=visitor.region, active=True).order_by("-id").limit(50)
    return render(
        request,
        "staff.html",
        {
            "staff": [(s, role_of(s), mask_openid(s.openid)) for s in staff],
            "keys": keys,
            "agents": agents,
            "kinds": [k.value for k in AgentKind],
            "notice": notice,
            "secret": secret,
            "error": error,
        },
        status=status,
    )


@page("supervisor")
async def staff_list(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/staff."""
    return await _page(request, visitor)


@page("supervisor")
async def staff_change(request: web.Request, visitor: Visitor) -> web.Response:
    """POST /console/staff: action=add|disable|enable|duty|supervisor|invite|key."""
    form = await form_of(request, visitor)
    loc = locale_of(request)
    action = form.get("action", "")
    if action == "add":
        name, openid = form.get("name", ""), form.get("openid", "")
        try:
            name = validate_name(name)
        except InvalidInput:
            return await _page(request, visitor, status=422, error=t("console.staff.bad_name", loc))
        if not openid or len(openid) > OPENID_MAX or not openid.isprintable() or " " in openid:
            return await _page(
                request, visitor, status=422, error=t("console.staff.bad_openid", loc)
            )
        other = await Staff.get_or_none(openid=openid)
        if other is not None and other.region != visitor.region:
            return await _page(
                request, visitor, status=409, error=t("console.staff.other_region", loc)
            )
        await Staff.update_or_create(
            openid=openid,
            defaults={
                "name": name,
                "region": visitor.region,
                "active": True,
                "supervisor": bool(form.get("supervisor")),
            },
        )
        await audit_line(visitor, "staff_add", f"staff:{mask_openid(openid)}")
        return await _page(request, visitor, notice=t("console.staff.added", loc, name=name))
    if action == "invite":
        try:
            name = validate_name(form.get("name", ""))
        except InvalidInput:
            return await _page(request, visitor, status=422, error=t("console.staff.bad_name", loc))
        village = form.get("village", "")[:64]
        kind = form.get("kind", "")
        if not village or kind not in {k.value for k in AgentKind}:
            return await _page(
                request, visitor, status=422, error=t("console.staff.bad_invite", loc)
            )
        agent = await Agent.create(name=name, region=visitor.region, village=village, kind=kind)
        code = await create_invite(agent)
        await audit_line(visitor, "agent_invite", f"agent:{agent.id}")
        return await _page(
            request, visitor, secret=code, notice=t("console.staff.invited", loc, name=name)
        )
    if action == "key":
        key = await create_center_key(visitor.region, form.get("label", "")[:64])
        await audit_line(visitor, "center_key", key[:10])
        return await _page(request, visitor, secret=key, notice=t("console.staff.key", loc))
    target = form.get("id", "")
    member = (
        await Staff.get_or_none(id=int(target), region=visitor.region)
        if target.isdigit() and len(target) < 10
        else None
    )
    if member is None or action not in ("disable", "enable", "duty", "supervisor"):
        return await _page(request, visitor, status=404, error=t("console.staff.unknown", loc))
    if member.id == visitor.member.id and action in ("disable", "supervisor"):
        return await _page(request, visitor, status=409, error=t("console.staff.self", loc))
    if action == "disable":
        async with in_transaction() as conn:
            await Staff.filter(id=member.id).using_db(conn).update(active=False)
            await (
                ConsoleSession.filter(staff_id=member.id, ended_at=None)
                .using_db(conn)
                .update(ended_at=datetime.now(UTC))
            )
            # their open 人工 chats go back to the others; each user is told
            pushes = await release_tickets(
                member.id, now=datetime.now(UTC), tz=request.app[settings_key].timezone, conn=conn
            )
            await queue(request.app[settings_key], pushes, conn=conn)
    elif action == "enable":
        await Staff.filter(id=member.id).update(active=True)
    elif action == "duty":
        await Staff.filter(id=member.id).update(on_duty=not member.on_duty)
    else:
        await Staff.filter(id=member.id).update(supervisor=not member.supervisor)
    await audit_line(visitor, f"staff_{action}", f"staff:{member.id}")
    return await _page(request, visitor, notice=t("console.staff.changed", loc, name=member.name))


@page("supervisor")
async def audit(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/audit?tab=console|api: who saw or did what, newest first."""
    tab = "api" if request.query.get("tab") == "api" else "console"
    rows: QuerySet[DataAccess] | QuerySet[StaffAudit]
    if tab == "api":
        rows = DataAccess.filter(region=visitor.region).order_by("-id")
    else:
        rows = StaffAudit.filter(region=visitor.region).order_by("-id")
    items, pager = await paged(
        request, rows, size=50, related=("staff",) if tab == "console" else ()
    )
    return render(request, "audit.html", {"items": items, "tab": tab, "pager": pager})
