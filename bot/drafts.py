"""Paused drafts are never thrown away silently, and a late answer is not lost.

A resumable flow the user has answered at least one step of is a draft. It is paused by 菜单,
by 人工, by another flow starting, or by the idle timeout, and kept in `conversation.paused`
(one slot). Before anything would replace or restart it — a menu entry, a command such as
回访, a QR code — the engine asks first with the small flow declared here ("您有一份未完成的…：
1 继续填写 2 放弃并重新开始"). A message that arrives after the idle timeout is kept with the
draft and applied when the user resumes, so nobody retypes an answer.
"""

from __future__ import annotations

from typing import Any

from bot import flowkit
from bot.flowkit import Choice, Ctx, Done, Flow, Outcome, Resume, Start, Step

GUARD = "draft_guard"


def is_draft(paused: dict[str, Any] | None) -> bool:
    """A paused flow the user has answered something in (an untouched first step is no draft)."""
    return bool(
        paused
        and paused.get("flow") in flowkit.FLOWS
        and (paused.get("history") or paused.get("late") is not None)
    )


def pause(ctx: Ctx, flow: Flow, late: str | None = None) -> None:
    """Keep the open flow aside (with the answer that came too late, if any) and clear it."""
    c = ctx.conv
    c.paused = {"flow": flow.name, "step": c.step, "data": c.data, "history": c.history}
    if late is not None:
        c.paused["late"] = late
    clear(ctx)


def clear(ctx: Ctx) -> None:
    c = ctx.conv
    c.flow = c.step = None
    c.data, c.history, c.expires_at = {}, [], None


def check_start(ctx: Ctx, outcome: Start) -> Start | None:
    """Before `outcome` starts its flow: keep what would be lost. Returns the question to ask
    first, or None when the start may go ahead (the open draft, if any, is paused by then)."""
    c, target = ctx.conv, flowkit.FLOWS[outcome.flow]
    current = flowkit.FLOWS.get(c.flow or "")
    if current is not None and current.resumable and c.history:
        pause(ctx, current)  # a draft the new flow would replace: set it aside first
    if not is_draft(c.paused):
        c.paused = None if target.resumable else c.paused
        return None
    if not target.resumable and target.name != c.paused["flow"]:
        return None  # a quick look (progress, 人工): the draft stays paused meanwhile
    then = {"flow": outcome.flow, "data": outcome.data, "say": outcome.say}
    return Start(GUARD, data={"then": then})


async def guard_prompt(ctx: Ctx) -> str | Done:
    """Names the draft and asks whether to go on with it or drop it."""
    paused = ctx.conv.paused
    if not is_draft(paused):
        return Done(ctx.t("resume.nothing"))
    title = ctx.t(flowkit.FLOWS[paused["flow"]].title)
    if ctx.data.get("expired"):
        return ctx.t("draft.expired", title=title, minutes=ctx.settings.conversation_timeout // 60)
    return ctx.t("draft.pending", title=title)


async def guard_choices(ctx: Ctx) -> list[Choice]:
    then = ctx.data.get("then")
    paused = ctx.conv.paused or {}
    late = paused.get("late") is not None
    resume = Choice("resume", "draft.resume_late" if late else "draft.resume", means="yes")
    if then is None:
        return [resume, Choice("later", "draft.later", means="no")]
    if then["flow"] == paused.get("flow"):
        return [resume, Choice("restart", "draft.restart")]
    return [
        resume,
        Choice(
            "restart",
            "draft.discard",
            label_fields={"title": ctx.t(flowkit.FLOWS[then["flow"]].title)},
        ),
    ]


async def on_guard(ctx: Ctx) -> Outcome:
    """Resumes the draft, drops it and starts what was chosen, or leaves it paused (menu)."""
    if ctx.choice == "resume":
        return Resume()
    if ctx.choice == "later":
        from bot.conversation import menu_text

        return Done(await menu_text(ctx))
    then = ctx.data["then"]
    ctx.conv.paused = None
    return Start(then["flow"], data=then.get("data"), say=then.get("say"))


async def drop_draft(ctx: Ctx) -> None:
    """取消 at the question drops the draft, as "已取消「未完成的办理」，填写的内容没有保存" says."""
    ctx.conv.paused = None


flowkit.register_flow(
    Flow(
        GUARD,
        "draft.title",
        (Step("decide", guard_prompt, on_guard, choices=guard_choices, hint=None),),
        resumable=False,
        on_cancel=drop_draft,
    )
)
