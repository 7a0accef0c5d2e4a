"""查询办理进度: the user's bound cases and their complaints, short, one line each.

Elderly users read this on a phone: one numbered line per item, a digit shows the details.
Also holds what the other beneficiary flows share: the user's bound cases, the region their
requests go to.
"""

from __future__ import annotations

from typing import cast

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.flowkit import Choice, Ctx, Done, Flow, Outcome, Step, register_flow
from models.callback import Callback
from models.case import Case
from models.complaint import Complaint, fmt_date, status_text
from models.people import Staff

FLOW = "progress"
LIST_MAX = 5  # newest items of each kind; a longer list is not readable in a chat bubble


async def bound_cases(openid: str, conn: BaseDBAsyncClient) -> list[Case]:
    return await Case.filter(openid=openid).using_db(conn).order_by("-id").limit(LIST_MAX)


async def home_region(ctx: Ctx) -> str | None:
    """Where this user's requests go: their latest bound case's region, else the account's."""
    cases = await bound_cases(ctx.openid, ctx.conn)
    if cases:
        return cases[0].region
    if ctx.settings.default_region:
        return ctx.settings.default_region
    regions = cast(  # flat=True gives values; tortoise's types say tuples
        "list[str]",
        await Staff.filter(active=True)
        .using_db(ctx.conn)
        .distinct()
        .values_list("region", flat=True),
    )
    return regions[0] if len(set(regions)) == 1 else None


async def _items(ctx: Ctx) -> list[tuple[str, str]]:
    """(value, one-line label) of each case and complaint, newest first."""
    from handlers.flows.applicant_follow import followed_items

    items = await followed_items(ctx)  # applications the user follows (no case yet, or one)
    for case in await bound_cases(ctx.openid, ctx.conn):
        cb = await Callback.filter(case_id=case.id).using_db(ctx.conn).first()
        state = ctx.t(f"progress.case_status.{case.status}")
        if cb is not None:
            state += ctx.t("progress.callback_" + ("done" if cb.answered_at else "open"))
        items.append(
            (f"case:{case.id}", ctx.t("progress.case_line", cause=case.cause, state=state))
        )
    rows = (
        await Complaint.filter(openid=ctx.openid).using_db(ctx.conn).order_by("-id").limit(LIST_MAX)
    )
    for c in rows:
        items.append(
            (
                f"complaint:{c.id}",
                ctx.t(
                    "progress.complaint_line",
                    ticket=c.ticket,
                    state=ctx.t(f"complaint.state.{c.status}"),
                ),
            )
        )
    return items


async def list_prompt(ctx: Ctx) -> str | Done:
    """Shows the numbered list; with nothing to show, says how things get here and ends."""
    if not await _items(ctx):
        return Done(ctx.t("progress.empty"))
    return ctx.t("progress.title")


async def list_choices(ctx: Ctx) -> list[Choice]:
    return [
        Choice(v, "progress.item", label_fields={"text": label}) for v, label in await _items(ctx)
    ]


async def show(ctx: Ctx) -> Outcome:
    """Answers the details of the picked case or complaint and ends."""
    kind, _, ident = (ctx.choice or "").partition(":")
    if kind == "application":
        from handlers.flows.applicant_follow import followed_detail

        detail = await followed_detail(ctx, ident)
        return Done((detail or ctx.t("progress.gone")) + "\n\n" + ctx.t("progress.footer"))
    if kind == "complaint":
        c = await Complaint.filter(id=int(ident), openid=ctx.openid).using_db(ctx.conn).first()
        if c is not None:
            return Done(status_text(c, ctx.locale) + "\n\n" + ctx.t("progress.footer"))
    case = await Case.filter(id=int(ident or 0), openid=ctx.openid).using_db(ctx.conn).first()
    if case is None:
        return Done(ctx.t("progress.gone"))
    cb = await Callback.filter(case_id=case.id).using_db(ctx.conn).first()
    callback = ctx.t(
        "progress.detail_callback_"
        + ("none" if cb is None else "done" if cb.answered_at else "open")
    )
    closed = fmt_date(case.closed_on, ctx.locale) or "—"
    return Done(
        ctx.t(
            "progress.case_detail",
            case_no=case.case_no,
            cause=case.cause,
            handler=case.handler_name,
            org=case.handler_org,
            closed=closed,
            state=ctx.t(f"progress.case_status.{case.status}"),
            callback=callback,
        )
        + "\n\n"
        + ctx.t("progress.footer")
    )


register_flow(
    Flow(
        FLOW,
        "progress.title_short",
        (Step("pick", list_prompt, show, choices=list_choices),),
        resumable=False,
    )
)
