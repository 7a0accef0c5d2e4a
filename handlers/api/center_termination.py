"""Termination of legal aid and the bureau's review of objections, for the centre's system.

`POST /api/v1/center/cases/{case_no}/termination {"reason", "note"}` with an Art. 48 reason code
(models.termination); `GET /api/v1/center/objections` lists the region's objections (open ones
first by deadline); `POST /api/v1/center/objections/{id}/review {"decision", "note"}` records the
bureau's decision (`upheld` or `corrected`) and tells the objector. Any document of the region
downloads from `GET /api/v1/center/documents/{id}`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from tortoise.transactions import in_transaction

from bot.api import ApiError, json_ok, operation, parse_body
from bot.auth import require_center
from bot.outbox import wake
from bot.storage import storage_key
from handlers.api.center_applications import path_id
from handlers.api.center_cases import find_case
from handlers.api.center_documents import docx_response
from handlers.document_render import DOCX
from handlers.termination import review_objection, terminate
from models.case import CaseStatus
from models.document import Document
from models.termination import TERMINATION_REASONS, Objection, ObjectionStatus

ReasonCode = Literal[
    "fraud",
    "concealment",
    "illegal_use",
    "no_longer_eligible",
    "proceedings_ended",
    "own_lawyer",
    "recipient_request",
    "other",
]


class TerminationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: ReasonCode = Field(description="法律援助法 Art. 48 (1)-(8), as codes")
    note: str | None = Field(None, max_length=500)


class DocumentRef(BaseModel):
    kind: str
    number: str
    issued_at: datetime
    url: str


class TerminationOut(BaseModel):
    case_no: str
    status: str
    reason: str
    reason_text: str
    note: str | None
    terminated_at: datetime
    document: DocumentRef


@operation(
    "POST",
    "/api/v1/center/cases/{case_no}/termination",
    summary="Terminate legal aid (Art. 48)",
    tag="center",
    body=TerminationIn,
    response=TerminationOut,
    status=201,
    auth="api_key",
    errors=(404, 409),
)
async def create_termination(request: web.Request) -> web.Response:
    key = await require_center(request)
    case = await find_case(request, key.region)
    body = await parse_body(request, TerminationIn)
    if case.status in (CaseStatus.TERMINATED, CaseStatus.CLOSED):
        raise ApiError(409, "case_ended", message_key="termination.error.ended", state=case.status)
    note = " ".join((body.note or "").split()) or None
    async with in_transaction() as conn:
        term, doc = await terminate(
            request.app, case, body.reason, note, actor=f"center_key:{key.id}", conn=conn
        )
    wake(request.app)
    return json_ok(
        TerminationOut(
            case_no=case.case_no,
            status=case.status,
            reason=term.reason,
            reason_text=TERMINATION_REASONS[term.reason],
            note=term.note,
            terminated_at=term.at,
            document=DocumentRef(
                kind=doc.kind,
                number=doc.number,
                issued_at=doc.issued_at,
                url=f"/api/v1/center/documents/{doc.id}",
            ),
        ),
        status=201,
    )


@operation(
    "GET",
    "/api/v1/center/documents/{id}",
    summary="Download any document (.docx)",
    tag="center",
    auth="api_key",
    content_type=DOCX,
    errors=(404,),
)
async def download_document(request: web.Request) -> web.Response:
    key = await require_center(request)
    doc = await Document.get_or_none(id=path_id(request), region=key.region)
    if doc is None:
        raise ApiError(404, "not_found")
    return docx_response(await request.app[storage_key].get(doc.storage_key), doc.number)


class ObjectionOut(BaseModel):
    id: int
    target: str = Field(description="refusal or termination")
    application_id: int | None
    case_id: int | None
    text: str
    status: str = Field(description="received, upheld, corrected")
    filed_at: datetime
    review_due: date
    decided_at: datetime | None
    decision_note: str | None

    @classmethod
    def of(cls, o: Objection) -> ObjectionOut:
        return cls(
            id=o.id,
            target=o.target,
            application_id=o.application_id,
            case_id=o.case_id,
            text=o.text,
            status=o.status,
            filed_at=o.filed_at,
            review_due=o.review_due,
            decided_at=o.decided_at,
            decision_note=o.decision_note,
        )


class ObjectionList(BaseModel):
    items: list[ObjectionOut]


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["upheld", "corrected"] = Field(
        description="upheld: the centre's decision stands (维持); corrected: 责令改正"
    )
    note: str | None = Field(None, max_length=500)


@operation(
    "GET",
    "/api/v1/center/objections",
    summary="Objections to refusals and terminations",
    tag="center",
    response=ObjectionList,
    auth="api_key",
)
async def list_objections(request: web.Request) -> web.Response:
    key = await require_center(request)
    rows = await Objection.filter(region=key.region).order_by("status", "review_due", "id")
    open_first = sorted(rows, key=lambda o: o.status != ObjectionStatus.RECEIVED)
    return json_ok(ObjectionList(items=[ObjectionOut.of(o) for o in open_first]))


@operation(
    "POST",
    "/api/v1/center/objections/{id}/review",
    summary="The bureau's decision on an objection (Art. 49)",
    tag="center",
    body=ReviewIn,
    response=ObjectionOut,
    auth="api_key",
    errors=(404, 409),
)
async def review(request: web.Request) -> web.Response:
    key = await require_center(request)
    body = await parse_body(request, ReviewIn)
    async with in_transaction() as conn:
        obj = (
            await Objection.select_for_update()
            .using_db(conn)
            .get_or_none(id=path_id(request), region=key.region)
        )
        if obj is None:
            raise ApiError(404, "not_found")
        if obj.status != ObjectionStatus.RECEIVED:
            raise ApiError(409, "already_reviewed", message_key="objection.error.reviewed")
        await review_objection(
            request.app, obj, body.decision, body.note, actor=f"center_key:{key.id}", conn=conn
        )
    wake(request.app)
    return json_ok(ObjectionOut.of(obj))
