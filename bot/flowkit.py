"""The vocabulary flows are declared in: steps, choices, outcomes, and the per-message context.

A flow is a table of small steps. A step has a prompt (an i18n key, or a function when the
prompt shows collected data), optional numbered choices, the message kinds it accepts, and one
async handler that stores the answer and says where to go next by returning an Outcome.
Flows, chat commands, QR scenes and the main menu register themselves here (from handlers.flows);
the engine (bot.conversation) runs them and imports no feature.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from i18n import t

if TYPE_CHECKING:
    from aiohttp import web
    from tortoise.backends.base.client import BaseDBAsyncClient

    from bot.settings import Settings
    from bot.wechat.protocol import Incoming
    from models.conversation import Conversation
    from models.policy import Policy
    from models.pushes import Push


# --- outcomes a step returns ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Next:
    """Go to `step` (remembered for 返回) and ask its prompt, after `say` if given."""

    step: str
    say: str | None = None


@dataclass(frozen=True, slots=True)
class Stay:
    """Answer not accepted: say why and ask the same step again. `ask=False` says only `say`
    (one line per photo received, not the whole prompt again)."""

    say: str
    ask: bool = True


@dataclass(frozen=True, slots=True)
class Done:
    """The flow is finished: clear its state and answer `say`."""

    say: str


@dataclass(frozen=True, slots=True)
class Start:
    """Start another flow (clearing the current one), optionally with initial data."""

    flow: str
    data: dict[str, Any] | None = None
    say: str | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    """Go back to the paused flow where it stopped; a kept late answer is applied to it."""

    say: str | None = None


Outcome = Next | Stay | Done | Start | Resume


# --- declarations ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    """A numbered option. `words` are more answers that pick it (synonyms: bot.answers);
    `means` "yes" or "no" lets the broad yes/no words ("是的", "没有", "嗯") pick it."""

    value: str
    label: str  # i18n key
    words: tuple[str, ...] = ()
    label_fields: dict[str, Any] | None = None
    means: str | None = None


# A prompt function may find there is nothing to ask (no open callback, a ticket closed meanwhile):
# it returns Done(text) and the engine ends the flow there, answering the text and the menu.
Prompt = str | Callable[["Ctx"], Awaitable["str | Done"]]
Choices = Sequence[Choice] | Callable[["Ctx"], Awaitable[Sequence[Choice]]]
Handler = Callable[["Ctx"], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    prompt: Prompt
    handle: Handler
    choices: Choices = ()
    accepts: frozenset[str] = frozenset({"text"})  # also image, location ... for such steps
    raw: bool = False  # free text: '0' and prefix commands are answers here, not commands
    hint: str | None = "flow.hint"  # the one footer line; None when the prompt says its own


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    title: str  # i18n key, shown in 'cancelled X' and resume offers
    steps: tuple[Step, ...]
    resumable: bool = True
    on_cancel: Callable[[Ctx], Awaitable[None]] | None = None
    # Asked before each answer and on resuming: a refusal (text) ends the flow there, e.g. an
    # agent disabled while filing is told at the next answer, not after the last one.
    guard: Callable[[Ctx], Awaitable[str | None]] | None = None

    @property
    def first(self) -> str:
        return self.steps[0].name

    def step(self, name: str | None) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)


@dataclass(slots=True)
class Ctx:
    """What a step sees: the message, the user's state (locked), the transaction, services."""

    app: web.Application
    conn: BaseDBAsyncClient
    conv: Conversation
    inc: Incoming
    now: datetime
    text: str = ""  # the answer as text (voice recognised, stripped)
    choice: str | None = None  # the picked Choice.value when the step has choices
    extras: list[str] = field(default_factory=list)  # lines to prepend to the reply
    # Lookups shared by the messages of one batch (one transaction); "openids" lists its
    # senders. A step that changes what a lookup found drops that entry.
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def openid(self) -> str:
        return self.conv.openid

    @property
    def locale(self) -> str:
        return self.conv.locale

    @property
    def data(self) -> dict[str, Any]:
        return self.conv.data

    @property
    def settings(self) -> Settings:
        from bot.keys import settings_key

        return self.app[settings_key]

    @property
    def policy(self) -> Policy:
        from bot.keys import policy_key

        return self.app[policy_key]

    def t(self, key: str, /, **fields: object) -> str:
        return t(key, self.locale, **fields)

    def fact(self, name: str) -> Any:
        """A registered fact (`register_fact`) about this user, as the batch's first statement
        read it; `UNKNOWN` outside a batch or after `forget`: the caller then asks the database."""
        return self.memo.get("facts", {}).get(self.openid, {}).get(name, UNKNOWN)

    def forget(self, name: str) -> None:
        """A step changed what fact `name` says (a binding): later reads in the batch ask again."""
        for facts in self.memo.get("facts", {}).values():
            facts.pop(name, None)

    async def enqueue(self, **kw: Any) -> None:
        """Queue a push in this message's transaction (see bot.outbox.enqueue)."""
        from bot.outbox import enqueue

        await enqueue(conn=self.conn, **kw)

    async def push(self, pushes: Iterable[Push]) -> None:
        """Queue what a domain rule returned (models.pushes) in this message's transaction."""
        from bot.notify import queue

        await queue(self.settings, pushes, conn=self.conn)


# --- registries -----------------------------------------------------------------------------

FLOWS: dict[str, Flow] = {}
# Prefix commands with an argument (绑定 <code>, 投诉 <text> ...): (pattern, handler).
COMMANDS: list[tuple[re.Pattern[str], Callable[[Ctx, re.Match[str]], Awaitable[Outcome]]]] = []
# QR scene prefixes (the part before ':') -> handler(ctx, rest of the scene).
SCENES: dict[str, Callable[[Ctx, str], Awaitable[Outcome]]] = {}
# Facts about a user read with the batch's lock, in the same statement: no round trip of their
# own. name -> a function returning the SQL of a scalar subquery (both dialects) in which
# `{openid}` stands for the user's openid; called once the ORM knows its tables.
FACTS: dict[str, Callable[[], str]] = {}
UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN"})()


def register_fact(name: str, sql: Callable[[], str]) -> None:
    FACTS[name] = sql
    fact_sql.cache_clear()


@cache
def fact_sql() -> tuple[tuple[str, str], ...]:
    """The registered facts' (name, SQL), for the engine's lock statement."""
    return tuple((name, sql()) for name, sql in sorted(FACTS.items()))


# Global words that start a flow when it exists (人工 -> handoff); the engine checks FLOWS.
GLOBAL_FLOWS: dict[str, str] = {"human": "handoff"}


@dataclass(frozen=True, slots=True)
class Menu:
    """The main menu, what an idle user talks to: `render(ctx)` is its text, `choose(ctx,
    by_key=None)` reads an answer to it (or a custom-menu CLICK key) and returns the Outcome.
    A feature registers it like a flow (handlers.flows.menu); the engine only calls it."""

    render: Callable[[Ctx], Awaitable[str]]
    choose: Callable[..., Awaitable[Outcome]]


MENUS: dict[str, Menu] = {}


def register_menu(menu: Menu) -> Menu:
    MENUS["main"] = menu
    return menu


def main_menu() -> Menu:
    menu = MENUS.get("main")
    if menu is None:
        raise LookupError("no main menu registered (importing handlers.flows registers it)")
    return menu


def register_flow(flow: Flow) -> Flow:
    FLOWS[flow.name] = flow
    return flow


def command(pattern: str) -> Callable:
    def deco(fn: Callable[[Ctx, re.Match[str]], Awaitable[Outcome]]) -> Callable:
        COMMANDS.append((re.compile(pattern, re.IGNORECASE | re.DOTALL), fn))
        return fn

    return deco


def scene(prefix: str) -> Callable:
    def deco(fn: Callable[[Ctx, str], Awaitable[Outcome]]) -> Callable:
        SCENES[prefix] = fn
        return fn

    return deco


async def help_text(ctx: Ctx) -> str:
    """帮助's answer: how to use the chat, and for a handler bound in WeChat how to object to
    a published grade (异议)."""
    from models.pool import Handler

    text = ctx.t("help.text")
    handler = ctx.fact("handler")
    if handler is UNKNOWN:
        handler = await Handler.filter(openid=ctx.openid).using_db(ctx.conn).exists()
    if handler:
        text += "\n" + ctx.t("quality.chat.help")
    return text


def _handler_fact() -> str:
    from models.pool import Handler

    return f'EXISTS (SELECT 1 FROM "{Handler._meta.db_table}" h WHERE h."openid" = {{openid}})'


register_fact("handler", _handler_fact)
