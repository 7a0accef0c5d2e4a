"""`python -m bench`: run every benchmark with its defaults and print one table per benchmark.

Each entry is (title, callable returning table rows); adding a benchmark is one line here.
PostgreSQL runs use scratch databases (bench_*) on BOT_BENCH_PG (default
postgres://postgres@127.0.0.1:5432) when it is reachable; their schemas are dropped first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from bench import applications, burst, console, digest, exports, webhook
from bench.common import Row, format_table

PG_BASE = os.environ.get("BOT_BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def scratch_pg(name: str) -> str | None:
    """A fresh scratch database on the benchmark server, or None when unreachable."""
    url = f"{PG_BASE}/{name}"
    return url if burst.pg_ready(url) else None


def webhook_both() -> list[Row]:
    rows = webhook.default()
    if url := scratch_pg("bench_webhook"):
        # bare again in the same run, so the PostgreSQL ratio has its own baseline
        rows += [{**r, "target": f"{r['target']} (pg run)"} for r in webhook.run(database_url=url)]
    return rows


def exports_both() -> list[Row]:
    rows = exports.run()
    if url := scratch_pg("bench_exports"):
        rows += exports.run(database_url=url)
    return rows


def console_both() -> list[Row]:
    rows = console.run()
    if url := scratch_pg("bench_console"):
        rows += console.run(database_url=url)
    return rows


def digest_pg() -> list[Row]:
    if url := scratch_pg("bench_digest"):
        return digest.run(url)
    return [{"database": "postgres", "note": "skipped: PostgreSQL not reachable", "errors": 0}]


BENCHMARKS: list[tuple[str, Callable[[], list[Row]]]] = [
    (
        "WeChat webhook (safe mode, text messages) vs the bare wechatpy+aiohttp handler",
        webhook_both,
    ),
    ("Application creation (API, in process)", applications.default),
    ("Callback survey burst: 2,000 users x 5 answers", burst.default),
    ("Callback ledger export: 100,000 rows", exports_both),
    ("Staff digest over 1,000,000 cases (PostgreSQL)", digest_pg),
    ("Staff console pages over 100,000 cases, callbacks, applications", console_both),
]


def main() -> int:
    failed = False
    for title, bench in BENCHMARKS:
        rows = bench()
        print(format_table(rows, title), end="\n\n", flush=True)
        failed = failed or any(row.get("errors") for row in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
