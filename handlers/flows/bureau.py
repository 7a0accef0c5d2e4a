"""The justice bureau decides complaints in chat (Order 149 Arts. 3, 5; DOMAIN §3).

A person registered with `staff add --role bureau` gets each new complaint of their region (a
city's bureau: its counties too) and answers with one-line commands: `受理 N`, `不予受理 N 理由`,
`调查 N`, `延期 N 天数 理由`, `办结 N 结果`, `待办投诉`. Each is the same step the centre API's
PATCH takes (models.complaint.transition): the complainant is told in their language and the
centre's records system gets complaint.updated. From anyone else these words are ordinary text.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from bot.flowkit import Ctx, Done, Outcome, command
from models.bureau import covered_regions
from models.complaint import (
    Complaint,
    ComplaintStatus,
    fmt_date,
    normalize_ticket,
    notify_due,
    step_problem,
    transition,
)
from models.people import Staff, StaffRole

S = ComplaintStatus
LIST_MAX = 20  # complaints listed in one chat bubble
# 命令 -> the status it moves to. `不予受理` must be tried before `受理`.
VERBS = {
    "不予受理": S.NOT_ACCEPTED,
    "受理": S.ACCEPTED,
    "调查": S.INVESTIGATING,
    "延期": S.EXTENDED,
    "办结": S.CONCLUDED,
}
STEP = re.compile(
    r"^\s*(?P<verb>不予受理|受理|调查|延期|办结)\s*(?P<ticket>[0-9０-９]{4,16})"
    r"(?:[\s:：，,]+(?P<rest>\S.*))?$"
)
EXTEND = re.compile(r"^(?P<days>\d{1,3})\s*天?[\s:：，,]*(?P<reason>\S.*)?$")


async def _bureau(ctx: Ctx) -> Staff | None:
    return (
        await Staff.filter(openid=ctx.openid, active=True, role=StaffRole.BUREAU)
        .using_db(ctx.conn)
        .first()
    )


def _in_scope(member: Staff, rows):
    return rows.filter(region__startswith=covered_regions(member.region))


@command(r"^\s*待办投诉\s*$")
async def open_list(ctx: Ctx, _m: re.Match[str]) -> Outcome:
    """`待办投诉`: the bureau member's open complaints, the oldest first, with their due dates."""
    member = await _bureau(ctx)
    if member is None:
        from handlers.flows.handoff import as_text

        return await as_text(ctx)
    rows = (
        await _in_scope(
            member,
            Complaint.filter(status__in=[S.RECEIVED, S.ACCEPTED, S.INVESTIGATING, S.EXTENDED]),
        )
        .using_db(ctx.conn)
        .order_by("id")
        .limit(LIST_MAX)
    )
    if not rows:
        return Done(ctx.t("bureau.list.none") + "\n" + ctx.t("bureau.help"))
    lines = [ctx.t("bureau.list.head", n=len(rows))]
    for c in rows:
        due = (
            ctx.t("bureau.list.due_accept", date=fmt_date(c.accept_due, ctx.locale))
            if c.status == S.RECEIVED
            else ctx.t("bureau.list.due_conclude", date=fmt_date(c.conclude_due, ctx.locale))
        )
        lines.append(
            ctx.t(
                "bureau.list.line",
                ticket=c.ticket,
                state=ctx.t(f"complaint.state.{c.status}"),
                about=ctx.t(f"complaint.about.{c.about}"),
                due=due,
            )
        )
    return Done("\n".join([*lines, ctx.t("bureau.help")]))


@command(STEP.pattern)
async def decide(ctx: Ctx, m: re.Match[str]) -> Outcome:
    """`受理 N` ...: one procedural step on complaint N by a bureau member of its region."""
    member = await _bureau(ctx)
    if member is None:
        from handlers.flows.handoff import as_text

        return await as_text(ctx)
    ticket = normalize_ticket(m.group("ticket"))
    c = (
        await _in_scope(member, Complaint.filter(ticket=ticket))
        .using_db(ctx.conn)
        .select_for_update()
        .first()
    )
    if c is None:
        return Done(ctx.t("bureau.not_found", ticket=ticket))
    status, rest = VERBS[m.group("verb")], (m.group("rest") or "").strip()
    reason = result = days = None
    if status == S.EXTENDED:
        ext = EXTEND.match(rest)
        days, reason = (int(ext.group("days")), ext.group("reason")) if ext else (None, None)
    elif status == S.NOT_ACCEPTED:
        reason = rest or None
    elif status == S.CONCLUDED:
        result = rest or None
    if status == c.status and status != S.EXTENDED:  # said twice: nothing changes
        return Done(ctx.t("bureau.done", ticket=c.ticket, state=ctx.t(f"complaint.state.{status}")))
    problem = step_problem(c, status, reason=reason, result=result, days=days, policy=ctx.policy)
    if problem is not None:
        params = {
            k: ctx.t(f"complaint.state.{v}") if k in ("current", "wanted") else v
            for k, v in problem.params.items()
        }  # labels, not codes like "received"
        return Done(ctx.t(problem.key, **params) + "\n" + ctx.t("bureau.help"))
    today = ctx.now.astimezone(ZoneInfo(ctx.settings.timezone)).date()
    pushes = await transition(
        c,
        status,
        today=today,
        policy=ctx.policy,
        conn=ctx.conn,
        reason=reason,
        result=result,
        days=days,
        handled_by=(member.unit or member.name)[:30],
        now=ctx.now,
    )
    await ctx.push(pushes)
    reply = ctx.t("bureau.done", ticket=c.ticket, state=ctx.t(f"complaint.state.{status}"))
    due = notify_due(c, ctx.policy)
    if due is not None:
        reply += "\n" + ctx.t("bureau.notify_due", date=fmt_date(due, ctx.locale))
    return Done(reply)
