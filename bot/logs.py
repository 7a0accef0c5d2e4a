"""Log output: one access line per request, and plain text or one JSON object per line.

The access line names the route's pattern (`/api/v1/applications/{id}`), never the path as sent
or its query string: WeChat's query strings carry signatures and openids, and paths carry ids.
No client address or user agent either: they identify people and we do not need them to run
the service. `BOT_LOG_FORMAT=json` turns every line the server writes into one JSON object
(`ts`, `level`, `logger`, `msg`, and for access lines `method`, `route`, `status`, `ms`), for
log collectors (Loki, Elasticsearch, Aliyun SLS).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

access_log = logging.getLogger("bot.access")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class TextFormatter(logging.Formatter):
    """logging.Formatter(TEXT_FORMAT), with the date and time up to the second formatted once a
    second instead of for every line (time.strftime was a sixth of an access line's cost)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._second: int | None = None
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:  # handlers format under their lock: one thread at a time
            self._stamp = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return f"{self._stamp},{int(record.msecs):03d}"  # logging's default_msec_format


class JsonFormatter(logging.Formatter):
    """One JSON object per record; a traceback goes in `exc`, inside the same line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Root handler on stderr in the chosen format. In JSON, Python's warnings go through
    logging as well, so nothing else reaches the stream as free text."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(fmt == "json")
    # Neither format shows the caller's file and line, the thread or the process: skip
    # looking them up for every record (the logging HOWTO's "Optimization" section); a fifth
    # of an access line's cost.
    logging._srcfile = None  # documented there, underscore and all
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def route_of(request: web.Request) -> str:
    """The matched route's pattern; '-' when none matched (a 404 path is not logged)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "-"


@web.middleware
async def access_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """One line per request once it is answered: method, route pattern, status, duration."""
    started = time.perf_counter()
    status = 500  # an exception that escapes every handler becomes aiohttp's 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # the client went away first (nginx's code for it)
        raise
    finally:
        if access_log.isEnabledFor(logging.INFO):
            ms = round((time.perf_counter() - started) * 1000, 1)
            route = route_of(request)
            access_log.info(
                "%s %s %s %.1fms",
                request.method,
                route,
                status,
                ms,
                extra={
                    "fields": {"method": request.method, "route": route, "status": status, "ms": ms}
                },
            )
