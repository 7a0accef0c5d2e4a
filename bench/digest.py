"""Benchmark of the staff digest's figures over 1,000,000 cases on PostgreSQL.

Seeds one region (the worst case: every row is the digest's) with bulk INSERT ... SELECT
generate_series — cases closed over the year, a callback per closed case in every status,
applications, complaints and handoffs — runs ANALYZE as autovacuum would, then times
handlers.records.digest.collect (the aggregate queries the scheduled digest runs) several times and reports
the median and the slowest. The target (issue 5, "Scale"): under 2 s.

    python -m bench.digest --database-url postgres://…/scratch_db [--cases 1000000] [--runs 5]

The database given is emptied (its public schema dropped) first.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime

from bench.common import Row, format_table
from bench.exports import SECRET, reset_pg

DEFAULT_CASES = 1_000_000
REGION = "610626"
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # a Monday morning, 09:00 local


def seed_sql(cases: int, name: str, phone: str) -> str:
    """Everything relative to NOW; a tenth of the volume for the smaller tables."""
    small = max(cases // 100, 10)
    return f"""
        INSERT INTO legal_case (region, case_no, kind, cause, beneficiary_name, beneficiary_phone,
            handler_name, handler_org, status, origin, closed_on, created_at, updated_at)
        SELECT '{REGION}', 'C' || i, 'civil', '劳动报酬纠纷', '{name}', '{phone}', '律师' || (i % 500),
            '律所' || (i % 40), CASE WHEN i % 10 = 0 THEN 'in_progress' ELSE 'closed' END,
            CASE WHEN i % 20 = 0 THEN 'notification' ELSE 'application' END,
            DATE '2026-01-01' + (i % 320), now(), now()
        FROM generate_series(1, {cases}) AS n(i);
        INSERT INTO callback (case_id, region, status, due_at, answered_at, channel, fee_charged,
            negligent, satisfied, flagged, created_at, updated_at)
        SELECT id, region,
            (ARRAY['completed','completed','completed','completed','completed','completed',
                   'completed','invited','pending_phone','scheduled'])[1 + id % 10],
            closed_on + 3, CASE WHEN id % 10 < 7 THEN closed_on + 4 END, 'wechat', FALSE, FALSE,
            id % 13 <> 0, FALSE, now(), now()
        FROM legal_case WHERE status = 'closed';
        INSERT INTO agent (name, region, village, kind, active, locale, created_at)
        VALUES ('周', '{REGION}', '营盘村', 'agent', TRUE, 'zh_CN', now());
        INSERT INTO application (region, agent_id, channel, status, applicant_name,
            applicant_id_number, applicant_id_index, applicant_phone, applicant_address, matter,
            facts, hardship_basis, migrant_worker, urgent, urgent_reasons, warnings, received_at,
            decision_due, materials_due, updated_at)
        SELECT '{REGION}', (SELECT min(id) FROM agent), 'api',
            CASE WHEN i % 5 = 0 THEN 'received' ELSE 'granted' END, '{name}', '{name}', 'x' || i,
            '{phone}', '{name}', 'labor_remuneration', 'f', 'pledge', FALSE, FALSE, '[]', '[]',
            TIMESTAMPTZ '{NOW.isoformat()}' - (i % 400) * INTERVAL '1 day',
            DATE '2026-11-23' - (i % 400) + 7, DATE '2026-11-23' - (i % 30), now()
        FROM generate_series(1, {small}) AS n(i);
        INSERT INTO complaint (ticket, region, locale, about, grounds, text, photos, source,
            status, received_on, accept_due, conclude_due, extended_days, created_at,
            updated_at)
        SELECT 'T' || i, '{REGION}', 'zh_CN', 'handler', 'delay', 'x', '[]', 'chat_form',
            (ARRAY['received','accepted','investigating','extended','concluded',
                   'concluded'])[1 + i % 6],
            DATE '2026-11-23' - (i % 300), DATE '2026-11-23' - (i % 300) + 7,
            DATE '2026-11-23' - (i % 300) + 60, 0, now(), now()
        FROM generate_series(1, {small}) AS n(i);
        INSERT INTO handoff (openid, region, locale, status, opened_at, due_at, first_reply_at,
            replies, messages)
        SELECT 'o' || i, '{REGION}', 'zh_CN', 'closed',
            TIMESTAMPTZ '{NOW.isoformat()}' - i * INTERVAL '10 minutes',
            TIMESTAMPTZ '{NOW.isoformat()}' - i * INTERVAL '10 minutes' + INTERVAL '3 minutes',
            TIMESTAMPTZ '{NOW.isoformat()}' - i * INTERVAL '10 minutes' + (i % 5) * INTERVAL '1 minute',
            1, '[]'
        FROM generate_series(1, {small}) AS n(i);
        ANALYZE;
    """


async def bench(database_url: str, cases: int, runs: int) -> Row:
    from tortoise import connections

    from bot import db
    from bot.settings import Settings
    from handlers.records import digest
    from models.fields import encrypt
    from models.policy import load_policy

    await reset_pg(database_url)
    settings = Settings(_env_file=None, database_url=database_url, secret_key=SECRET)
    async with db.orm(settings):
        started = time.perf_counter()
        await connections.get("default").execute_script(
            seed_sql(cases, encrypt("张三"), encrypt("13812345678"))
        )
        seeded = time.perf_counter() - started
        policy = load_policy("zhashui")
        timings, figures = [], None
        for _ in range(runs):
            started = time.perf_counter()
            figures = await digest.collect(REGION, "daily", NOW, policy, settings.timezone)
            timings.append(time.perf_counter() - started)
        weekly = time.perf_counter()
        await digest.collect(REGION, "weekly", NOW, policy, settings.timezone)
        weekly = time.perf_counter() - weekly
    assert figures is not None
    return {
        "cases": cases,
        "closed (due)": figures.closed_cases,
        "callbacks done": figures.covered_cases,
        "seed s": round(seeded, 1),
        "digest median s": round(statistics.median(timings), 3),
        "digest max s": round(max(timings), 3),
        "weekly s": round(weekly, 3),
        "errors": int(figures.closed_cases == 0),
    }


def run(database_url: str, cases: int = DEFAULT_CASES, runs: int = 5) -> list[Row]:
    return [asyncio.run(bench(database_url, cases, runs))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database-url", required=True, help="PostgreSQL scratch database")
    p.add_argument("--cases", type=int, default=DEFAULT_CASES)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    rows = run(args.database_url, args.cases, args.runs)
    print(
        format_table(rows, "Staff digest figures (handlers.records.digest.collect) on PostgreSQL")
    )
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
