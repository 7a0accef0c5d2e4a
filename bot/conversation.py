"""The conversation engine: one inbound message in, one reply out, state saved, all atomic.

Order of routing (DESIGN "How a chat message travels", step 5): the message is deduplicated
and the user's row locked; then events (subscribe, scan, click); then global commands (菜单,
帮助, 取消, 返回, 人工, 中文/English, 继续); then prefix commands (绑定 <code> ...); then the
active flow's step; else the menu, which is what an idle user talks to.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

from aiohttp import web
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot import answers, drafts, engine_sql, flowkit, outbox
from bot.asyncpg_client import KeptConnections
from bot.drafts import clear, pause
from bot.flowkit import Ctx, Done, Flow, Next, Outcome, Resume, Start, Stay, Step
from bot.keys import metrics_key, settings_key
from bot.wechat.protocol import Incoming
from models.conversation import Conversation
from models.masking import mask_openid

log = logging.getLogger(__name__)

# Exact whole-message words (after trimming punctuation) for the global commands.
GLOBAL_WORDS: dict[str, str] = {
    **dict.fromkeys(["菜单", "主菜单", "0", "menu", "m"], "menu"),
    **dict.fromkeys(["帮助", "help", "?", "？", "h"], "help"),
    **dict.fromkeys(["取消", "cancel", "退出", "quit"], "cancel"),
    **dict.fromkeys(["返回", "上一步", "back"], "back"),
    **dict.fromkeys(["人工", "转人工", "人工服务", "human"], "human"),
    **dict.fromkeys(["中文", "简体中文", "chinese"], "lang_zh"),
    **dict.fromkeys(["english", "英文", "英语"], "lang_en"),
    **dict.fromkeys(["继续", "continue", "resume"], "resume"),
}
_TRIM = " \t\r\n。.!！~～、，,"
MAX_TEXT = 4000  # a chat answer longer than this is cut; no form field needs more


def command_word(text: str) -> str | None:
    return GLOBAL_WORDS.get(text.strip(_TRIM).lower())


MAX_BATCH = 32  # messages handled in one transaction; bounds the wait of the last one


async def handle(app: web.Application, inc: Incoming) -> str | None:
    """Handle one message; returns the passive reply text, or None for 'success'.

    Messages arriving together are handled together, in one transaction (group commit):
    the database's write lock is taken once per batch instead of once per message, which is
    what bounds throughput on sqlite and saves round trips on PostgreSQL. Each message still
    sees only its own user's locked state, in arrival order.
    """
    return await app[batcher_key].submit(inc)


class Batcher:
    """Groups the messages waiting into batches, and runs up to `lanes` batches at once.

    One lane on sqlite (one writer: a second transaction would only wait for the first).
    On PostgreSQL a batch spends most of its time waiting for round trips; a second lane
    works meanwhile, so the messages arriving during a batch do not wait for all of it. A
    user with a message in a running batch is left for a later one: each user's messages are
    handled one after another, in the order they came (their row lock would keep them apart
    anyway, but not in order).
    """

    def __init__(self, app: web.Application, lanes: int = 1) -> None:
        self.app = app
        self.lanes = lanes
        self.pending: list[tuple[Incoming, asyncio.Future]] = []
        self.running: set[asyncio.Task] = set()
        self.busy: set[str] = set()  # the openids of the running batches

    async def submit(self, inc: Incoming) -> str | None:
        fut = asyncio.get_running_loop().create_future()
        self.pending.append((inc, fut))
        self._start()
        return await fut

    def _start(self) -> None:
        """Start batches while a lane is free and a message can go."""
        while self.pending and len(self.running) < self.lanes:
            batch = self._take()
            if not batch:
                return
            openids = {inc.openid for inc, _ in batch}
            self.busy |= openids
            task = asyncio.create_task(self.process(batch))
            self.running.add(task)
            task.add_done_callback(functools.partial(self._done, openids=openids))

    def _take(self) -> list[tuple[Incoming, asyncio.Future]]:
        """The next batch: waiting messages in arrival order, up to MAX_BATCH, but none of a
        user in a running batch (nor anything that user sent later)."""
        if not self.busy:
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            return batch
        batch, rest = [], []
        for item in self.pending:
            if len(batch) < MAX_BATCH and item[0].openid not in self.busy:
                batch.append(item)
            else:
                rest.append(item)
        self.pending = rest
        return batch

    def _done(self, task: asyncio.Task, *, openids: set[str]) -> None:
        self.running.discard(task)
        self.busy -= openids
        self._start()

    async def close(self) -> None:
        """Wait until every message submitted has its answer."""
        while self.running:
            await asyncio.gather(*self.running, return_exceptions=True)

    async def process(
        self, batch: list[tuple[Incoming, asyncio.Future]], again: bool = False
    ) -> None:
        try:
            await self._process(batch, again)
        finally:
            kept = self.app.get(kept_key)
            me = asyncio.current_task()
            if kept is not None and self.idle(but=me):
                await kept.release()  # nothing follows: the connection back to the pool

    def idle(self, but: asyncio.Task | None = None) -> bool:
        """Nothing waiting and no batch running (but `but`, the caller's, or one that has
        ended and whose done callback has not run yet)."""
        return not self.pending and all(t is but or t.done() for t in self.running)

    async def _process(
        self, batch: list[tuple[Incoming, asyncio.Future]], again: bool = False
    ) -> None:
        queued = outbox.enqueued
        try:
            replies = await handle_batch(self.app, [inc for inc, _ in batch])
        except IntegrityError as exc:
            if not again:
                # Another worker answered one of these messages (a WeChat retry reaching two
                # workers) while we waited for the lock: run the batch once more, it finds the
                # answer (engine_sql.lock_conversations).
                await self._process(batch, again=True)
                return
            await self._one_by_one(batch, exc)
        except Exception as exc:
            await self._one_by_one(batch, exc)
        else:
            if outbox.enqueued != queued:  # committed: the dispatcher may send them now
                outbox.wake(self.app)
            for (_, fut), reply in zip(batch, replies, strict=True):
                _settle(fut, reply)

    async def _one_by_one(
        self, batch: list[tuple[Incoming, asyncio.Future]], exc: Exception
    ) -> None:
        """After a failed batch: each message alone, so only a failing one gets the apology."""
        if len(batch) == 1:
            _settle(batch[0][1], exc=exc)
            return
        # One message failed and rolled the batch back: redo them one by one, so only
        # the failing one is answered with an apology (and retried by WeChat).
        for item in batch:
            await self._process([item])


def _settle(
    fut: asyncio.Future, reply: str | None = None, exc: BaseException | None = None
) -> None:
    if fut.done():  # the request was cancelled; its effects are committed all the same
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(reply)


batcher_key = web.AppKey("conversation_batcher", Batcher)
kept_key = web.AppKey("conversation_kept_connections", KeptConnections)


async def handle_batch(app: web.Application, incs: list[Incoming]) -> list[str | None]:
    """Handle messages together: lock their users' rows, dedupe, route, save, atomically.

    On PostgreSQL a batch first runs without a transaction (optimistic): one statement reads
    the rows, the steps run, one statement writes — if no row was written meanwhile and no
    step needed the database. Two round trips instead of four (BEGIN, lock, write, COMMIT),
    which is what a batch of menu answers, help or a form's typed answers costs. Otherwise,
    and always on sqlite (one writer, no round trips), the batch runs under the rows' lock.
    """
    if app[settings_key].is_postgres:
        replies = await _optimistic(app, incs)
        if replies is not None:
            return replies
        kept = app.get(kept_key)
        if kept is not None:  # the transaction takes a pooled connection: leave it one
            await kept.release()
    return await _locked(app, incs)


class NeedsTransaction(BaseException):
    """A step asked for the database during an optimistic run (bot.conversation._optimistic).

    A BaseException, like CancelledError: a step's `except Exception` must not swallow it and
    carry on as if its query had failed."""


class _NoDatabase:
    """The connection steps see in an optimistic run: any use ends the run."""

    def _check_loop(self) -> bool:  # Tortoise's connections.get() asks this first
        return True

    def __getattr__(self, name: str):
        raise NeedsTransaction(name)


_NO_DATABASE = _NoDatabase()


async def _optimistic(app: web.Application, incs: list[Incoming]) -> list[str | None] | None:
    """PostgreSQL, no transaction: read (unless this worker holds the rows from its last
    write: RowCache), route with no database, write if nothing changed meanwhile. A write that
    finds a row changed gives it as it is now, and the batch is routed once more with it. None
    when the batch must run under the lock instead (nothing written then)."""
    now = datetime.now(UTC)
    openids = sorted({i.openid for i in incs})
    client = app.get(kept_key) or connections.get("default")
    facts = flowkit.fact_sql()
    cache = app.get(row_cache_key)
    states = cache.get(openids) if cache is not None else {}
    answered: dict[str, str | None] = {}
    if len(states) < len(openids):
        # A WeChat retry among the messages of users held in the cache is found by the write
        # instead: its dedupe key is taken, the statement fails, the rows are dropped from
        # the cache and the batch runs again (Batcher.process), reading them.
        got = await engine_sql.read_conversations(
            client, [o for o in openids if o not in states], [i.dedupe_key for i in incs], facts
        )
        if got is None:  # a user's first message: their row is made under the lock
            return None
        states.update(got[0])
        answered = got[1]
    for _ in range(2):
        read = engine_sql.Locked(
            {o: engine_sql.hydrate(Conversation, st.raw) for o, st in states.items()},
            dict(answered),
            {o: dict(st.facts) for o, st in states.items()},
        )
        no_db = cast(BaseDBAsyncClient, _NO_DATABASE)  # whatever a step asks of it raises
        token = connections.set("default", no_db)  # also for queries not given ctx.conn
        try:
            out = await _route_batch(app, no_db, read, incs, openids, now)
        except NeedsTransaction:
            return None
        finally:
            connections.reset(token)
        try:
            ok, rows = await engine_sql.write_checked(
                client, out.new_rows, STATE_FIELDS, out.changes(), states, now, facts
            )
        except BaseException:
            if cache is not None:
                cache.drop(openids)  # e.g. a retry's dedupe key was taken: read them again
            raise
        states.update(rows)  # as written; or as they are now, to route the batch once more
        if ok:
            if cache is not None:
                cache.put(states)
            out.count(app)
            return out.replies
        if not rows:
            break  # changed, but the write saw no newer version to route with
    if cache is not None:
        cache.drop(openids)
    return None  # rows written twice meanwhile: run it under the lock


class RowCache:
    """PostgreSQL: the conversation rows this worker last read or wrote outside a transaction,
    with their xmin (engine_sql.RowState), so a user's next batch skips the read: one round
    trip instead of two. Never trusted: the write checks each row's xmin and facts, and when
    anyone wrote the row since (a staff member, another worker, this one under the lock) it
    writes nothing and gives the row as it is now.

    Bounded: least recently used out first, and none kept longer than `ttl` seconds since its
    user's last message (an idle user's row, and what it holds, does not stay in memory). Several
    workers each keep their own; nginx sends a user's messages to one of them
    (deploy/nginx.conf hashes the openid).
    """

    def __init__(self, size: int, ttl: float = 30 * 60) -> None:
        self.size, self.ttl = size, ttl
        # openid -> (when kept, by time.monotonic(), the row); oldest first
        self.rows: OrderedDict[str, tuple[float, engine_sql.RowState]] = OrderedDict()

    def get(self, openids: list[str]) -> dict[str, engine_sql.RowState]:
        got, now = {}, time.monotonic()
        for openid in openids:
            kept = self.rows.get(openid)
            if kept is not None and now - kept[0] < self.ttl:
                got[openid] = kept[1]
        return got

    def put(self, states: dict[str, engine_sql.RowState]) -> None:
        now = time.monotonic()
        for openid, state in states.items():
            self.rows[openid] = (now, state)
            self.rows.move_to_end(openid)
        self.sweep(now)

    def sweep(self, now: float | None = None) -> None:
        """Drop the oldest rows beyond the size, and those kept longer than ttl: after each
        write, and once a minute (bot.app) for a process with no traffic."""
        now = time.monotonic() if now is None else now
        while self.rows and (
            len(self.rows) > self.size or now - next(iter(self.rows.values()))[0] >= self.ttl
        ):
            self.rows.popitem(last=False)

    def drop(self, openids: Iterable[str]) -> None:
        for openid in openids:
            self.rows.pop(openid, None)


row_cache_key = web.AppKey("conversation_row_cache", RowCache)


async def _locked(app: web.Application, incs: list[Incoming]) -> list[str | None]:
    """The batch in one transaction, its users' rows locked from the first statement on."""
    now = datetime.now(UTC)
    openids = sorted({i.openid for i in incs})  # one lock order everywhere: no deadlocks
    cache = app.get(row_cache_key)
    if cache is not None:
        cache.drop(openids)  # written here without their new xmin: read them again next time
    async with in_transaction() as conn:
        # the lock, the dedupe lookup and the facts about the senders in one statement
        locked = await engine_sql.lock_conversations(
            conn, openids, [i.dedupe_key for i in incs], flowkit.fact_sql()
        )
        out = await _route_batch(app, conn, locked, incs, openids, now)
        await engine_sql.write_batch(conn, out.new_rows, STATE_FIELDS, out.changes(), now)
    out.count(app)
    return out.replies


@dataclass(slots=True)
class _Routed:
    replies: list[str | None]
    new_rows: list[tuple[str, str, str, str | None]]  # dedupe key, openid, kind, reply
    touched: dict[str, Conversation]
    loaded: dict[str, dict[str, object]]  # each conversation's state as read
    duplicates: int  # WeChat's retries, answered from the dedupe table
    limited: int  # messages over the rate limit
    completed: list[str] = field(default_factory=list)  # the flows finished, by name

    def changes(self) -> list[tuple[Conversation, set[str]]]:
        """Only what each message changed: a step may have updated another user's row
        directly (a staff reply re-attaching a user), which a full save would undo."""
        return [
            (conv, {f for f in STATE_FIELDS if _frozen(f, getattr(conv, f)) != self.loaded[o][f]})
            for o, conv in self.touched.items()
        ]

    def count(self, app: web.Application) -> None:
        """The batch's counters, once it is saved (an optimistic run may be run again)."""
        metrics = app[metrics_key]
        if self.duplicates:
            metrics.duplicates.inc(self.duplicates)
        if self.limited:
            metrics.rejected.labels("rate_limited").inc(self.limited)
        for name in self.completed:
            metrics.flow_completions.labels(name).inc()


async def _route_batch(
    app: web.Application,
    conn: BaseDBAsyncClient,
    locked: engine_sql.Locked,
    incs: list[Incoming],
    openids: list[str],
    now: datetime,
) -> _Routed:
    """Each message through dedupe, the rate limit and the router, in arrival order."""
    convs, answered = locked.convs, locked.answered
    out = _Routed([], [], {}, {o: _snapshot(c) for o, c in convs.items()}, 0, 0)
    memo: dict[str, object] = {"openids": openids, "facts": locked.facts}
    limit = app[settings_key].chat_rate_limit
    for inc in incs:
        if inc.dedupe_key in answered:
            out.duplicates += 1
            out.replies.append(answered[inc.dedupe_key])
            continue
        conv = convs[inc.openid]
        ctx = Ctx(app=app, conn=conn, conv=conv, inc=inc, now=now, memo=memo)
        limited = over_rate_limit(conv, now, limit)
        if limited:
            out.limited += 1
            reply = ctx.t("ratelimit.chat") if limited == 1 else None
        else:
            reply = await route(ctx)
        if ctx.extras and reply is not None:
            reply = "\n".join([*ctx.extras, reply])
        answered[inc.dedupe_key] = reply
        out.replies.append(reply)
        out.new_rows.append((inc.dedupe_key, inc.openid, inc.kind, reply))
        conv.version += 1
        out.touched[conv.openid] = conv
    out.completed = cast(list[str], memo.get("completed", []))
    return out


STATE_FIELDS = (
    "locale",
    "subscribed",
    "flow",
    "step",
    "data",
    "history",
    "paused",
    "expires_at",
    "rate_window",
    "rate_count",
)


JSON_FIELDS = frozenset({"data", "history", "paused"})


def _snapshot(conv: Conversation) -> dict[str, object]:
    # JSON fields are serialised (steps mutate ctx.data in place); faster than deepcopy
    return {f: _frozen(f, getattr(conv, f)) for f in STATE_FIELDS}


# One encoder for all snapshots: json.dumps with options builds a new one per call.
_freeze_json = json.JSONEncoder(sort_keys=True, default=str).encode


def _frozen(name: str, value: object) -> object:
    if name not in JSON_FIELDS:
        return value
    # most users are idle: {} / [] / None need no encoding to be told apart
    return type(value) if not value else _freeze_json(value)


RATE_WINDOW = timedelta(minutes=1)


def over_rate_limit(conv: Conversation, now: datetime, limit: int) -> int:
    """Count the message; 0 = within the limit, 1 = first one over (we say so), 2+ = silence."""
    if conv.rate_window is None or now - conv.rate_window >= RATE_WINDOW:
        conv.rate_window, conv.rate_count = now, 0
    conv.rate_count += 1
    return max(0, conv.rate_count - limit) if limit else 0


async def route(ctx: Ctx) -> str | None:
    inc = ctx.inc
    if inc.kind == "event":
        return await on_event(ctx)
    flow, step = active(ctx)
    if inc.kind == "voice" and inc.text:
        inc.kind = "text"  # WeChat's speech recognition: treat as typed text
    if inc.kind != "text":
        if step is not None and inc.kind in step.accepts and not expired(ctx, flow):
            return await run_step(ctx, flow, step)
        if flow is not None and expired(ctx, flow):
            pause(ctx, flow)
            return (
                ctx.t(
                    "resume.expired",
                    title=ctx.t(flow.title),
                    minutes=ctx.settings.conversation_timeout // 60,
                )
                + "\n\n"
                + await menu_text(ctx)
            )
        polite = ctx.t(f"unsupported.{inc.kind}" if inc.kind in _POLITE else "unsupported.other")
        return polite + ("\n\n" + await prompt_of(ctx, step) if step else "")
    ctx.text = (inc.text or "").strip()[:MAX_TEXT]
    raw_step = step is not None and step.raw
    word = command_word(ctx.text)
    if word and not (raw_step and word == "menu" and ctx.text.strip() == "0"):
        return await global_command(ctx, word, flow, step)
    if not raw_step:
        for pattern, fn in flowkit.COMMANDS:
            m = pattern.match(ctx.text)
            if m:
                return await apply(ctx, await fn(ctx, m), flow)
    if flow is not None and step is not None:
        if expired(ctx, flow):  # the answer is kept with the draft and applied on resuming
            pause(ctx, flow, late=ctx.text)
            return await apply(ctx, Start(drafts.GUARD, data={"expired": True}), None)
        return await run_step(ctx, flow, step)
    return await menu(ctx)


_POLITE = {"image", "voice", "video", "shortvideo", "location", "link"}


def active(ctx: Ctx) -> tuple[Flow | None, Step | None]:
    flow = flowkit.FLOWS.get(ctx.conv.flow or "")
    if flow is None:
        return None, None
    return flow, flow.step(ctx.conv.step)


def expired(ctx: Ctx, flow: Flow | None) -> bool:
    exp = ctx.conv.expires_at
    return bool(flow and flow.resumable and exp is not None and exp < ctx.now)


async def run_step(ctx: Ctx, flow: Flow | None, step: Step) -> str | None:
    if flow is not None and (refused := await _refused(ctx, flow)) is not None:
        return refused
    if step.choices:
        choices = await resolve_choices(ctx, step)
        ctx.choice = None
        if ctx.inc.kind == "text":
            if answers.is_list_request(ctx.text):  # 列表: the whole prompt again
                ctx.conv.expires_at = ctx.now + timedelta(seconds=ctx.settings.conversation_timeout)
                return await prompt_of(ctx, step)
            got = answers.resolve(ctx.text, choices)
            if got.value is None:
                ctx.conv.expires_at = ctx.now + timedelta(seconds=ctx.settings.conversation_timeout)
                return reprompt(ctx, len(choices), got.candidates)
            ctx.choice = got.value
    return await apply(ctx, await step.handle(ctx), flow)


def reprompt(ctx: Ctx, n: int, candidates: tuple[int, ...] = ()) -> str:
    """One line, not the whole list again: which numbers fit, or which to reply (short messages
    for elderly users; 列表 shows the options again)."""
    if candidates:
        return ctx.t("choice.ambiguous", numbers=answers.candidates_text(candidates, ctx.locale))
    if n <= 2:
        return ctx.t("choice.invalid_one" if n == 1 else "choice.invalid_two")
    return ctx.t("choice.invalid", n=n)


async def apply(ctx: Ctx, outcome: Outcome, flow: Flow | None) -> str | None:
    """Carry out a step's outcome on the state and render the reply."""
    c = ctx.conv
    timeout = timedelta(seconds=ctx.app[settings_key].conversation_timeout)
    if isinstance(outcome, Resume):
        return await resume(ctx, outcome.say)
    if isinstance(outcome, Start):
        if outcome.flow != drafts.GUARD:  # a draft is never replaced without asking
            outcome = drafts.check_start(ctx, outcome) or outcome
        target = flowkit.FLOWS[outcome.flow]
        c.flow, c.step = target.name, target.first
        c.data, c.history = dict(outcome.data or {}), []
        c.expires_at = ctx.now + timeout
        prompt = await prompt_of(ctx, target.steps[0])
        return prompt if outcome.say is None else outcome.say + "\n\n" + prompt
    if isinstance(outcome, Done):
        if flow is not None:
            ctx.memo.setdefault("completed", []).append(flow.name)  # counted once saved
        clear(ctx)
        return outcome.say
    if flow is None:  # a command answered Next/Stay with no flow: just say it
        return outcome.say
    if isinstance(outcome, Stay):
        c.expires_at = ctx.now + timeout
        if not outcome.ask:
            return outcome.say
        return outcome.say + "\n\n" + await prompt_of(ctx, flow.step(c.step))
    assert isinstance(outcome, Next)
    if c.step and c.step != outcome.step:
        c.history = [*c.history, c.step]
    c.step = outcome.step
    c.expires_at = ctx.now + timeout
    prompt = await prompt_of(ctx, flow.step(outcome.step))
    return prompt if outcome.say is None else outcome.say + "\n\n" + prompt


async def global_command(ctx: Ctx, word: str, flow: Flow | None, step: Step | None) -> str | None:
    c = ctx.conv
    if word == "menu":
        if flow is not None and flow.resumable:
            pause(ctx, flow)
            return ctx.t("menu.paused", title=ctx.t(flow.title)) + "\n\n" + await menu_text(ctx)
        clear(ctx)
        return await menu_text(ctx)
    if word == "help":
        text = await flowkit.help_text(ctx)
        return text + ("\n\n" + await prompt_of(ctx, step) if step else "")
    if word == "cancel":
        if flow is None and c.paused and c.paused.get("flow") in flowkit.FLOWS:
            title = ctx.t(flowkit.FLOWS[c.paused["flow"]].title)  # 取消 drops a paused draft
            c.paused = None
            return ctx.t("cancel.done", title=title) + "\n\n" + await menu_text(ctx)
        if flow is None:
            return ctx.t("cancel.nothing") + "\n\n" + await menu_text(ctx)
        if flow.on_cancel:
            await flow.on_cancel(ctx)
        clear(ctx)
        return ctx.t("cancel.done", title=ctx.t(flow.title)) + "\n\n" + await menu_text(ctx)
    if word == "back":
        if flow is None or step is None:  # (a step always comes with its flow)
            return ctx.t("back.nothing") + "\n\n" + await menu_text(ctx)
        if not c.history:
            return ctx.t("back.first") + "\n\n" + await prompt_of(ctx, step)
        *rest, previous = c.history
        c.history, c.step = rest, previous
        c.expires_at = ctx.now + timedelta(seconds=ctx.app[settings_key].conversation_timeout)
        return await prompt_of(ctx, flow.step(previous))
    if word in ("lang_zh", "lang_en"):
        c.locale = "zh_CN" if word == "lang_zh" else "en"
        tail = await prompt_of(ctx, step) if step else await menu_text(ctx)
        return ctx.t("language.switched") + "\n\n" + tail
    if word == "resume":
        has_paused = bool(c.paused and c.paused.get("flow") in flowkit.FLOWS)
        if flow is not None and step is not None and (flow.resumable or not has_paused):
            # nothing set aside: go on with what is open (never the menu under an open flow)
            c.expires_at = ctx.now + timedelta(seconds=ctx.settings.conversation_timeout)
            return (
                ctx.t("resume.current", title=ctx.t(flow.title))
                + "\n\n"
                + await prompt_of(ctx, step)
            )
        return await resume(ctx)
    if word == "human":
        name = flowkit.GLOBAL_FLOWS.get("human")
        if name in flowkit.FLOWS:
            if flow is not None and flow.name != name and flow.resumable:
                pause(ctx, flow)
            return await apply(ctx, Start(name), None)
        return ctx.t("human.not_ready")
    raise AssertionError(word)


async def _refused(ctx: Ctx, flow: Flow) -> str | None:
    """The flow's guard said no: the flow ends, with its refusal and the menu."""
    if flow.guard is None:
        return None
    refusal = await flow.guard(ctx)
    if refusal is None:
        return None
    clear(ctx)
    return refusal + "\n\n" + await menu_text(ctx)


async def resume(ctx: Ctx, say: str | None = None) -> str | None:
    """Back to the paused flow where it stopped, applying the answer that came too late."""
    c = ctx.conv
    paused = c.paused
    if not paused or paused.get("flow") not in flowkit.FLOWS:
        clear(ctx)
        return ctx.t("resume.nothing") + "\n\n" + await menu_text(ctx)
    target = flowkit.FLOWS[paused["flow"]]
    if (refused := await _refused(ctx, target)) is not None:
        c.paused = None  # a draft its user may no longer finish
        return refused
    c.flow, c.step = target.name, paused.get("step") or target.first
    c.data, c.history, c.paused = paused.get("data") or {}, paused.get("history") or [], None
    c.expires_at = ctx.now + timedelta(seconds=ctx.settings.conversation_timeout)
    step = target.step(c.step) or target.steps[0]
    head = ctx.t("resume.done", title=ctx.t(target.title))
    if say:
        head = say + "\n" + head
    late = paused.get("late")
    if late is not None and step.name == c.step:
        ctx.text = late
        reply = await run_step(ctx, target, step)
        return head + ("\n\n" + reply if reply else "")
    return head + "\n\n" + await prompt_of(ctx, step)


async def on_event(ctx: Ctx) -> str | None:
    inc, c = ctx.inc, ctx.conv
    event = inc.event or ""
    if event == "unsubscribe":
        c.subscribed = False
        clear(ctx)
        c.paused = None
        log.info("unsubscribed %s", mask_openid(inc.openid))
        return None
    if event in ("subscribe", "subscribe_scan"):
        c.subscribed = True
        welcome = ctx.t("welcome")
        if event == "subscribe_scan" and inc.event_key:
            return welcome + "\n\n" + await on_scene(ctx, inc.event_key)
        _, step = active(ctx)
        return welcome + "\n\n" + await prompt_of(ctx, step)
    if event == "scan" and inc.event_key:
        return await on_scene(ctx, inc.event_key)
    if event == "click" and inc.event_key:
        word = CLICK_KEYS.get(inc.event_key.upper())
        flow, step = active(ctx)
        if word:
            return await global_command(ctx, word, flow, step)
        ctx.text = inc.event_key
        return await menu(ctx, by_key=inc.event_key.lower())
    return None  # view, location reports, template delivery receipts ...: nothing to say


# Custom-menu CLICK keys configured in the official account's menu (see README).
CLICK_KEYS = {"MENU": "menu", "HELP": "help", "HUMAN": "human", "LANG": "lang_en"}


async def on_scene(ctx: Ctx, scene: str) -> str:
    prefix, _, rest = scene.partition(":")
    handler = flowkit.SCENES.get(prefix)
    flow, step = active(ctx)
    if handler is None:  # the open step's prompt, if any: a menu would not answer it
        return ctx.t("scene.unknown") + "\n\n" + await prompt_of(ctx, step)
    reply = await apply(ctx, await handler(ctx, rest), flow)
    return reply or ""


async def resolve_choices(ctx: Ctx, step: Step) -> list[flowkit.Choice]:
    return list(await step.choices(ctx) if callable(step.choices) else step.choices)


def pick(text: str, choices: list[flowkit.Choice], locale: str | None = None) -> str | None:
    """The value an answer picks (bot.answers reads numbers, words, yes/no), None if unclear."""
    return answers.resolve(text, choices).value


async def prompt_of(ctx: Ctx, step: Step | None) -> str:
    if step is None:
        return await menu_text(ctx)
    text = ctx.t(step.prompt) if isinstance(step.prompt, str) else await step.prompt(ctx)
    if isinstance(text, Done):  # nothing to ask: the flow ends here, the menu follows
        clear(ctx)
        return text.say + "\n\n" + await menu_text(ctx)
    if step.choices:
        choices = await resolve_choices(ctx, step)
        lines = [
            f"{i}. {ctx.t(ch.label, **(ch.label_fields or {}))}"
            for i, ch in enumerate(choices, start=1)
        ]
        text += "\n" + "\n".join(lines)
    return text + ("\n" + ctx.t(step.hint) if step.hint else "")


async def menu_text(ctx: Ctx) -> str:
    return await flowkit.main_menu().render(ctx)


async def menu(ctx: Ctx, by_key: str | None = None) -> str | None:
    flow, _ = active(ctx)
    if flow is not None:  # a custom-menu click during a flow: set it aside like 菜单 does
        pause(ctx, flow) if flow.resumable else clear(ctx)
    outcome = await flowkit.main_menu().choose(ctx, by_key=by_key)
    return await apply(ctx, outcome, None)
