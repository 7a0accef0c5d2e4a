"""Village agents who file applications for others, their invites, and mini-program sessions.

An agent (村/居法律顾问, 代办人, 志愿者) is created by an operator with `python -m bot agents invite`
and becomes usable when a person binds to it with the single-use invite code — in the
mini-program (binding the mini-program openid) or in chat (binding the official-account openid).
The two apps give the same person different openids, so an agent may carry both; a second
invite for the same agent (`agents invite --agent <id>`) links the other one, or a new phone.
Only hashes of invite codes and session tokens are stored.
"""

from __future__ import annotations

import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.credentials import hash_secret


class AgentKind(StrEnum):
    CONSULTANT = "consultant"  # 村（居）法律顾问
    AGENT = "agent"  # 法律服务代办人
    VOLUNTEER = "volunteer"  # 法律援助志愿者


class Agent(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=30)
    region = fields.CharField(max_length=12, db_index=True)  # 6-digit administrative code
    village = fields.CharField(max_length=60)
    kind = fields.CharField(max_length=16, default=AgentKind.AGENT)
    active = fields.BooleanField(default=True)
    wxa_openid = fields.CharField(max_length=64, null=True, unique=True)  # mini-program
    oa_openid = fields.CharField(max_length=64, null=True, unique=True)  # official account
    locale = fields.CharField(max_length=8, default="zh_CN")  # of the pushes they get
    created_at = fields.DatetimeField(auto_now_add=True)
    bound_at = fields.DatetimeField(null=True)

    class Meta:
        table = "agent"

    @property
    def bound(self) -> bool:
        return bool(self.wxa_openid or self.oa_openid)


class AgentInvite(Model):
    """A single-use code that binds one identity (mini-program or chat) to an agent."""

    id = fields.IntField(primary_key=True)
    agent: fields.ForeignKeyRelation[Agent] = fields.ForeignKeyField(
        "models.Agent", related_name="invites", on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    used_by = fields.CharField(max_length=8, null=True)  # "wxa" or "oa": which identity bound
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "agent_invite"


class SessionToken(Model):
    """A mini-program login (wxa-login): an opaque bearer token for one mini-program openid.

    The token says who is logged in, not what they may do: whether the openid belongs to an
    active agent is looked up on every request, so disabling an agent takes effect at once.
    """

    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    openid = fields.CharField(max_length=64, db_index=True)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "session_token"


# --- invites: create and bind -----------------------------------------------------------------

INVITE_TTL = timedelta(days=7)  # long enough for a village to meet its agent, short if leaked
# No 0/O, 1/I/L: the code is read off a screen or paper and typed on a phone keyboard.
INVITE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
INVITE_LENGTH = 8  # 31**8 ≈ 2**40 codes; single-use and a week long, so guessing is hopeless
CHANNELS = {"wxa": "wxa_openid", "oa": "oa_openid"}


class InviteError(Exception):
    """Binding failed; `.reason` is unknown, expired, used, disabled or taken (i18n suffix)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalize_invite_code(raw: str) -> str:
    """What a person typed (lower case, spaces, dashes, full-width) -> the code as issued."""
    text = unicodedata.normalize("NFKC", raw or "").upper()
    return "".join(ch for ch in text if ch.isalnum())


def _hash(code: str) -> str:
    return hash_secret("invite:" + code)


async def create_invite(agent: Agent, now: datetime | None = None) -> str:
    """Issue a new single-use code for `agent`; returns the code (only its hash is stored)."""
    code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
    await AgentInvite.create(
        agent=agent, code_hash=_hash(code), expires_at=(now or datetime.now(UTC)) + INVITE_TTL
    )
    return code


async def bind_invite(
    raw_code: str, *, channel: str, openid: str, locale: str, conn, now: datetime | None = None
) -> Agent:
    """Bind `openid` (of the mini-program, channel "wxa", or the official account, "oa") to the
    invite's agent, in the caller's transaction. Replaying a bind that already happened for
    the same openid returns the agent again; anything else wrong raises InviteError."""
    from tortoise.exceptions import IntegrityError

    now = now or datetime.now(UTC)
    field = CHANNELS[channel]
    code = normalize_invite_code(raw_code)
    invite = None
    if len(code) == INVITE_LENGTH:
        invite = (
            await AgentInvite.select_for_update().using_db(conn).get_or_none(code_hash=_hash(code))
        )
    if invite is None:
        raise InviteError("unknown")
    agent = await Agent.select_for_update().using_db(conn).get(id=invite.agent_id)
    if invite.used_at is not None:
        if getattr(agent, field) == openid and agent.active:
            return agent
        raise InviteError("used")
    if invite.expires_at < now:
        raise InviteError("expired")
    if not agent.active:
        raise InviteError("disabled")
    other = await Agent.filter(**{field: openid}).exclude(id=agent.id).using_db(conn).exists()
    if other:
        raise InviteError("taken")
    setattr(agent, field, openid)
    agent.bound_at, agent.locale = now, locale
    invite.used_at, invite.used_by = now, channel
    try:
        await agent.save(using_db=conn)
    except IntegrityError:
        raise InviteError("taken") from None
    await invite.save(using_db=conn)
    return agent
