"""Benchmark of application creation: POST /api/v1/applications per second, in process.

The real application (create_app) runs in this process behind aiohttp's test server, on a sqlite
file (WAL, as `python -m bot serve` uses it) and, when reachable, on PostgreSQL. Each request is
a complete, valid application (pledge path, three materials) with its own Idempotency-Key, from
one bound agent: the measured path includes the bearer-token and agent look-up, the idempotency
record, the eligibility rules, Fernet encryption of name, ID number, phone and address, the blind
index, the material rows and the centre event row. A second phase replays every key (the
retry a village network causes) and must return the same application with 200.

    python -m bench.applications [--requests 2000] [--concurrency 16]
                                 [--database-url postgres://postgres@127.0.0.1:5432/bench_x]

PostgreSQL: the database named by --database-url (default BOT_BENCH_DATABASE_URL, else
postgres://postgres@127.0.0.1:5432/bench_applications) is created when missing and its public
schema is DROPPED and recreated first: never point it at a database that matters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bench.common import REPO_ROOT, Row, format_table, percentile

DEFAULT_REQUESTS = 2000
DEFAULT_CONCURRENCY = 16  # a few dozen agents filing at once is a busy county
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/bench_applications"
WARMUP = 50  # first requests warm imports, caches and connections; not measured
SECRET = "bench-secret-key-not-for-production"


def id_number(i: int) -> str:
    from models.idcard import check_char

    body = f"330602{1950 + i % 50:04d}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
    return body + check_char(body)


def application(i: int) -> dict[str, Any]:
    from models.codes import PLEDGE_TEXT_VERSION

    return {
        "applicant": {
            "name": "张三丰",
            "id_number": id_number(i),
            "phone": f"138{i % 10**8:08d}",
            "address": "东浦街道东浦村3组",
        },
        "matter": "support_payment",
        "facts": "儿子三年未给付赡养费，申请人年老多病，请求给付赡养费。" * 3,
        "hardship": {
            "basis": "pledge",
            "statement": {
                "household_size": 2,
                "monthly_income_yuan": 800,
                "income_source": "务农",
                "assets": "自住房一间",
            },
            "pledge": {
                "accepted": True,
                "confirmed_by": "fingerprint",
                "text_version": PLEDGE_TEXT_VERSION,
            },
        },
        "materials": [
            {"kind": "id_document", "status": "provided"},
            {"kind": "hardship_statement", "status": "provided"},
            {"kind": "matter_evidence", "status": "missing"},
        ],
        "missing_materials_acknowledged": True,
    }


async def _reset_pg(url: str) -> None:
    import asyncpg

    dsn = url.replace("postgres://", "postgresql://", 1)
    base, _, name = dsn.rpartition("/")
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(base + "/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


async def _post_all(
    client: TestClient,
    headers: dict[str, str],
    bodies: list[dict],
    keys: list[str],
    concurrency: int,
    expect: int,
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    queue = list(zip(keys, bodies, strict=True))

    async def worker() -> None:
        nonlocal errors
        while queue:
            key, body = queue.pop()
            started = time.perf_counter()
            async with client.post(
                "/api/v1/applications", json=body, headers={**headers, "Idempotency-Key": key}
            ) as resp:
                await resp.read()
                if resp.status != expect:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


async def run_one(
    label: str, database_url: str | None, requests: int, concurrency: int
) -> list[Row]:
    from bot.app import create_app
    from bot.auth import issue_login_token
    from bot.settings import Settings
    from models.agent import Agent
    from models.application import Application

    with tempfile.TemporaryDirectory(prefix="bench-applications-") as tmp:
        settings = Settings(
            _env_file=None,
            database_url=database_url,
            data_dir=Path(tmp),
            secret_key=SECRET,
            background=False,
            wechat_token="bench",
        )
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        try:
            await Agent.create(
                name="王五", region="330602", village="东浦村", wxa_openid="o-bench-agent"
            )
            token, _ = await issue_login_token("o-bench-agent", 1)
            headers = {"Authorization": f"Bearer {token}"}
            warm = [application(i) for i in range(WARMUP)]
            await _post_all(
                client, headers, warm, [f"warm-{i}" for i in range(WARMUP)], concurrency, 201
            )
            bodies = [application(WARMUP + i) for i in range(requests)]
            keys = [f"bench-{i}" for i in range(requests)]
            rows: list[Row] = []
            for phase, expect in (("create", 201), ("replay", 200)):
                started = time.perf_counter()
                lat, errors = await _post_all(client, headers, bodies, keys, concurrency, expect)
                elapsed = time.perf_counter() - started
                lat.sort()
                rows.append(
                    {
                        "database": label,
                        "phase": phase,
                        "requests": requests,
                        "concurrency": concurrency,
                        "per_s": requests / elapsed,
                        "p50_ms": percentile(lat, 50) * 1000,
                        "p95_ms": percentile(lat, 95) * 1000,
                        "p99_ms": percentile(lat, 99) * 1000,
                        "errors": errors,
                    }
                )
            stored = await Application.all().count()
            if stored != WARMUP + requests:  # replays must never create duplicates
                rows[-1]["errors"] = int(rows[-1]["errors"]) + abs(stored - WARMUP - requests)
            return rows
        finally:
            await client.close()


def pg_url(explicit: str | None) -> str:
    return explicit or os.environ.get("BOT_BENCH_DATABASE_URL") or DEFAULT_PG


def run_target(target: str, args: argparse.Namespace) -> list[Row]:
    """One database per child process: Tortoise's per-model query caches are process-wide and
    follow the first database's dialect, so sqlite and PostgreSQL cannot share a process."""
    cmd = [
        sys.executable,
        "-m",
        "bench.applications",
        "--target",
        target,
        "--requests",
        str(args.requests),
        "--concurrency",
        str(args.concurrency),
    ]
    if args.database_url:
        cmd += ["--database-url", args.database_url]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
        return [{"database": target, "phase": "failed", "errors": 1}]
    return json.loads(out.stdout.strip().splitlines()[-1])


async def target_rows(target: str, args: argparse.Namespace) -> list[Row]:
    if target == "sqlite":
        return await run_one("sqlite (file, WAL)", None, args.requests, args.concurrency)
    url = pg_url(args.database_url)
    await _reset_pg(url)
    return await run_one("postgresql", url, args.requests, args.concurrency)


def pg_reachable(url: str) -> bool:
    async def probe() -> None:
        import asyncpg

        dsn = url.replace("postgres://", "postgresql://", 1)
        conn = await asyncpg.connect(dsn.rpartition("/")[0] + "/postgres", timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        print(
            f"PostgreSQL not reachable at {url.split('@')[-1]}: {type(exc).__name__}",
            file=sys.stderr,
        )
        return False
    return True


def all_rows(args: argparse.Namespace) -> list[Row]:
    rows = run_target("sqlite", args)
    if pg_reachable(pg_url(args.database_url)):
        rows += run_target("postgresql", args)
    return rows


def default() -> list[Row]:
    """For `python -m bench`: the defaults."""
    return all_rows(
        argparse.Namespace(
            requests=DEFAULT_REQUESTS, concurrency=DEFAULT_CONCURRENCY, database_url=None
        )
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.applications", description=__doc__.split("\n")[0]
    )
    p.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    p.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    p.add_argument("--database-url", help="PostgreSQL URL (its schema is dropped first)")
    p.add_argument("--target", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.target:  # child process: print the rows as JSON
        print(json.dumps(asyncio.run(target_rows(args.target, args))))
        return 0
    rows = all_rows(args)
    print(format_table(rows, "Application creation (POST /api/v1/applications, in process)"))
    return 1 if any(r.get("errors") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
