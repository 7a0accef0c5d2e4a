"""Working days with the official holiday calendar, and the Monday–Friday fallback (DOMAIN §6)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from models import calendar as cal
from models.calendar import add_days, add_working_days, is_working_day, local_today, to_local


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the once-per-year warning as if the process had just started."""
    monkeypatch.setattr(cal, "_warned_years", set())


def test_national_day_is_not_a_working_day() -> None:
    assert is_working_day(date(2025, 10, 1)) is False


def test_make_up_weekend_days_are_working_days() -> None:
    assert date(2025, 9, 28).weekday() == 6  # Sunday 28 Sep 2025, 调休 for Golden Week
    assert is_working_day(date(2025, 9, 28)) is True
    assert date(2025, 10, 11).weekday() == 5  # Saturday 11 Oct 2025, 调休
    assert is_working_day(date(2025, 10, 11)) is True


def test_ordinary_days() -> None:
    assert is_working_day(date(2025, 9, 30)) is True  # Tuesday
    assert is_working_day(date(2025, 9, 27)) is False  # Saturday, no make-up
    assert is_working_day(datetime(2025, 10, 1, 9, 0)) is False


def test_add_working_days_across_golden_week() -> None:
    # Tue 30 Sep 2025 + 1 working day skips 1–8 Oct (holiday) to Thu 9 Oct.
    assert add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    # From the make-up Sunday 28 Sep: 29 and 30 Sep, then 9, 10 Oct and the make-up Sat 11 Oct.
    assert add_working_days(date(2025, 9, 28), 5) == date(2025, 10, 11)


def test_add_working_days_zero_and_backwards() -> None:
    assert add_working_days(date(2025, 10, 1), 0) == date(2025, 10, 1)
    assert add_working_days(date(2025, 10, 9), -1) == date(2025, 9, 30)


def test_staff_given_days_override_the_calendar() -> None:
    day = date(2025, 9, 30)
    assert is_working_day(day, extra_holidays={day}) is False
    assert is_working_day(date(2025, 10, 2), extra_workdays={date(2025, 10, 2)}) is True
    assert is_working_day(day, extra_holidays={day}, extra_workdays={day}) is False
    assert add_working_days(date(2025, 9, 29), 1, extra_holidays={day}) == date(2025, 10, 9)


def test_unknown_year_falls_back_to_monday_to_friday_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="models.calendar")
    monday = date(2100, 1, 4)
    assert monday.weekday() == 0
    assert is_working_day(monday) is True
    assert is_working_day(monday + timedelta(days=5)) is False  # Saturday
    assert add_working_days(monday + timedelta(days=4), 1) == monday + timedelta(days=7)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2100" in warnings[0].getMessage()


def test_one_warning_per_year(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="models.calendar")
    is_working_day(date(2100, 1, 4))
    is_working_day(date(2101, 1, 4))
    is_working_day(date(2101, 1, 5))
    assert len(caplog.records) == 2


def test_staff_holidays_in_an_unknown_year() -> None:
    friday = date(2100, 1, 8)
    assert is_working_day(friday) is True
    assert is_working_day(friday, extra_holidays={friday}) is False


def test_add_days_counts_calendar_days() -> None:
    assert add_days(date(2025, 9, 30), 7) == date(2025, 10, 7)


def test_to_local() -> None:
    utc = datetime(2025, 12, 31, 16, 30, tzinfo=UTC)
    local = to_local(utc, "Asia/Shanghai")
    assert (local.date(), local.hour, local.minute) == (date(2026, 1, 1), 0, 30)
    assert to_local(datetime(2025, 12, 31, 16, 30)) == local  # naive = UTC
    other = datetime(2026, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=9)))
    assert to_local(other) == local


def test_local_today() -> None:
    assert abs((local_today("Asia/Shanghai") - date.today()).days) <= 1


# --- after 2026: statutory holidays from the `holidays` package, the policy's lists, warnings -----


def test_spring_festival_2027_is_not_counted_as_working_days(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="models.calendar")
    # 2027-02-06 is the first day of the lunar year; the eve (Fri 5 Feb) to Mon 8 Feb are
    # statutory holidays and the weekend ones are made up on Tue 9 and Wed 10 Feb.
    for d in (date(2027, 2, 5), date(2027, 2, 8), date(2027, 2, 9), date(2027, 2, 10)):
        assert is_working_day(d) is False, d
    assert add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 11)
    assert is_working_day(date(2027, 10, 1)) is False
    assert any("2027" in r.getMessage() for r in caplog.records)


def test_official_arrangements_are_known_up_to_2026() -> None:
    assert {2025, 2026} <= cal.official_years()
    assert 2027 not in cal.official_years()


def test_the_policy_lists_add_a_years_notice() -> None:
    from models.complaint import accept_due
    from models.policy import Policy

    policy = Policy(
        name="x",
        label_zh="x",
        extra_holidays=(date(2027, 2, 11), date(2027, 2, 12)),
        extra_workdays=(date(2027, 2, 20),),
    )
    # received Thu 4 Feb 2027: 5 working days skip the festival and the two notice days, and
    # count the make-up Saturday 20 Feb
    assert accept_due(date(2027, 2, 4), policy) == date(2027, 2, 19)
    assert accept_due(date(2027, 2, 15), policy) == date(2027, 2, 20)
    assert cal.calendar_gaps(date(2026, 11, 29)) == [2027]
    assert cal.calendar_gaps(date(2026, 11, 29), policy.extra_holidays, policy.extra_workdays) == []


async def test_start_warns_about_this_or_next_year_without_an_arrangement(
    aiohttp_client, settings, caplog, monkeypatch
) -> None:
    monkeypatch.setattr(cal, "local_today", lambda tz=cal.DEFAULT_TZ: date(2026, 11, 29))
    caplog.set_level(logging.WARNING, logger="bot.app")
    from bot.app import create_app

    await aiohttp_client(create_app(settings))
    assert any(
        "2027" in r.getMessage() and "extra_holidays" in r.getMessage()
        for r in caplog.records
        if r.name == "bot.app"
    )
