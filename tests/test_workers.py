"""Several worker processes on one PostgreSQL database, and faults under load.

Each test starts real `python -m bot serve` processes (the fake WeChat API runs in the test
process on localhost) and talks to them over HTTP exactly as WeChat does. They need PostgreSQL:
sqlite has one writing process. CI runs them in its PostgreSQL pass.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from wechatpy.crypto import WeChatCrypto

from bot.wechat.protocol import build_text_xml, encrypted_request, reply_content
from tests.conftest import ACCOUNT, AES_KEY, PG_URL, TOKEN
from tests.fake_wechat import OA_APP_ID, OA_SECRET

pytestmark = [
    pytest.mark.db,
    pytest.mark.slow,
    pytest.mark.skipif(
        not PG_URL,
        reason="several workers need PostgreSQL: set "
        "BOT_TEST_DATABASE_URL (CI does in its PostgreSQL pass)",
    ),
]
ROOT = Path(__file__).resolve().parent.parent
CRYPTO = WeChatCrypto(TOKEN, AES_KEY, OA_APP_ID)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def pg(sql: str, *args):
    conn = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1))
    try:
        if ";" in sql.strip().rstrip(";"):  # several statements: simple protocol, no results
            await conn.execute(sql)
            return []
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


class Worker:
    """One `python -m bot serve` process."""

    def __init__(self, tmp: Path, api_base: str, **env: str) -> None:
        self.port = free_port()
        self.log = tmp / f"worker-{self.port}.log"
        self.env = {
            **os.environ,
            "BOT_DATABASE_URL": PG_URL,
            "BOT_DATA_DIR": str(tmp),
            "BOT_WECHAT_TOKEN": TOKEN,
            "BOT_WECHAT_AES_KEY": AES_KEY,
            "BOT_WECHAT_APP_ID": OA_APP_ID,
            "BOT_WECHAT_APP_SECRET": OA_SECRET,
            "BOT_WECHAT_API_BASE": api_base,
            "BOT_SECRET_KEY": "test-secret-key-not-for-production",
            "BOT_OUTBOX_INTERVAL": "0.2",
            "BOT_SCHEDULER_INTERVAL": "0.3",
            "PYTHONPATH": str(ROOT),
            **env,
        }
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Worker:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        async with aiohttp.ClientSession() as s:
            for _ in range(600):  # 60 s: start-up (imports, migration check) on a busy machine
                try:
                    async with s.get(self.url + "/healthz") as r:
                        if r.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.1)
        raise RuntimeError("worker did not start:\n" + self.log.read_text()[-3000:])

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
async def workers(tmp_path, fake_wechat):
    await pg("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    started: list[Worker] = []

    async def start(n: int = 2, **env: str) -> list[Worker]:
        new = [Worker(tmp_path, fake_wechat.url, **env) for _ in range(n)]
        started.extend(new)  # before starting: one that never answers is stopped all the same
        for w in new:  # one after the other: the first migrates, the rest find it done
            await w.start()
        return new

    yield start
    for w in started:
        w.stop()
    await pg("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")


def signed_message(openid: str, text: str, msg_id: int) -> tuple[dict, bytes]:
    query, body = encrypted_request(
        CRYPTO,
        TOKEN,
        build_text_xml(openid, ACCOUNT, text, msg_id),
        ACCOUNT,
        nonce=str(random.randint(10**8, 10**9)),
    )
    return query, body.encode()


async def post(session: aiohttp.ClientSession, worker: Worker, query: dict, body: bytes):
    async with session.post(worker.url + "/wechat", params=query, data=body) as r:
        return r.status, await r.text()


async def test_one_message_delivered_to_both_workers_is_handled_once(workers):
    a, b = await workers(2)
    async with aiohttp.ClientSession() as s:
        for i in range(20):
            query, body = signed_message(f"o-both-{i}", "7", 5000 + i)  # 7 toggles the language
            (sa, ra), (sb, rb) = await asyncio.gather(
                post(s, a, query, body), post(s, b, query, body)
            )
            assert sa == sb == 200
            assert reply_content(CRYPTO, query, ra) == reply_content(CRYPTO, query, rb)
    rows = await pg("SELECT locale, version FROM conversation WHERE openid LIKE 'o-both-%'")
    assert len(rows) == 20 and all(r["locale"] == "en" and r["version"] == 1 for r in rows)


async def test_one_users_messages_spread_over_workers_apply_in_order(workers):
    a, b = await workers(2)
    async with aiohttp.ClientSession() as s:
        msgs = [signed_message("o-spread", "7", 7000 + i) for i in range(30)]
        results = await asyncio.gather(
            *(post(s, (a, b)[i % 2], q, body) for i, (q, body) in enumerate(msgs))
        )
    assert all(status == 200 for status, _ in results)
    row = (await pg("SELECT locale, version FROM conversation WHERE openid='o-spread'"))[0]
    # 30 toggles applied one after the other end where they started; a lost update would not
    assert row["version"] == 30 and row["locale"] == "zh_CN"


async def test_each_outbox_row_is_sent_once_and_each_job_runs_once(workers, fake_wechat):
    a, b = await workers(2)
    values = ", ".join(
        f"('w:{i}', 'wechat_text', 'o-push-{i}', '{{\"text\": \"hello {i}\"}}', 'test', "
        f"'pending', 0, now(), now())"
        for i in range(60)
    )
    await pg(
        "INSERT INTO outbox (dedupe_key, channel, recipient, payload, kind, status, "
        f"attempts, next_attempt_at, created_at) VALUES {values}"
    )
    for _ in range(600):  # up to 60 s on a busy machine; done as soon as all are sent
        sent = await pg("SELECT count(*) AS n FROM outbox WHERE status='sent'")
        if sent[0]["n"] == 60:
            break
        await asyncio.sleep(0.1)
    calls = fake_wechat.bodies("message/custom/send")
    assert sorted(c["touser"] for c in calls) == sorted(f"o-push-{i}" for i in range(60))
    await asyncio.sleep(1.0)  # several scheduler ticks in both workers
    runs = await pg("SELECT name, period, count(*) AS n FROM job_run GROUP BY name, period")
    assert runs and all(r["n"] == 1 for r in runs)
    total = 0
    async with aiohttp.ClientSession() as s:
        for w in (a, b):
            async with s.get(w.url + "/metrics") as r:
                for line in (await r.text()).splitlines():
                    if line.startswith("scheduler_jobs_total{"):
                        total += float(line.rsplit(" ", 1)[1])
    assert total == len(runs)  # every (job, period) ran in exactly one worker


async def test_sigkill_under_load_loses_no_acknowledged_message(workers):
    a, b = await workers(2)
    acked: list[tuple[dict, bytes, int]] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:

        async def send(i: int, target: Worker) -> None:
            query, body = signed_message(f"o-load-{i % 40}", "7", 9000 + i)
            try:
                status, _ = await post(s, target, query, body)
            except aiohttp.ClientError:
                return  # not acknowledged: WeChat would retry it
            if status == 200:
                acked.append((query, body, 9000 + i))

        load = asyncio.gather(*(send(i, a) for i in range(300)))
        while len(acked) < 30 and not load.done():  # kill it in the middle of the load
            await asyncio.sleep(0.005)
        a.kill()
        await load
        handled = {r["dedupe_key"] for r in await pg("SELECT dedupe_key FROM inbound_message")}
        assert acked, "the worker was killed before answering anything; raise the load"
        assert {f"m:{mid}" for _, _, mid in acked} <= handled
        # WeChat retries everything (acknowledged or not) on the surviving worker
        before = {
            r["openid"]: r["version"] for r in await pg("SELECT openid, version FROM conversation")
        }
        for query, body, _ in acked:
            status, _ = await post(s, b, query, body)
            assert status == 200
        after = {
            r["openid"]: r["version"] for r in await pg("SELECT openid, version FROM conversation")
        }
        assert after == before  # retries of handled messages changed nothing


PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


class PrivatePostgres:
    """A throwaway PostgreSQL server (initdb in a temp dir, its own port) that a test may restart
    without disturbing the machine's server or anyone else's tests. As root, it runs as the
    `postgres` user (the server refuses to run as root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="bot-pg-"))
        self.data = self.dir / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, *args], check=True, timeout=60, capture_output=True)

    def _ctl(self, action: str, *extra: str) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        # -l: the server's output goes to a file, not to our pipe (which would then never close)
        log = str(self.dir / "server.log")
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-l",
            log,
            "-o",
            opts,
            *extra,
            action,
        )

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self._ctl("start")

    def restart(self) -> None:
        # immediate: the server drops every connection at once, as a crash or failover does
        self._ctl("restart", "-m", "immediate")

    def stop(self) -> None:
        try:
            self._ctl("stop", "-m", "immediate")
        except (subprocess.SubprocessError, OSError):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def _can_run_private_postgres() -> bool:
    if PG_BIN is None or not (PG_BIN / "initdb").exists():
        return False
    return os.geteuid() != 0 or shutil.which("runuser") is not None


@pytest.mark.skipif(
    not _can_run_private_postgres(),
    reason="needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin/initdb)",
)
async def test_service_recovers_after_postgresql_restart(tmp_path, fake_wechat):
    server = PrivatePostgres()
    a = Worker(tmp_path, fake_wechat.url, BOT_DATABASE_URL=server.url)
    try:
        server.start()
        await a.start()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
            query, body = signed_message("o-restart", "帮助", 11000)
            assert (await post(s, a, query, body))[0] == 200
            server.restart()
            ok = False
            for i in range(50):  # the pool reconnects; no restart of the service needed
                query, body = signed_message("o-restart", "帮助", 11001 + i)
                try:
                    status, text = await post(s, a, query, body)
                except aiohttp.ClientError:
                    status, text = 0, ""
                if status == 200 and "使用说明" in (reply_content(CRYPTO, query, text) or ""):
                    ok = True
                    break
                await asyncio.sleep(0.2)
            assert ok, a.log.read_text()[-2000:]
            async with s.get(a.url + "/healthz") as r:
                assert r.status == 200
    finally:
        a.stop()
        server.stop()


async def test_wechat_api_outage_does_not_touch_the_webhook(workers, fake_wechat):
    (a,) = await workers(1)
    for _ in range(5):
        fake_wechat.http_error_next("message/custom/send", status=502)
    await pg(
        "INSERT INTO outbox (dedupe_key, channel, recipient, payload, kind, status, attempts,"
        " next_attempt_at, created_at) VALUES ('outage', 'wechat_text', 'o-x',"
        " '{\"text\": \"hi\"}', 'test', 'pending', 0, now(), now())"
    )
    async with aiohttp.ClientSession() as s:
        for i in range(10):
            query, body = signed_message("o-outage", "帮助", 12000 + i)
            status, text = await post(s, a, query, body)
            assert status == 200 and "使用说明" in reply_content(CRYPTO, query, text)
    for _ in range(50):
        row = (
            await pg("SELECT status, attempts, last_error FROM outbox WHERE dedupe_key='outage'")
        )[0]
        if row["attempts"] >= 1 and row["status"] == "pending":
            break
        await asyncio.sleep(0.1)
    assert row["status"] == "pending" and row["last_error"]  # will be retried with backoff
