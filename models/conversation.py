"""One row per WeChat user (openid) of the official account: language and conversation state.

The row is also the per-user lock: every inbound message locks it (SELECT ... FOR UPDATE on
PostgreSQL; sqlite has one writer), so one user's messages never interleave, across workers too.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Conversation(Model):
    openid = fields.CharField(max_length=64, primary_key=True)
    locale = fields.CharField(max_length=8, default="zh_CN")
    subscribed = fields.BooleanField(default=True)
    flow = fields.CharField(max_length=32, null=True)  # active flow, None = idle
    step = fields.CharField(max_length=32, null=True)
    data = fields.JSONField(default=dict)  # what the active flow collected so far
    history = fields.JSONField(default=list)  # steps visited, for 返回/上一步
    paused = fields.JSONField(null=True)  # {flow, step, data, history} of an expired flow
    version = fields.IntField(default=0)  # bumped on every handled message
    expires_at = fields.DatetimeField(null=True)
    # Rate limit: messages counted in a one-minute window, kept on the row we lock anyway.
    rate_window = fields.DatetimeField(null=True)
    rate_count = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "conversation"
