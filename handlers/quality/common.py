"""Small helpers the quality endpoints share: path parameters, and the handler of a case."""

from __future__ import annotations

from aiohttp import web

from bot.api import MAX_ID, ApiError


def int_param(request: web.Request, name: str) -> int:
    """A positive database id from the path; anything else is simply not found."""
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise ApiError(404, "not_found")
    return int(raw)
