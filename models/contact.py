"""Checks for the contact details people type into the chat or the mini-program (DOMAIN §7).

Every check returns the normalized value or raises an `InvalidInput` whose `.code` names the
problem; the user-facing text is the i18n key `invalid.<code>`. Exception messages never contain
the value itself, so a logged exception leaks no personal data.
"""

from __future__ import annotations

import re
import unicodedata


class InvalidInput(ValueError):
    """A value a person typed is not acceptable; `.code` says why (i18n key `invalid.<code>`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    @property
    def message_key(self) -> str:
        """The i18n key of the friendly message telling how to fix the input."""
        return f"invalid.{self.code}"


class InvalidPhone(InvalidInput):
    """Not a mainland mobile number."""

    def __init__(self) -> None:
        super().__init__("phone.format")


class InvalidName(InvalidInput):
    """Not a plausible personal name."""

    def __init__(self) -> None:
        super().__init__("name.format")


# A mainland mobile number, after an optional country code (+86, 86 or 0086).
_PHONE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
# People type numbers as 138-1234-5678 or 138 1234 5678; hyphen look-alikes come from IMEs.
_PHONE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")

# Long enough for transliterated foreign names (e.g. 阿卜杜勒·阿齐兹·本·阿卜杜勒-拉赫曼), short
# enough to stop pasted paragraphs.
NAME_MAX_LEN = 30
# The 间隔号 of minority and foreign names, and the look-alikes IMEs produce for it; all become
# U+00B7, the form on the ID card, so the same name is always spelled the same way.
_MIDDLE_DOTS = frozenset("\u00b7\u2022\u30fb\u2027\u2219\u22c5")
_MIDDLE_DOT = "\u00b7"
# Joiners inside foreign names written in Latin letters (Jean-Luc, O'Neil).
_JOINERS = frozenset("-'\u2019")
# 〇 is a number in Unicode (so not isalpha) but is written as a character in some given names.
_EXTRA_LETTERS = frozenset("\u3007")
_SPACED_DOT = re.compile(r" ?\u00b7 ?")


def normalize_phone(raw: str) -> str:
    """The 11-digit mobile number in `raw`, without spaces, dashes or country code."""
    text = unicodedata.normalize("NFKC", raw or "")  # full-width digits from Chinese IMEs
    match = _PHONE.fullmatch(_PHONE_SEPARATORS.sub("", text))
    if match is None:
        raise InvalidPhone()
    return match.group(1)


def validate_name(raw: str) -> str:
    """The name, trimmed, with single spaces and `·` as the only middle dot.

    Letters of any script are allowed (CJK, including rare characters outside the BMP, and Latin
    for foreign names); so are spaces, middle dots and, between letters, hyphens and apostrophes.
    Digits and markup characters are not: they mean a wrong field, not a name.
    """
    text = unicodedata.normalize("NFKC", raw or "")
    text = " ".join(text.split())
    text = "".join(_MIDDLE_DOT if ch in _MIDDLE_DOTS else ch for ch in text)
    text = _SPACED_DOT.sub(
        _MIDDLE_DOT, text
    )  # "阿卜杜勒 · 阿齐兹" is typed with spaces, stored without
    if not 1 <= len(text) <= NAME_MAX_LEN:
        raise InvalidName()
    if not (_is_letter(text[0]) and _is_letter(text[-1])):
        raise InvalidName()
    for ch in text:
        if not (_is_letter(ch) or ch == " " or ch == _MIDDLE_DOT or ch in _JOINERS):
            raise InvalidName()
    return text


def _is_letter(ch: str) -> bool:
    return ch.isalpha() or ch in _EXTRA_LETTERS
