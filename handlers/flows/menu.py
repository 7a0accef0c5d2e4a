"""The main menu: what an idle user talks to. Entries are data; digits or words pick them.
It registers itself with the engine (bot.flowkit.register_menu), as flows do.

An entry whose flow is not registered (the feature is not built yet) says so honestly instead
of pretending, and points to the 12348 hotline.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot import answers, flowkit
from bot.flowkit import Choice, Ctx, Done, Menu, Outcome, Start, register_menu
from handlers.flows import howto


@dataclass(frozen=True, slots=True)
class Entry:
    key: str  # also the custom-menu CLICK EventKey (lower-case)
    label: str  # i18n key
    flow: str | None = None  # flow to start
    say: str | None = None  # or an i18n key to answer
    agents_only: bool = False  # shown to bound agents only (beneficiaries would misread it)
    words: tuple[str, ...] = ()  # more answers that pick it


ENTRIES: tuple[Entry, ...] = (
    Entry("apply", "menu.apply", flow="agent_filing"),
    Entry(
        "mine",
        "menu.mine",
        flow="my_applications",
        agents_only=True,
        words=("我的申请", "我的代办申请", "申请列表", "my applications"),
    ),
    Entry("progress", "menu.progress", flow="progress"),
    Entry("callback", "menu.callback", flow="callback_survey"),
    Entry("complaint", "menu.complaint", flow="complaint"),
    Entry("human", "menu.human", flow="handoff"),
    Entry("help", "menu.help", say="help.text"),
    Entry("language", "menu.language"),
)


async def entries(ctx: Ctx) -> tuple[Entry, ...]:
    """The entries this user sees, in order: agent-only ones for bound agents alone."""
    from handlers.flows.agent_filing_state import current_agent

    if await current_agent(ctx) is not None:
        return ENTRIES
    return tuple(e for e in ENTRIES if not e.agents_only)


# The menu's text by (locale, agent or not, paused flow): the catalogs do not change while the
# service runs, and most replies end with the menu.
_RENDERED: dict[tuple[str, bool, str | None], str] = {}


async def render_menu(ctx: Ctx) -> str:
    shown = await entries(ctx)
    paused = ctx.conv.paused.get("flow") if ctx.conv.paused else None
    if paused not in flowkit.FLOWS:
        paused = None
    key = (ctx.locale, len(shown) == len(ENTRIES), paused)
    text = _RENDERED.get(key)
    if text is None:
        lines = [ctx.t("menu.title")]
        lines += [f"{i}. {ctx.t(e.label)}" for i, e in enumerate(shown, start=1)]
        if paused is not None:  # one footer: the useful one
            lines.append(ctx.t("menu.resume_hint", title=ctx.t(flowkit.FLOWS[paused].title)))
        else:
            lines.append(ctx.t("menu.hint"))
        text = _RENDERED[key] = "\n".join(lines)
    return text


async def choose(ctx: Ctx, *, by_key: str | None = None) -> Outcome:
    """Picks a menu entry by number, label, synonym or custom-menu key; a greeting is greeted,
    someone asking for legal aid is told how to apply; otherwise shows the menu."""
    shown = await entries(ctx)
    key = by_key
    if key is None:
        choices = [Choice(e.key, e.label, e.words) for e in shown]
        got = answers.exact(ctx.text, choices)
        if got.value is None and not got.candidates:
            if howto.is_greeting(ctx.text):
                return Done(ctx.t("howto.greeting") + "\n\n" + await render_menu(ctx))
            if howto.wants_aid(ctx.text):
                return Done(await howto.how_to_apply(ctx) + "\n\n" + await render_menu(ctx))
            got = answers.resolve(ctx.text, choices)
        key = got.value
    entry = next((e for e in shown if e.key == key), None)
    if entry is None:
        asked = ctx.text.strip() == "" or answers.is_list_request(ctx.text)
        prefix = "" if asked else ctx.t("menu.unknown") + "\n"
        return Done(prefix + await render_menu(ctx))
    if entry.key == "language":
        ctx.conv.locale = "en" if ctx.locale != "en" else "zh_CN"
        return Done(ctx.t("language.switched") + "\n\n" + await render_menu(ctx))
    if entry.key == "help":
        return Done(await flowkit.help_text(ctx))
    if entry.say:
        return Done(ctx.t(entry.say))
    if entry.flow in flowkit.FLOWS:
        return Start(entry.flow)
    return Done(ctx.t("menu.not_ready", title=ctx.t(entry.label)))


register_menu(Menu(render=render_menu, choose=choose))
