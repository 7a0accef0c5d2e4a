"""Health, metrics, the OpenAPI document, and the development outbox viewer."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tortoise import connections
from tortoise.functions import Count

from bot.api import json_ok, openapi_document
from bot.keys import metrics_key, settings_key
from bot.outbox import dev_sink
from models.outbox import Channel, OutboxMessage, OutboxStatus


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers; 503 otherwise (load balancers take us out)."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:
        return web.json_response({"status": "unavailable", "database": "down"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    m = request.app[metrics_key]
    try:
        counts = dict(
            await OutboxMessage.annotate(n=Count("id")).group_by("status").values_list("status", "n")
        )
        for status in OutboxStatus:
            m.outbox_rows.labels(status.value).set(counts.get(status.value, 0))
    except Exception:  # the scrape still answers with the process counters
        m.errors.labels("metrics").inc()
    return web.Response(body=generate_latest(m.registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return json_ok(openapi_document(request.app[settings_key].public_base_url))


async def dev_outbox(request: web.Request) -> web.Response:
    """Messages 'sent' to an openid while no real WeChat account is configured.

    Lets `python -m bot chat` show customer-service and template pushes. Exists only in
    development with generated credentials; 404 everywhere else.
    """
    if not dev_sink(request.app[settings_key]):
        raise web.HTTPNotFound()
    openid = request.query.get("openid", "")
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        after = 0
    rows = await OutboxMessage.filter(
        recipient=openid, id__gt=after,
        channel__in=[Channel.WECHAT_TEXT, Channel.WECHAT_TEMPLATE, Channel.WXA_SUBSCRIBE],
    ).order_by("id").limit(50)
    return json_ok({"items": [
        {"id": r.id, "channel": r.channel, "status": r.status,
         "text": r.payload.get("text") or _template_text(r.payload)} for r in rows]})


def _template_text(payload: dict) -> str:
    data = payload.get("data") or {}
    return " / ".join(str(v.get("value", v)) if isinstance(v, dict) else str(v)
                      for v in data.values())
