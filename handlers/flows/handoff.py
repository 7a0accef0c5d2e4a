"""人工: a consultation ticket, taken by a staff member (`接 <ticket>`), relayed until `结束`.

The user's side is the flow "handoff" (what 人工 starts): its first prompt opens the ticket (or
re-attaches to the user's open one) and tells the staff on duty. The staff member's side is
the flow "handoff_staff", started by `接 <ticket>`. Each side's messages go to the other as
customer-service messages through the outbox; who holds the ticket is in the ticket row.
`接` and `结束` from an openid that is not active staff are ordinary text.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from bot import answers
from bot.flowkit import Ctx, Done, Flow, Outcome, Start, Stay, Step, command, register_flow
from handlers.flows.progress import home_region
from i18n import t
from models.conversation import Conversation
from models.duty import consultations, credit
from models.handoff import (
    RELAY_TEXT_MAX,
    WAITING_MESSAGES_MAX,
    Handoff,
    HandoffStatus,
    close_ticket,
    local_hhmm,
    open_ticket,
    release_tickets,
)
from models.outbox import Channel
from models.people import Staff, StaffRole

FLOW, STAFF_FLOW = "handoff", "handoff_staff"
END_WORDS = {"结束", "结束对话", "结束咨询", "结束服务", "end", "end chat"}
TAKE = re.compile(r"^\s*(?:接|take\s)\s*(?P<ticket>\d{1,9})\s*$", re.IGNORECASE)


def ends(ctx: Ctx) -> bool:
    """结束 (or "end" in English) closes the chat, typed or spoken ("结束。")."""
    return answers.normalize(ctx.text) in END_WORDS


async def _ticket(ctx: Ctx, *, lock: bool = False) -> Handoff | None:
    q = Handoff.filter(id=ctx.data.get("handoff_id") or 0).using_db(ctx.conn)
    return await (q.select_for_update() if lock else q).first()


async def _open_ticket_of_user(ctx: Ctx, *, lock: bool = False) -> Handoff | None:
    """The sender's open ticket (as the user who asked for a person), newest first."""
    q = (
        Handoff.filter(openid=ctx.openid, status__not=HandoffStatus.CLOSED)
        .using_db(ctx.conn)
        .order_by("-id")
    )
    return await (q.select_for_update() if lock else q).first()


async def _staff(ctx: Ctx) -> Staff | None:
    """The sender as centre staff on the 人工 rota (the justice bureau is not)."""
    return (
        await Staff.filter(openid=ctx.openid, active=True)
        .exclude(role=StaffRole.BUREAU)
        .using_db(ctx.conn)
        .first()
    )


async def _send(ctx: Ctx, h: Handoff, to: str, key: str, text: str) -> None:
    await ctx.enqueue(
        channel=Channel.WECHAT_TEXT,
        recipient=to,
        kind="handoff",
        region=h.region,
        dedupe_key=f"handoff:{h.id}:{key}",
        payload={"text": text[:RELAY_TEXT_MAX]},
    )


async def chat_prompt(ctx: Ctx) -> str | Done:
    """Opens the ticket (or finds the user's open one) and says when a person will reply."""
    h = await _ticket(ctx)
    if h is None and ctx.data.get("handoff_id"):
        return Done(ctx.t("handoff.ended"))
    if h is None:
        h = await _open_ticket_of_user(ctx)
    opened = h is None
    if h is None:
        h, told, pushes = await open_ticket(
            openid=ctx.openid,
            locale=ctx.locale,
            region=await home_region(ctx),
            now=ctx.now,
            policy=ctx.policy,
            tz=ctx.settings.timezone,
            conn=ctx.conn,
        )
        await ctx.push(pushes)
        ctx.data["nobody"] = told == 0
    elif h.status == HandoffStatus.CLOSED:
        return Done(ctx.t("handoff.ended"))
    ctx.data["handoff_id"] = h.id
    if ctx.data.get("shown"):
        return ctx.t(f"handoff.status.{h.status}", ticket=h.id)
    ctx.data["shown"] = True
    if h.status == HandoffStatus.TAKEN:
        return ctx.t("handoff.status.taken", ticket=h.id)
    due = local_hhmm(h.due_at, ctx.settings.timezone)
    if not opened:  # asked again (after 菜单): the same ticket, still waiting
        return ctx.t("handoff.still_waiting", ticket=h.id, due=due)
    if ctx.data.get("nobody"):  # no staff to tell: no reply time to promise
        return ctx.t("handoff.opened_nobody", ticket=h.id)
    return ctx.t("handoff.opened", ticket=h.id, due=due)


def _said(ctx: Ctx) -> str:
    if ctx.inc.kind == "image":
        return ctx.t("handoff.image", url=ctx.inc.pic_url or "")
    return ctx.text


async def on_chat(ctx: Ctx) -> Outcome:
    """Keeps the user's message for the staff (waiting) or relays it (taken); 结束 ends."""
    h = await _ticket(ctx, lock=True)
    if h is None or h.status == HandoffStatus.CLOSED:  # ended by the staff: an idle message
        from handlers.flows.menu import choose

        outcome = await choose(ctx)
        return (
            Done(ctx.t("handoff.ended") + "\n" + outcome.say)
            if isinstance(outcome, Done)
            else outcome
        )
    if ends(ctx):
        await ctx.push(await close_ticket(h, by="user", now=ctx.now, conn=ctx.conn))
        return Done(ctx.t("handoff.closed_by_user"))
    if h.status == HandoffStatus.WAITING:
        h.messages = [*h.messages, {"at": ctx.now.isoformat(), "text": _said(ctx)}][
            -WAITING_MESSAGES_MAX:
        ]
        await h.save(using_db=ctx.conn)
        return Stay(ctx.t("handoff.kept"))
    staff = await Staff.filter(id=h.staff_id).using_db(ctx.conn).first()
    if staff is None or not staff.active:  # taken off the rota while holding it: not to them
        await _requeue(ctx, h)
        return Stay(ctx.t("handoff.requeued", ticket=h.id))
    await _send(
        ctx,
        h,
        staff.openid,
        f"u:{ctx.inc.dedupe_key}",
        ctx.t("handoff.staff.from_user", ticket=h.id, text=_said(ctx)),
    )
    return Stay(ctx.t("handoff.relayed"))


async def _requeue(ctx: Ctx, h: Handoff) -> None:
    """The ticket back to waiting, the user's message kept for whoever takes it next, and the
    staff who should take it told (the user is told by the reply)."""
    if h.staff_id is not None:
        await ctx.push(
            await release_tickets(
                h.staff_id, now=ctx.now, tz=ctx.settings.timezone, conn=ctx.conn, told=h.openid
            )
        )
    h = await Handoff.get(id=h.id).using_db(ctx.conn)
    if h.status == HandoffStatus.TAKEN:  # its holder was deleted: nobody to release it from
        h.status, h.taken_at = HandoffStatus.WAITING, None
    h.messages = [*h.messages, {"at": ctx.now.isoformat(), "text": _said(ctx)}][
        -WAITING_MESSAGES_MAX:
    ]
    await h.save(using_db=ctx.conn)


async def _user_cancel(ctx: Ctx) -> None:
    h = await _ticket(ctx, lock=True)
    if h is not None and h.status != HandoffStatus.CLOSED:
        await ctx.push(await close_ticket(h, by="user", now=ctx.now, conn=ctx.conn))


async def relay_prompt(ctx: Ctx) -> str:
    return ctx.t("handoff.staff.relaying", ticket=ctx.data.get("handoff_id"))


async def _locked(ctx: Ctx, ticket_id: int) -> Handoff | None:
    """The ticket, locked, after its user's conversation row: the order the user's own messages
    lock them in, so two workers cannot deadlock. Taking locks changes nothing: every check
    runs on the locked ticket before any effect (authorization before effects)."""
    openid = await Handoff.filter(id=ticket_id).using_db(ctx.conn).values_list("openid", flat=True)
    if not openid:
        return None
    await Conversation.filter(openid=openid[0]).using_db(ctx.conn).select_for_update().first()
    return await Handoff.filter(id=ticket_id).using_db(ctx.conn).select_for_update().first()


async def _reattach(ctx: Ctx, h: Handoff) -> None:
    """A user who left the chat (菜单) while waiting is put back into it when their staff
    member writes, so their answer reaches the staff. Only an idle user; called once the
    staff member is known to hold the open ticket."""
    await (
        Conversation.filter(openid=h.openid, flow__isnull=True)
        .using_db(ctx.conn)
        .update(
            flow=FLOW,
            step="chat",
            data={"handoff_id": h.id, "shown": True},
            history=[],
            expires_at=None,
        )
    )


async def on_relay(ctx: Ctx) -> Outcome:
    """Sends the staff member's message to the user and counts it; 结束 ends the ticket."""
    h, staff = await _locked(ctx, ctx.data.get("handoff_id") or 0), await _staff(ctx)
    if staff is None:  # taken off the rota (disabled): their tickets went to the others
        return Done(ctx.t("handoff.staff.off_rota"))
    if h is None or h.status != HandoffStatus.TAKEN or h.staff_id != staff.id:
        took = TAKE.match(ctx.text)
        if took:  # the user ended this one: 接 takes the next at once
            return await take(ctx, took)
        return Done(ctx.t("handoff.staff.gone", ticket=ctx.data.get("handoff_id")))
    if ends(ctx):
        return Done(await _close_by_staff(ctx, h, staff))
    if TAKE.match(ctx.text):  # a second ticket while holding this one: one at a time
        return Stay(ctx.t("handoff.staff.busy", ticket=h.id))
    await _reattach(ctx, h)
    await _send(
        ctx,
        h,
        h.openid,
        f"s:{ctx.inc.dedupe_key}",
        t("handoff.from_staff", h.locale, text=ctx.text),
    )
    h.replies += 1
    h.first_reply_at = h.first_reply_at or ctx.now
    await h.save(using_db=ctx.conn)
    return Stay(ctx.t("handoff.staff.sent"))


async def _close_by_staff(ctx: Ctx, h: Handoff, staff: Staff) -> str:
    """Ends the ticket and tells the staff member this month's duty credit (DOMAIN §4)."""
    await ctx.push(await close_ticket(h, by="staff", now=ctx.now, conn=ctx.conn))
    tz = ctx.settings.timezone
    month = ctx.now.astimezone(ZoneInfo(tz)).date()
    total = await consultations(staff.id, month, tz, ctx.conn)
    return ctx.t(
        "handoff.staff.closed",
        ticket=h.id,
        n=h.replies,
        total=total,
        per=ctx.policy.duty_consultations_per_day,
        days=credit(total, ctx.policy),
    )


async def _staff_cancel(ctx: Ctx) -> None:
    h, staff = await _locked(ctx, ctx.data.get("handoff_id") or 0), await _staff(ctx)
    if (
        h is not None
        and staff is not None
        and h.status == HandoffStatus.TAKEN
        and h.staff_id == staff.id
    ):
        await ctx.push(await close_ticket(h, by="staff", now=ctx.now, conn=ctx.conn))


register_flow(
    Flow(
        FLOW,
        "handoff.title",
        (
            Step(
                "chat",
                chat_prompt,
                on_chat,
                raw=True,
                accepts=frozenset({"text", "image"}),
                hint=None,
            ),  # its prompts end with their own footer (回复“结束”)
        ),
        resumable=False,
        on_cancel=_user_cancel,
    )
)
register_flow(
    Flow(
        STAFF_FLOW,
        "handoff.staff.title",
        (Step("relay", relay_prompt, on_relay, raw=True, hint=None),),
        resumable=False,
        on_cancel=_staff_cancel,
    )
)


async def as_text(ctx: Ctx) -> Outcome:
    """What the message would do if it were not a staff command (the sender is not staff)."""
    from bot.conversation import active, pick, reprompt, resolve_choices
    from handlers.flows.menu import choose

    _, step = active(ctx)
    if step is None:
        return await choose(ctx)
    if step.choices:
        choices = await resolve_choices(ctx, step)
        ctx.choice = pick(ctx.text, choices, ctx.locale)
        if ctx.choice is None:
            return Stay(reprompt(ctx, len(choices)))
    return await step.handle(ctx)


@command(TAKE.pattern)
async def take(ctx: Ctx, m: re.Match[str]) -> Outcome:
    """`接 <ticket>`: the staff member takes (抢单) the ticket; first come owns it."""
    staff = await _staff(ctx)
    if staff is None:
        return await as_text(ctx)
    h = await _locked(ctx, int(m.group("ticket")))
    if h is None or (h.region and h.region != staff.region):
        return Done(ctx.t("handoff.staff.unknown", ticket=m.group("ticket")))
    if h.status == HandoffStatus.CLOSED:
        return Done(ctx.t("handoff.staff.already_closed", ticket=h.id))
    takeover = staff.supervisor and h.escalated_at is not None  # an overdue ticket
    if h.status == HandoffStatus.TAKEN and h.staff_id != staff.id and not takeover:
        holder = await Staff.filter(id=h.staff_id).using_db(ctx.conn).first()
        return Done(
            ctx.t("handoff.staff.taken_by", ticket=h.id, name=holder.name if holder else "—")
        )
    other = (
        await Handoff.filter(staff_id=staff.id, status=HandoffStatus.TAKEN)
        .exclude(id=h.id)
        .using_db(ctx.conn)
        .first()
    )
    if other is not None:
        return Done(ctx.t("handoff.staff.busy", ticket=other.id))
    # every check passed: only now does anything change
    await _reattach(ctx, h)
    if h.staff_id != staff.id:
        h.status, h.staff_id, h.taken_at = HandoffStatus.TAKEN, staff.id, ctx.now
        await h.save(using_db=ctx.conn)
        await _send(
            ctx, h, h.openid, f"taken:{staff.id}", t("handoff.taken", h.locale, name=staff.name)
        )
    waiting = "\n".join(f"· {msg['text']}" for msg in h.messages) or ctx.t("handoff.staff.no_msgs")
    return Start(
        STAFF_FLOW,
        data={"handoff_id": h.id},
        say=ctx.t("handoff.staff.took", ticket=h.id, messages=waiting),
    )


@command(r"^\s*(?:结束|end)[\s。.!！]*$")  # a spoken one ends with a full stop
async def end(ctx: Ctx, _m: re.Match[str]) -> Outcome:
    """`结束` from staff outside the relay (after 菜单): ends the ticket they hold. From a user
    who left their 人工 chat (菜单) with the ticket still open: ends that ticket."""
    staff = await _staff(ctx)
    if staff is None:
        h = await _open_ticket_of_user(ctx, lock=True)
        if h is None:
            return await as_text(ctx)
        await ctx.push(await close_ticket(h, by="user", now=ctx.now, conn=ctx.conn))
        # Stay: a flow the user is in goes on (asked again); Done would end it
        return Stay(ctx.t("handoff.closed_by_user"))
    h = (
        await Handoff.filter(staff_id=staff.id, status=HandoffStatus.TAKEN)
        .using_db(ctx.conn)
        .select_for_update()
        .first()
    )
    if h is None:
        return Done(ctx.t("handoff.staff.nothing"))
    return Done(await _close_by_staff(ctx, h, staff))
