"""What /healthz and /readyz report: the database, its schema, the background rounds, shutdown.

Each background task (outbox dispatcher, scheduler) tells its `Heartbeats` when a round
completed or failed. A task that has not completed a round for BOT_HEALTH_MAX_ROUND_AGE
seconds is reported stalled, so a load balancer or an orchestrator notices a process whose
background work stopped while its HTTP side still answers. The same object carries the
shutdown flag: set on SIGTERM, it turns the probes to 503 at once and lets each background
task finish its round and stop.
"""

from __future__ import annotations

import asyncio
import logging
import pkgutil
import time
from dataclasses import dataclass, field

from tortoise import connections

log = logging.getLogger(__name__)
MIGRATIONS_TABLE = "tortoise_migrations"  # where Tortoise records applied migrations
FAILURE_LOG_EVERY = 60.0  # seconds: a failing round logs its traceback once, then a reminder


@dataclass
class Heartbeats:
    last: dict[str, float] = field(default_factory=dict)  # task -> monotonic end of last round
    failing_since: dict[str, float] = field(default_factory=dict)
    last_log: dict[str, float] = field(default_factory=dict)
    stopping: bool = False
    stopped_at: float | None = None  # monotonic time shutdown began
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)

    def register(self, name: str) -> None:
        """A task starts: it gets one full max age before it counts as stalled."""
        self.last[name] = time.monotonic()

    def completed(self, name: str) -> None:
        now = time.monotonic()
        since = self.failing_since.pop(name, None)
        if since is not None:
            log.warning("%s: rounds complete again after %.1f s of failures", name, now - since)
        self.last[name] = now

    def failed(self, name: str, exc: BaseException) -> None:
        """Logs the first failure with its traceback, later ones once a minute (not every
        second for the whole outage)."""
        now = time.monotonic()
        first = name not in self.failing_since
        self.failing_since.setdefault(name, now)
        if first:
            log.error("%s round failed; retrying", name, exc_info=exc)
        elif now - self.last_log.get(name, 0) >= FAILURE_LOG_EVERY:
            log.error(
                "%s rounds failing for %.0f s: %s",
                name,
                now - self.failing_since[name],
                type(exc).__name__,
            )
        else:
            return
        self.last_log[name] = now

    def age(self, name: str) -> float:
        return time.monotonic() - self.last.get(name, time.monotonic())

    def stop(self) -> None:
        """Shutdown begins: probes answer 503, background tasks end after their round."""
        if not self.stopping:
            self.stopping, self.stopped_at = True, time.monotonic()
        self.stop_event.set()

    def time_left(self, timeout: float) -> float:
        """Seconds left of the shutdown timeout, counted from when shutdown began."""
        started = self.stopped_at if self.stopped_at is not None else time.monotonic()
        return max(0.0, started + timeout - time.monotonic())

    async def sleep(self, wakeup: asyncio.Event | None, seconds: float) -> None:
        """Waits `seconds`, or less when `wakeup` is set or shutdown begins."""
        waiters = [asyncio.ensure_future(self.stop_event.wait())]
        if wakeup is not None:
            waiters.append(asyncio.ensure_future(wakeup.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()


def expected_migrations(package: str) -> frozenset[str]:
    """Names of the migrations shipped with the code (read once, at start-up)."""
    module = __import__(package, fromlist=["__path__"])
    return frozenset(m.name for m in pkgutil.iter_modules(module.__path__) if m.name[:4].isdigit())


async def check_database(app_label: str, expected: frozenset[str]) -> tuple[dict, list[str]]:
    """Two small queries: does the database answer, and are all our migrations applied?"""
    conn = connections.get("default")
    try:
        await conn.execute_query("SELECT 1")
    except Exception:  # any failure to answer means down; the reason goes to the response
        return {"database": "down"}, ["database_down"]
    try:
        rows = await conn.execute_query_dict(
            f'SELECT name FROM "{MIGRATIONS_TABLE}" WHERE app = '
            + ("$1" if conn.capabilities.dialect == "postgres" else "?"),
            [app_label],
        )
    except Exception:  # the table is gone: a database recreated empty, or never migrated
        return {"database": "ok", "schema": "missing"}, ["schema_missing"]
    missing = sorted(expected - {r["name"] for r in rows})
    if missing:
        return (
            {"database": "ok", "schema": "not_migrated", "missing_migrations": missing},
            ["schema_not_migrated"],
        )
    return {"database": "ok", "schema": "ok"}, []


def background_report(beats: Heartbeats, max_age: float) -> tuple[dict, list[str]]:
    body, reasons = {}, []
    for name in sorted(beats.last):
        age = round(beats.age(name), 1)
        stalled = age > max_age
        body[name] = {"status": "stalled" if stalled else "ok", "last_round_age": age}
        if stalled:
            reasons.append(f"{name}_stalled")
    return body, reasons
