"""Typed keys for what the aiohttp application shares (aiohttp's 'no singletons' pattern)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.health import Heartbeats
    from bot.metrics import Metrics
    from bot.wechat.api import WeChatAPI
    from models.policy import Policy

settings_key = web.AppKey("settings", Settings)
policy_key: web.AppKey[Policy] = web.AppKey("policy")
metrics_key: web.AppKey[Metrics] = web.AppKey("metrics")
http_key = web.AppKey("http", aiohttp.ClientSession)
wechat_api_key: web.AppKey[WeChatAPI] = web.AppKey("wechat_api")
outbox_wakeup_key = web.AppKey("outbox_wakeup", asyncio.Event)
tasks_key: web.AppKey[set[asyncio.Task]] = web.AppKey("tasks")
heartbeats_key: web.AppKey[Heartbeats] = web.AppKey("heartbeats")
migrations_key: web.AppKey[frozenset[str]] = web.AppKey("migrations")  # shipped migration names
