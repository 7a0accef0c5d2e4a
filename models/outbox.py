"""The transactional outbox: every push is a row written with the change that caused it.

A dispatcher (bot.outbox) delivers due rows, retries with backoff and never loses one. The
unique dedupe_key makes "queue this alert" idempotent: the same cause queues one row only.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a dispatcher until locked_until
    SENT = "sent"
    FAILED = "failed"  # permanent error or attempts exhausted; visible to staff


class Channel(StrEnum):
    WECHAT_TEXT = "wechat_text"  # customer-service message to an official-account openid
    WECHAT_TEMPLATE = "wechat_template"  # template message to an official-account openid
    WXA_SUBSCRIBE = "wxa_subscribe"  # mini-program subscribe message
    WECHAT_MEDIA = "wechat_media"  # fetch a photo sent in chat into storage (not a push)
    WECOM = "wecom"  # WeCom group robot, markdown
    CENTER_WEBHOOK = "center_webhook"  # signed JSON event to the centre's records system


class OutboxMessage(Model):
    id = fields.BigIntField(primary_key=True)
    dedupe_key = fields.CharField(max_length=191, unique=True)
    channel = fields.CharField(max_length=32)
    recipient = fields.CharField(max_length=255, default="")
    payload = fields.JSONField()
    kind = fields.CharField(max_length=48, default="message")  # alert, digest, reply, event...
    region = fields.CharField(max_length=12, null=True, db_index=True)
    status = fields.CharField(max_length=16, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(db_index=True)
    locked_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=255, null=True)  # errcode and reason, no content
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox"
        indexes = (("status", "next_attempt_at"),)
