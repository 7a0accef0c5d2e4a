"""The centre's cases: `PUT /api/v1/center/cases/{case_no}` (idempotent upsert), `GET` of one,
and `POST .../callback-invitations` (a temporary QR code for the closing notice).

A key sees only its region's cases; another region's case number is simply not found (404),
never its data. A case that closes gets its callback scheduled in the same transaction; a case
that is no longer closed loses its unanswered callback. Responses show the beneficiary masked:
the centre has the full values, and a response is one more place they could leak from.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator
from tortoise.transactions import in_transaction

from bot.api import ApiError, json_ok, operation, parse_body, request_locale
from bot.auth import require_center
from bot.keys import policy_key, settings_key, wechat_api_key
from bot.outbox import dev_sink
from bot.wechat.api import WeChatAPIError
from handlers.applicant import link_case
from handlers.jobs_cases import to_phone_worklist
from i18n import t
from models.callback import Callback, CallbackInvitation, due_at
from models.case import Case, CaseStatus, find_by_case_no
from models.contact import normalize_phone, validate_name
from models.fields import blind_index
from models.idcard import parse_id_number
from models.masking import mask_id, mask_name, mask_phone

QR_DAYS_MAX = 30  # WeChat's longest temporary QR code
# Development without WeChat credentials: no real QR code; the scene works with
# `python -m bot chat --event SCAN --key <scene>`, as the outbox keeps pushes (bot.outbox).
DEV_QR_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=dev-"
CASE_NO_MAX = 64


class Beneficiary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=30)
    phone: str = Field(min_length=1, max_length=20)
    id_number: str | None = Field(None, max_length=24)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return validate_name(v)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        return normalize_phone(v)

    @field_validator("id_number")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        return parse_id_number(v).number if v else None


class HandlerInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=30)
    org: str = Field(min_length=1, max_length=100)


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region: str = Field(pattern=r"^\d{6}$")
    kind: Literal["civil", "criminal", "administrative"]
    cause: str = Field(min_length=1, max_length=100, description="案由")
    beneficiary: Beneficiary
    handler: HandlerInfo
    status: Literal["accepted", "assigned", "in_progress", "closed", "terminated"]
    origin: Literal["application", "notification"] = Field(
        "application",
        description="申请类 (an application) or 通知类 (assigned at a court's, "
        "prosecutor's or police notice); callback coverage counts application cases only",
    )
    closed_on: date | None = None
    application_id: int | None = Field(None, ge=1)
    special: bool = Field(
        False,
        description="a special case, left out of every-case evaluation "
        "(Shaoxing); its fee follows the local rule",
    )


class CallbackBrief(BaseModel):
    id: int
    status: str
    due_at: datetime
    answered_at: datetime | None


class CaseOut(BaseModel):
    case_no: str
    region: str
    kind: str
    cause: str
    beneficiary: dict[str, str | None] = Field(description="masked name, phone, id_number")
    handler: HandlerInfo
    status: str
    origin: str
    closed_on: date | None
    application_id: int | None
    special: bool = False
    bound: bool = Field(description="the beneficiary scanned the invitation in WeChat")
    callback: CallbackBrief | None

    @classmethod
    async def of(cls, c: Case, conn=None) -> CaseOut:
        cb = await Callback.filter(case_id=c.id).using_db(conn).first()
        return cls(
            case_no=c.case_no,
            region=c.region,
            kind=c.kind,
            cause=c.cause,
            beneficiary={
                "name": mask_name(c.beneficiary_name),
                "phone": mask_phone(c.beneficiary_phone),
                "id_number": mask_id(c.beneficiary_id_number) or None,
            },
            handler=HandlerInfo(name=c.handler_name, org=c.handler_org),
            status=c.status,
            origin=c.origin,
            closed_on=c.closed_on,
            application_id=c.application_id,
            special=c.special,
            bound=c.openid is not None,
            callback=CallbackBrief(
                id=cb.id, status=cb.status, due_at=cb.due_at, answered_at=cb.answered_at
            )
            if cb
            else None,
        )


def utc(at: datetime) -> datetime:
    """`at` in UTC, the way timestamps are stored (sqlite compares them as text); a time at the
    edge of the calendar (0001-01-01T00:00+01:00) clamps instead of overflowing."""
    try:
        return at.astimezone(UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC) if at.year < 2 else datetime.max.replace(tzinfo=UTC)


def case_no_of(request: web.Request) -> str:
    case_no = request.match_info["case_no"].strip()
    if not 1 <= len(case_no) <= CASE_NO_MAX or not case_no.isprintable():
        raise ApiError(404, "not_found", message_key="callbacks.error.case_not_found")
    return case_no


async def find_case(request: web.Request, region: str) -> Case:
    found = await find_by_case_no(Case.filter(region=region), case_no_of(request))
    case = found[0] if found else None
    if case is None:
        raise ApiError(404, "not_found", message_key="callbacks.error.case_not_found")
    return case


@operation(
    "PUT",
    "/api/v1/center/cases/{case_no}",
    summary="Create or update a case (idempotent)",
    tag="center",
    body=CaseIn,
    response=CaseOut,
    auth="api_key",
    errors=(403, 404),
)
async def put_case(request: web.Request) -> web.Response:
    key = await require_center(request)
    case_no = case_no_of(request)
    body = await parse_body(request, CaseIn)
    settings, policy = request.app[settings_key], request.app[policy_key]
    loc = request_locale(request)
    if body.region != key.region:
        raise ApiError(403, "region_mismatch", message_key="callbacks.error.region_mismatch")
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    closed = body.status == CaseStatus.CLOSED
    if closed and (body.closed_on is None or body.closed_on > today):
        raise ApiError(422, "validation", fields={"closed_on": t("callbacks.error.closed_on", loc)})
    b = body.beneficiary
    values = {
        "kind": body.kind,
        "cause": body.cause.strip(),
        "beneficiary_name": b.name,
        "beneficiary_phone": b.phone,
        "beneficiary_id_number": b.id_number,
        "beneficiary_id_index": blind_index(b.id_number) if b.id_number else None,
        "handler_name": body.handler.name.strip(),
        "handler_org": body.handler.org.strip(),
        "status": body.status,
        "origin": body.origin,
        "closed_on": body.closed_on,
        "application_id": body.application_id,
        "special": body.special,
    }
    async with in_transaction() as conn:
        same = await find_by_case_no(Case.filter(region=key.region), case_no, conn=conn)
        case_no = same[0].case_no if same else case_no  # （2026） or (2026): the same case
        q = Case.filter(region=key.region, case_no=case_no).using_db(conn)
        created = not await q.exists()
        await Case.bulk_create(
            [Case(region=key.region, case_no=case_no, **values)],
            ignore_conflicts=True,
            using_db=conn,
        )
        case = await q.select_for_update().get()
        if not created:
            await case.update_from_dict(values).save(using_db=conn)
        if closed and body.closed_on is not None:  # (always: a closed case's date is checked above)
            due = due_at(body.closed_on, policy.callback_delay_days, settings.timezone)
            await Callback.bulk_create(
                [Callback(case_id=case.id, region=case.region, due_at=due)],
                ignore_conflicts=True,
                using_db=conn,
            )
            await (
                Callback.filter(case_id=case.id, status="scheduled")
                .exclude(due_at=due)
                .using_db(conn)
                .update(due_at=due, updated_at=datetime.now(UTC))
            )
            # closed long ago (a back-import): its WeChat window has passed already
            await to_phone_worklist(
                datetime.now(UTC), policy.callback_phone_after_days, case_id=case.id, conn=conn
            )
        else:  # reopened or terminated: no callback for an unfinished case
            await Callback.filter(case_id=case.id, answered_at=None).using_db(conn).delete()
        await link_case(request.app, case, conn=conn)  # the applicant who follows it (issue 13)
        out = await CaseOut.of(case, conn)
    # 200 either way: the OpenAPI document declares one success status per operation
    return json_ok(out)


@operation(
    "GET",
    "/api/v1/center/cases/{case_no}",
    summary="One case, with its callback",
    tag="center",
    response=CaseOut,
    auth="api_key",
    errors=(404,),
)
async def get_case(request: web.Request) -> web.Response:
    key = await require_center(request)
    return json_ok(await CaseOut.of(await find_case(request, key.region)))


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expire_days: int = Field(QR_DAYS_MAX, ge=1, le=QR_DAYS_MAX)


class InvitationOut(BaseModel):
    scene: str
    qr_url: str
    expires_at: datetime


@operation(
    "POST",
    "/api/v1/center/cases/{case_no}/callback-invitations",
    summary="A temporary QR code that starts the callback survey",
    tag="center",
    body=InvitationIn,
    response=InvitationOut,
    status=201,
    auth="api_key",
    errors=(404, 409, 502),
)
async def create_invitation(request: web.Request) -> web.Response:
    key = await require_center(request)
    case = await find_case(request, key.region)
    body = await parse_body(request, InvitationIn) if request.can_read_body else InvitationIn()
    cb = await Callback.filter(case_id=case.id).first()
    if case.status != CaseStatus.CLOSED or cb is None:
        raise ApiError(409, "case_not_closed", message_key="callbacks.error.case_not_closed")
    if cb.answered_at is not None:
        raise ApiError(409, "callback_completed", message_key="callbacks.error.completed")
    token = secrets.token_urlsafe(12)
    seconds = body.expire_days * 86400
    if dev_sink(request.app[settings_key]):  # no official account: try it with `bot chat`
        qr = {"qr_url": f"{DEV_QR_URL}{token}"}
    else:
        try:
            qr = await request.app[wechat_api_key].create_qrcode(f"cb:{token}", seconds)
        except (WeChatAPIError, aiohttp.ClientError, TimeoutError):
            raise ApiError(
                502, "wechat_unavailable", message_key="callbacks.error.wechat"
            ) from None
    expires = datetime.now(UTC) + timedelta(seconds=int(qr.get("expire_seconds") or seconds))
    inv = await CallbackInvitation.create(
        callback=cb, token=token, qr_url=qr["qr_url"], expires_at=expires
    )
    return json_ok(
        InvitationOut(scene=inv.scene, qr_url=inv.qr_url, expires_at=expires), status=201
    )
