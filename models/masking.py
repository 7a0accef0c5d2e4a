"""Masked forms of personal data for screens, exports and logs.

Staff lists and supervisor alerts need to tell people apart without showing whole ID numbers or
phone numbers (个人信息保护法: minimum necessary), and logs must carry no personal data at all beyond
a masked openid to follow one conversation. Every function accepts None or an empty string (and
returns ""), and a value too short to mask partly is hidden completely, never shown whole.
"""

from __future__ import annotations

import re

MASK = "*"
# ID: the first 6 digits (area of issue) and the last 4 (sequence + check) are what staff read back
# to confirm a record on the phone, the common display form in government systems.
_ID_HEAD, _ID_TAIL = 6, 4
# Phone: carrier prefix and the last 4 digits, the form Chinese apps and SMS notices use.
_PHONE_HEAD, _PHONE_TAIL = 3, 4
# openid: enough to follow one user through a log, far too little to message or look them up.
_OPENID_HEAD, _OPENID_TAIL = 4, 2
_ELLIPSIS = "…"
ALERT_TEXT_MAX = 120  # characters of a user's free text quoted in a staff alert (one screen)


def _keep_ends(value: str, head: int, tail: int) -> str:
    """`value` with all but `head` leading and `tail` trailing characters masked one for one."""
    if len(value) <= head + tail:
        return MASK * len(value)
    return value[:head] + MASK * (len(value) - head - tail) + value[len(value) - tail :]


def mask_id(value: str | None) -> str:
    """110105********002X: area code and last four only."""
    return _keep_ends((value or "").strip(), _ID_HEAD, _ID_TAIL)


def mask_phone(value: str | None) -> str:
    """138****5678."""
    return _keep_ends((value or "").strip(), _PHONE_HEAD, _PHONE_TAIL)


def mask_name(value: str | None) -> str:
    """张* / 张*三 / 欧**明: the first character, and the last one from three characters on."""
    name = (value or "").strip()
    if len(name) <= 1:
        return MASK * len(name)
    if len(name) == 2:
        return name[0] + MASK
    return _keep_ends(name, 1, 1)


def mask_openid(value: str | None) -> str:
    """oAbC…xy, for logs; a value too short to hide anything becomes a single `*`."""
    openid = (value or "").strip()
    if not openid:
        return ""
    if len(openid) <= _OPENID_HEAD + _OPENID_TAIL + 2:  # keep at least 3 characters hidden
        return MASK
    return openid[:_OPENID_HEAD] + _ELLIPSIS + openid[-_OPENID_TAIL:]


# --- personal numbers inside free text --------------------------------------------------------
# One scrubber for every text that leaves for WeChat's or WeCom's servers (alerts, notices) or is
# printed and passed around (ledgers): whatever form people type a number in. Digits may be
# ASCII or full-width (a phone keyboard's 全角), separated by a space, dot, slash, dash or
# underscore (ASCII or full-width, and the ideographic space) — `138.1234.0000`, `138 1234 0000`,
# `110105 19491231 002X`.
_D = "[0-9\uff10-\uff19]"
_SEPS = " \t\u3000.\\-/_\uff0e\uff0d\uff0f\u2010-\u2015\u00b7"
_SEP = f"[{_SEPS}]?"
# Not the tail of a longer token: no letter or digit just before, nor a digit and a separator.
_NOT_BEFORE = f"(?<![0-9A-Za-z\uff10-\uff19])(?<!{_D}[{_SEPS}])"
_NOT_AFTER = f"(?!{_SEP}[0-9A-Za-z\uff10-\uff19])"  # nor its head


def _digits(n: int) -> str:
    return _D + f"(?:{_SEP}{_D}){{{n - 1}}}"


_AREA = "[1-8\uff11-\uff18]"  # ID numbers start with a province code 11..82
_ID_TEXT = re.compile(
    f"{_NOT_BEFORE}{_AREA}{_SEP}(?:{_digits(16)}{_SEP}"
    f"[0-9Xx\uff38\uff58\uff10-\uff19]|{_digits(14)}){_NOT_AFTER}"
)
_MOBILE_TEXT = re.compile(
    f"{_NOT_BEFORE}(?:(?:\\+|00)?[8\uff18]{_SEP}[6\uff16]{_SEP})?"
    f"([1\uff11]{_SEP}[3-9\uff13-\uff19](?:{_SEP}{_D}){{9}}){_NOT_AFTER}"
)
_LANDLINE_TEXT = re.compile(  # area code 0xx(x), then a 7- or 8-digit number
    f"{_NOT_BEFORE}([0\uff10]{_SEP}{_D}{{2,3}}){_SEP}({_digits(8)}|{_digits(7)}){_NOT_AFTER}"
)
_CARD_TEXT = re.compile(f"{_NOT_BEFORE}({_digits(19)}|{_digits(16)}){_NOT_AFTER}")  # bank cards
_LONG_RUN = re.compile(f"(?<![0-9A-Za-z\uff10-\uff19]){_D}{{7,}}(?![0-9A-Za-z\uff10-\uff19])")
_NORMAL = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")


def _plain_digits(text: str) -> str:
    return "".join(ch for ch in text.translate(_NORMAL) if ch.isdigit() or ch in "Xx")


def scrub(text: str | None, *, free_text: bool = False, limit: int | None = None) -> str:
    """`text` with ID numbers (110105********002X), mobiles (138****5678), landlines
    (0575-****3456) and bank cards (****1234) masked, however they were written.

    `free_text` is for what a user typed (a complaint, a callback remark): there any other
    unbroken run of 7 or more digits is hidden too (***): more likely a number (a QQ, a local
    phone) than a reference.
    `limit` caps the length (with …) for short pushes.
    """
    out = (text or "").strip() if free_text else (text or "")
    out = _ID_TEXT.sub(lambda m: mask_id(_plain_digits(m.group(0))), out)
    out = _MOBILE_TEXT.sub(lambda m: mask_phone(_plain_digits(m.group(1))), out)
    out = _LANDLINE_TEXT.sub(
        lambda m: _plain_digits(m.group(1)) + "-" + _keep_ends(_plain_digits(m.group(2)), 0, 4), out
    )
    out = _CARD_TEXT.sub(lambda m: _keep_ends(_plain_digits(m.group(1)), 0, 4), out)
    if free_text:
        out = _LONG_RUN.sub("***", out)
    if limit is not None and len(out) > limit:
        out = out[:limit] + _ELLIPSIS
    return out
