"""Prometheus metrics. One registry per application, so tests can build many apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.inbound = Counter(
            "wechat_inbound_messages_total", "Inbound WeChat messages by type", ["type"], registry=r
        )
        self.duplicates = Counter(
            "wechat_duplicate_messages_total", "WeChat retries answered from the dedupe table",
            registry=r,
        )
        self.replies = Counter("wechat_replies_total", "Passive replies sent", ["kind"], registry=r)
        self.rejected = Counter(
            "wechat_rejected_requests_total", "Webhook requests refused", ["reason"], registry=r
        )
        self.errors = Counter("bot_errors_total", "Unhandled errors by place", ["where"], registry=r)
        self.latency = Histogram(
            "wechat_webhook_seconds", "Time to answer POST /wechat",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4.5), registry=r,
        )
        self.http_latency = Histogram(
            "http_request_seconds", "Time to answer API requests", ["route"], registry=r,
        )
        self.flow_completions = Counter(
            "flow_completions_total", "Chat flows finished", ["flow"], registry=r
        )
        self.outbox_sent = Counter("outbox_sent_total", "Pushes delivered", ["channel"], registry=r)
        self.outbox_failed = Counter(
            "outbox_failed_total", "Pushes given up (permanent error or attempts exhausted)",
            ["channel"], registry=r,
        )
        self.outbox_retries = Counter(
            "outbox_retries_total", "Push attempts that will be retried", ["channel"], registry=r
        )
        self.outbox_rows = Gauge(
            "outbox_rows", "Outbox rows by status (read from the database at scrape)",
            ["status"], registry=r,
        )
        self.read_timeouts = Counter(
            "http_read_timeouts_total", "Connections closed for a stalled request head or body",
            ["phase"], registry=r,
        )
        self.jobs = Counter("scheduler_jobs_total", "Scheduled job runs", ["job"], registry=r)
