"""Serving the application: the listener, read timeouts for slow clients, graceful shutdown.

aiohttp waits for a request head or body for as long as the client keeps the connection open: a
client that sends half a request and stops holds a connection (and its file descriptor) for
ever, and a few thousand of them starve everyone else. `GuardedRequestHandler` closes a
connection whose request head is not complete within BOT_HEADER_TIMEOUT seconds, and fails a
request whose body sends nothing for BOT_BODY_TIMEOUT seconds (408), so stalled clients are let
go while the others are served. A slow but moving upload (a 10 MB photo over a village network)
is never cut: the body timeout counts silence, not total time.

On SIGTERM (or Ctrl-C) the probes answer 503 at once, the listener stays open for
BOT_SHUTDOWN_DRAIN seconds (so a load balancer polling /readyz stops sending first), then closes;
requests in flight — an upload still arriving included — get BOT_SHUTDOWN_TIMEOUT seconds to
finish, and the outbox and scheduler end after their current round.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from bot.keys import heartbeats_key, metrics_key
from bot.settings import Settings

log = logging.getLogger(__name__)
KEEPALIVE_TIMEOUT = 75.0  # seconds an idle keep-alive connection stays open (aiohttp's run_app)


@dataclass(frozen=True, slots=True)
class ReadTimeouts:
    header: float  # seconds from the first byte (or the connection) to a complete request head
    body: float  # seconds a request body may send nothing before the request fails with 408
    on_timeout: Callable[[str], None] = lambda phase: None


class BodyTimeout(web.HTTPRequestTimeout):
    """Raised from a body read when the client has sent nothing for BOT_BODY_TIMEOUT seconds."""


class GuardedRequestHandler(RequestHandler):
    """aiohttp's connection protocol with a header and a body read timeout.

    It watches what aiohttp's own parser reports: a complete head appears as a new entry in the
    handler's message queue, with the body's stream beside it. Timers are lazy — one per
    connection, re-armed when it fires early — so a fast upload costs no timer per chunk.
    """

    def __init__(self, manager: web.Server, *, timeouts: ReadTimeouts, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._timeouts = timeouts
        self._head_timer: asyncio.TimerHandle | None = None
        self._body: Any = None  # the StreamReader of the body now arriving
        self._body_seen = 0.0  # loop time the body last received bytes
        self._body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_head()

    def connection_lost(self, exc: BaseException | None) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = self._body = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        in_body = self._body is not None and not self._body.is_eof()
        before = len(self._messages)
        if in_body and (self._close or self._force_close) and self.transport is not None:
            self._feed_while_closing(data)
        else:
            super().data_received(data)
        now = self._loop.time()
        if in_body:
            self._body_seen = now
        if len(self._messages) > before:  # a complete request head arrived
            self._cancel_head()
            payload = self._messages[-1][1]
            self._body = None if payload.is_eof() else payload
            if self._body is not None:
                self._body_seen = now
                self._arm_body(now + self._timeouts.body)
        elif data and not in_body and self._head_timer is None:
            self._arm_head()  # the first bytes of the next request on a kept-alive connection

    def _feed_while_closing(self, data: bytes) -> None:
        """Shutdown marks every connection closing, and aiohttp then drops what arrives — the
        rest of an upload in flight too, so it could never finish. Its body is still read; no
        new request is taken (the flags are back before the handler loop looks again)."""
        closing = self._close, self._force_close
        self._close = self._force_close = False
        try:
            super().data_received(data)
        finally:
            self._close = self._close or closing[0]
            self._force_close = self._force_close or closing[1]

    def _arm_head(self) -> None:
        if self._timeouts.header > 0:
            self._head_timer = self._loop.call_later(self._timeouts.header, self._head_expired)

    def _cancel_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        """No complete request head in time: nothing to answer, the connection is closed."""
        self._head_timer = None
        if self.transport is None or self._messages or self._request_in_progress:
            return
        self._timeouts.on_timeout("header")
        self.force_close()

    def _arm_body(self, at: float) -> None:
        if self._timeouts.body > 0 and self._body_timer is None:
            self._body_timer = self._loop.call_at(at, self._check_body)

    def _check_body(self) -> None:
        """The body's silence ran out: its reader fails with 408 and the connection closes."""
        self._body_timer = None
        body = self._body
        if body is None or body.is_eof() or self.transport is None:
            return
        now = self._loop.time()
        if self._reading_paused:  # our handler has not read what came; the client is not late
            self._body_seen = now
        if now - self._body_seen < self._timeouts.body:
            self._arm_body(self._body_seen + self._timeouts.body)
            return
        self._body = None
        self._timeouts.on_timeout("body")
        if not self._request_in_progress:  # answered already; aiohttp is reading the rest
            self.force_close()
            return
        body.set_exception(BodyTimeout())  # the handler's read fails: 408
        self._lingering_time = 0.0  # no reading "the rest" after the answer: there is none
        self.close()  # and the connection ends after that answer


class GuardedServer:
    """aiohttp's low-level Server, handing out GuardedRequestHandler for each connection."""

    def __init__(self, server: web.Server, timeouts: ReadTimeouts) -> None:
        self._server = server
        self._timeouts = timeouts

    def __call__(self) -> GuardedRequestHandler:
        return GuardedRequestHandler(
            self._server, loop=self._server._loop, timeouts=self._timeouts, **self._server._kwargs
        )

    def __getattr__(self, name: str) -> Any:  # connections, shutdown, pre_shutdown ...
        return getattr(self._server, name)


class GuardedAppRunner(web.AppRunner):
    def __init__(self, app: web.Application, timeouts: ReadTimeouts, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._timeouts = timeouts

    async def _make_server(self) -> Any:
        return GuardedServer(await super()._make_server(), self._timeouts)


def read_timeouts(app: web.Application, settings: Settings) -> ReadTimeouts:
    counter = app[metrics_key].read_timeouts
    return ReadTimeouts(
        settings.header_timeout,
        settings.body_timeout,
        on_timeout=lambda phase: counter.labels(phase).inc(),
    )


def run(
    app: web.Application, settings: Settings, host: str, port: int, *, reuse_port: bool = False
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully (module docstring)."""
    asyncio.run(serve(app, settings, host, port, reuse_port=reuse_port))


async def serve(
    app: web.Application, settings: Settings, host: str, port: int, *, reuse_port: bool = False
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = GuardedAppRunner(
        app,
        read_timeouts(app, settings),
        handle_signals=False,
        # aiohttp's access log would write paths and query strings (openids, signatures);
        # bot.logs.access_middleware writes route patterns instead
        access_log=None,
        keepalive_timeout=KEEPALIVE_TIMEOUT,
        shutdown_timeout=settings.shutdown_timeout,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
        log.info("serving on http://%s:%s", host, port)
        await stop.wait()
        log.info("shutting down: in-flight requests get %s s", settings.shutdown_timeout)
        app[heartbeats_key].stop()  # /healthz and /readyz answer 503 from now on
        if settings.shutdown_drain > 0:
            await asyncio.sleep(settings.shutdown_drain)
    finally:
        # stop listening, close idle connections, wait for handlers up to the timeout, then
        # the cleanup contexts: background rounds end, the batcher drains, the ORM closes
        await runner.cleanup()
    log.info("stopped")
