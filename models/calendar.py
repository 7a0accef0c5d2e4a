"""Working days and local dates (DOMAIN §6).

Limits such as "decide whether to accept a complaint within 5 working days" follow the official
holiday calendar with its make-up working weekends (调休), which the `chinesecalendar` package
carries for the years it knows. The State Council publishes each year's calendar only in the
autumn before, so a deadline can fall in a year the package does not know yet: then the rule falls
back to Monday–Friday, staff may pass that year's holidays and make-up days in, and the fallback is
logged once per year so someone updates the package.

All calendar dates are local (Asia/Shanghai); timestamps are stored in UTC and converted here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)

# Every centre we serve is on mainland time; deadlines are counted in local calendar days.
DEFAULT_TZ = "Asia/Shanghai"
# Saturday and Sunday (date.weekday() 5 and 6) are the rest days of the Monday–Friday fallback.
_FIRST_WEEKEND_DAY = 5

_warned_years: set[int] = set()  # years whose fallback was already logged in this process
_warned_lock = threading.Lock()  # handlers may run checks in worker threads (asyncio.to_thread)


def _fallback_warning(year: int) -> None:
    """Log once per year that the official calendar is unknown and Monday–Friday is used."""
    with _warned_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    log.warning(
        "no official holiday calendar for %s in chinesecalendar %s: counting Monday-Friday as "
        "working days; add the year's holidays and make-up days, or update the package",
        year,
        getattr(chinese_calendar, "__version__", "?"),
    )


def is_working_day(
    d: date,
    *,
    extra_holidays: Collection[date] = frozenset(),
    extra_workdays: Collection[date] = frozenset(),
) -> bool:
    """Whether `d` is a working day; staff-given holidays win over staff-given working days."""
    if isinstance(d, datetime):  # a datetime is a date too; its wall-clock part does not matter
        d = d.date()
    if d in extra_holidays:
        return False
    if d in extra_workdays:
        return True
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        _fallback_warning(d.year)
        return d.weekday() < _FIRST_WEEKEND_DAY


def add_working_days(
    start: date,
    n: int,
    *,
    extra_holidays: Collection[date] = frozenset(),
    extra_workdays: Collection[date] = frozenset(),
) -> date:
    """The date `n` working days after `start`, `start` itself not counted.

    `n == 0` returns `start`; a negative `n` counts backwards (for reminders before a deadline).
    """
    if isinstance(start, datetime):
        start = start.date()
    step = timedelta(days=1 if n >= 0 else -1)
    day, left = start, abs(n)
    while left:
        day += step
        if is_working_day(day, extra_holidays=extra_holidays, extra_workdays=extra_workdays):
            left -= 1
    return day


def add_days(d: date, n: int) -> date:
    """The date `n` calendar days after `d` (limits like "7 days from receipt" count every day)."""
    return d + timedelta(days=n)


def local_today(tz: str = DEFAULT_TZ) -> date:
    """Today's date where the centre is."""
    return datetime.now(ZoneInfo(tz)).date()


def to_local(dt: datetime, tz: str = DEFAULT_TZ) -> datetime:
    """`dt` on the centre's wall clock; a naive `dt` is taken as UTC, the way we store it."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(ZoneInfo(tz))
