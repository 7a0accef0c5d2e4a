"""The justice bureau (司法局) that handles complaints about legal aid (Order 149 Arts. 3 and 5).

Complaints are decided by the justice administration that set up the centre, not by the centre.
Its officials are registered as staff with the role `bureau` and a region. A county's complaints
go to the county's bureau; where none is registered, to the city's (the region code with its last
two digits 00), then the province's (the last four 0000): a higher bureau supervises the lower
ones, so the complaint still reaches a bureau rather than only the centre it may be about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import cast

from tortoise.backends.base.client import BaseDBAsyncClient

from models.calendar import add_days
from models.people import Staff, StaffRole

__all__ = ["Bureau", "covered_regions", "find_bureau", "objection_review_due", "region_chain"]


@dataclass(frozen=True, slots=True)
class Bureau:
    """The bureau a complaint goes to: the region its members are registered in, and its name."""

    region: str
    unit: str  # e.g. 柯桥区司法局; "" when its members were added without --unit


def region_chain(region: str) -> list[str]:
    """The region, its city and its province, without repeats: 330603 -> 330603, 330600, 330000."""
    chain = [region, region[:4] + "00", region[:2] + "0000"] if len(region) == 6 else [region]
    return list(dict.fromkeys(chain))


def covered_regions(bureau_region: str) -> str:
    """The region-code prefix a bureau answers for: a county itself, a city's counties, a
    province's cities."""
    if bureau_region.endswith("0000"):
        return bureau_region[:2]
    if bureau_region.endswith("00"):
        return bureau_region[:4]
    return bureau_region


async def find_bureau(region: str, conn: BaseDBAsyncClient | None = None) -> Bureau | None:
    """The nearest bureau with an active member for `region`, or None when none is registered."""
    for code in region_chain(region):
        q = Staff.filter(region=code, role=StaffRole.BUREAU, active=True).order_by("id")
        members = cast(  # flat=True gives values; tortoise's types say tuples
            "list[str | None]",
            await (q.using_db(conn) if conn else q).values_list("unit", flat=True),
        )
        if members:
            return Bureau(code, next((u for u in members if u), ""))
    return None


def objection_review_due(received_on: date, policy) -> date:
    """When the bureau must have decided an objection to a refusal or termination: within
    `objection_review_days` (5) days of receiving it — calendar days, not working days (Art. 49)."""
    return add_days(received_on, policy.objection_review_days)
