"""Production conventions: settings from a hosting platform, secrets kept secret, the console
script, and a loud failure when a Tortoise upgrade breaks the one private API we rely on."""

from __future__ import annotations

import inspect
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from tortoise import Tortoise
from tortoise.models import Model

from bot.cli.core import dev_banner
from bot.settings import SECRET_FIELDS, Settings, reveal

ROOT = Path(__file__).resolve().parent.parent


def test_database_url_is_the_fallback(monkeypatch):
    monkeypatch.delenv("BOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/aid")
    assert Settings(_env_file=None).db_url == "postgres://u:p@db:5432/aid"
    monkeypatch.setenv("BOT_DATABASE_URL", "postgres://u:p@other:5432/aid")
    assert Settings(_env_file=None).db_url == "postgres://u:p@other:5432/aid"
    assert Settings(_env_file=None, database_url="sqlite://:memory:").db_url == "sqlite://:memory:"


def test_secrets_are_secretstr_and_never_printed(monkeypatch, tmp_path):
    values = {name: f"s3cr3t-{name}" for name in SECRET_FIELDS}
    for name, value in values.items():
        monkeypatch.setenv("BOT_" + name.upper(), value)
    s = Settings(_env_file=None, data_dir=tmp_path)
    for name, value in values.items():
        assert isinstance(getattr(s, name), SecretStr), name
        assert reveal(getattr(s, name)) == value
    shown = repr(s) + str(s) + s.model_dump_json()
    assert not any(v in shown for v in values.values())
    # model_copy (used by the tests and resolve_dev_defaults) keeps them secret too
    copy = s.model_copy(update={"secret_key": "another"})
    assert isinstance(copy.secret_key, SecretStr) and reveal(copy.secret_key) == "another"


def test_dev_banner_prints_no_secret(tmp_path):
    s = Settings(_env_file=None, data_dir=tmp_path).resolve_dev_defaults()
    banner = dev_banner(s, "127.0.0.1", 8080)
    assert s.dev_credentials and "dev-secrets.json" in banner
    for name in SECRET_FIELDS:
        value = reveal(getattr(s, name))
        assert not value or value not in banner, name


def test_console_script_is_python_m_bot():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["scripts"]["legal-aid-bot"] == "bot.__main__:main"
    deps = " ".join(project["dependencies"])
    assert "cryptography" in deps and "xmltodict" in deps  # imported directly by our code
    script = Path(sys.executable).with_name("legal-aid-bot")
    if script.exists():  # installed with pip install -e .
        out = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
        assert "serve" in out.stdout and "migrate" in out.stdout


def test_procfile_migrates_in_the_release_phase():
    lines = (ROOT / "Procfile").read_text("utf-8").splitlines()
    assert "release: python -m bot migrate" in lines
    assert any(line.startswith("web: python -m bot serve") for line in lines)


def test_private_tortoise_api_init_from_db_is_still_there():
    """bot/engine_sql.py hydrates rows with `Model._init_from_db(**row)`, a private API. An
    upgrade of tortoise-orm that renames it or changes its call shape fails here, by name."""
    init = getattr(Model, "_init_from_db", None)
    assert init is not None, "tortoise-orm removed Model._init_from_db: update bot/engine_sql.py"
    params = inspect.signature(init).parameters
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), (
        "Model._init_from_db no longer takes the row as keyword arguments: "
        "update bot/engine_sql.py's hydrate()"
    )


def test_private_sqlite_names_the_inline_client_uses_are_still_there():
    """bot/sqlite_client.py runs some statements on the loop's thread through aiosqlite's
    `Connection._conn` and `Connection._execute`, and replaces the `begin` of Tortoise's sqlite
    transaction. An upgrade that moves any of them fails here, by name."""
    import aiosqlite
    from tortoise.backends.sqlite.client import (
        SqliteClient,
        SqliteTransactionContext,
        SqliteTransactionWrapper,
    )

    assert isinstance(getattr(aiosqlite.Connection, "_conn", None), property), (
        "aiosqlite.Connection._conn is gone: update bot/sqlite_client.py"
    )
    run = getattr(aiosqlite.Connection, "_execute", None)
    assert inspect.iscoroutinefunction(run), "aiosqlite.Connection._execute is gone"
    assert list(inspect.signature(run).parameters)[:2] == ["self", "fn"]
    for name in ("begin", "commit", "rollback"):
        assert inspect.iscoroutinefunction(getattr(SqliteTransactionWrapper, name, None)), name
    assert list(inspect.signature(SqliteTransactionContext).parameters)[:2] == [
        "connection",
        "trxlock",
    ]
    assert inspect.iscoroutinefunction(getattr(SqliteClient, "_post_connect", None))


@pytest.mark.db
async def test_sqlite_statements_on_the_loops_thread_share_the_transaction(app):
    """On sqlite the engine reads on the loop's thread and writes in one hand-off to the
    worker thread: both inside the same transaction, a failure rolls all of it back."""
    from tortoise import connections
    from tortoise.exceptions import IntegrityError
    from tortoise.transactions import in_transaction

    from models.inbound import InboundMessage

    client = connections.get("default")
    if client.capabilities.dialect != "sqlite":
        pytest.skip("the sqlite client's own behaviour")
    assert type(client).__module__ == "bot.sqlite_client"
    insert = 'INSERT INTO "inbound_message" ("dedupe_key", "openid", "msg_type", "received_at")'

    async def batch() -> None:
        async with in_transaction() as tx:
            await InboundMessage.create(dedupe_key="m:1", openid="o-1", msg_type="text")
            rows = tx.inline().execute('SELECT "openid" FROM "inbound_message"').fetchall()
            assert [r[0] for r in rows] == ["o-1"]  # the read sees the transaction's write
            await tx.run_in_worker(
                lambda raw: raw.execute(insert + " VALUES ('m:2', 'o-2', 'text', '2026-01-01')")
            )
            assert await InboundMessage.all().using_db(tx).count() == 2
            await tx.run_in_worker(  # the same key again: the unique index refuses it
                lambda raw: raw.execute(insert + " VALUES ('m:1', 'o-3', 'text', '2026-01-01')")
            )

    with pytest.raises(IntegrityError):
        await batch()
    assert await InboundMessage.all().count() == 0  # nothing of it was committed
    async with in_transaction():  # and the connection takes the next transaction
        await InboundMessage.create(dedupe_key="m:3", openid="o-3", msg_type="text")
    assert await InboundMessage.all().count() == 1
    # The engine's last statements and the COMMIT in one hand-off; the context ends quietly.
    async with in_transaction() as tx:
        await tx.run_and_commit(
            lambda raw: raw.execute(insert + " VALUES ('m:4', 'o-4', 'text', '2026-01-01')")
        )
    assert await InboundMessage.all().count() == 2

    async def failing_last() -> None:
        async with in_transaction() as tx:
            await InboundMessage.create(dedupe_key="m:5", openid="o-5", msg_type="text")
            await tx.run_and_commit(
                lambda raw: raw.execute(insert + " VALUES ('m:4', 'o-6', 'text', '2026-01-01')")
            )

    with pytest.raises(IntegrityError):  # a failing last statement: nothing committed
        await failing_last()
    assert sorted(await InboundMessage.all().values_list("dedupe_key", flat=True)) == [
        "m:3",
        "m:4",
    ]


@pytest.mark.db
async def test_hydrate_builds_what_the_orm_reads(app):
    """hydrate() (engine_sql, through _init_from_db) gives the same instance as a query."""
    from bot.engine_sql import hydrate
    from models.conversation import Conversation

    expires = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    await Conversation.create(
        openid="o-hydrate",
        locale="en",
        flow="complaint",
        step="text",
        data={"a": [1, "二"]},
        expires_at=expires,
        version=3,
    )
    conn = Tortoise.get_connection("default")
    table = Conversation._meta.db_table
    _, rows = await conn.execute_query(f'SELECT * FROM "{table}"')  # the one row
    built = hydrate(Conversation, rows[0])
    read = await Conversation.get(openid="o-hydrate")
    for name in Conversation._meta.fields_map:
        assert getattr(built, name) == getattr(read, name), name
    assert built._saved_in_db and built.pk == "o-hydrate"
    built.step = "phone"
    await built.save(update_fields=["step"])  # the hydrated instance saves like a read one
    assert (await Conversation.get(openid="o-hydrate")).step == "phone"


@pytest.mark.db
async def test_a_pooled_connection_is_released_without_a_reset_round_trip(app):
    """bot.db.release_connection replaces asyncpg's per-release reset query; the connection
    still comes back usable and outside any transaction."""
    from tortoise import connections

    from bot.db import release_connection

    client = connections.get("default")
    if client.capabilities.dialect != "postgres":
        pytest.skip("a PostgreSQL pool setting")
    assert client._pool._reset is release_connection  # what tortoise passed to create_pool
    for _ in range(3):
        async with client.acquire_connection() as raw:
            assert not raw.is_in_transaction()
            assert await raw.fetchval("SELECT 1") == 1


def _spy(monkeypatch, module, name: str) -> list:
    """Calls of module.name (its results), the function still doing its work."""
    real, calls = getattr(module, name), []

    async def spy(*args, **kwargs):
        calls.append(await real(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(module, name, spy)
    return calls


def _row_cache(app):
    from tests.conftest import PG_URL

    if not PG_URL:
        pytest.skip("the row cache is PostgreSQL's: sqlite runs every batch under its lock")
    from bot.conversation import row_cache_key

    return app.app[row_cache_key]


@pytest.mark.db
@pytest.mark.parametrize("staff_writes", [1, 2])
async def test_a_row_written_between_read_and_write_is_answered_as_it_is_now(
    app, user, monkeypatch, staff_writes
):
    """PostgreSQL runs a chat batch without a transaction first. A write to the user's row
    in between (a staff member's, which does not bump the version) must make it write
    nothing; the write gives the row as it is now and the batch is routed again with it,
    answering in the row's new language. Written again before that second write too, the
    batch runs under the lock."""
    import asyncpg

    from bot import conversation, engine_sql
    from models.conversation import Conversation
    from models.inbound import InboundMessage
    from tests.conftest import PG_URL

    if not PG_URL:
        pytest.skip("sqlite runs every batch under its one writer's lock")
    assert "使用说明" in await user.say("帮助")  # the row exists: the next batch is optimistic
    real, outcomes = engine_sql.write_checked, []

    async def staff_writes_first(*args, **kwargs):
        if len(outcomes) < staff_writes:
            other = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1))
            try:  # what a direct update does: the row changes, its version does not
                await other.execute(
                    'UPDATE "conversation" SET "locale" = $1 WHERE "openid" = $2',
                    "en",
                    user.openid,
                )
            finally:
                await other.close()
        outcomes.append(await real(*args, **kwargs))
        return outcomes[-1]

    monkeypatch.setattr(engine_sql, "write_checked", staff_writes_first)
    locked = _spy(monkeypatch, conversation, "_locked")
    reply = await user.say("帮助")
    wrote = [ok for ok, _ in outcomes]
    assert wrote == ([False, True] if staff_writes == 1 else [False, False])
    assert len(locked) == staff_writes - 1  # written twice meanwhile: under the lock
    assert "使用说明" not in reply and "How to use" in reply  # the row as it is now
    conv = await Conversation.get(openid=user.openid)
    assert conv.locale == "en" and conv.version == 2  # both writes are there
    assert await InboundMessage.filter(openid=user.openid).count() == 2  # recorded once


@pytest.mark.db
async def test_a_row_committed_while_the_write_waits_for_its_lock_runs_under_the_lock(
    app, user, monkeypatch
):
    """The checked write waits for a row another transaction holds; that one commits. The
    statement's own view of the row is older than what it waited for, so there is nothing
    newer to route with: the batch goes straight to the lock and answers from the new row."""
    import asyncio

    import asyncpg

    from bot import conversation, engine_sql
    from tests.conftest import PG_URL

    _row_cache(app)
    await user.say("帮助")
    await user.say("帮助")  # kept
    writes = _spy(monkeypatch, engine_sql, "write_checked")
    locked = _spy(monkeypatch, conversation, "_locked")
    other = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1))
    try:
        staff = other.transaction()
        await staff.start()
        await other.execute(
            'UPDATE "conversation" SET "locale" = $1 WHERE "openid" = $2', "en", user.openid
        )
        answer = asyncio.create_task(user.say("帮助"))
        await asyncio.sleep(0.5)
        assert not answer.done()  # the write waits for the row
        await staff.commit()
        reply = await asyncio.wait_for(answer, 10)
    finally:
        await other.close()
    assert "How to use" in reply
    assert writes == [(False, {})] and len(locked) == 1


@pytest.mark.db
async def test_a_step_that_needs_the_database_runs_under_the_lock(app, user, monkeypatch):
    """PostgreSQL: a batch whose step reads or writes (here 人工 opens a ticket) leaves the
    optimistic run before anything is written, and runs in a transaction."""
    from bot import conversation, engine_sql
    from tests.conftest import PG_URL

    if not PG_URL:
        pytest.skip("the optimistic run is PostgreSQL's")
    await user.say("帮助")
    writes, locked = [], []
    real_write, real_locked = engine_sql.write_checked, conversation._locked

    async def spy_write(*args, **kwargs):
        writes.append(1)
        return await real_write(*args, **kwargs)

    async def spy_locked(app_, incs):
        locked.append(len(incs))
        return await real_locked(app_, incs)

    monkeypatch.setattr(engine_sql, "write_checked", spy_write)
    monkeypatch.setattr(conversation, "_locked", spy_locked)
    assert await user.say("帮助") and (writes, locked) == ([1], [])  # optimistic, two trips
    await user.say("人工")
    assert (writes, locked) == ([1], [1])  # the step asked for the database: locked instead


@pytest.mark.db
async def test_a_users_next_batch_skips_the_read(app, user, monkeypatch):
    """PostgreSQL: after a batch wrote a user's row, the worker keeps it with its xmin; the
    user's next message is answered in one round trip (the checked write), not two."""
    from bot import conversation, engine_sql

    _row_cache(app)
    await user.say("帮助")  # first message: the row is made under the lock
    reads = _spy(monkeypatch, engine_sql, "read_conversations")
    writes = _spy(monkeypatch, engine_sql, "write_checked")
    locked = _spy(monkeypatch, conversation, "_locked")
    await user.say("帮助")
    assert (len(reads), len(writes), locked) == (1, 1, [])  # read, then kept
    assert "Switched to English" in await user.say("English")
    assert "How to use" in await user.say("帮助")  # the kept row, as the last write left it
    assert (len(reads), len(writes), locked) == (1, 3, [])


@pytest.mark.db
async def test_a_row_another_worker_wrote_is_not_taken_from_the_cache(app, user, monkeypatch):
    """Two workers each keep the rows they wrote; a user whose messages alternate between them
    (no sticky routing) must never be answered from a row the other one has since changed.
    The write that finds it changed gives it as it is now: still two round trips, no lock."""
    from bot import conversation, engine_sql

    cache = _row_cache(app)
    await user.say("帮助")
    await user.say("帮助")  # kept by worker A
    worker_a, cache.rows = cache.rows, type(cache.rows)()  # now worker B, which keeps nothing
    assert "Switched to English" in await user.say("English")
    worker_b, cache.rows = cache.rows, worker_a  # back to A, which holds the row in Chinese
    writes = _spy(monkeypatch, engine_sql, "write_checked")
    locked = _spy(monkeypatch, conversation, "_locked")
    assert "How to use" in await user.say("帮助")  # routed again with the row as it is now
    assert [ok for ok, _ in writes] == [False, True] and locked == []
    assert "How to use" in await user.say("帮助")  # and kept: one write
    cache.rows = worker_b  # B's row is two writes old
    assert "已切换为中文" in await user.say("中文")
    assert "使用说明" in await user.say("帮助")
    assert [ok for ok, _ in writes] == [False, True, True, False, True, True] and locked == []


@pytest.mark.db
async def test_a_retry_of_a_message_answered_from_the_cache_gets_the_first_reply(app, user):
    """WeChat resends a message it got no answer to in time. Answered from a kept row, the
    batch skipped the dedupe lookup: the write finds the message's key taken, writes nothing,
    and the batch runs again, reading the first reply. The message is recorded once."""
    from models.conversation import Conversation
    from models.inbound import InboundMessage

    _row_cache(app)
    await user.say("帮助")
    await user.say("帮助")
    first = await user.say("English", msg_id=4242)
    version = (await Conversation.get(openid=user.openid)).version
    assert await user.say("English", msg_id=4242) == first
    assert await InboundMessage.filter(dedupe_key__endswith="4242").count() == 1
    assert (await Conversation.get(openid=user.openid)).version == version  # not handled twice
    assert "How to use" in await user.say("帮助")


@pytest.mark.db
async def test_a_user_made_an_agent_in_the_console_gets_the_agents_menu(app, user):
    """Facts about a user (is this an agent?) live in other tables: binding an agent in the
    console changes no conversation row. The checked write compares the facts too, so a kept
    row with the old facts is not used."""
    from models.agent import Agent

    _row_cache(app)
    await user.say("帮助")
    assert "我的申请" not in await user.say("菜单")  # kept, with 'no agent'
    await Agent.create(
        name="王五", region="330602", village="东浦村", kind="agent", oa_openid=user.openid
    )
    assert "我的申请" in await user.say("菜单")


@pytest.mark.db
@pytest.mark.parametrize("lanes", [1, 2, 8])
async def test_connections_are_kept_between_batches_and_given_back_when_idle(
    app, make_user, monkeypatch, lanes
):
    """PostgreSQL: optimistic batches that follow each other keep their connection out of the
    pool (fewer acquires than statements); once nothing is waiting it goes back. With more
    lanes than the pool has connections (5), lanes falling back to a transaction (first
    messages) still get one: nothing waits for a connection kept idle."""
    import asyncio

    from bot import conversation, engine_sql
    from bot.conversation import batcher_key, kept_key

    _row_cache(app)
    app.app[batcher_key].lanes = lanes
    kept = app.app[kept_key]
    pool = await kept.pool()
    real_acquire, acquired = type(pool).acquire, []

    def acquire(self, *args, **kwargs):
        acquired.append(1)
        return real_acquire(self, *args, **kwargs)

    monkeypatch.setattr(type(pool), "acquire", acquire)
    reads = _spy(monkeypatch, engine_sql, "read_conversations")
    writes = _spy(monkeypatch, engine_sql, "write_checked")
    locked = _spy(monkeypatch, conversation, "_locked")
    users = [make_user(f"o-kept-{i}") for i in range(12)]

    async def chat() -> list:
        await asyncio.gather(*(u.say("帮助") for u in users))  # first messages: locked
        return await asyncio.gather(*(u.say(w) for u in users for w in ("帮助", "菜单", "帮助")))

    replies = await asyncio.wait_for(chat(), 60)
    assert all(replies) and len(writes) > 1
    statements = len(reads) + len(writes)
    if lanes == 1:  # a transaction takes one; statements that follow each other share one
        assert len(acquired) < len(locked) + statements
    assert kept.spare == []  # back in the pool
    assert pool.get_idle_size() == pool.get_size()


@pytest.mark.db
async def test_a_kept_connection_postgresql_ended_is_not_used_again(app):
    """A kept connection that PostgreSQL closed (a restart, pg_terminate_backend) is dropped:
    the statement that finds it dead fails, the next one runs on a fresh connection."""
    import asyncio

    import asyncpg
    from tortoise import connections

    from bot.asyncpg_client import KeptConnections
    from tests.conftest import PG_URL

    if not PG_URL:
        pytest.skip("a PostgreSQL client")
    kept = KeptConnections(connections.get("default"))
    pid = (await kept.execute_query("SELECT pg_backend_pid() AS pid"))[1][0]["pid"]
    assert len(kept.spare) == 1  # kept
    other = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1))
    try:
        await other.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await other.close()
    await asyncio.sleep(0.2)
    try:
        rows = (await kept.execute_query("SELECT pg_backend_pid() AS pid"))[1]
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError):
        rows = (await kept.execute_query("SELECT pg_backend_pid() AS pid"))[1]  # noticed late
    assert rows[0]["pid"] != pid
    await kept.release()
    assert kept.spare == []


def test_the_row_cache_keeps_the_most_recent_users(monkeypatch):
    import time

    from bot.conversation import RowCache
    from bot.engine_sql import RowState

    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    cache = RowCache(2, ttl=60)
    state = RowState({}, "1", {}, None)
    cache.put({"a": state, "b": state})
    cache.put({"a": state})  # a is now the most recent
    cache.put({"c": state})
    assert sorted(cache.rows) == ["a", "c"]
    cache.drop(["a", "x"])
    assert list(cache.rows) == ["c"]
    clock[0] += 61  # c's user has been idle for longer than the ttl
    assert cache.get(["c"]) == {}
    cache.put({"d": state})
    assert list(cache.rows) == ["d"]  # c went with the next write


@pytest.mark.db
async def test_facts_read_while_waiting_for_a_users_lock_are_asked_again(app):
    """PostgreSQL: a batch that waits for a user's row (another worker's batch binds them as
    an agent) must not take the facts its statement read before that commit."""
    import asyncio

    import asyncpg
    from tortoise.transactions import in_transaction

    from bot import engine_sql, flowkit
    from models.agent import Agent
    from models.conversation import Conversation
    from tests.conftest import PG_URL

    if not PG_URL:
        pytest.skip("row locks that wait are PostgreSQL's (sqlite has one writer)")
    await Conversation.create(openid="o-binding")
    agent = await Agent.create(name="王五", region="330602", village="东浦村", kind="agent")
    other = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1))
    try:
        binding = other.transaction()  # the other worker's batch: bind, bump the row, commit
        await binding.start()
        await other.execute(
            'UPDATE "conversation" SET "version" = "version" + 1 WHERE "openid" = $1', "o-binding"
        )
        await other.execute(
            'UPDATE "agent" SET "oa_openid" = $1 WHERE "id" = $2', "o-binding", agent.id
        )

        async def batch() -> engine_sql.Locked:
            async with in_transaction() as conn:
                return await engine_sql.lock_conversations(
                    conn, ["o-binding"], ["m:1"], flowkit.fact_sql()
                )

        waiting = asyncio.create_task(batch())
        await asyncio.sleep(0.5)
        assert not waiting.done()  # it waits for the row's lock
        await binding.commit()
        locked = await asyncio.wait_for(waiting, 10)
    finally:
        await other.close()
    assert locked.convs["o-binding"].version == 1  # the row as the other batch left it
    # the facts read before that commit are not given as true: asked again after the lock
    assert locked.facts["o-binding"].get("agent_id", flowkit.UNKNOWN) in (agent.id, flowkit.UNKNOWN)
