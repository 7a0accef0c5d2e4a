"""Duty credit for people who answer 人工 chats (DOMAIN §4, Shaoxing II.(二)).

Shaoxing counts answered *calls*: every 30 count as one duty day, paid the basic service fee at
coefficient 1.0 (每回复30个电话折算为1个工作日). In chat a call is one consultation — a ticket a
staff member took, answered at least once and that ended — not one relayed message. Credit is
counted per person per calendar month (local time), from the tickets themselves, so nothing
is a lifetime counter and a month can be recounted at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Count

from models.handoff import Handoff, HandoffStatus
from models.people import Staff, StaffRole

__all__ = ["DutyLine", "consultations", "duty_month", "month_bounds"]


@dataclass(frozen=True, slots=True)
class DutyLine:
    staff_id: int
    name: str
    consultations: int
    duty_days: float  # consultations / policy.duty_consultations_per_day, to two decimals
    coefficient: float  # policy.duty_coefficient: what a duty day is paid at


def month_bounds(month: date, tz: str) -> tuple[datetime, datetime]:
    """The first instant of `month` and of the next one, on the centre's clock."""
    first = month.replace(day=1)
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    zone = ZoneInfo(tz)
    # in UTC, as stored: sqlite compares the text, so an offset other than +00:00 would not do
    return (
        datetime.combine(first, time(), zone).astimezone(UTC),
        datetime.combine(nxt, time(), zone).astimezone(UTC),
    )


def _handled(start: datetime, end: datetime):
    """Tickets a staff member took, answered and that ended in [start, end)."""
    return Handoff.filter(
        status=HandoffStatus.CLOSED,
        staff_id__not_isnull=True,
        first_reply_at__not_isnull=True,
        closed_at__gte=start,
        closed_at__lt=end,
    )


async def consultations(
    staff_id: int, month: date, tz: str, conn: BaseDBAsyncClient | None = None
) -> int:
    """How many consultations `staff_id` handled in `month`."""
    q = _handled(*month_bounds(month, tz)).filter(staff_id=staff_id)
    return await (q.using_db(conn) if conn else q).count()


def credit(n: int, policy) -> float:
    """Duty days that `n` consultations are worth."""
    return round(n / policy.duty_consultations_per_day, 2)


async def duty_month(region: str, month: date, policy, tz: str) -> list[DutyLine]:
    """Every active centre staff member of `region` and anyone who handled a consultation
    there in `month`, with their consultations and duty days, by name."""
    counts = dict(
        await _handled(*month_bounds(month, tz))
        .filter(staff__region=region)
        .group_by("staff_id")
        .annotate(n=Count("id"))
        .values_list("staff_id", "n")
    )
    people = await Staff.filter(region=region).exclude(role=StaffRole.BUREAU).order_by("name", "id")
    return [
        DutyLine(
            s.id,
            s.name,
            counts.get(s.id, 0),
            credit(counts.get(s.id, 0), policy),
            policy.duty_coefficient,
        )
        for s in people
        if s.active or counts.get(s.id)
    ]
