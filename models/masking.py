"""Masked forms of personal data for screens, exports and logs.

Staff lists and supervisor alerts need to tell people apart without showing whole ID numbers or
phone numbers (个人信息保护法: minimum necessary), and logs must carry no personal data at all beyond
a masked openid to follow one conversation. Every function accepts None or an empty string (and
returns ""), and a value too short to mask partly is hidden completely, never shown whole.
"""

from __future__ import annotations

MASK = "*"
# ID: the first 6 digits (area of issue) and the last 4 (sequence + check) are what staff read back
# to confirm a record on the phone, the common display form in government systems.
_ID_HEAD, _ID_TAIL = 6, 4
# Phone: carrier prefix and the last 4 digits, the form Chinese apps and SMS notices use.
_PHONE_HEAD, _PHONE_TAIL = 3, 4
# openid: enough to follow one user through a log, far too little to message or look them up.
_OPENID_HEAD, _OPENID_TAIL = 4, 2
_ELLIPSIS = "…"


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
