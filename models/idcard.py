"""Resident ID numbers (GB 11643-1999): parse, check, and read birth date and sex (DOMAIN §7).

The number is the applicant's identity across applications, callbacks and complaints, and its birth
date decides age-based exemptions (elderly_70_plus ...), so a typo must be caught while the person
is still typing. Checks run from the most specific problem to the least: a wrong birth date tells the
user where to look; a wrong check character only says "somewhere".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Literal

from models.calendar import DEFAULT_TZ, local_today
from models.contact import InvalidInput

__all__ = ["IdNumber", "InvalidIdNumber", "InvalidInput", "age_on", "parse_id_number"]

IdReason = Literal["format", "checksum", "birth_date", "future"]
Sex = Literal["male", "female"]

# GB 11643-1999: weights of the first 17 digits, and check characters for the sum mod 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# 18 characters: 17 digits and a check character; legacy 15-digit numbers (issued before 1999)
# carry a 2-digit year and no check character.
_ID18 = re.compile(r"[0-9]{17}[0-9X]")
_ID15 = re.compile(r"[0-9]{15}")
# Legacy numbers were issued to people born in the 1900s only, so their year is 19YY.
_LEGACY_CENTURY = 1900


class InvalidIdNumber(InvalidInput):
    """The ID number is wrong; `.reason` is one of format, checksum, birth_date, future."""

    def __init__(self, reason: IdReason) -> None:
        super().__init__(f"id_number.{reason}")
        self.reason: IdReason = reason


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A checked ID number and what it tells about its holder."""

    number: str  # digits and upper-case X, no spaces; a legacy number keeps its 15 digits
    birth_date: date
    sex: Sex
    legacy: bool  # 15 digits, no check character

    @property
    def number_18(self) -> str:
        """The 18-character form (legacy numbers upgraded), to match one person across records."""
        if not self.legacy:
            return self.number
        body = self.number[:6] + "19" + self.number[6:]
        return body + check_char(body)


def check_char(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def parse_id_number(raw: str, *, today: date | None = None) -> IdNumber:
    """Parse `raw` (spaces, full-width digits and lower-case x allowed) or raise InvalidIdNumber.

    `today` is the local date the birth date must not be after; default: today in Asia/Shanghai.
    """
    number = "".join(unicodedata.normalize("NFKC", raw or "").split()).upper()
    if _ID18.fullmatch(number):
        legacy, ymd, sex_digit = False, number[6:14], number[16]
    elif _ID15.fullmatch(number):
        legacy, ymd, sex_digit = True, str(_LEGACY_CENTURY // 100) + number[6:12], number[14]
    else:
        raise InvalidIdNumber("format")
    try:
        birth = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
    except ValueError:
        raise InvalidIdNumber("birth_date") from None
    if birth > (today or local_today(DEFAULT_TZ)):
        raise InvalidIdNumber("future")
    if not legacy and check_char(number[:17]) != number[17]:
        raise InvalidIdNumber("checksum")
    sex: Sex = "male" if int(sex_digit) % 2 else "female"
    return IdNumber(number=number, birth_date=birth, sex=sex, legacy=legacy)


def age_on(birth: date, day: date) -> int:
    """Full years (周岁) on `day`: the age goes up on the birthday (29 Feb: on 1 March)."""
    if day < birth:
        raise ValueError("day is before the birth date")
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
