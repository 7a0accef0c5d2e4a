"""Pushes to staff and to the centre's records system, always through the outbox.

The domain rules return what should be pushed (models.pushes); `queue` puts it in the outbox in
the caller's transaction. Callers pass text that is already safe for WeChat's servers: names masked, never an ID number or
a phone number (DESIGN "Personal data"). Each push has a dedupe key derived from its cause, so
the same alert queued twice (a retried request, a re-run job) is sent once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.outbox import enqueue
from bot.settings import Settings
from models.masking import scrub  # a safety net under the callers' own masking
from models.outbox import Channel
from models.people import Staff, StaffRole
from models.pushes import CenterEvent, Push, StaffAlert, UserNotice


async def alert_staff(
    settings: Settings,
    *,
    region: str,
    key: str,
    title: str,
    lines: list[str],
    link: str | None = None,
    supervisors_only: bool = False,
    bureau: bool = False,
    kind: str = "alert",
    conn: BaseDBAsyncClient | None = None,
) -> int:
    """Queue an alert to the region's active staff (WeChat) and the WeCom group robot.

    The centre's people get it by default; `bureau=True` sends it to the region's justice-bureau
    members instead (complaints), who are not the centre and are left out of its alerts. The
    centre's WeCom group only sees the centre's alerts.

    `key` identifies the cause (e.g. 'urgent-application:42'); returns how many staff it
    reaches in WeChat. Staff get a template message when BOT_STAFF_TEMPLATE_ID is set (it
    reaches them whenever they last wrote to us), else a customer-service message.
    """
    title, lines = scrub(title), [scrub(line) for line in lines]
    staff = Staff.filter(region=region, active=True)
    staff = staff.filter(role=StaffRole.BUREAU) if bureau else staff.exclude(role=StaffRole.BUREAU)
    if supervisors_only:
        staff = staff.filter(supervisor=True)
    members = await staff.using_db(conn).all() if conn else await staff.all()
    text = "\n".join([f"【{title}】", *lines] + ([link] if link else []))
    for member in members:
        dedupe = f"{kind}:{key}:staff:{member.id}"
        if settings.staff_template_id:
            await enqueue(
                channel=Channel.WECHAT_TEMPLATE,
                recipient=member.openid,
                dedupe_key=dedupe,
                kind=kind,
                region=region,
                conn=conn,
                payload={
                    "template_id": settings.staff_template_id,
                    "url": link,
                    "data": template_data(title, lines),
                },
            )
        else:
            await enqueue(
                channel=Channel.WECHAT_TEXT,
                recipient=member.openid,
                dedupe_key=dedupe,
                kind=kind,
                region=region,
                conn=conn,
                payload={"text": text},
            )
    if settings.wecom_webhook_url and not bureau:
        md = "\n".join(
            [f"### {title}", *(f"> {line}" for line in lines)]
            + ([f"[查看详情]({link})"] if link else [])
        )
        await enqueue(
            channel=Channel.WECOM,
            dedupe_key=f"{kind}:{key}:wecom",
            kind=kind,
            region=region,
            conn=conn,
            payload={"markdown": md},
        )
    return len(members)


async def alert_supervisors(settings: Settings, **kw: Any) -> int:
    """An urgent alert to the region's supervisors; with none registered, to all its staff
    (an alert nobody receives is worse than one a colleague forwards)."""
    return await alert_staff(settings, supervisors_only=True, **kw) or await alert_staff(
        settings, supervisors_only=False, **kw
    )


def console_link(settings: Settings, path: str) -> str:
    """The staff console's page of a thing, for the link in a push (opened inside WeChat, it
    signs the staff member in by WeChat's web authorisation and lands there)."""
    return f"{settings.public_base_url.rstrip('/')}/console/{path.lstrip('/')}"


def template_data(title: str, lines: list[str]) -> dict[str, Any]:
    """A generic 'first / keyword / remark' template body; ids vary by account (README)."""
    return {
        "first": {"value": title},
        "keyword1": {"value": lines[0] if lines else ""},
        "keyword2": {"value": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")},
        "remark": {"value": "\n".join(lines[1:])[:200]},
    }


def scrub_keeping(text: str, public_numbers: tuple[str | None, ...] = ()) -> str:
    """`scrub(text)`, leaving the given public numbers as they are (placeholders hold them)."""
    held: dict[str, str] = {}
    for i, number in enumerate(n for n in public_numbers if n):
        token = f"\ue000{chr(0xE001 + i)}\ue000"  # private-use characters: never digits
        if number in text:
            text, held[token] = text.replace(number, token), number
    text = scrub(text)
    for token, number in held.items():
        text = text.replace(token, number)
    return text


async def notify_user(
    settings: Settings,
    *,
    openid: str,
    key: str,
    text: str,
    kind: str = "notice",
    region: str | None = None,
    public_numbers: tuple[str | None, ...] = (),
    conn: BaseDBAsyncClient | None = None,
) -> None:
    """Queue a customer-service message to a user; outside the 48 h window WeChat answers
    45015 and the dispatcher falls back to the notice template (BOT_NOTICE_TEMPLATE_ID).

    `public_numbers` are an office's published numbers (a law firm's desk phone) that the
    recipient needs in order to call; every other number in the text is masked."""
    text = scrub_keeping(text, public_numbers)
    payload: dict[str, Any] = {"text": text}
    if settings.notice_template_id:
        payload["fallback_template"] = {
            "template_id": settings.notice_template_id,
            "data": template_data(text.split("\n", 1)[0][:40], text.split("\n")[1:] or [text]),
        }
    await enqueue(
        channel=Channel.WECHAT_TEXT,
        recipient=openid,
        dedupe_key=f"{kind}:{key}",
        kind=kind,
        region=region,
        conn=conn,
        payload=payload,
    )


async def emit_event(
    settings: Settings,
    *,
    event_type: str,
    key: str,
    data: dict[str, Any],
    region: str | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> None:
    """Queue a signed event for the centre's records system (when BOT_CENTER_WEBHOOK_URL is set).

    `key` makes the event id stable across retries (e.g. 'application:42:decided'): the
    receiver uses X-Bot-Event-Id to drop duplicates.
    """
    if not settings.center_webhook_url:
        return
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event_type}/{key}"))
    body = {
        "id": event_id,
        "type": event_type,
        "occurred_at": datetime.now(UTC).isoformat(),
        "region": region,
        "data": data,
    }
    await enqueue(
        channel=Channel.CENTER_WEBHOOK,
        dedupe_key=f"event:{event_id}",
        kind="event",
        region=region,
        conn=conn,
        payload={"event": event_type, "body": body},
    )


async def queue(
    settings: Settings, pushes: Iterable[Push], *, conn: BaseDBAsyncClient | None = None
) -> None:
    """Queue what a rule returned, in order, in the caller's transaction `conn`."""
    for push in pushes:
        if isinstance(push, StaffAlert):
            alert = alert_supervisors if push.supervisors else alert_staff
            await alert(
                settings,
                region=push.region,
                key=push.key,
                title=push.title,
                lines=list(push.lines),
                link=console_link(settings, push.page) if push.page else None,
                bureau=push.bureau,
                kind=push.kind,
                conn=conn,
            )
        elif isinstance(push, UserNotice):
            text = push.text
            if push.page:
                text += "\n" + console_link(settings, push.page)
            await notify_user(
                settings,
                openid=push.openid,
                key=push.key,
                text=text,
                kind=push.kind,
                region=push.region,
                public_numbers=push.public_numbers,
                conn=conn,
            )
        else:
            assert isinstance(push, CenterEvent)
            await emit_event(
                settings,
                event_type=push.event_type,
                key=push.key,
                data=push.data,
                region=push.region,
                conn=conn,
            )
