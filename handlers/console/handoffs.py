"""人工: open tickets with their waiting time against the reply-time rule, the transcript kept
while waiting, and taking a ticket.

Taking is the chat's own `接 <ticket>`: the console hands that message to the conversation
engine as if the staff member had typed it, so the same rules apply (first come owns it, a
supervisor may take an overdue one, one ticket at a time) and the staff member's chat is then
relayed to the user; the engine's answer reaches them in WeChat as a customer-service message.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

from aiohttp import web

from bot.api import ApiError
from bot.conversation import handle
from bot.keys import settings_key
from bot.notify import notify_user
from bot.wechat.protocol import Incoming
from handlers.console.common import audit, int_id, paged
from handlers.console.session import Visitor, form_of, page, render
from models.handoff import Handoff

TABS = ("waiting", "taken", "closed")


@page("staff", "supervisor")
async def listing(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/handoffs?tab=waiting|taken|closed."""
    tab = request.query.get("tab", "waiting")
    tab = tab if tab in TABS else "waiting"
    rows = Handoff.filter(region=visitor.region, status=tab)
    rows = rows.order_by("due_at", "id") if tab != "closed" else rows.order_by("-closed_at")
    items, pager = await paged(request, rows, related=("staff",))
    return render(
        request,
        "handoffs.html",
        {"items": items, "tab": tab, "tabs": TABS, "pager": pager, "now": datetime.now(UTC)},
    )


async def _load(request: web.Request, visitor: Visitor) -> Handoff:
    h = await Handoff.get_or_none(
        id=int_id(request, "ticket"), region=visitor.region
    ).select_related("staff")
    if h is None:
        raise ApiError(404, "not_found")
    return h


@page("staff", "supervisor")
async def detail(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/handoffs/{ticket}: waiting time, who holds it, the transcript."""
    h = await _load(request, visitor)
    return render(
        request,
        "handoff.html",
        {
            "h": h,
            "now": datetime.now(UTC),
            "reply": request.query.get("took") == "1",
            "answer": None,
        },
    )


@page("staff", "supervisor")
async def take(request: web.Request, visitor: Visitor) -> web.Response:
    """POST …/take: `接 <ticket>` on the staff member's behalf; the answer shows here and in
    their WeChat."""
    await form_of(request, visitor)
    h = await _load(request, visitor)
    staff = visitor.member
    msg_id = str(secrets.randbits(62))
    answer = await handle(
        request.app,
        Incoming(
            openid=staff.openid,
            to="console",
            kind="text",
            created=int(time.time()),
            msg_id=msg_id,
            text=f"接 {h.id}",
        ),
    )
    if answer:
        await notify_user(
            request.app[settings_key],
            openid=staff.openid,
            key=f"console-take:{h.id}:{msg_id}",
            text=answer,
            kind="handoff",
            region=h.region,
        )
    await audit(visitor, "handoff_take", f"handoff:{h.id}")
    h = await _load(request, visitor)
    return render(
        request, "handoff.html", {"h": h, "now": datetime.now(UTC), "reply": True, "answer": answer}
    )
