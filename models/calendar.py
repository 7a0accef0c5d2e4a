"""Working days and local dates (DOMAIN §6).

Limits such as "decide whether to accept a complaint within 5 working days" follow the official
holiday calendar with its make-up working weekends (调休). The State Council publishes each
year's arrangement only in the autumn before, so a deadline can run into a year no package knows
yet. The source is the `holidays` package (vacanza, released monthly): it carries the official
arrangements — day for day the same as `chinesecalendar`'s for 2020–2026, which stops at 2026 —
and for a later year still the statutory festival days the law fixes (全国年节及纪念日放假办法:
Spring Festival, National Day ... on the lunar and solar calendars, a festival day on a weekend
made up on the next working day), only without that year's 调休. So a deadline in 2027 skips the
Spring Festival instead of counting Monday–Friday. The policy's `extra_holidays` and
`extra_workdays` add the State Council's notice for such a year; those days win. A year without
an official arrangement is logged once, and at start (`calendar_gaps`) for this year and next.

All calendar dates are local (Asia/Shanghai); timestamps are stored in UTC and converted here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

log = logging.getLogger(__name__)

# Every centre we serve is on mainland time; deadlines are counted in local calendar days.
DEFAULT_TZ = "Asia/Shanghai"
# Saturday and Sunday (date.weekday() 5 and 6) are the rest days of an ordinary week.
_FIRST_WEEKEND_DAY = 5

_warned_years: set[int] = set()  # years whose missing arrangement was already logged
_warned_lock = threading.Lock()  # handlers may run checks in worker threads (asyncio.to_thread)


@lru_cache(maxsize=1)
def official_years() -> frozenset[int]:
    """Years whose official arrangement (holidays and 调休) the `holidays` package carries: the
    years of its table of State Council notices."""
    try:
        from holidays.countries.china import ChinaStaticHolidays

        return frozenset(ChinaStaticHolidays.special_public_holidays)
    except (ImportError, AttributeError):  # a release that moved the table: trust no year
        return frozenset()


@lru_cache(maxsize=64)
def _year(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """The rest days and the make-up working days of `year` (empty outside the package's range)."""
    try:
        cn = holidays.China(years=year)
    except NotImplementedError:
        return frozenset(), frozenset()
    rest = frozenset(d for d in cn if d.year == year)
    work = frozenset(d for d in cn.weekend_workdays if d.year == year)
    return rest, work


def _missing_warning(year: int) -> None:
    """Log once per year that the year's official arrangement is not known."""
    with _warned_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    log.warning(
        "no official holiday arrangement for %s in holidays %s: counting the statutory "
        "holidays without make-up working days (调休); add the State Council's notice to the "
        "policy's extra_holidays and extra_workdays, or update the package",
        year,
        holidays.__version__,
    )


def calendar_gaps(
    today: date,
    extra_holidays: Collection[date] = frozenset(),
    extra_workdays: Collection[date] = frozenset(),
) -> list[int]:
    """This year and next, where neither the package nor the policy gives the official
    arrangement (the policy counts for a year once it lists any day of it)."""
    given = {d.year for d in (*extra_holidays, *extra_workdays)}
    return [y for y in (today.year, today.year + 1) if y not in official_years() | given]


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
    if d.year not in official_years():
        _missing_warning(d.year)
    rest, work = _year(d.year)
    if d in work:
        return True
    return d.weekday() < _FIRST_WEEKEND_DAY and d not in rest


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
