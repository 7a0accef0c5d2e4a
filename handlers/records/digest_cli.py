"""digest: preview a region's staff digest, or send it now (`--now`) and say what arrived.

    python -m bot digest --region 330600            # print the daily digest, send nothing
    python -m bot digest --region 330600 --now      # queue it to the region's staff and WeCom,
                                                    # deliver it, print the text and the result
    python -m bot digest --region 330600 --weekly --now

A digest sent with --now counts as that period's digest: the scheduled one of the same day (or
ISO week) is not sent again, so staff never get the same digest twice a minute apart. The
command delivers through the outbox like a server worker would, so it works with no server
running; rows it cannot deliver yet stay queued for the server's dispatcher.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import cast

from bot.auth import REGION
from bot.cli import configure_logging
from bot.settings import Settings
from i18n import t

DELIVERY_ROUNDS = 5  # dispatcher rounds before reporting; retries after backoff are the server's
ZH = "zh_CN"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("digest", help="preview or send (--now) a region's staff digest")
    p.add_argument("--region", required=True, help="6-digit region code, e.g. 330600")
    p.add_argument("--now", action="store_true", help="send it now (default: print a preview)")
    p.add_argument("--weekly", action="store_true", help="the weekly digest (last 7 days)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if not REGION.match(args.region):
        sys.exit("region must be a 6-digit administrative code, e.g. 330600")
    configure_logging("WARNING")
    settings = Settings().resolve_dev_defaults().model_copy(update={"background": False})
    return asyncio.run(run(settings, args))


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.app import create_app
    from bot.keys import policy_key
    from bot.outbox import Dispatcher
    from handlers.records import digest
    from models.jobs import JobRun
    from models.outbox import OutboxMessage

    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()  # opens (and migrates) the database and the HTTP session
    try:
        period = "weekly" if args.weekly else "daily"
        now = datetime.now(UTC)
        if not args.now:
            f = await digest.collect(args.region, period, now, app[policy_key], settings.timezone)
            title, lines = digest.render(f)
            print("\n".join([title, *lines, digest.link(settings, f)]))
            print(t("digest.cli.preview", ZH))
            return 0
        key = f"{period}:{args.region}:now-{now:%Y%m%dT%H%M%S}"
        f, title, lines, n = await digest.send(
            settings, app[policy_key], args.region, period, now=now, key=key
        )
        # the scheduler's mark for this region and period (handlers/jobs_digest.py): done
        await JobRun.bulk_create(
            [
                JobRun(
                    name=f"digest:{period}:{args.region}",
                    period=digest.period_key(f, now, settings.timezone),
                )
            ],
            ignore_conflicts=True,
        )
        print("\n".join([title, *lines, digest.link(settings, f)]))
        wecom = t("digest.cli.wecom", ZH) if settings.wecom_webhook_url else ""
        print(t("digest.cli.sent", ZH, staff=n, wecom=wecom))
        dispatcher = Dispatcher(app)
        for _ in range(DELIVERY_ROUNDS):
            if not await dispatcher.dispatch_once():
                break
        statuses = cast(  # flat=True gives values; tortoise's types say tuples
            "list[str]",
            await OutboxMessage.filter(dedupe_key__startswith=f"digest:{key}:").values_list(
                "status", flat=True
            ),
        )
        print(
            t(
                "digest.cli.delivered",
                ZH,
                sent=statuses.count("sent"),
                failed=statuses.count("failed"),
                pending=sum(s in ("pending", "sending") for s in statuses),
            )
        )
        return 1 if "failed" in statuses else 0
    finally:
        await runner.cleanup()
