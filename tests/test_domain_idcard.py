"""Resident ID parsing (GB 11643-1999, DOMAIN §7)."""

from __future__ import annotations

from datetime import date

import pytest

from models.contact import InvalidInput
from models.idcard import IdNumber, InvalidIdNumber, age_on, check_char, parse_id_number

TODAY = date(2026, 3, 1)


def with_check(first17: str) -> str:
    return first17 + check_char(first17)


@pytest.mark.parametrize(
    ("raw", "birth", "sex"),
    [
        ("11010519491231002X", date(1949, 12, 31), "female"),
        ("440524188001010014", date(1880, 1, 1), "male"),
    ],
)
def test_known_good_numbers(raw: str, birth: date, sex: str) -> None:
    parsed = parse_id_number(raw, today=TODAY)
    expected = IdNumber(number=raw, birth_date=birth, sex=sex, legacy=False)  # type: ignore[arg-type]  # sex: the parametrized str
    assert parsed == expected


def test_lower_case_x_spaces_and_full_width_are_normalized() -> None:
    assert parse_id_number(" 110105 19491231 002x ", today=TODAY).number == "11010519491231002X"
    assert (
        parse_id_number("１１０１０５１９４９１２３１００２ｘ", today=TODAY).number
        == "11010519491231002X"
    )


def test_wrong_check_digit() -> None:
    with pytest.raises(InvalidIdNumber) as err:
        parse_id_number("110105194912310021", today=TODAY)
    assert err.value.reason == "checksum"
    assert err.value.code == "id_number.checksum"
    assert err.value.message_key == "invalid.id_number.checksum"
    assert isinstance(err.value, InvalidInput) and isinstance(err.value, ValueError)


def test_impossible_birth_date_even_with_a_right_check_digit() -> None:
    with pytest.raises(InvalidIdNumber) as err:
        parse_id_number(with_check("11010519490231001"), today=TODAY)
    assert err.value.reason == "birth_date"


def test_future_birth_date() -> None:
    with pytest.raises(InvalidIdNumber) as err:
        parse_id_number(with_check("11010520990101001"), today=TODAY)
    assert err.value.reason == "future"


def test_born_today_is_not_future() -> None:
    assert parse_id_number(with_check("11010520260301001"), today=TODAY).birth_date == TODAY


def test_default_today_is_local() -> None:
    assert parse_id_number("11010519491231002X").birth_date == date(1949, 12, 31)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "1101051949123100",
        "1101051949123100211",
        "11010519491231002Y",
        "X10105194912310021",
    ],
)
def test_format(raw: str) -> None:
    with pytest.raises(InvalidIdNumber) as err:
        parse_id_number(raw, today=TODAY)
    assert err.value.reason == "format"


def test_error_message_does_not_contain_the_number() -> None:
    with pytest.raises(InvalidIdNumber) as err:
        parse_id_number("110105194912310021", today=TODAY)
    assert "110105" not in str(err.value)


def test_legacy_15_digits() -> None:
    parsed = parse_id_number("110105491231002", today=TODAY)
    assert parsed.legacy is True
    assert parsed.number == "110105491231002"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex == "female"  # sequence 002: even
    assert parsed.number_18 == "11010519491231002" + check_char("11010519491231002")
    assert parse_id_number(parsed.number_18, today=TODAY).birth_date == parsed.birth_date


def test_legacy_with_impossible_date() -> None:
    with pytest.raises(InvalidIdNumber) as err:
        parse_id_number("110105490231002", today=TODAY)
    assert err.value.reason == "birth_date"


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(1949, 12, 31), date(2026, 3, 1), 76),
        (date(1985, 3, 1), date(2026, 3, 1), 41),
        (date(1985, 3, 2), date(2026, 3, 1), 40),
        (date(2000, 2, 29), date(2021, 2, 28), 20),
        (date(2000, 2, 29), date(2021, 3, 1), 21),
        (date(2026, 3, 1), date(2026, 3, 1), 0),
    ],
)
def test_age_on(birth: date, day: date, age: int) -> None:
    assert age_on(birth, day) == age


def test_age_before_birth_is_an_error() -> None:
    with pytest.raises(ValueError):
        age_on(date(2026, 3, 2), date(2026, 3, 1))
