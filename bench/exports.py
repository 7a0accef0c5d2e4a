"""Benchmark of the callback ledger export: N completed callbacks to xlsx, time and peak memory.

The database is seeded with one bulk INSERT ... SELECT per table (not the ORM row by row), the
beneficiary's name and phone encrypted once with the bench's secret key (so the export really
decrypts every row). The export runs as its own process, exactly as an operator runs it:

    python -m bot export callbacks --from 2026-01-01 --to 2026-12-31 -o callbacks.xlsx

and its wall time and peak RSS (ru_maxrss from wait4) are reported. The target (issue 5,
"Scale"): 100,000 callbacks in under 30 s and under 300 MB.

    python -m bench.exports [--rows 100000] [--database-url postgres://…/scratch_db]

A PostgreSQL database given here is emptied (its public schema dropped) before seeding.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.common import REPO_ROOT, Row, format_table, scratch_dir

DEFAULT_ROWS = 100_000
SECRET = "bench-secret-key-not-for-production"
REGION = "330600"
NOW = "2026-03-10 00:00:00+00:00"


async def reset_pg(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


def numbers(rows: int, postgres: bool) -> str:
    """A FROM clause yielding i = 1..rows."""
    if postgres:
        return f"generate_series(1, {rows}) AS n(i)"
    return (
        f"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {rows}) "
        "SELECT i FROM s) AS n"
    )


async def seed(database_url: str, rows: int) -> None:
    """Migrate, then insert `rows` closed cases and one completed callback for each."""
    from tortoise import connections

    from bot import db
    from bot.settings import Settings
    from models.fields import encrypt

    settings = Settings(_env_file=None, database_url=database_url, secret_key=SECRET)
    if settings.is_postgres:
        await reset_pg(database_url)
    async with db.orm(settings):
        name, phone = encrypt("张三丰"), encrypt("13812345678")
        conn = connections.get("default")
        pg = settings.is_postgres
        await conn.execute_script(f"""
            INSERT INTO legal_case (region, case_no, kind, cause, beneficiary_name,
                beneficiary_phone, handler_name, handler_org, status, origin, closed_on,
                created_at, updated_at)
            SELECT '{REGION}', '(2026)援民' || i || '号', 'civil', '劳动报酬纠纷', '{name}',
                '{phone}', '律师' || (i % 200), '律师事务所' || (i % 20), 'closed', 'application',
                '2026-03-01', '{NOW}', '{NOW}'
            FROM {numbers(rows, pg)};
            INSERT INTO callback (case_id, region, status, due_at, answered_at, channel,
                called_by, fee_charged, negligent, satisfied, comments, flagged, created_at,
                updated_at)
            SELECT id, region, 'completed', '2026-03-04 01:00:00+00:00',
                '2026-03-05 02:00:00+00:00', 'phone', '赵', FALSE, FALSE, TRUE,
                '律师很负责，感谢法律援助中心', FALSE, '{NOW}', '{NOW}'
            FROM legal_case;
        """)
        if pg:  # what autovacuum does soon after a bulk load; without it the plans are blind
            await conn.execute_script("ANALYZE legal_case; ANALYZE callback;")


def run_export(database_url: str, out: Path, workdir: Path) -> tuple[float, float, str]:
    """Run the CLI export in a child process; (seconds, peak RSS in MB, its stdout)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "BOT_DATABASE_URL": database_url,
        "BOT_SECRET_KEY": SECRET,
        "BOT_DATA_DIR": str(workdir),
        "BOT_LOG_LEVEL": "WARNING",
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "export",
            "callbacks",
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "-o",
            str(out),
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"export exited with {proc.returncode}: {stdout}")
    return seconds, usage.ru_maxrss / 1024, stdout  # Linux reports KiB


def run(rows: int = DEFAULT_ROWS, database_url: str | None = None) -> list[Row]:
    with scratch_dir("bench-exports-") as tmp:
        url = database_url or f"sqlite://{(tmp / 'bench.sqlite3').as_posix()}"
        started = time.perf_counter()
        asyncio.run(seed(url, rows))
        seeded = time.perf_counter() - started
        out = tmp / "callbacks.xlsx"
        seconds, rss, stdout = run_export(url, out, tmp)
        written = int(re.search(r"已导出 (\d+) 行", stdout).group(1))
        return [
            {
                "database": "postgres" if url.startswith("postgres") else "sqlite",
                "rows": written,
                "seed s": round(seeded, 1),
                "export s": round(seconds, 1),
                "rows/s": round(written / seconds),
                "peak RSS MB": round(rss, 1),
                "xlsx MB": round(out.stat().st_size / 2**20, 1),
                "errors": int(written != rows),
            }
        ]


def default() -> list[Row]:
    return run()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    p.add_argument("--database-url", help="PostgreSQL scratch database (emptied first)")
    args = p.parse_args(argv)
    rows = run(args.rows, args.database_url)
    print(format_table(rows, "Callback ledger export (python -m bot export callbacks)"))
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
