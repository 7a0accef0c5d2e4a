"""Agents file applications from the mini-program: create (idempotent), list, read.

Networks in villages drop answers, so the mini-program retries; the Idempotency-Key header makes
a retry return the application already created (200) instead of filing it twice, and a reused
key with a different body is refused (409). Uploads of materials are in
handlers.api.application_materials.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import RootModel
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.api import (
    ApiError,
    json_ok,
    keyset_page,
    operation,
    parse_body,
    parse_query,
    request_locale,
    validate,
)
from bot.auth import require_agent
from bot.keys import policy_key
from bot.outbox import wake
from handlers.api.application_schemas import (
    ApplicationCreated,
    ApplicationIn,
    ApplicationList,
    ApplicationOut,
    ListQuery,
)
from handlers.api.application_views import agent_view, created_view, list_item
from handlers.filing import Filing, check, file_application, violation_fields
from i18n import t
from models.agent import Agent
from models.application import Application, IdempotencyRecord, Material
from models.idcard import InvalidIdNumber, parse_id_number

IDEMPOTENCY_KEY_MAX = 128  # a UUID is 36; room for client prefixes


class RawJson(RootModel[dict[str, Any]]):
    """Any JSON object: read first, hashed for idempotency, then validated."""


def idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ApiError(428, "idempotency_key_required")
    if len(key) > IDEMPOTENCY_KEY_MAX or not key.isascii() or not key.isprintable():
        raise ApiError(400, "idempotency_key_invalid", max=IDEMPOTENCY_KEY_MAX)
    return key


def body_hash(raw: dict[str, Any]) -> str:
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _consequence(request: web.Request) -> str:
    """What the one-time notice says happens when materials come late (regional policy)."""
    return request.app[policy_key].missing_materials_consequence


def to_filing(body: ApplicationIn) -> Filing:
    h = body.hardship
    return Filing(
        name=body.applicant.name,
        id_number=body.applicant.id_number,
        phone=body.applicant.phone,
        address=body.applicant.address,
        matter=body.matter,
        facts=body.facts,
        opposing_party=body.opposing_party or None,
        limitation_deadline=body.limitation_deadline,
        hardship_basis=h.basis,
        exempt_category=h.exempt_category or None,
        statement=h.statement.model_dump() if h.statement else None,
        pledge=h.pledge.model_dump() if h.pledge else None,
        materials=[(m.kind, m.status) for m in body.materials],
        location=body.location.model_dump(exclude_none=True) if body.location else None,
        missing_acknowledged=body.missing_materials_acknowledged,
        channel="api",
        other_reason=h.other_reason,
        migrant_worker=body.applicant.migrant_worker,
    )


def checked_body(request: web.Request, raw: dict[str, Any]) -> ApplicationIn:
    """Validate the shape; a bad ID number is reported with the other field errors at once."""
    try:
        return validate(request, ApplicationIn, raw)
    except ApiError as exc:
        number = (
            (raw.get("applicant") or {}).get("id_number")
            if isinstance(raw.get("applicant"), dict)
            else None
        )
        if isinstance(number, str) and "applicant.id_number" not in exc.fields:
            try:
                parse_id_number(number)
            except InvalidIdNumber as bad:
                exc.fields["applicant.id_number"] = t(
                    f"violation.{bad.code}", request_locale(request)
                )
        raise


async def replay(request: web.Request, record: IdempotencyRecord, digest: str) -> web.Response:
    if record.request_hash != digest:
        raise ApiError(409, "idempotency_conflict")
    row = await Application.get(id=record.application_id)
    materials = await Material.filter(application_id=row.id).order_by("id")
    return json_ok(
        created_view(row, materials, request_locale(request), _consequence(request)), status=200
    )


@operation(
    "POST",
    "/api/v1/applications",
    summary="File an application (a replayed Idempotency-Key answers 200 with it)",
    tag="applications",
    body=ApplicationIn,
    response=ApplicationCreated,
    status=201,
    auth="bearer",
    errors=(403, 409, 413, 428),
    headers=("Idempotency-Key",),
)
async def create(request: web.Request) -> web.Response:
    agent: Agent = await require_agent(request)
    key = idempotency_key(request)
    raw = (await parse_body(request, RawJson)).root
    digest = body_hash(raw)
    record = await IdempotencyRecord.get_or_none(agent_id=agent.id, key=key)
    if record is not None:
        return await replay(request, record, digest)
    body = checked_body(request, raw)
    filing = to_filing(body)
    locale = request_locale(request)
    result = check(request.app, filing)
    if not result.ok:
        raise ApiError(422, "validation", fields=violation_fields(result, locale))
    try:
        async with in_transaction() as conn:
            row = await file_application(
                request.app, agent, filing, result, conn=conn, now=datetime.now(UTC)
            )
            await IdempotencyRecord.create(
                agent_id=agent.id,
                key=key,
                request_hash=digest,
                application_id=row.id,
                using_db=conn,
            )
    except IntegrityError:  # the same key raced in from another request and won
        return await replay(
            request, await IdempotencyRecord.get(agent_id=agent.id, key=key), digest
        )
    wake(request.app)
    materials = await Material.filter(application_id=row.id).order_by("id")
    return json_ok(created_view(row, materials, locale, _consequence(request)), status=201)


@operation(
    "GET",
    "/api/v1/applications",
    summary="My applications, newest first",
    tag="applications",
    query=ListQuery,
    response=ApplicationList,
    auth="bearer",
    errors=(403,),
)
async def list_mine(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    q = parse_query(request, ListQuery)
    page, next_cursor = await keyset_page(
        Application.filter(agent_id=agent.id), cursor=q.cursor, limit=q.limit
    )
    locale = request_locale(request)
    return json_ok(
        ApplicationList(items=[list_item(r, locale) for r in page], next_cursor=next_cursor)
    )


async def own_application(request: web.Request, agent: Agent) -> Application:
    """The caller's application named in the path; another agent's is as absent as none."""
    raw = request.match_info["id"]
    row = (
        await Application.get_or_none(id=int(raw), agent_id=agent.id)
        if raw.isdigit() and len(raw) < 10
        else None
    )
    if row is None:
        raise ApiError(404, "not_found")
    return row


@operation(
    "GET",
    "/api/v1/applications/{id}",
    summary="One of my applications (masked)",
    tag="applications",
    response=ApplicationOut,
    auth="bearer",
    errors=(403, 404),
)
async def get_one(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    row = await own_application(request, agent)
    materials = await Material.filter(application_id=row.id).order_by("id")
    return json_ok(agent_view(row, materials, request_locale(request), _consequence(request)))
