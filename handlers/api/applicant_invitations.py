"""The applicant's QR code: `POST /api/v1/applications/{id}/applicant-invitation` (the filing
agent's token) and the page chat agents open, `GET /api/v1/applicant-invitations/{token}`.

The agent shows the code to the applicant, who scans it with their own WeChat to follow the
application (handlers.applicant). Another agent's application is as absent as none (404).
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from bot.api import ApiError, json_ok, operation
from bot.auth import require_agent
from handlers.api.applications import own_application
from handlers.applicant import QRUnavailable, ensure_qr, new_invitation
from models.follow import ApplicantInvitation


class ApplicantInvitationOut(BaseModel):
    scene: str = Field(description="app:<token>, the QR code's scene")
    qr_url: str
    expires_at: datetime


@operation(
    "POST",
    "/api/v1/applications/{id}/applicant-invitation",
    summary="A QR code for the applicant to follow the application in WeChat",
    tag="applications",
    response=ApplicantInvitationOut,
    status=201,
    auth="bearer",
    errors=(403, 404, 502),
)
async def create(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    row = await own_application(request, agent)
    inv = await new_invitation(row)
    try:
        url = await ensure_qr(request.app, inv)
    except QRUnavailable:
        await inv.delete()
        raise ApiError(502, "wechat_unavailable", message_key="callbacks.error.wechat") from None
    return json_ok(
        ApplicantInvitationOut(scene=inv.scene, qr_url=url, expires_at=inv.expires_at), status=201
    )


@operation(
    "GET",
    "/api/v1/applicant-invitations/{token}",
    summary="Show the applicant's QR code (redirects to WeChat's image)",
    tag="applications",
    status=302,
    errors=(404, 502),
)
async def show(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    inv = await ApplicantInvitation.get_or_none(token=token) if len(token) <= 32 else None
    if inv is None or inv.expires_at < datetime.now(inv.expires_at.tzinfo):
        raise ApiError(404, "not_found")
    try:
        url = await ensure_qr(request.app, inv)
    except QRUnavailable:
        raise ApiError(502, "wechat_unavailable", message_key="callbacks.error.wechat") from None
    raise web.HTTPFound(url)
