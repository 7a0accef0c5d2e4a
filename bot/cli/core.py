"""serve and migrate."""

from __future__ import annotations

import argparse
import logging

from bot.cli import configure_logging, run_with_db
from bot.settings import Settings

log = logging.getLogger("bot")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the web server (migrates the database first)")
    p.add_argument("--host", help="listen address (default BOT_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default BOT_PORT or 8080)")
    p.set_defaults(func=serve)
    m = sub.add_parser("migrate", help="apply database migrations and exit")
    m.set_defaults(func=migrate)


def serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.app import create_app

    settings = Settings()
    configure_logging(settings.log_level)
    settings = settings.resolve_dev_defaults()
    host, port = args.host or settings.host, args.port or settings.port
    if settings.dev_credentials:
        print(dev_banner(settings, host, port), flush=True)
    web.run_app(create_app(settings), host=host, port=port, print=None,
                access_log=None)  # access logs would carry openids in query strings
    return 0


def dev_banner(s: Settings, host: str, port: int) -> str:
    return "\n".join([
        "Development mode: no WeChat credentials configured, using generated ones",
        f"  BOT_WECHAT_TOKEN={s.wechat_token}",
        f"  BOT_WECHAT_AES_KEY={s.wechat_aes_key}",
        f"  BOT_WECHAT_APP_ID={s.wechat_app_id}",
        f"  database: {s.db_url}",
        f"Serving on http://{host}:{port}/wechat - try it: python -m bot chat --openid u1",
    ])


def migrate(args: argparse.Namespace) -> int:
    configure_logging()

    async def done(settings: Settings) -> None:
        print(f"database is up to date: {settings.db_url.split('@')[-1]}")

    run_with_db(done)
    return 0
