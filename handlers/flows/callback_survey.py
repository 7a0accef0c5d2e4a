"""案件回访: the Zhashui callback form as four short questions (DOMAIN §2).

Started by scanning the QR code of a closing notice (scene `cb:<token>`: binds the scanner's
openid to the case — the first openid keeps it — and the reply already asks Q1), by the menu,
or by replying 回访 to the invitation. Digits, words and voice all answer; a 'yes' asks once
for details; the answers are shown back for confirmation and stored with channel=wechat.
"""

from __future__ import annotations

from bot.flowkit import (
    Choice,
    Ctx,
    Done,
    Flow,
    Next,
    Outcome,
    Start,
    Stay,
    Step,
    command,
    register_flow,
    scene,
)
from models.callback import (
    DETAILS_MAX,
    SCENE_PREFIX,
    Answers,
    Callback,
    CallbackChannel,
    CallbackInvitation,
    complete,
)
from models.case import Case
from models.complaint import fmt_date

FLOW = "callback_survey"
# Synonyms ("收钱", "拖延", "挺好") are in the catalogs as words.<label>; broad yes/no words
# ("是的", "没有", "嗯") come from bot.answers through `means`.
_YES = ("是", "是的", "对", "有", "有的", "收了", "收过", "要过", "y", "yes")
_NO = ("否", "不是", "没", "没有", "没有的", "无", "没收", "没有收", "n", "no")
Q1 = (
    Choice("yes", "callbacks.answer.shi", words=_YES, means="yes"),
    Choice("no", "callbacks.answer.fou", words=_NO, means="no"),
)
Q2 = (
    Choice("yes", "callbacks.answer.you", words=_YES, means="yes"),
    Choice("no", "callbacks.answer.wu", words=_NO, means="no"),
)
Q3 = (
    Choice(
        "yes",
        "callbacks.answer.satisfied",
        means="yes",
        words=("满意的", "很满意", "非常满意", "挺满意", "比较满意", "好", "y", "yes"),
    ),
    Choice(
        "no",
        "callbacks.answer.unsatisfied",
        means="no",
        words=("不太满意", "很不满意", "非常不满意", "不好", "n", "no"),
    ),
)
CONFIRM = (
    Choice("submit", "callbacks.confirm.submit", words=("确认", "提交", "确定"), means="yes"),
    Choice("redo", "callbacks.confirm.redo", words=("重填", "重新", "修改")),
)
NONE_WORDS = {"无", "没有", "没", "没有意见", "无意见", "没意见", "no", "none", "nothing"}


async def pending(ctx: Ctx) -> Callback | None:
    """The callback this survey is about: the one in the data, else the user's oldest open one."""
    q = Callback.filter(case__openid=ctx.openid, answered_at=None).using_db(ctx.conn)
    if ctx.data.get("callback_id"):
        q = q.filter(id=ctx.data["callback_id"])
    cb = await q.order_by("due_at", "id").select_related("case").first()
    if cb is not None:
        ctx.data["callback_id"] = cb.id
    return cb


async def q1_prompt(ctx: Ctx) -> str | Done:
    """Introduces the case and asks Q1; with no open callback, says so and ends."""
    cb = await pending(ctx)
    if cb is None:
        return Done(ctx.t("callbacks.none"))
    case = cb.case
    return (
        ctx.t(
            "callbacks.intro",
            cause=case.cause,
            handler=case.handler_name,
            closed=fmt_date(case.closed_on, ctx.locale) or "—",
        )
        + "\n"
        + ctx.t("callbacks.q1")
    )


def _details(ctx: Ctx) -> str:
    text = ctx.text.strip()
    if len(text) > DETAILS_MAX:
        ctx.extras.append(ctx.t("callbacks.cut", n=DETAILS_MAX))
    return text[:DETAILS_MAX]


async def on_q1(ctx: Ctx) -> Outcome:
    """Stores Q1 (charged money or goods); a yes asks for details, else Q2."""
    ctx.data["fee"] = ctx.choice == "yes"
    return Next("q1_details" if ctx.data["fee"] else "q2")


async def on_q1_details(ctx: Ctx) -> Outcome:
    """Stores what was charged or asked for, asks Q2."""
    ctx.data["fee_details"] = _details(ctx)
    return Next("q2")


async def on_q2(ctx: Ctx) -> Outcome:
    """Stores Q2 (delay on purpose, cold treatment); a yes asks for details, else Q3."""
    ctx.data["neg"] = ctx.choice == "yes"
    return Next("q2_details" if ctx.data["neg"] else "q3")


async def on_q2_details(ctx: Ctx) -> Outcome:
    """Stores what happened, asks Q3."""
    ctx.data["neg_details"] = _details(ctx)
    return Next("q3")


async def on_q3(ctx: Ctx) -> Outcome:
    """Stores Q3 (satisfied), asks Q4."""
    ctx.data["sat"] = ctx.choice == "yes"
    return Next("q4")


async def on_q4(ctx: Ctx) -> Outcome:
    """Stores the comments (无 = none), shows everything back for confirmation."""
    text = _details(ctx)
    ctx.data["comments"] = None if text.strip(" 。.!！").lower() in NONE_WORDS else text
    return Next("confirm")


def answers(ctx: Ctx) -> Answers:
    d = ctx.data
    return Answers(
        fee_charged=bool(d.get("fee")),
        negligent=bool(d.get("neg")),
        satisfied=bool(d.get("sat")),
        fee_details=d.get("fee_details") if d.get("fee") else None,
        negligent_details=d.get("neg_details") if d.get("neg") else None,
        comments=d.get("comments"),
    )


async def confirm_prompt(ctx: Ctx) -> str:
    """Shows the four answers back."""
    a = answers(ctx)
    q1 = ctx.t("callbacks.answer." + ("shi" if a.fee_charged else "fou"))
    q2 = ctx.t("callbacks.answer." + ("you" if a.negligent else "wu"))
    return ctx.t(
        "callbacks.summary",
        q1=q1 + (ctx.t("punct.paren", text=a.fee_details) if a.fee_details else ""),
        q2=q2 + (ctx.t("punct.paren", text=a.negligent_details) if a.negligent_details else ""),
        q3=ctx.t("callbacks.answer." + ("satisfied" if a.satisfied else "unsatisfied")),
        q4=a.comments or ctx.t("callbacks.summary_none"),
    )


async def on_confirm(ctx: Ctx) -> Outcome:
    """Submits the answers (the first completed answer stands), or starts over."""
    if ctx.choice == "redo":
        keep = {"callback_id": ctx.data.get("callback_id")}
        ctx.conv.data, ctx.conv.history, ctx.conv.step = keep, [], None
        return Next("q1")
    cb = (
        await Callback.filter(id=ctx.data.get("callback_id"), case__openid=ctx.openid)
        .using_db(ctx.conn)
        .select_related("case")
        .first()
    )
    pushes = (
        None
        if cb is None or cb.answered_at is not None
        else await complete(
            cb,
            cb.case,
            answers(ctx),
            channel=CallbackChannel.WECHAT,
            answered_at=ctx.now,
            conn=ctx.conn,
            openid=ctx.openid,
        )
    )
    if pushes is None:
        return Done(ctx.t("callbacks.already"))
    await ctx.push(pushes)
    left = (
        await Callback.filter(case__openid=ctx.openid, answered_at=None).using_db(ctx.conn).count()
    )
    return Done(
        ctx.t("callbacks.thanks") + ("\n" + ctx.t("callbacks.more", n=left) if left else "")
    )


register_flow(
    Flow(
        FLOW,
        "callbacks.title",
        (
            Step("q1", q1_prompt, on_q1, choices=Q1),
            Step("q1_details", "callbacks.q1_details", on_q1_details, raw=True),
            Step("q2", "callbacks.q2", on_q2, choices=Q2),
            Step("q2_details", "callbacks.q2_details", on_q2_details, raw=True),
            Step("q3", "callbacks.q3", on_q3, choices=Q3),
            Step("q4", "callbacks.q4", on_q4, raw=True),
            Step("confirm", confirm_prompt, on_confirm, choices=CONFIRM),
        ),
    )
)


async def _say(ctx: Ctx, text: str) -> Outcome:
    """An answer that leaves whatever the user was doing as it was (idle: with the menu)."""
    from handlers.flows.menu import render_menu

    return Stay(text) if ctx.conv.flow else Done(text + "\n\n" + await render_menu(ctx))


@scene(SCENE_PREFIX)
async def on_scan(ctx: Ctx, token: str) -> Outcome:
    """A closing notice's QR code: bind the case to this openid and start the survey."""
    inv = (
        await CallbackInvitation.filter(token=token[:32])
        .using_db(ctx.conn)
        .select_related("callback__case")
        .first()
    )
    if inv is None:
        return await _say(ctx, ctx.t("callbacks.scene_unknown"))
    cb, case = inv.callback, inv.callback.case
    if case.openid not in (None, ctx.openid):
        return await _say(ctx, ctx.t("callbacks.scene_taken"))
    if inv.expires_at < ctx.now and case.openid != ctx.openid:
        return await _say(ctx, ctx.t("callbacks.scene_expired"))
    if case.openid is None:
        bound = (
            await Case.filter(id=case.id, openid=None)
            .using_db(ctx.conn)
            .update(openid=ctx.openid, bound_at=ctx.now)
        )
        if not bound:  # someone else scanned at the same moment and won
            return await _say(ctx, ctx.t("callbacks.scene_taken"))
    await (
        CallbackInvitation.filter(id=inv.id, scanned_by=None)
        .using_db(ctx.conn)
        .update(scanned_by=ctx.openid, scanned_at=ctx.now)
    )
    if cb.answered_at is not None:
        return await _say(ctx, ctx.t("callbacks.already"))
    return Start(FLOW, data={"callback_id": cb.id}, say=ctx.t("callbacks.scan_hello"))


@command(r"^\s*(回访|回访评价|开始回访|案件回访|survey|start survey)\s*[。.!！]?$")
async def start_by_word(ctx: Ctx, _m) -> Outcome:
    """回访, as the invitation says to reply: start (or restart) the survey."""
    return Start(FLOW)
