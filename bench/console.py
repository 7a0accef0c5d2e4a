"""Benchmark of the staff console's pages over 100,000 cases, callbacks and applications.

Seeds one region (every row is the visitor's: the worst case) with closed cases over the last
400 days, a callback per closed case in every status (a tenth flagged, each with a finding), applications, complaints
and 人工 tickets, then serves the real application in process and requests Today and each list
page as a signed-in supervisor, several times each, reporting p50/p95 of the time the server
took (measured around the handler by a middleware, so the client's own work is not counted).
Target (issue 12): p95 under 300 ms on sqlite and PostgreSQL.

    python -m bench.console [--rows 100000] [--runs 20] [--database-url postgres://…/scratch]

A PostgreSQL database given is emptied (its public schema dropped) first, and vacuumed after
seeding (as autovacuum keeps a live one: planner statistics, and the visibility map that lets
index-only scans skip the table).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bench.common import Row, format_table, percentile, scratch_dir
from bench.exports import SECRET, numbers, reset_pg

DEFAULT_ROWS = 100_000
REGION = "611026"
PAGES = [
    "/console/",
    "/console/applications",
    "/console/applications?status=granted",
    "/console/applications?status=granted&page=500",
    "/console/callbacks",
    "/console/callbacks?tab=flagged",
    "/console/callbacks?tab=open",
    "/console/callbacks?tab=completed",
    "/console/complaints",
    "/console/complaints?tab=concluded",
    "/console/handoffs",
    "/console/handoffs?tab=closed",
    "/console/records",
    "/console/audit",
]


def seed_sql(rows: int, pg: bool, name: str, phone: str, now: datetime) -> str:
    """Dates relative to `now`, so Today's windows and the 12-week charts have data."""
    small = max(rows // 10, 10)
    opened = "(i % 90 + (i % 24) / 24.0)"  # 人工 tickets at every hour, answered in 0-6 minutes
    day = "(i % 400)"
    today = now.date().isoformat()
    if pg:
        closed = f"DATE '{today}' - {day}"

        def minus_days(n: str) -> str:
            return f"TIMESTAMPTZ '{now.isoformat()}' - ({n}) * INTERVAL '1 day'"

        def plus_days(d: str, n: int) -> str:
            return f"({d}) + {n}"
    else:
        closed = f"date('{today}', (-{day}) || ' days')"

        def minus_days(n: str) -> str:
            return f"datetime('{now:%Y-%m-%d %H:%M:%S}', (-({n})) || ' days') || '+00:00'"

        def plus_days(d: str, n: int) -> str:
            return f"date({d}, '+{n} days')"

    status = (
        "(CASE i % 10 WHEN 7 THEN 'invited' WHEN 8 THEN 'pending_phone' "
        "WHEN 9 THEN 'scheduled' ELSE 'completed' END)"
    )
    return f"""
        INSERT INTO legal_case (region, case_no, kind, cause, beneficiary_name,
            beneficiary_phone, handler_name, handler_org, status, origin, special, closed_on,
            created_at, updated_at)
        SELECT '{REGION}', 'C' || i, 'civil', '劳动报酬纠纷', '{name}', '{phone}',
            '律师' || (i % 500), '律所' || (i % 40), 'closed',
            CASE WHEN i % 20 = 0 THEN 'notification' ELSE 'application' END, FALSE, {closed},
            '{now}', '{now}'
        FROM {numbers(rows, pg)};
        INSERT INTO callback (case_id, region, status, due_at, answered_at, channel, fee_charged,
            negligent, satisfied, flagged, created_at, updated_at)
        SELECT id, region, {status.replace("i %", "id %")},
            {minus_days("id % 400 - 3")},
            CASE WHEN id % 10 < 7 THEN {minus_days("id % 400 - 4")} END, 'wechat',
            id % 10 = 0, FALSE, id % 13 <> 0, id % 10 = 0, '{now}', '{now}'
        FROM legal_case;
        INSERT INTO callback_followup (callback_id, region, kind, by, note, resolved, at)
        SELECT id, region, 'finding', '王', '已核实', id % 20 = 0, '{now}'
        FROM callback WHERE flagged;
        INSERT INTO agent (name, region, village, kind, active, locale, created_at)
        VALUES ('周', '{REGION}', '营盘村', 'agent', TRUE, 'zh_CN', '{now}');
        INSERT INTO application (region, agent_id, channel, status, applicant_name,
            applicant_id_number, applicant_id_index, applicant_phone, applicant_address, matter,
            facts, hardship_basis, urgent, urgent_reasons, warnings, received_at, decision_due,
            updated_at, decided_at, migrant_worker)
        SELECT '{REGION}', (SELECT min(id) FROM agent), 'api',
            CASE WHEN i % 5 = 0 THEN 'received' ELSE 'granted' END, '{name}', '{name}', 'x' || i,
            '{phone}', '{name}', 'labor_remuneration', 'f', 'pledge', i % 50 = 0, '[]', '[]',
            {minus_days(day)}, {plus_days(closed, 7)}, '{now}',
            CASE WHEN i % 5 = 0 THEN NULL ELSE {minus_days(day + " - 3")} END, FALSE
        FROM {numbers(rows, pg)};
        INSERT INTO complaint (ticket, region, locale, about, grounds, text, photos, source,
            status, received_on, accept_due, conclude_due, extended_days, created_at,
            updated_at)
        SELECT 'T' || i, '{REGION}', 'zh_CN', 'handler', 'delay', 'x', '[]', 'chat_form',
            CASE i % 6 WHEN 0 THEN 'received' WHEN 1 THEN 'accepted' WHEN 2 THEN 'investigating'
                WHEN 3 THEN 'extended' ELSE 'concluded' END,
            {closed}, {plus_days(closed, 7)}, {plus_days(closed, 60)}, 0, '{now}', '{now}'
        FROM {numbers(small, pg)};
        INSERT INTO handoff (openid, region, locale, status, opened_at, due_at, first_reply_at,
            replies, messages)
        SELECT 'o' || i, '{REGION}', 'zh_CN', CASE WHEN i % 20 = 0 THEN 'waiting' ELSE 'closed' END,
            {minus_days(opened)}, {minus_days(opened + " - 3 / 1440.0")},
            {minus_days(opened + " - (i % 7) / 1440.0")}, 1, '[]'
        FROM {numbers(small, pg)};
    """


class Timer:
    """Server-side time per path, measured around the handler."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            self.times.setdefault(request.path_qs, []).append(time.perf_counter() - started)


async def bench(database_url: str, rows: int, runs: int, data_dir) -> list[Row]:
    from tortoise import connections

    from bot import db
    from bot.app import create_app
    from bot.settings import Settings
    from models.console import ConsoleSession
    from models.credentials import hash_secret
    from models.fields import encrypt
    from models.people import Staff

    pg = database_url.startswith("postgres")
    if pg:
        await reset_pg(database_url)
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        secret_key=SECRET,
        background=False,
        wechat_token="bench",
        wechat_app_id="wxbench",
        data_dir=data_dir,
        log_level="WARNING",
    )
    now = datetime.now(UTC)
    started = time.perf_counter()
    async with db.orm(settings):
        await connections.get("default").execute_script(
            seed_sql(rows, pg, encrypt("张三"), encrypt("13812345678"), now)
        )
        if pg:  # what autovacuum does to a settled database: statistics, visibility map
            await connections.get("default").execute_script("VACUUM ANALYZE;")
    seeded = time.perf_counter() - started

    timer = Timer()
    app = create_app(settings)
    app.middlewares.append(timer.middleware)
    token = secrets.token_urlsafe(32)
    async with TestClient(TestServer(app)) as client:
        boss = await Staff.create(name="王主任", region=REGION, openid="o-boss", supervisor=True)
        await ConsoleSession.create(
            token_hash=hash_secret(token),
            csrf="x",
            staff=boss,
            via="scan",
            last_seen_at=now + timedelta(days=1),
        )
        client.session.cookie_jar.update_cookies(
            {"console_session": token}, client.make_url("/console/")
        )
        errors = 0
        for path in PAGES:
            await client.get(path)  # warm: templates compiled, plans cached
            timer.times.pop(path, None)
            for _ in range(runs):
                resp = await client.get(path)
                errors += resp.status != 200
                await resp.read()
    out: list[Row] = []
    for path in PAGES:
        t = sorted(timer.times.get(path, [0.0]))
        out.append(
            {
                "database": "postgres" if pg else "sqlite",
                "page": path,
                "rows": rows,
                "seed s": round(seeded, 1),
                "p50 ms": round(percentile(t, 50) * 1000, 1),
                "p95 ms": round(percentile(t, 95) * 1000, 1),
                "errors": errors,
            }
        )
        errors = 0  # counted once, on the first row
    return out


def run(rows: int = DEFAULT_ROWS, runs: int = 20, database_url: str | None = None) -> list[Row]:
    with scratch_dir("bench-console-") as tmp:
        url = database_url or f"sqlite://{(tmp / 'bench.sqlite3').as_posix()}"
        return asyncio.run(bench(url, rows, runs, tmp))


def default() -> list[Row]:
    return run()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--database-url", help="PostgreSQL scratch database (emptied first)")
    args = p.parse_args(argv)
    rows = run(args.rows, args.runs, args.database_url)
    print(format_table(rows, "Staff console pages: server time per request"))
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
