"""Health and readiness, metrics, the OpenAPI document, and the development outbox viewer."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from tortoise.functions import Count

from bot.api import json_ok, openapi_document
from bot.clientaddr import is_loopback_request
from bot.db import APP_LABEL
from bot.health import background_report, check_database
from bot.keys import heartbeats_key, metrics_key, migrations_key, settings_key
from bot.outbox import dev_sink
from models.outbox import Channel, OutboxMessage, OutboxStatus


async def healthz(request: web.Request) -> web.Response:
    """Is this process healthy: ready (below), and its outbox and scheduler complete rounds?

    503 with the reasons otherwise. Two small queries, no locks: cheap enough to poll every
    few seconds.
    """
    return await probe(request.app, background=True)


async def readyz(request: web.Request) -> web.Response:
    """Can this process serve requests: database up, schema migrated, not shutting down?"""
    return await probe(request.app, background=False)


async def probe(app: web.Application, *, background: bool) -> web.Response:
    beats = app[heartbeats_key]
    if beats.stopping:  # answered before any query: the database may be closing already
        return web.json_response(
            {"status": "shutting_down", "reason": "shutting_down", "reasons": ["shutting_down"]},
            status=503,
        )
    body, reasons = await check_database(APP_LABEL, app[migrations_key])
    if background:
        rounds, stalled = background_report(beats, app[settings_key].health_max_round_age)
        body.update(rounds)
        reasons += stalled
    if not reasons:
        return web.json_response({"status": "ok", **body})
    return web.json_response(
        {"status": "unavailable", "reason": reasons[0], "reasons": reasons, **body}, status=503
    )


async def metrics(request: web.Request) -> web.Response:
    m = request.app[metrics_key]
    try:
        counts = dict(
            await OutboxMessage.annotate(n=Count("id"))
            .group_by("status")
            .values_list("status", "n")
        )
        for status in OutboxStatus:
            m.outbox_rows.labels(status.value).set(counts.get(status.value, 0))
    except Exception:  # the scrape still answers with the process counters
        m.errors.labels("metrics").inc()
    return web.Response(body=m.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return json_ok(openapi_document(request.app[settings_key].public_base_url))


async def dev_outbox(request: web.Request) -> web.Response:
    """Messages 'sent' to an openid while no real WeChat account is configured.

    Lets `python -m bot chat` show customer-service and template pushes. Exists only in
    development without a real app secret, and only for a client on this machine talking to
    us directly (it serves anyone's pushes without a login); 404 everywhere else.
    """
    s = request.app[settings_key]
    if s.env == "production" or not dev_sink(s) or not is_loopback_request(request):
        raise web.HTTPNotFound()
    openid = request.query.get("openid", "")
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        after = 0
    rows = (
        await OutboxMessage.filter(
            recipient=openid,
            id__gt=after,
            channel__in=[Channel.WECHAT_TEXT, Channel.WECHAT_TEMPLATE, Channel.WXA_SUBSCRIBE],
        )
        .order_by("id")
        .limit(50)
    )
    return json_ok(
        {
            "items": [
                {
                    "id": r.id,
                    "channel": r.channel,
                    "status": r.status,
                    "text": r.payload.get("text") or _template_text(r.payload),
                }
                for r in rows
            ]
        }
    )


def _template_text(payload: dict) -> str:
    data = payload.get("data") or {}
    return " / ".join(
        str(v.get("value", v)) if isinstance(v, dict) else str(v) for v in data.values()
    )
