"""The centre's view of its region's pushes: what failed, and a way to send it again.

`GET /api/v1/center/outbox?status=failed` lists outbox rows of the calling key's region, newest
first, paginated with `?limit=&cursor=` (the `next_cursor` of one page is the `cursor` of the
next). Rows show how a push went — channel, kind, status, attempts, last error — never its
content or recipient: payloads hold messages to people, and the recipient is an openid or a
robot URL carrying its key. `POST /api/v1/center/outbox/{id}/retry` puts a failed row back in
the queue once its cause is fixed (the centre's system is up again, a template id configured),
so nothing is lost to a long outage.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from bot.api import ApiError, json_ok, keyset_page, operation, parse_query
from bot.auth import require_center
from bot.outbox import wake
from models.outbox import OutboxMessage, OutboxStatus

MAX_PAGE = 200  # rows per page; a failed-push list longer than that is read page by page


class OutboxQuery(BaseModel):
    status: Literal["pending", "sending", "sent", "failed"] | None = None
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(
        None, pattern=r"^\d{1,18}$", description="next_cursor of the previous page"
    )


class OutboxItem(BaseModel):
    id: int
    channel: str
    kind: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None

    @classmethod
    def of(cls, row: OutboxMessage) -> OutboxItem:
        return cls(
            id=row.id,
            channel=row.channel,
            kind=row.kind,
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
            sent_at=row.sent_at,
        )


class OutboxPage(BaseModel):
    items: list[OutboxItem]
    next_cursor: str | None = None


@operation(
    "GET",
    "/api/v1/center/outbox",
    summary="Pushes of the region by status (no content)",
    tag="center",
    query=OutboxQuery,
    response=OutboxPage,
    auth="api_key",
)
async def list_outbox(request: web.Request) -> web.Response:
    key = await require_center(request)
    q = parse_query(request, OutboxQuery)
    rows = OutboxMessage.filter(region=key.region)
    if q.status:
        rows = rows.filter(status=q.status)
    page, next_cursor = await keyset_page(rows, cursor=q.cursor, limit=q.limit)
    return json_ok(OutboxPage(items=[OutboxItem.of(r) for r in page], next_cursor=next_cursor))


@operation(
    "POST",
    "/api/v1/center/outbox/{id}/retry",
    summary="Queue a failed push again",
    tag="center",
    response=OutboxItem,
    auth="api_key",
    errors=(404, 409),
)
async def retry_outbox(request: web.Request) -> web.Response:
    key = await require_center(request)
    row = await retry_push(request.app, region=key.region, raw_id=request.match_info["id"])
    return json_ok(OutboxItem.of(row))


async def retry_push(app: web.Application, *, region: str, raw_id: str) -> OutboxMessage:
    """Put a failed push of `region` back in the queue (the API and the console)."""
    if not raw_id.isdigit() or len(raw_id) > 18:
        raise ApiError(404, "not_found")
    row = await OutboxMessage.get_or_none(id=int(raw_id), region=region)
    if row is None:
        raise ApiError(404, "not_found")
    # Only a failed row goes back; the status guard makes two concurrent retries one.
    n = await OutboxMessage.filter(id=row.id, status=OutboxStatus.FAILED).update(
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=datetime.now(UTC),
        locked_until=None,
    )
    if not n:
        raise ApiError(409, "outbox_not_failed", message_key="outbox.error.not_failed")
    wake(app)
    await row.refresh_from_db()
    return row
