"""The applicant who follows their own application: invitations, notices, the case's callback.

See models.follow. Notices go through the outbox in the transaction of what caused them, with
the applicant's name masked and never an ID or phone number (only the organisation's phone, so
they can reach their handler). Refusals and terminations carry their reasons and the way to
object (Art. 43, 49).
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from bot.keys import policy_key, settings_key, wechat_api_key
from bot.notify import notify_user
from bot.outbox import dev_sink
from bot.wechat.api import WeChatAPIError
from i18n import t
from models.application import Application
from models.assignment import LIVE, Assignment
from models.case import Case
from models.conversation import Conversation
from models.follow import QR_DAYS, ApplicantFollow, ApplicantInvitation
from models.pool import Handler, Org

log = logging.getLogger(__name__)
# Development without WeChat credentials: no real QR code; try the scene with
# `python -m bot chat --event SCAN --key app:<token>`, as for callback invitations.
DEV_QR_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=dev-"


class QRUnavailable(Exception):
    """WeChat did not make the QR code (network, credentials); the caller answers 502."""


async def new_invitation(
    application: Application, *, now: datetime | None = None, conn: BaseDBAsyncClient | None = None
) -> ApplicantInvitation:
    now = now or datetime.now(UTC)
    return await ApplicantInvitation.create(
        application_id=application.id,
        token=secrets.token_urlsafe(12),
        expires_at=now + timedelta(days=QR_DAYS),
        using_db=conn,
    )


async def ensure_qr(app: web.Application, inv: ApplicantInvitation) -> str:
    """The invitation's QR code URL, asking WeChat for it the first time."""
    if inv.qr_url:
        return inv.qr_url
    if dev_sink(app[settings_key]):
        url = f"{DEV_QR_URL}{inv.token}"
    else:
        seconds = max(60, int((inv.expires_at - datetime.now(UTC)).total_seconds()))
        try:
            url = (await app[wechat_api_key].create_qrcode(inv.scene, seconds))["qr_url"]
        except (WeChatAPIError, aiohttp.ClientError, TimeoutError):
            raise QRUnavailable from None
    await ApplicantInvitation.filter(id=inv.id).update(qr_url=url)
    inv.qr_url = url
    return url


def invitation_page(app: web.Application, inv: ApplicantInvitation) -> str:
    """A link that shows the QR code (made on first opening): chat cannot wait for WeChat."""
    base = app[settings_key].public_base_url.rstrip("/")
    return f"{base}/api/v1/applicant-invitations/{inv.token}"


async def follower(application_id: int, conn: BaseDBAsyncClient | None = None) -> str | None:
    row = await ApplicantFollow.get_or_none(application_id=application_id).using_db(conn)
    return row.openid if row else None


async def _locale(openid: str, conn: BaseDBAsyncClient | None) -> str:
    conv = await Conversation.get_or_none(openid=openid).using_db(conn)
    return conv.locale if conv else "zh_CN"


async def tell_applicant(
    app: web.Application,
    application: Application,
    event: str,
    *,
    conn: BaseDBAsyncClient,
    key: str | None = None,
    **fields: object,
) -> bool:
    """Queue `applicant.<event>` to the application's follower, if any; True when queued."""
    openid = await follower(application.id, conn)
    if openid is None:
        return False
    loc = await _locale(openid, conn)
    matter = t(f"matter.{application.matter}", loc)
    text = t(
        f"applicant.{event}",
        loc,
        id=application.id,
        matter=matter,
        bureau=app[policy_key].bureau_name,
        **fields,
    )
    phone = fields.get("phone")
    await notify_user(
        app[settings_key],
        openid=openid,
        kind="applicant",
        region=application.region,
        key=key or f"applicant:{application.id}:{event}",
        text=text,
        public_numbers=(phone,) if isinstance(phone, str) else (),
        conn=conn,
    )
    return True


async def tell_decision(
    app: web.Application, application: Application, *, conn: BaseDBAsyncClient
) -> None:
    await tell_applicant(
        app,
        application,
        f"decided.{application.status}",
        conn=conn,
        reason=application.decision_reason or "-",
    )


async def tell_assignment(
    app: web.Application, application: Application, a: Assignment, *, conn: BaseDBAsyncClient
) -> None:
    handler = await Handler.get(id=a.handler_id).using_db(conn)
    org = await Org.get(id=a.org_id).using_db(conn)
    await tell_applicant(
        app,
        application,
        "assigned",
        conn=conn,
        key=f"applicant:assigned:{a.id}",
        handler=handler.name,
        org=org.name,
        phone=org.phone or "-",
        due=a.agreement_due.isoformat(),
    )


async def link_case(app: web.Application, case: Case, *, conn: BaseDBAsyncClient) -> None:
    """A case from a followed application is bound to the follower (so its callback reaches
    them without a QR code), and they hear when it closes or ends."""
    if case.application_id is None:
        return
    openid = await follower(case.application_id, conn)
    application = await Application.get_or_none(
        id=case.application_id, region=case.region
    ).using_db(conn)
    if openid is None or application is None:
        return
    if case.openid is None:
        await (
            Case.filter(id=case.id, openid=None)
            .using_db(conn)
            .update(openid=openid, bound_at=datetime.now(UTC))
        )
    if case.status == "closed":
        await tell_applicant(app, application, "closed", conn=conn, ref=case.case_no)


async def status_line(
    application: Application, locale: str, conn: BaseDBAsyncClient | None = None
) -> str:
    """One line on where the application stands, for the scan reply and 查询进度."""
    text = t(f"applicant.status.{application.status}", locale)
    a = (
        await Assignment.filter(application_id=application.id, status__in=LIVE)
        .using_db(conn)
        .first()
    )
    if a is not None:
        handler = await Handler.get(id=a.handler_id).using_db(conn)
        org = await Org.get(id=a.org_id).using_db(conn)
        text += t(
            "applicant.status.handler",
            locale,
            handler=handler.name,
            org=org.name,
            phone=org.phone or "-",
        )
    return text
