"""Service organisations (承办机构) and the handler pool (法律援助人员库), DOMAIN §9.

An organisation is a law firm or a basic legal service office of one region, in the region's
published rotation order (`position`, then id). A handler (承办人: lawyer, basic legal service
worker, duty lawyer) belongs to one organisation and is in the pool unless removed; every entry,
removal and readmission is a dated PoolEvent with its reason, so the pool's history can be shown
to whoever asks why someone got no cases. A removal may carry an end date (a sanction "for its
period"): the day after it the handler is eligible again without anyone readmitting them.

`turns` counts the rotation turns an organisation or a handler has used (models.assignment): the
rotation gives the next case to the fewest turns, so a 点援 that "uses the turn" makes the
handler wait their next one. A newcomer starts level with the others, not at zero, or they would
take every case until they caught up.

A handler binds their WeChat like an agent: a single-use code (`handlers invite ID`), then
`绑定 <code>` in chat. Only the code's hash is stored.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import StrEnum

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Min
from tortoise.models import Model

from models.agent import INVITE_ALPHABET, INVITE_LENGTH, INVITE_TTL, normalize_invite_code
from models.credentials import hash_secret


class OrgKind(StrEnum):
    FIRM = "firm"  # 律师事务所
    OFFICE = "office"  # 基层法律服务所


class HandlerKind(StrEnum):
    LAWYER = "lawyer"  # 律师
    GRASSROOTS = "grassroots"  # 基层法律服务工作者
    DUTY_LAWYER = "duty_lawyer"  # 值班律师


SPECIALTIES = ("civil", "criminal", "administrative")


class PoolAction(StrEnum):
    ENTRY = "entry"  # 入库
    REMOVAL = "removal"  # 出库
    READMISSION = "readmission"  # 重新入库


class Org(Model):
    id = fields.IntField(primary_key=True)
    region = fields.CharField(max_length=12, db_index=True)
    name = fields.CharField(max_length=100)
    kind = fields.CharField(max_length=16)
    phone = fields.CharField(max_length=20, null=True)  # the office's contact, not a person's
    position = fields.IntField(default=0)  # published rotation order within the region
    turns = fields.IntField(default=0)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "service_org"
        unique_together = (("region", "name"),)


class Handler(Model):
    id = fields.IntField(primary_key=True)
    region = fields.CharField(max_length=12, db_index=True)
    name = fields.CharField(max_length=30)  # a professional's name, published in 附件6
    org: fields.ForeignKeyRelation[Org] = fields.ForeignKeyField(
        "models.Org", related_name="handlers", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=16)
    specialties = fields.JSONField(default=list)  # subset of SPECIALTIES; empty = any matter
    agent: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Agent", related_name="handler", null=True, on_delete=fields.SET_NULL
    )
    openid = fields.CharField(max_length=64, null=True, unique=True)  # official account
    locale = fields.CharField(max_length=8, default="zh_CN")
    in_pool = fields.BooleanField(default=True)
    removed_until = fields.DateField(null=True)  # a removal for a period ends after this day
    turns = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    bound_at = fields.DatetimeField(null=True)

    class Meta:
        table = "pool_handler"

    def eligible_on(self, day: date) -> bool:
        """In the pool on `day`: never removed, readmitted, or past a removal's end date."""
        return self.in_pool or (self.removed_until is not None and day > self.removed_until)


class PoolEvent(Model):
    """One dated entry, removal or readmission of a handler, with its reason."""

    id = fields.IntField(primary_key=True)
    handler: fields.ForeignKeyRelation[Handler] = fields.ForeignKeyField(
        "models.Handler", related_name="events", on_delete=fields.CASCADE
    )
    action = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=200)
    until = fields.DateField(null=True)
    actor = fields.CharField(max_length=64)  # "cli", "center_key:3", "quality" ...
    at = fields.DatetimeField()

    class Meta:
        table = "pool_event"


class HandlerInvite(Model):
    id = fields.IntField(primary_key=True)
    handler: fields.ForeignKeyRelation[Handler] = fields.ForeignKeyField(
        "models.Handler", related_name="invites", on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "handler_invite"


class PoolError(Exception):
    """A pool change refused; `.code` is an i18n suffix (pool.error.<code>)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


ORG_NAME_MAX, REASON_MAX = 100, 200
_PHONE = re.compile(r"^[0-9+\-() ]{5,20}$")  # office numbers: 0575-85123456, 12348, mobiles


def check_org_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not 1 <= len(name) <= ORG_NAME_MAX:
        raise ValueError(f"name: 1 to {ORG_NAME_MAX} characters")
    return name


def check_org_phone(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    if not _PHONE.match(raw.strip()):
        raise ValueError("phone: digits, '-', '+', spaces; 5 to 20 characters")
    return raw.strip()


def check_reason(raw: str) -> str:
    reason = " ".join((raw or "").split())
    if not 1 <= len(reason) <= REASON_MAX:
        raise ValueError(f"reason: 1 to {REASON_MAX} characters")
    return reason


# --- organisations and handlers ---------------------------------------------------------------


async def add_org(
    region: str,
    name: str,
    kind: str,
    phone: str | None = None,
    *,
    conn: BaseDBAsyncClient | None = None,
) -> Org:
    """A new organisation, last in the region's published order, level in turns."""
    if await Org.filter(region=region, name=name).using_db(conn).exists():
        raise PoolError("org_exists")
    last = await Org.filter(region=region).using_db(conn).order_by("-position").first()
    turns = await _min_turns(Org.filter(region=region, active=True), conn)
    return await Org.create(
        region=region,
        name=name,
        kind=kind,
        phone=phone,
        position=(last.position + 1) if last else 1,
        turns=turns,
        using_db=conn,
    )


async def add_handler(
    org: Org,
    name: str,
    kind: str,
    *,
    specialties: Iterable[str] | None = None,
    openid: str | None = None,
    agent_id: int | None = None,
    reason: str = "入库",
    actor: str = "cli",
    now: datetime | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> Handler:
    """A new pool handler of `org`, with its dated entry event."""
    now = now or datetime.now(UTC)
    if openid and await Handler.filter(openid=openid).using_db(conn).exists():
        raise PoolError("openid_taken")
    if agent_id is not None:
        from models.agent import Agent

        agent = await Agent.get_or_none(id=agent_id).using_db(conn)
        if agent is None or agent.region != org.region:
            raise PoolError("agent_unknown")
        if await Handler.filter(agent_id=agent_id).using_db(conn).exists():
            raise PoolError("agent_taken")
    turns = await _min_turns(Handler.filter(org_id=org.id, in_pool=True), conn)
    handler = await Handler.create(
        region=org.region,
        name=name,
        org=org,
        kind=kind,
        specialties=sorted(set(specialties or [])),
        openid=openid,
        agent_id=agent_id,
        turns=turns,
        bound_at=now if openid else None,
        using_db=conn,
    )
    await PoolEvent.create(
        handler=handler, action=PoolAction.ENTRY, reason=reason, actor=actor, at=now, using_db=conn
    )
    return handler


async def handler_of_case(case, conn: BaseDBAsyncClient | None = None) -> Handler | None:
    """The pool member a case names (cases keep the handler's name and organisation as text)."""
    return (
        await Handler.filter(region=case.region, name=case.handler_name, org__name=case.handler_org)
        .using_db(conn)
        .first()
    )


async def handlers_of_cases(cases, conn: BaseDBAsyncClient | None = None) -> dict[int, Handler]:
    """`handler_of_case` for many cases in one query: case id -> handler (cases without one left
    out)."""
    names = {c.handler_name for c in cases if c.handler_name}
    if not names:
        return {}
    found: dict[tuple[str, str, str], Handler] = {}
    for h in (
        await Handler.filter(name__in=names, region__in={c.region for c in cases})
        .select_related("org")
        .using_db(conn)
        .order_by("id")
    ):
        found.setdefault((h.region, h.name, h.org.name), h)
    return {
        c.id: found[(c.region, c.handler_name, c.handler_org)]
        for c in cases
        if (c.region, c.handler_name, c.handler_org) in found
    }


async def _min_turns(query, conn: BaseDBAsyncClient | None) -> int:
    rows = await query.using_db(conn).annotate(m=Min("turns")).values_list("m", flat=True)
    return int(rows[0] or 0) if rows else 0


async def remove_handler(
    handler: Handler,
    reason: str,
    *,
    until: date | None = None,
    actor: str = "cli",
    now: datetime | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> Handler:
    """Take a handler out of the pool (for a period when `until` is given), with the reason.

    Used by people (CLI, centre API) and by rules (a quality score under 65, a failed grade)."""
    now = now or datetime.now(UTC)
    handler.in_pool, handler.removed_until = False, until
    await handler.save(using_db=conn, update_fields=["in_pool", "removed_until"])
    await PoolEvent.create(
        handler=handler,
        action=PoolAction.REMOVAL,
        reason=reason,
        until=until,
        actor=actor,
        at=now,
        using_db=conn,
    )
    return handler


async def readmit_handler(
    handler: Handler,
    reason: str = "重新入库",
    *,
    actor: str = "cli",
    now: datetime | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> Handler:
    """Back into the pool (after re-training, or a sanction's end), level in turns."""
    now = now or datetime.now(UTC)
    turns = await _min_turns(Handler.filter(org_id=handler.org_id, in_pool=True), conn)
    handler.in_pool, handler.removed_until = True, None
    handler.turns = max(handler.turns, turns)
    await handler.save(using_db=conn, update_fields=["in_pool", "removed_until", "turns"])
    await PoolEvent.create(
        handler=handler,
        action=PoolAction.READMISSION,
        reason=reason,
        actor=actor,
        at=now,
        using_db=conn,
    )
    return handler


# --- WeChat binding ---------------------------------------------------------------------------


def _hash(code: str) -> str:
    return hash_secret("handler-invite:" + code)


async def create_handler_invite(handler: Handler, now: datetime | None = None) -> str:
    """A single-use code binding one WeChat user to `handler` (valid as long as an agent's)."""
    code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
    await HandlerInvite.create(
        handler=handler, code_hash=_hash(code), expires_at=(now or datetime.now(UTC)) + INVITE_TTL
    )
    return code


async def bind_handler(
    raw_code: str, *, openid: str, locale: str, conn: BaseDBAsyncClient, now: datetime
) -> Handler | None:
    """Bind `openid` to the handler the code was issued for; None when the code is no handler
    code (the caller then says the code is unknown). Raises PoolError used/expired/taken."""
    from tortoise.exceptions import IntegrityError

    code = normalize_invite_code(raw_code)
    if len(code) != INVITE_LENGTH:
        return None
    invite = (
        await HandlerInvite.select_for_update().using_db(conn).get_or_none(code_hash=_hash(code))
    )
    if invite is None:
        return None
    handler = await Handler.select_for_update().using_db(conn).get(id=invite.handler_id)
    if invite.used_at is not None:
        if handler.openid == openid:
            return handler
        raise PoolError("invite_used")
    if invite.expires_at < now:
        raise PoolError("invite_expired")
    if await Handler.filter(openid=openid).exclude(id=handler.id).using_db(conn).exists():
        raise PoolError("openid_taken")
    handler.openid, handler.locale, handler.bound_at = openid, locale, now
    invite.used_at = now
    try:
        await handler.save(using_db=conn, update_fields=["openid", "locale", "bound_at"])
    except IntegrityError:
        raise PoolError("openid_taken") from None
    await invite.save(using_db=conn, update_fields=["used_at"])
    return handler
