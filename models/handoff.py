"""Consultation tickets: a user asked for a person (人工) (DOMAIN §4, Shaoxing II.(二)).

A ticket is opened when the user sends 人工 and waits for a staff member on duty, who takes it
(抢单) by sending `接 <ticket>`; from then on the user's messages and the staff member's are
relayed as customer-service messages until either side ends it. The relay state is the ticket
(who holds it) plus each side's conversation state; nothing lives in process memory.

Reply times: opened between handoff_day_start and handoff_day_end (08:30–22:00), a person
replies within handoff_day_reply_minutes (3); opened at night, by handoff_night_reply_by (10:00)
that morning. A ticket with no staff reply by then escalates to the supervisors.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from tortoise import fields
from tortoise.models import Model

from models.pushes import Push, UserNotice

WAITING_MESSAGES_MAX = 20  # messages kept for the staff member who takes the ticket
RELAY_TEXT_MAX = 600  # characters per relayed message; customer-service text is capped by WeChat


class HandoffStatus(StrEnum):
    WAITING = "waiting"
    TAKEN = "taken"
    CLOSED = "closed"


class Handoff(Model):
    id = fields.IntField(primary_key=True)  # the ticket number staff type: 接 17
    openid = fields.CharField(max_length=64, db_index=True)
    region = fields.CharField(max_length=12, null=True, db_index=True)
    locale = fields.CharField(max_length=8, default="zh_CN")
    status = fields.CharField(max_length=8, default=HandoffStatus.WAITING, db_index=True)
    opened_at = fields.DatetimeField()
    due_at = fields.DatetimeField(db_index=True)
    staff = fields.ForeignKeyField(
        "models.Staff", related_name="handoffs", null=True, on_delete=fields.OnDelete.SET_NULL
    )
    taken_at = fields.DatetimeField(null=True)
    first_reply_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    closed_by = fields.CharField(max_length=8, null=True)  # user | staff
    replies = fields.IntField(default=0)  # staff messages relayed
    messages = fields.JSONField(default=list)  # the user's messages while waiting

    class Meta:
        table = "handoff"

    @property
    def ticket(self) -> str:
        return str(self.id)


def reply_due(opened_at: datetime, policy, tz: str) -> datetime:
    """When a person must have replied to a ticket opened at `opened_at` (DOMAIN §4)."""
    local = opened_at.astimezone(ZoneInfo(tz))
    start, end = policy.handoff_day_start, policy.handoff_day_end
    if start <= local.time() < end:
        return opened_at + timedelta(minutes=policy.handoff_day_reply_minutes)
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return datetime.combine(day, policy.handoff_night_reply_by, ZoneInfo(tz)).astimezone(UTC)


async def open_ticket(
    *, openid: str, locale: str, region: str | None, now: datetime, policy, tz: str, conn
) -> tuple[Handoff, int, list[Push]]:
    """Open a ticket; returns it, how many staff are told, and the pushes telling them at once
    (the staff on duty, all active staff when nobody is on duty), which the caller queues in
    the same transaction."""
    h = await Handoff.create(
        openid=openid,
        locale=locale,
        region=region,
        opened_at=now,
        due_at=reply_due(now, policy, tz),
        using_db=conn,
    )
    pushes = await _tell_staff(h, "new", tz, conn)
    return h, len(pushes), pushes


async def _tell_staff(h: Handoff, key: str, tz: str, conn) -> list[Push]:
    """A push to each staff member who should take the ticket: those on duty in its region,
    or all of its region's active staff when nobody is on duty."""
    from i18n import t
    from models.conversation import Conversation
    from models.people import Staff, StaffRole

    staff_q = Staff.filter(active=True).exclude(role=StaffRole.BUREAU).using_db(conn)
    if h.region:
        staff_q = staff_q.filter(region=h.region)
    staff = await staff_q.filter(on_duty=True) or await staff_q
    locales = dict(
        await Conversation.filter(openid__in=[s.openid for s in staff])
        .using_db(conn)
        .values_list("openid", "locale")
    )
    due = local_hhmm(h.due_at, tz)
    return [
        UserNotice(
            openid=s.openid,
            key=f"handoff:{h.id}:{key}:{s.id}",
            text=t("handoff.staff.new", locales.get(s.openid), ticket=h.id, due=due),
            kind="handoff",
            region=h.region,
            page=f"handoffs/{h.id}",
        )
        for s in staff
    ]


async def release_tickets(
    staff_id: int, *, now: datetime, tz: str, conn, told: str | None = None
) -> list[Push]:
    """The open tickets a staff member holds go back to waiting when they leave the 人工 rota
    (disabled): the user is told another staff member will reply (but `told`, a user the
    caller answers itself), and the staff who should take it are told as for a new ticket.
    The pushes, for the caller to queue in the same transaction."""
    from i18n import t

    pushes: list[Push] = []
    held = (
        await Handoff.filter(staff_id=staff_id, status=HandoffStatus.TAKEN)
        .using_db(conn)
        .select_for_update()
    )
    for h in held:
        h.status, h.staff_id, h.taken_at = HandoffStatus.WAITING, None, None
        await h.save(using_db=conn)
        back = f"back:{int(now.timestamp())}"
        if h.openid != told:
            pushes.append(
                UserNotice(
                    openid=h.openid,
                    key=f"handoff:{h.id}:{back}",
                    text=t("handoff.requeued", h.locale, ticket=h.id),
                    kind="handoff",
                    region=h.region,
                )
            )
        pushes += await _tell_staff(h, back, tz, conn)
    return pushes


async def close_ticket(h: Handoff, *, by: str, now: datetime, conn) -> list[Push]:
    """Close the ticket; returns the push telling the other side (the user in their language),
    which the caller queues in the same transaction."""
    from i18n import t

    h.status, h.closed_at, h.closed_by = HandoffStatus.CLOSED, now, by
    await h.save(using_db=conn)
    if by == "staff":
        return [
            UserNotice(
                openid=h.openid,
                key=f"handoff:{h.id}:closed",
                text=t("handoff.closed_by_staff", h.locale),
                kind="handoff",
                region=h.region,
            )
        ]
    if h.staff_id is not None:
        from models.people import Staff

        staff = await Staff.filter(id=h.staff_id).using_db(conn).first()
        if staff is None:
            return []
        return [
            UserNotice(
                openid=staff.openid,
                key=f"handoff:{h.id}:closed",
                text=t("handoff.staff.user_left", None, ticket=h.id),
                kind="handoff",
                region=h.region,
            )
        ]
    return []


def local_hhmm(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%H:%M")
