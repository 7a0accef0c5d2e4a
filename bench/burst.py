"""Burst benchmark: 2,000 beneficiaries answer their callback survey at once.

The real application (create_app) runs in this process behind aiohttp's test server on a sqlite
file (WAL) and, when reachable, PostgreSQL. 2,000 closed cases are put through the centre API,
each gets a callback invitation (QR scene); then every user scans and answers Q1-Q4 and
confirms (5 answers each: 10,000 answers), users interleaved at the given concurrency, each
user's messages in order as a phone would send them. Every message is a signed, encrypted WeChat
request. Checked at the end: no error reply, every survey completed, coverage 100 %.

    python -m bench.burst [--users 2000] [--concurrency 64] [--database-url postgres://...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from wechatpy.crypto import WeChatCrypto

from bench.common import Row, format_table, percentile

TOKEN, AES, APP_ID = "bench", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxbench"
REGION = "611026"
ANSWERS = ("2", "2", "1", "无", "1")  # Q1 否, Q2 无, Q3 满意, Q4 无, 1 = 确认提交
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/bench_burst"


async def run(database_url: str, users: int, concurrency: int, label: str) -> Row:
    from bot.app import create_app
    from bot.auth import create_center_key
    from bot.settings import Settings
    from bot.wechat.protocol import (
        build_event_xml,
        build_text_xml,
        encrypted_request,
        reply_content,
    )
    from i18n import t

    data = Path(tempfile.mkdtemp(prefix="bench-burst-"))
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        data_dir=data,
        wechat_token=TOKEN,
        wechat_aes_key=AES,
        wechat_app_id=APP_ID,
        secret_key="bench-secret",
        background=False,
        wechat_max_clock_skew=0,
        chat_rate_limit=0,
        policy="zhashui",
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    crypto = WeChatCrypto(TOKEN, AES, APP_ID)
    busy = t("error.busy")
    try:
        key = {"X-Api-Key": await create_center_key(REGION)}
        closed = time.strftime("%Y-%m-%d", time.localtime(time.time() - 86400))
        seed_started = time.perf_counter()
        scenes: list[str] = []
        sem = asyncio.Semaphore(concurrency)

        async def seed(i: int) -> None:
            case_no = f"柞法援民2026-{i:05d}"
            async with sem:
                r = await client.put(
                    f"/api/v1/center/cases/{case_no}",
                    headers=key,
                    json={
                        "region": REGION,
                        "kind": "civil",
                        "cause": "劳动报酬纠纷",
                        "beneficiary": {"name": "张三", "phone": "13812345678"},
                        "handler": {"name": "李律师", "org": "柞水县正义律师事务所"},
                        "status": "closed",
                        "closed_on": closed,
                    },
                )
                assert r.status in (200, 201), await r.text()
                r = await client.post(
                    f"/api/v1/center/cases/{case_no}/callback-invitations", headers=key, json={}
                )
                assert r.status == 201, await r.text()
                scenes.append((await r.json())["scene"])

        await asyncio.gather(*(seed(i) for i in range(users)))
        seed_seconds = time.perf_counter() - seed_started
        latencies: list[float] = []
        errors = 0

        async def send(xml: str) -> str | None:
            nonlocal errors
            query, body = encrypted_request(
                crypto, TOKEN, xml, "gh_bench", nonce=str(random.randint(10**8, 10**9))
            )
            started = time.perf_counter()
            r = await client.post("/wechat", params=query, data=body.encode())
            text = await r.text()
            latencies.append(time.perf_counter() - started)
            reply = reply_content(crypto, query, text) if r.status == 200 else None
            if r.status != 200 or not reply or busy in reply:
                errors += 1
            return reply

        async def survey(i: int, scene: str) -> None:
            openid = f"o-burst-{i}"
            async with sem:
                await send(build_event_xml(openid, "gh_bench", "SCAN", scene))
                for n, answer in enumerate(ANSWERS):
                    await send(build_text_xml(openid, "gh_bench", answer, i * 10 + n + 1))

        started = time.perf_counter()
        await asyncio.gather(*(survey(i, s) for i, s in enumerate(scenes)))
        seconds = time.perf_counter() - started
        stats = await (await client.get("/api/v1/center/stats/callbacks", headers=key)).json()
        lost = users - int(stats.get("completed") or 0)
        latencies.sort()
        return {
            "database": label,
            "users": users,
            "answers": users * len(ANSWERS),
            "messages": len(latencies),
            "concurrency": concurrency,
            "msg/s": round(len(latencies) / seconds, 1),
            "p50 ms": round(percentile(latencies, 50) * 1000, 1),
            "p99 ms": round(percentile(latencies, 99) * 1000, 1),
            "errors": errors,
            "lost": lost,
            "coverage": stats.get("coverage"),
            "seed s": round(seed_seconds, 1),
        }
    finally:
        await client.close()


def pg_ready(url: str) -> bool:
    import asyncpg

    async def check() -> bool:
        base = url.rsplit("/", 1)[0] + "/postgres"
        name = url.rsplit("/", 1)[1]
        try:
            conn = await asyncpg.connect(base.replace("postgres://", "postgresql://", 1))
        except (OSError, asyncpg.PostgresError):
            return False
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname=$1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()
        return True

    return asyncio.run(check())


def one(database_url: str, label: str, users: int, concurrency: int) -> Row:
    """Each database in its own process: the ORM is process-global."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.burst",
            "--users",
            str(users),
            "--concurrency",
            str(concurrency),
            "--database-url",
            database_url,
            "--label",
            label,
            "--raw",
        ],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=3600,
    )
    if out.returncode != 0:
        return {"database": label, "users": users, "errors": "failed: " + out.stderr[-300:]}
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def default(users: int = 2000, concurrency: int = 64) -> list[Row]:
    rows = [
        one(
            f"sqlite://{tempfile.mkdtemp(prefix='bench-burst-')}/b.sqlite3",
            "sqlite",
            users,
            concurrency,
        )
    ]
    url = os.environ.get("BOT_BENCH_DATABASE_URL", DEFAULT_PG)
    if pg_ready(url):
        rows.append(one(url, "postgresql", users, concurrency))
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--database-url")
    p.add_argument("--label", default="")
    p.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.raw:
        import json

        row = asyncio.run(run(args.database_url, args.users, args.concurrency, args.label))
        print(json.dumps(row, ensure_ascii=False))
        return 0
    if args.database_url:
        rows = [one(args.database_url, args.label or "custom", args.users, args.concurrency)]
    else:
        rows = default(args.users, args.concurrency)
    print(format_table(rows, "Callback survey burst"))
    return 1 if any(r.get("errors") or r.get("lost") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
