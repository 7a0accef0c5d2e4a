"""Prometheus metrics. One registry per application, so tests can build many apps.

With `serve --workers N` each scrape reaches one worker, so every worker's numbers must be in
its answer: the supervisor gives the workers a shared PROMETHEUS_MULTIPROC_DIR, where
prometheus-client's multiprocess mode keeps each process's values in a memory-mapped file, and
`exposition()` sums them at scrape time (counters and histograms summed; the outbox gauge, read
from the database, is the most recent value any live worker read).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own switch, read at its import


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.inbound = Counter(
            "wechat_inbound_messages_total", "Inbound WeChat messages by type", ["type"], registry=r
        )
        self.duplicates = Counter(
            "wechat_duplicate_messages_total",
            "WeChat retries answered from the dedupe table",
            registry=r,
        )
        self.replies = Counter("wechat_replies_total", "Passive replies sent", ["kind"], registry=r)
        self.rejected = Counter(
            "wechat_rejected_requests_total", "Webhook requests refused", ["reason"], registry=r
        )
        self.errors = Counter(
            "bot_errors_total", "Unhandled errors by place", ["where"], registry=r
        )
        self.latency = Histogram(
            "wechat_webhook_seconds",
            "Time to answer POST /wechat",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4.5),
            registry=r,
        )
        self.http_latency = Histogram(
            "http_request_seconds",
            "Time to answer API requests",
            ["route"],
            registry=r,
        )
        self.flow_completions = Counter(
            "flow_completions_total", "Chat flows finished", ["flow"], registry=r
        )
        self.outbox_sent = Counter("outbox_sent_total", "Pushes delivered", ["channel"], registry=r)
        self.outbox_failed = Counter(
            "outbox_failed_total",
            "Pushes given up (permanent error or attempts exhausted)",
            ["channel"],
            registry=r,
        )
        self.outbox_retries = Counter(
            "outbox_retries_total", "Push attempts that will be retried", ["channel"], registry=r
        )
        self.outbox_rows = Gauge(
            "outbox_rows",
            "Outbox rows by status (read from the database at scrape)",
            ["status"],
            registry=r,
            multiprocess_mode="livemostrecent",
        )
        self.read_timeouts = Counter(
            "http_read_timeouts_total",
            "Connections closed for a stalled request head or body",
            ["phase"],
            registry=r,
        )
        self.jobs = Counter("scheduler_jobs_total", "Scheduled job runs", ["job"], registry=r)

        self._children: dict[tuple[int, str], Counter] = {}

    def count(self, metric: Counter, label: str) -> None:
        """`metric.labels(label).inc()`, with the labelled child kept: labels() validates and
        locks on every call, and the webhook counts three times per message."""
        key = (id(metric), label)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(label)
        child.inc()

    def exposition(self) -> bytes:
        """The text a scrape gets: this process's registry, or every worker's values summed."""
        directory = os.environ.get(MULTIPROC_ENV)
        if not directory:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)


@contextmanager
def shared_across_workers() -> Iterator[dict[str, str]]:
    """For the supervisor: the environment that puts its workers' metrics in one directory.

    A directory given in PROMETHEUS_MULTIPROC_DIR is used (emptied first: values left from an
    earlier run would be added to this one's); otherwise a fresh one is made and removed after.
    """
    given = os.environ.get(MULTIPROC_ENV)
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="bot-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    try:
        yield {MULTIPROC_ENV: str(directory)}
    finally:
        if not given:
            shutil.rmtree(directory, ignore_errors=True)


def worker_exited(pid: int) -> None:
    """A worker is gone: its live gauges leave the sum (its counters stay, as counters do)."""
    if os.environ.get(MULTIPROC_ENV):
        mark_process_dead(pid, os.environ[MULTIPROC_ENV])
