"""Inbound WeChat messages we handled, for deduplicating WeChat's retries.

WeChat retries a message up to 3 times when it gets no answer within 5 s. The row is written in
the same transaction as the message's effects, with the reply we gave, so a retry changes
nothing and gets the same answer. Rows older than a week are purged by the scheduler.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class InboundMessage(Model):
    id = fields.BigIntField(primary_key=True)
    dedupe_key = fields.CharField(max_length=128, unique=True)  # MsgId, or openid:CreateTime:Event
    openid = fields.CharField(max_length=64, db_index=True)
    msg_type = fields.CharField(max_length=32)
    reply: str | None = fields.TextField(null=True)  # the text we answered; None = 'success'
    received_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "inbound_message"


class PlainNonce(Model):
    """A (timestamp, nonce) of a plain-mode request and the body it came with (bot.wechat.replay).

    Both are stored as SHA-256 digests: fixed width whatever a caller sends, and no user text.
    """

    key = fields.CharField(max_length=64, primary_key=True)  # sha256(timestamp \n nonce)
    body_hash = fields.CharField(max_length=64)
    seen_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "plain_nonce"
