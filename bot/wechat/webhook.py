"""GET/POST /wechat: verify -> decrypt -> parse -> dedupe -> dispatch -> reply (-> encrypt).

Fails closed: a bad or missing signature or a stale timestamp is 403, an oversized body 413, a
DTD or anything that is not WeChat's XML 400, before the conversation engine sees anything.
With an AES key configured, a plain request is 403 (unless BOT_WECHAT_ALLOW_PLAIN, for the move
from plain to safe mode); a plain body must be the first one seen under its (timestamp, nonce).
A failure inside the engine still answers 200 with an apology: a 5xx would make WeChat retry
three times and then tell the user the account 'cannot provide service'.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from wechatpy.crypto import WeChatCrypto

from bot import conversation
from bot.keys import metrics_key, settings_key
from bot.settings import reveal
from bot.wechat.protocol import (
    MAX_BODY,
    Incoming,
    ProtocolError,
    check_signature,
    decrypt,
    encrypt_reply,
    parse,
    render_text_reply,
)
from bot.wechat.replay import check_plain_body
from i18n import t
from models.masking import mask_openid

log = logging.getLogger(__name__)
crypto_key = web.AppKey("wechat_crypto", WeChatCrypto)


def setup(app: web.Application) -> None:
    s = app[settings_key]
    if s.wechat_aes_key:
        app[crypto_key] = WeChatCrypto(s.token, reveal(s.wechat_aes_key), s.wechat_app_id or "")
    app.router.add_get("/wechat", verify_url)
    app.router.add_post("/wechat", receive)


async def verify_url(request: web.Request) -> web.Response:
    """WeChat's server-address check: echo `echostr` when the signature is ours."""
    s = request.app[settings_key]
    try:
        check_signature(s.token, dict(request.query), max_skew=s.wechat_max_clock_skew)
    except ProtocolError as exc:
        request.app[metrics_key].rejected.labels(exc.reason).inc()
        return web.Response(status=exc.status, text=exc.reason)
    return web.Response(text=request.query.get("echostr", ""))


async def receive(request: web.Request) -> web.Response:
    metrics = request.app[metrics_key]
    started = time.perf_counter()
    try:
        return await _receive(request)
    except ProtocolError as exc:
        metrics.rejected.labels(exc.reason).inc()
        return web.Response(status=exc.status, text=exc.reason)
    finally:
        metrics.latency.observe(time.perf_counter() - started)


async def _receive(request: web.Request) -> web.Response:
    app = request.app
    s, metrics = app[settings_key], app[metrics_key]
    query = dict(request.query)
    check_signature(s.token, query, max_skew=s.wechat_max_clock_skew)
    encrypted = query.get("encrypt_type", "").lower() == "aes"
    crypto = app.get(crypto_key)
    if not encrypted and crypto is not None and not s.wechat_allow_plain:
        # Safe mode configured: a plain request is a downgrade (its signature does not cover
        # the body), whoever sends it.
        raise ProtocolError(403, "plain_refused")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ProtocolError(413, "too_large")
    body = await _read_capped(request)
    if encrypted:
        if crypto is None:
            raise ProtocolError(400, "aes_not_configured")
        plain: str | bytes = decrypt(crypto, s.token, body, query)
    else:
        await check_plain_body(query, body)
        plain = body
    inc = parse(plain)
    metrics.count(
        metrics.inbound, inc.kind if inc.kind != "event" else "event:" + (inc.event or "")
    )
    try:
        text = await conversation.handle(app, inc)
    except Exception:
        log.exception("handling a %s message from %s failed", inc.kind, mask_openid(inc.openid))
        metrics.errors.labels("conversation").inc()
        text = t("error.busy")
    return _reply(crypto if encrypted else None, inc, text, query, metrics)


async def _read_capped(request: web.Request) -> bytes:
    if request.content_length is not None:  # checked against MAX_BODY already
        return await request.read()
    chunks, size = [], 0  # chunked transfer: count as it comes
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise ProtocolError(413, "too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _reply(
    crypto: WeChatCrypto | None, inc: Incoming, text: str | None, query: dict[str, str], metrics
) -> web.Response:
    if not text:
        metrics.count(metrics.replies, "success")
        return web.Response(text="success")
    xml = render_text_reply(inc, text)
    if crypto is not None:
        xml = encrypt_reply(crypto, xml, query.get("nonce", ""), query.get("timestamp") or None)
    metrics.count(metrics.replies, "text")
    return web.Response(text=xml, content_type="application/xml")
