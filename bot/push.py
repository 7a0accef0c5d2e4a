"""Pushes that are not WeChat API calls: the WeCom group robot and the centre's records webhook.

The centre webhook is signed so the receiver can trust it came from us and is fresh:

    X-Bot-Event-Id:   unique per event, the same on every retry (the receiver dedupes on it)
    X-Bot-Event:      the event type, e.g. "application.decided"
    X-Bot-Timestamp:  unix seconds when this attempt was sent
    X-Bot-Signature:  "sha256=" + hex(HMAC-SHA256(secret, f"{timestamp}.".encode() + body))

The timestamp is inside the signed bytes, so an attacker who captured one delivery can neither
replay it later (the receiver refuses timestamps older than SIGNATURE_MAX_AGE) nor re-date it
(that changes the signature). `verify_signature` is the receiver's side of this.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

import aiohttp

from bot.wechat.api import WeChatAPIError, request_json

log = logging.getLogger(__name__)

WECOM_MARKDOWN_MAX = 4096  # bytes of UTF-8: the robot rejects longer markdown content
WECOM_TIMEOUT = 10.0  # seconds; the robot is a push to a chat, nobody waits on it
WEBHOOK_TIMEOUT = 10.0  # seconds; the centre's system may be slow, and we retry anyway
SIGNATURE_MAX_AGE = 300  # seconds; older deliveries are refused so a captured one can't be replayed
SIGNATURE_PREFIX = "sha256="

HEADER_EVENT_ID = "X-Bot-Event-Id"
HEADER_EVENT = "X-Bot-Event"
HEADER_TIMESTAMP = "X-Bot-Timestamp"
HEADER_SIGNATURE = "X-Bot-Signature"


class WebhookError(Exception):
    """The centre's system did not accept a delivery; `retryable` says whether to try again."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status

    @property
    def permanent(self) -> bool:
        return not self.retryable


def _truncate_utf8(text: str, limit: int) -> str:
    raw = text.encode()
    if len(raw) <= limit:
        return text
    marker = "…"
    return raw[: limit - len(marker.encode())].decode("utf-8", "ignore") + marker


async def send_wecom_markdown(
    session: aiohttp.ClientSession, url: str, content: str, *, timeout: float = WECOM_TIMEOUT
) -> None:
    """Post markdown to a WeCom group robot; errcode != 0 raises WeChatAPIError.

    Content longer than the robot accepts is cut (with "…") rather than failing the push.
    The URL carries the robot's key, so it is never logged.
    """
    size = len(content.encode())
    if size > WECOM_MARKDOWN_MAX:
        log.warning("WeCom markdown is %d bytes, cut to %d", size, WECOM_MARKDOWN_MAX)
        content = _truncate_utf8(content, WECOM_MARKDOWN_MAX)
    body = {"msgtype": "markdown", "markdown": {"content": content}}
    try:
        await request_json(
            session, "POST", url, body=body, timeout=aiohttp.ClientTimeout(total=timeout)
        )
    except WeChatAPIError as exc:
        log.warning("WeCom robot push failed: errcode %s", exc.errcode)
        raise


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The X-Bot-Signature value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


async def post_signed_webhook(
    session: aiohttp.ClientSession,
    url: str,
    secret: str,
    event_id: str,
    event_type: str,
    body: bytes,
    *,
    timeout: float = WEBHOOK_TIMEOUT,
) -> None:
    """POST a JSON `body` to the centre, signed over timestamp + body (see the module docstring).

    A 2xx is success. 5xx, 408, 429, timeouts and connection errors raise a retryable
    WebhookError; any other answer (including a redirect, which we do not follow with a signed
    body) raises a permanent one. The same event_id goes out on every retry.
    """
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        HEADER_EVENT_ID: event_id,
        HEADER_EVENT: event_type,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, timestamp, body),
    }
    try:
        async with session.post(
            url,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            status = resp.status
    except TimeoutError:
        log.warning("centre webhook %s (%s) timed out", event_id, event_type)
        raise WebhookError("centre webhook timed out", retryable=True) from None
    except aiohttp.ClientError as exc:
        log.warning("centre webhook %s (%s) failed: %s", event_id, event_type, type(exc).__name__)
        raise WebhookError(f"centre webhook: {type(exc).__name__}", retryable=True) from None
    if 200 <= status < 300:
        return
    retryable = status >= 500 or status in (408, 429)
    log.warning("centre webhook %s (%s) answered HTTP %s", event_id, event_type, status)
    raise WebhookError(f"centre webhook answered HTTP {status}", retryable=retryable, status=status)


def verify_signature(
    secret: str,
    timestamp: int | str | None,
    body: bytes,
    header: str | None,
    *,
    max_age: int | None = SIGNATURE_MAX_AGE,
    now: float | None = None,
) -> bool:
    """For receivers: True if `header` signs `timestamp` + `body` and the timestamp is recent.

    Fails closed on a missing or malformed header or timestamp. The compare is constant-time.
    `max_age=None` skips the freshness check (only for replaying recorded test deliveries).
    """
    if not header or timestamp is None:
        return False
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if max_age is not None and abs((time.time() if now is None else now) - ts) > max_age:
        return False
    return hmac.compare_digest(sign(secret, ts, body).encode(), header.strip().encode())
