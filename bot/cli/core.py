"""serve and migrate."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from bot.cli import configure_logging, run_with_db
from bot.settings import DEV_SECRETS_FILE, Settings

log = logging.getLogger("bot")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the web server (migrates the database first)")
    p.add_argument("--host", help="listen address (default BOT_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default BOT_PORT or 8080)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port (PostgreSQL only; default 1)",
    )
    p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=serve)
    m = sub.add_parser("migrate", help="apply database migrations and exit")
    m.set_defaults(func=migrate)


def serve(args: argparse.Namespace) -> int:
    from bot import server
    from bot.app import create_app

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    settings = settings.resolve_dev_defaults()
    host, port = args.host or settings.host, args.port or settings.port
    if settings.dev_credentials and not args.reuse_port:
        if settings.log_format == "json":  # every line one JSON object, the banner too
            log.info(dev_banner(settings, host, port))
        else:
            print(dev_banner(settings, host, port), flush=True)
    if args.workers > 1:
        return supervise(settings, host, port, args.workers)
    server.run(create_app(settings), settings, host, port, reuse_port=args.reuse_port)
    return 0


def supervise(settings: Settings, host: str, port: int, workers: int) -> int:
    """Run `workers` server processes on one port (SO_REUSEPORT), restarting any that dies.

    Every piece of state lives in PostgreSQL, so the workers need no coordination; sqlite
    allows one writer process only, hence the refusal.
    """
    from bot import metrics

    if not settings.is_postgres:
        raise SystemExit(
            "--workers > 1 needs PostgreSQL (BOT_DATABASE_URL=postgres://...): "
            "sqlite allows one writing process"
        )
    run_with_db(lambda s: _noop())  # migrate once, before the workers start
    with metrics.shared_across_workers() as env:
        os.environ.update(env)  # the workers' metrics go to one directory; a scrape sums them
        return _run_workers(settings, host, port, workers)


def _run_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    import signal
    import subprocess
    import time

    from bot import metrics

    cmd = [
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--reuse-port",
    ]
    procs = [subprocess.Popen(cmd) for _ in range(workers)]
    stopping = False

    def stop(signum, frame):  # forward to the workers; they finish their requests
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("serving on http://%s:%s with %d workers", host, port, workers)
    while not stopping:
        time.sleep(0.5)
        for i, p in enumerate(procs):
            if p.poll() is not None and not stopping:
                log.warning("worker %d exited with %s; restarting it", p.pid, p.returncode)
                metrics.worker_exited(p.pid)
                procs[i] = subprocess.Popen(cmd)
    # each worker drains, then gives its requests BOT_SHUTDOWN_TIMEOUT; a little more for exit
    deadline = time.monotonic() + settings.shutdown_drain + settings.shutdown_timeout + 5
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return 0


async def _noop() -> None:
    return None


def dev_banner(s: Settings, host: str, port: int) -> str:
    return "\n".join(
        [
            "Development mode: no WeChat credentials configured, using generated ones",
            # The token and AES key are secrets: never printed (a terminal gets recorded, a log
            # collected); `python -m bot chat` reads them from the same file.
            f"  stored in {s.data_dir / DEV_SECRETS_FILE} (owner-only)",
            f"  BOT_WECHAT_APP_ID={s.wechat_app_id}",
            f"  database: {s.db_url}",
            f"Serving on http://{host}:{port}/wechat - try it: {chat_hint(s, host, port)}",
        ]
    )


def chat_hint(s: Settings, host: str, port: int) -> str:
    """The chat command that reaches this server: --url when it is not chat's default address."""
    if (host, port) == (s.host, s.port):
        return "python -m bot chat --openid u1"
    # a wildcard listen address is not one to connect to; the machine itself is
    reach = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    reach = f"[{reach}]" if ":" in reach else reach
    return f"python -m bot chat --openid u1 --url http://{reach}:{port}"


def migrate(args: argparse.Namespace) -> int:
    configure_logging()

    async def done(settings: Settings) -> None:
        print(f"database is up to date: {settings.db_url.split('@')[-1]}")

    run_with_db(done)
    return 0
