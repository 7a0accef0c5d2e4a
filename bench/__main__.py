"""`python -m bench`: run every benchmark with its defaults and print one table per benchmark.

Each entry is (title, callable returning table rows); adding a benchmark is one line here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from bench import applications, burst, webhook
from bench.common import Row, format_table

BENCHMARKS: list[tuple[str, Callable[[], list[Row]]]] = [
    ("WeChat webhook (safe mode, text messages)", webhook.default),
    ("Application creation (API, in process)", applications.default),
    ("Callback survey burst: 2,000 users x 5 answers", burst.default),
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
