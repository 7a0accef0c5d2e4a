"""Duty credit of a month: `GET /api/v1/center/duty?month=YYYY-MM` (DOMAIN §4).

Each of the region's staff with the consultations (人工 tickets) they handled that month, the
duty days those are worth (Shaoxing: 30 = one day) and the coefficient a duty day is paid at.
Without `month`, the current month on the centre's clock.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, Field

from bot.api import json_ok, operation, parse_query
from bot.auth import require_center
from bot.keys import policy_key, settings_key
from models.duty import duty_month


class DutyQuery(BaseModel):
    month: str | None = Field(
        None,
        pattern=r"^(19|2\d)\d\d-(0[1-9]|1[0-2])$",
        description="YYYY-MM; default this month",
        examples=["2026-11"],
    )


class DutyPerson(BaseModel):
    staff_id: int
    name: str
    consultations: int = Field(description="人工 tickets taken, answered and ended that month")
    duty_days: float = Field(description="consultations / consultations_per_day")
    coefficient: float = Field(description="what a duty day is paid at (Shaoxing 1.0)")


class DutyMonth(BaseModel):
    month: str
    consultations_per_day: int
    coefficient: float
    items: list[DutyPerson]


@operation(
    "GET",
    "/api/v1/center/duty",
    summary="Duty credit per staff member for a month",
    tag="center",
    query=DutyQuery,
    response=DutyMonth,
    auth="api_key",
)
async def get_duty(request: web.Request) -> web.Response:
    key = await require_center(request)
    q = parse_query(request, DutyQuery)
    policy, tz = request.app[policy_key], request.app[settings_key].timezone
    if q.month:
        month = date(int(q.month[:4]), int(q.month[5:]), 1)
    else:
        month = datetime.now(ZoneInfo(tz)).date().replace(day=1)
    lines = await duty_month(key.region, month, policy, tz)
    return json_ok(
        DutyMonth(
            month=f"{month:%Y-%m}",
            consultations_per_day=policy.duty_consultations_per_day,
            coefficient=policy.duty_coefficient,
            items=[
                DutyPerson(
                    staff_id=x.staff_id,
                    name=x.name,
                    consultations=x.consultations,
                    duty_days=x.duty_days,
                    coefficient=x.coefficient,
                )
                for x in lines
            ],
        )
    )
