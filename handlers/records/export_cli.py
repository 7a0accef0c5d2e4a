"""export: write a ledger or the disclosure workbook to an xlsx file, with a progress line.

    python -m bot export callbacks --from 2026-01-01 --to 2026-06-30 -o callbacks.xlsx
    python -m bot export applications --from 2026-07-01 --to 2026-07-31 --region 330600 -o a.xlsx
    python -m bot export disclosure --half 2026H2 -o disclosure.xlsx

Without --region every region is included (the operator's view; the HTTP API always scopes to
the calling centre's region). Dates are local days, inclusive; --to defaults to today and
--from to 30 days before it. The same workbooks as GET /api/v1/center/exports/<name>.xlsx.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta

from bot.auth import REGION
from bot.cli import run_with_db
from bot.settings import Settings
from i18n import t

KINDS = ("applications", "callbacks", "complaints", "disclosure")
DEFAULT_DAYS = 30
FIRST_DAY, LAST_DAY = date(1900, 3, 1), date(2999, 12, 31)  # as the HTTP API accepts
ZH = "zh_CN"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a ledger (xlsx) to a file")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("--from", dest="first", type=date.fromisoformat, metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="last", type=date.fromisoformat, metavar="YYYY-MM-DD")
    p.add_argument("--half", help="disclosure: the half-year, e.g. 2026H2")
    p.add_argument("--region", help="6-digit region code (default: all regions)")
    p.add_argument("-o", "--output", required=True, help="the .xlsx file to write")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from handlers.records import ledgers
    from handlers.records.exports import LocalRange, half_range, write_workbook
    from models.calendar import local_today

    if args.region and not REGION.match(args.region):
        sys.exit("region must be a 6-digit administrative code, e.g. 330600")
    if args.kind == "disclosure" and args.half and (args.first or args.last):
        sys.exit("give either --half or --from/--to")

    # On a terminal the progress line rewrites itself in place; into a file or a pipe (a cron
    # job's log) each progress report is a line of its own, ending with a newline.
    live = sys.stderr.isatty()

    def progress(rows: int) -> None:
        line = t("exports.cli.progress", ZH, kind=args.kind, rows=rows)
        print("\r" + line if live else line, end="" if live else "\n", file=sys.stderr, flush=True)

    async def go(settings: Settings) -> int:
        tz = settings.timezone
        if args.kind == "disclosure" and args.half:
            try:
                period = half_range(args.half, tz)
            except ValueError as exc:
                sys.exit(str(exc))
        else:
            last = args.last or local_today(tz)
            first = args.first or max(FIRST_DAY, last - timedelta(days=DEFAULT_DAYS - 1))
            if not FIRST_DAY <= first <= LAST_DAY or not FIRST_DAY <= last <= LAST_DAY:
                sys.exit(f"dates must be from {FIRST_DAY} to {LAST_DAY}")
            if first > last:
                sys.exit(t("exports.error.range_inverted", ZH))
            period = LocalRange(first, last, tz)
        if args.kind == "disclosure":
            sheets = await ledgers.disclosure(period, args.region)
        else:
            sheets = ledgers.LEDGERS[args.kind](period, args.region)
        progress(0)
        rows = await write_workbook(sheets, args.output, progress=progress)
        if live:
            print(file=sys.stderr)  # end the line the progress rewrote
        return rows

    rows = run_with_db(go)
    print(t("exports.cli.done", ZH, rows=rows, path=args.output))
    return 0
