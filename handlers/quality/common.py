"""Small helpers the quality endpoints share: path parameters, and the handler of a case."""

from __future__ import annotations

from datetime import UTC, date, datetime

from aiohttp import web

from bot.api import MAX_ID, ApiError, request_locale
from i18n import t
from models.calendar import to_local


def int_param(request: web.Request, name: str) -> int:
    """A positive database id from the path; anything else is simply not found."""
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise ApiError(404, "not_found")
    return int(raw)


def check_period(
    request: web.Request, first: date, last: date, names: tuple[str, str], *, past: bool
) -> None:
    """A period's dates: the first not after the last (422 naming both fields), and with
    `past` the last not after today (422 naming it: only closed cases can be drawn)."""
    loc = request_locale(request)
    if first > last:
        text = t("quality.error.period_reversed", loc, first=names[0], last=names[1])
        raise ApiError(
            422,
            "validation",
            fields={names[0]: text, names[1]: text},
            message_key="quality.error.period_reversed",
            first=names[0],
            last=names[1],
        )
    today = to_local(datetime.now(UTC)).date()
    if past and last > today:
        text = t("quality.error.period_future", loc, field=names[1], today=today.isoformat())
        raise ApiError(
            422,
            "validation",
            fields={names[1]: text},
            message_key="quality.error.period_future",
            field=names[1],
            today=today.isoformat(),
        )
