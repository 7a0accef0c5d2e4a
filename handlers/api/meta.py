"""Code lists with localized labels, so the mini-program renders the same choices as the chat.

Public (no token): they hold no personal data, and the mini-program shows them before login.
`available` says whether this deployment's regional policy accepts the code (other_civil only
where the matter limit is lifted; exempt groups the region recognises).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from bot.api import json_ok, operation, request_locale
from bot.keys import policy_key
from i18n import t
from models.codes import (
    EXEMPT_CATEGORIES,
    MATERIAL_KINDS,
    MATTERS,
    OTHER_CIVIL,
    PLEDGE_CONFIRMATIONS,
    PLEDGE_TEXT_KEY,
    PLEDGE_TEXT_VERSION,
)


class Matter(BaseModel):
    code: str
    label: str
    hardship_required: bool
    available: bool


class ExemptCategory(BaseModel):
    code: str
    label: str
    matters: list[str] | None  # None: any matter
    min_age: int | None
    max_age: int | None
    available: bool


class Code(BaseModel):
    code: str
    label: str


class Matters(BaseModel):
    items: list[Matter]


class ExemptCategories(BaseModel):
    items: list[ExemptCategory]


class Codes(BaseModel):
    items: list[Code]


class Pledge(BaseModel):
    text_version: str
    text: str
    confirmations: list[Code]


@operation("GET", "/api/v1/meta/matters", summary="Matter codes", tag="meta", response=Matters)
async def matters(request: web.Request) -> web.Response:
    loc, policy = request_locale(request), request.app[policy_key]
    return json_ok(
        Matters(
            items=[
                Matter(
                    code=c,
                    label=t(f"matter.{c}", loc),
                    hardship_required=r.hardship_required,
                    available=c != OTHER_CIVIL or policy.other_civil_allowed,
                )
                for c, r in MATTERS.items()
            ]
        )
    )


@operation(
    "GET",
    "/api/v1/meta/exempt-categories",
    summary="Groups exempt from the hardship check",
    tag="meta",
    response=ExemptCategories,
)
async def exempt_categories(request: web.Request) -> web.Response:
    loc, allowed = request_locale(request), request.app[policy_key].exempt_categories_allowed
    return json_ok(
        ExemptCategories(
            items=[
                ExemptCategory(
                    code=c,
                    label=t(f"exempt.{c}", loc),
                    matters=sorted(r.matters) if r.matters is not None else None,
                    min_age=r.min_age,
                    max_age=r.max_age,
                    available=c in allowed,
                )
                for c, r in EXEMPT_CATEGORIES.items()
            ]
        )
    )


@operation("GET", "/api/v1/meta/materials", summary="Material kinds", tag="meta", response=Codes)
async def materials(request: web.Request) -> web.Response:
    loc = request_locale(request)
    return json_ok(
        Codes(items=[Code(code=k, label=t(f"material.{k}", loc)) for k in MATERIAL_KINDS])
    )


@operation(
    "GET",
    "/api/v1/meta/pledge",
    summary="The good-faith pledge text to show and its version",
    tag="meta",
    response=Pledge,
)
async def pledge(request: web.Request) -> web.Response:
    loc = request_locale(request)
    return json_ok(
        Pledge(
            text_version=PLEDGE_TEXT_VERSION,
            text=t(PLEDGE_TEXT_KEY, loc),
            confirmations=[
                Code(code=c, label=t(f"pledge_confirm.{c}", loc)) for c in PLEDGE_CONFIRMATIONS
            ],
        )
    )
