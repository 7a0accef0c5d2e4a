"""Formal documents of an application: list, download (.docx), reissue; the agent's signed link.

`GET /api/v1/center/applications/{id}/documents` lists `{kind, number, issued_at, url}` (voided
ones too, marked); each `url` downloads the stored Word file with the region's key. A reissue
renders the same kind again from today's data under a new number and voids the old one. The
filing agent gets a link valid for LINK_DAYS (handlers.documents) in chat
(`/api/v1/documents/{token}`): the token is signed with BOT_SECRET_KEY, so it cannot be guessed
or stretched.
"""

from __future__ import annotations

import hmac
import time
from datetime import datetime
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, Field
from tortoise.transactions import in_transaction

from bot.api import ApiError, json_ok, operation
from bot.auth import require_center
from bot.keys import policy_key, settings_key
from bot.storage import storage_key
from handlers.api.center_applications import audit, path_id
from handlers.document_render import DOCX
from handlers.documents import issue, letter_for, link_signature
from models.application import Application
from models.assignment import Assignment
from models.calendar import local_today
from models.document import DocKind, Document
from models.people import CenterKey
from models.pool import Handler, Org
from models.termination import Termination, reason_text


class DocumentOut(BaseModel):
    id: int
    kind: str = Field(
        description="decision_grant, decision_refuse, materials_notice, "
        "assignment_notice, termination"
    )
    number: str
    issued_at: datetime
    url: str = Field(description="downloads the .docx (X-Api-Key)")
    sha256: str
    voided_at: datetime | None
    replaced_by: int | None

    @classmethod
    def of(cls, d: Document, app_id: int) -> DocumentOut:
        return cls(
            id=d.id,
            kind=d.kind,
            number=d.number,
            issued_at=d.issued_at,
            url=f"/api/v1/center/applications/{app_id}/documents/{d.id}",
            sha256=d.sha256,
            voided_at=d.voided_at,
            replaced_by=d.replaced_by_id,
        )


class DocumentList(BaseModel):
    items: list[DocumentOut]


async def _application(request: web.Request) -> tuple[CenterKey, Application]:
    key = await require_center(request)
    row = await Application.get_or_none(id=path_id(request), region=key.region)
    if row is None:
        raise ApiError(404, "not_found")
    return key, row


async def _document(request: web.Request, row: Application) -> Document:
    doc = await Document.get_or_none(id=path_id(request, "doc_id"), application_id=row.id)
    if doc is None:
        raise ApiError(404, "not_found")
    return doc


def docx_response(data: bytes, number: str) -> web.Response:
    name = quote(f"{number}.docx")
    return web.Response(
        body=data,
        content_type=DOCX,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
            "Cache-Control": "no-store",
        },
    )  # personal data: no copies in proxies


@operation(
    "GET",
    "/api/v1/center/applications/{id}/documents",
    summary="The application's formal documents",
    tag="center",
    response=DocumentList,
    auth="api_key",
    errors=(404,),
)
async def list_documents(request: web.Request) -> web.Response:
    _, row = await _application(request)
    docs = await Document.filter(application_id=row.id).order_by("id")
    return json_ok(DocumentList(items=[DocumentOut.of(d, row.id) for d in docs]))


@operation(
    "GET",
    "/api/v1/center/applications/{id}/documents/{doc_id}",
    summary="Download a document (.docx)",
    tag="center",
    auth="api_key",
    content_type=DOCX,
    errors=(404,),
)
async def download(request: web.Request) -> web.Response:
    key, row = await _application(request)
    doc = await _document(request, row)
    data = await request.app[storage_key].get(doc.storage_key)
    await audit(key, "document", [row.id])
    return docx_response(data, doc.number)


@operation(
    "POST",
    "/api/v1/center/applications/{id}/documents/{doc_id}/reissue",
    summary="Reissue a document: new number, the old one void",
    tag="center",
    response=DocumentOut,
    status=201,
    auth="api_key",
    errors=(404, 409),
)
async def reissue(request: web.Request) -> web.Response:
    _, row = await _application(request)
    old = await _document(request, row)
    if old.voided_at is not None:
        raise ApiError(409, "document_void", message_key="documents.error.void")
    settings, policy = request.app[settings_key], request.app[policy_key]
    kind = DocKind(old.kind)
    extra: dict = {}
    if old.assignment_id:
        a = await Assignment.get(id=old.assignment_id)
        extra = {
            "assignment": a,
            "handler": await Handler.get(id=a.handler_id),
            "org": await Org.get(id=a.org_id),
        }
    reason = None if kind is DocKind.TERMINATION else row.decision_reason
    if kind is DocKind.TERMINATION:
        term = await Termination.filter(application_id=row.id).order_by("-id").first()
        reason, extra["note"] = (reason_text(term.reason), term.note) if term else ("—", None)
    async with in_transaction() as conn:
        letter = await letter_for(
            kind,
            policy,
            application=row,
            today=local_today(settings.timezone),
            tz=settings.timezone,
            conn=conn,
            reason=reason,
            **extra,
        )
        doc = await issue(
            request.app,
            kind,
            letter,
            region=row.region,
            conn=conn,
            application_id=row.id,
            case_id=old.case_id,
            assignment_id=old.assignment_id,
            replaces=old,
        )
    return json_ok(DocumentOut.of(doc, row.id), status=201)


# --- the filing agent's link ------------------------------------------------------------------


@operation(
    "GET",
    "/api/v1/documents/{token}",
    summary="Download a document by a signed link",
    tag="documents",
    content_type=DOCX,
    errors=(404,),
)
async def by_link(request: web.Request) -> web.Response:
    settings = request.app[settings_key]
    parts = request.match_info["token"].split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts[:2]) or len(parts[0]) > 9:
        raise ApiError(404, "not_found")
    doc_id, expires = int(parts[0]), int(parts[1])
    if (
        not hmac.compare_digest(parts[2], link_signature(settings, doc_id, expires))
        or expires < time.time()
    ):
        raise ApiError(404, "not_found")
    doc = await Document.get_or_none(id=doc_id)
    if doc is None or doc.voided_at is not None:
        raise ApiError(404, "not_found")
    data = await request.app[storage_key].get(doc.storage_key)
    return docx_response(data, doc.number)
