"""The transactional outbox: queue a push with its cause; a dispatcher delivers it.

`enqueue()` writes a row in the caller's transaction, keyed by a dedupe key (the same cause
queues one row, however often it is retried). The dispatcher claims due rows (FOR UPDATE SKIP
LOCKED on PostgreSQL, so several workers share the work), marks them 'sending' with a lease,
sends outside any transaction, then records the result: 'sent', a retry with exponential backoff,
or 'failed' (permanent error or attempts exhausted). A worker that dies mid-send leaves a lease
that expires, and another worker sends the row again: delivery is at least once, and template
sends carry client_msg_id = the dedupe key so WeChat drops the duplicate.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from bot.keys import (
    heartbeats_key,
    http_key,
    metrics_key,
    outbox_wakeup_key,
    settings_key,
    wechat_api_key,
)
from bot.settings import reveal
from models.masking import mask_openid
from models.outbox import Channel, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)  # a claimed row is retried by others if not settled by then
MEDIA_DOWNLOADS = 4  # concurrent chat-photo downloads per process
BATCH = 20  # rows claimed per round; small so several workers share a burst
MAX_BACKOFF = 3600.0  # seconds; a push is retried at least hourly until attempts run out
RECORD_RETRY_MAX = 5.0  # seconds between tries to store a send's outcome while the DB is away
WECHAT_CHANNELS = {
    Channel.WECHAT_TEXT,
    Channel.WECHAT_TEMPLATE,
    Channel.WXA_SUBSCRIBE,
    Channel.WECHAT_MEDIA,
}


async def enqueue(
    *,
    channel: str,
    payload: dict[str, Any],
    dedupe_key: str,
    recipient: str = "",
    kind: str = "message",
    region: str | None = None,
    delay_seconds: float = 0,
    conn: BaseDBAsyncClient | None = None,
) -> None:
    """Queue one push; a second call with the same dedupe_key does nothing."""
    global enqueued
    enqueued += 1
    row = OutboxMessage(
        dedupe_key=dedupe_key[:191],
        channel=str(channel),
        recipient=recipient,
        payload=payload,
        kind=kind,
        region=region,
        status=OutboxStatus.PENDING,
        next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay_seconds),
    )
    await OutboxMessage.bulk_create([row], ignore_conflicts=True, using_db=conn)


# Pushes queued by this process so far: the conversation engine wakes the dispatcher only
# when a batch queued one (a claim query after every chat message would be wasted work).
enqueued = 0


def wake(app: web.Application) -> None:
    """Tell this process's dispatcher there may be new rows (others find them by polling)."""
    event = app.get(outbox_wakeup_key)
    if event is not None:
        event.set()


def backoff(attempts: int) -> float:
    """Seconds before the next try: 5, 10, 20 ... capped, with jitter so retries spread."""
    return min(MAX_BACKOFF, 5.0 * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)


def client_msg_id(dedupe_key: str) -> str:
    # WeChat caps client_msg_id at 64 characters; a hash keeps long keys unique.
    return dedupe_key if len(dedupe_key) <= 64 else hashlib.sha256(dedupe_key.encode()).hexdigest()


class Dispatcher:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.settings = app[settings_key]
        self.metrics = app[metrics_key]
        # Chat-photo downloads at once: each holds up to 10 MB; a filing may queue 30 of them.
        self.media_slots = asyncio.Semaphore(MEDIA_DOWNLOADS)
        # (lease, rows) of a claim whose COMMIT failed: maybe stored, maybe not (see claim).
        self.uncertain: tuple[datetime, dict[int, OutboxMessage]] | None = None

    async def run(self) -> None:
        """Deliver rounds until stopped; a round that fails (database gone) is retried, and the
        heartbeat says when the last one completed (GET /healthz reads it)."""
        wakeup = self.app[outbox_wakeup_key]
        beats = self.app[heartbeats_key]
        while not beats.stopping:
            try:
                sent = await self.dispatch_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database down: keep the loop alive and try again later
                beats.failed("outbox", exc)
                self.metrics.errors.labels("outbox").inc()
                sent = 0
            else:
                beats.completed("outbox")
            if sent:
                continue
            wakeup.clear()
            await beats.sleep(wakeup, self.settings.outbox_interval)

    async def claim(self, limit: int = BATCH) -> list[OutboxMessage]:
        """Claims due rows: marks them 'sending' under a lease only this dispatcher knows.

        The lease's timestamp doubles as a claim token. When the connection dies during COMMIT
        we cannot know whether the claim was stored; the next round looks the rows up by that
        token (`reclaim`) and sends them then, rather than leaving them to wait out the lease.
        """
        if self.uncertain:
            return await self.reclaim(*self.uncertain)
        now = datetime.now(UTC)
        lease = now + LEASE
        due = Q(status=OutboxStatus.PENDING, next_attempt_at__lte=now) | Q(
            status=OutboxStatus.SENDING, locked_until__lt=now
        )
        rows: list[OutboxMessage] = []
        try:
            async with in_transaction() as conn:
                rows = await (
                    OutboxMessage.filter(due)
                    .order_by("next_attempt_at", "id")
                    .limit(limit)
                    .select_for_update(skip_locked=True)
                    .using_db(conn)
                )
                if not rows:
                    return []
                await (
                    OutboxMessage.filter(id__in=[r.id for r in rows])
                    .using_db(conn)
                    .update(
                        status=OutboxStatus.SENDING, locked_until=lease, attempts=F("attempts") + 1
                    )
                )
        except Exception:
            if rows:  # the UPDATE may have been committed: look at it again next round
                self.uncertain = (lease, {r.id: r for r in rows})
            raise
        for r in rows:
            r.attempts += 1
            r.locked_until = lease
        return rows

    async def reclaim(
        self, lease: datetime, candidates: dict[int, OutboxMessage]
    ) -> list[OutboxMessage]:
        """The rows of a claim whose COMMIT failed (`uncertain`), if it was stored after all."""
        if datetime.now(UTC) >= lease:  # expired: the rows are due again for anyone
            self.uncertain = None
            return []
        ids = set(
            cast(  # flat=True gives values; tortoise's types say tuples
                "list[int]",
                await OutboxMessage.filter(
                    id__in=list(candidates), status=OutboxStatus.SENDING, locked_until=lease
                ).values_list("id", flat=True),
            )
        )
        self.uncertain = None
        rows = [candidates[i] for i in sorted(ids)]
        for r in rows:
            r.attempts += 1
        log.info(
            "outbox: %d of %d rows of an interrupted claim were ours", len(rows), len(candidates)
        )
        return rows

    async def dispatch_once(self, limit: int = BATCH) -> int:
        rows = await self.claim(limit)
        if rows:
            await asyncio.gather(*(self.deliver(r) for r in rows))
        return len(rows)

    async def deliver(self, row: OutboxMessage) -> None:
        from bot.wechat.api import WeChatAPIError

        try:
            await self.send(row)
        except WeChatAPIError as exc:
            if exc.outside_window and row.channel == Channel.WECHAT_TEXT:
                await self.fall_back_to_template(row, exc)
            elif exc.permanent:
                await self.settle(row, OutboxStatus.FAILED, f"{exc.errcode} {exc.errmsg}")
            else:
                await self.retry(row, f"{exc.errcode} {exc.errmsg}")
        except PermanentError as exc:
            await self.settle(row, OutboxStatus.FAILED, str(exc))
        except Exception as exc:  # network errors, receiver 5xx, our bugs: retry, never lose
            log.warning("outbox row %s (%s) failed: %s", row.id, row.channel, type(exc).__name__)
            retryable = getattr(exc, "retryable", True)
            if retryable:
                await self.retry(row, type(exc).__name__ + " " + str(exc)[:150])
            else:
                await self.settle(row, OutboxStatus.FAILED, type(exc).__name__ + " " + str(exc))
        else:
            await self.settle(row, OutboxStatus.SENT, None)

    async def send(self, row: OutboxMessage) -> None:
        s, p = self.settings, row.payload
        if row.channel in WECHAT_CHANNELS and dev_sink(s):
            log.info(
                "dev: %s to %s kept in the outbox (no WeChat)",
                row.channel,
                mask_openid(row.recipient),
            )
            return
        api = self.app[wechat_api_key]
        if row.channel == Channel.WECHAT_TEXT:
            await api.send_text(row.recipient, p["text"])
        elif row.channel == Channel.WECHAT_TEMPLATE:
            if not p.get("template_id"):
                raise PermanentError("no template id configured")
            await api.send_template(
                row.recipient,
                p["template_id"],
                p.get("data", {}),
                url=p.get("url"),
                miniprogram=p.get("miniprogram"),
                client_msg_id=client_msg_id(row.dedupe_key),
            )
        elif row.channel == Channel.WXA_SUBSCRIBE:
            if not p.get("template_id"):
                raise PermanentError("no subscribe template id configured")
            await api.send_subscribe(
                row.recipient, p["template_id"], p.get("data", {}), page=p.get("page")
            )
        elif row.channel == Channel.WECHAT_MEDIA:
            from bot.storage import store_chat_photo

            async with self.media_slots:  # each download holds up to 10 MB in memory
                await store_chat_photo(self.app, p["material_id"], p["media_id"])
        elif row.channel == Channel.WECOM:
            from bot.push import send_wecom_markdown

            url = row.recipient or s.wecom_webhook_url
            if not url:
                raise PermanentError("BOT_WECOM_WEBHOOK_URL is not set")
            await send_wecom_markdown(self.app[http_key], url, p["markdown"])
        elif row.channel == Channel.CENTER_WEBHOOK:
            from bot.push import post_signed_webhook

            if not (s.center_webhook_url and s.center_webhook_secret):
                raise PermanentError("BOT_CENTER_WEBHOOK_URL/SECRET are not set")
            body = json.dumps(p["body"], ensure_ascii=False, sort_keys=True).encode("utf-8")
            # The header carries the same event id as the body, so a receiver may dedupe on either.
            event_id = str(p["body"].get("id") or row.dedupe_key)
            secret = reveal(s.center_webhook_secret) or ""
            await post_signed_webhook(
                self.app[http_key], s.center_webhook_url, secret, event_id, p["event"], body
            )
        else:
            raise PermanentError(f"unknown channel {row.channel}")

    async def record(self, row: OutboxMessage, **fields: Any) -> None:
        """Stores the outcome of a send, retrying until the database takes it.

        The push has left already: giving up here would leave the row 'sending', and when its
        lease ran out it would be sent a second time. So a lost connection is waited out
        (shutdown cancels the wait after BOT_SHUTDOWN_TIMEOUT).
        """
        delay = 0.2
        for attempt in itertools.count(1):
            try:
                await OutboxMessage.filter(id=row.id, status=OutboxStatus.SENDING).update(**fields)
                return
            except Exception as exc:  # the database is away; the outcome must not be lost
                if attempt == 1 or attempt % 20 == 0:
                    log.warning(
                        "outbox row %s: storing its outcome failed (%s), retrying",
                        row.id,
                        type(exc).__name__,
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECORD_RETRY_MAX)

    async def fall_back_to_template(self, row: OutboxMessage, exc: Exception) -> None:
        """45015: the user has not written within 48 h; a template message may still reach them."""
        fallback = row.payload.get("fallback_template")
        if not fallback or not fallback.get("template_id"):
            await self.settle(row, OutboxStatus.FAILED, "45015 outside the 48 h window")
            return
        await self.record(
            row,
            channel=Channel.WECHAT_TEMPLATE,
            payload={**fallback, "fallback_of": "wechat_text"},
            status=OutboxStatus.PENDING,
            next_attempt_at=datetime.now(UTC),
            locked_until=None,
            last_error="45015 -> template",
        )
        self.metrics.outbox_retries.labels(row.channel).inc()

    async def retry(self, row: OutboxMessage, error: str) -> None:
        if row.attempts >= self.settings.outbox_max_attempts:
            await self.settle(row, OutboxStatus.FAILED, f"gave up after {row.attempts}: {error}")
            return
        await self.record(
            row,
            status=OutboxStatus.PENDING,
            locked_until=None,
            last_error=error[:255],
            next_attempt_at=datetime.now(UTC) + timedelta(seconds=backoff(row.attempts)),
        )
        self.metrics.outbox_retries.labels(row.channel).inc()

    async def settle(self, row: OutboxMessage, status: OutboxStatus, error: str | None) -> None:
        now = datetime.now(UTC)
        await self.record(
            row,
            status=status,
            locked_until=None,
            last_error=error[:255] if error else None,
            sent_at=now if status == OutboxStatus.SENT else None,
        )
        if status == OutboxStatus.SENT:
            self.metrics.outbox_sent.labels(row.channel).inc()
        else:
            log.warning("outbox row %s (%s) failed for good: %s", row.id, row.channel, error)
            self.metrics.outbox_failed.labels(row.channel).inc()


class PermanentError(Exception):
    """A push that can never succeed as queued (missing configuration, unknown channel)."""


def dev_sink(settings) -> bool:
    """In development without real WeChat credentials, pushes stay in the outbox as 'sent'.

    `python -m bot chat` shows them (GET /dev/outbox), so the whole product can be tried
    without an official account.
    """
    return settings.env == "development" and (
        settings.dev_credentials or not settings.wechat_app_secret
    )
