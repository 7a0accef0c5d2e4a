"""The centre's records system: list its region's applications in full, and decide them.

Authenticated by the region's API key (X-Api-Key); another region's applications are as absent
as none (404). Full personal data is returned here, and only here; each read is audited.
A decision is told to the filing agent through the outbox and emitted as a centre event.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web
from tortoise.transactions import in_transaction

from bot.api import (
    MAX_ID,
    ApiError,
    json_ok,
    operation,
    parse_body,
    parse_query,
    request_locale,
)
from bot.auth import require_center
from bot.keys import policy_key, settings_key
from bot.notify import emit_event
from bot.outbox import wake
from bot.storage import storage_key
from handlers.after_decision import after_decision
from handlers.api.application_schemas import (
    CenterApplication,
    CenterApplicationList,
    CenterQuery,
    DecisionIn,
    DecisionResult,
)
from handlers.api.application_views import center_view, decision_of
from handlers.api.center_cases import utc
from handlers.decision_notice import tell_agent
from handlers.filing import event_data
from i18n import t
from models.agent import Agent
from models.application import FINAL, Application, DataAccess, Material
from models.calendar import add_days, local_today
from models.codes import MATERIAL_KINDS
from models.people import CenterKey

log = logging.getLogger(__name__)


def path_id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 9:
        raise ApiError(404, "not_found")
    return int(raw)


async def audit(key: CenterKey, action: str, ids: list[int]) -> None:
    await DataAccess.create(
        actor=f"center_key:{key.id}", action=action, region=key.region, application_ids=ids
    )


@operation(
    "GET",
    "/api/v1/center/applications",
    summary="The region's applications, in full",
    tag="center",
    query=CenterQuery,
    response=CenterApplicationList,
    auth="api_key",
)
async def list_region(request: web.Request) -> web.Response:
    key = await require_center(request)
    q = parse_query(request, CenterQuery)
    rows = Application.filter(region=key.region).order_by("id")
    if q.status:
        rows = rows.filter(status=q.status)
    if q.since:  # a time without a zone is UTC; one at the calendar's edge clamps (utc)
        rows = rows.filter(
            updated_at__gte=utc(q.since if q.since.tzinfo else q.since.replace(tzinfo=UTC))
        )
    if q.cursor:
        rows = rows.filter(id__gt=min(int(q.cursor), MAX_ID))
    page = await rows.limit(q.limit + 1)
    more, page = len(page) > q.limit, page[: q.limit]
    ids = [r.id for r in page]
    materials: dict[int, list[Material]] = {i: [] for i in ids}
    for m in await Material.filter(application_id__in=ids).order_by("id"):
        materials[m.application_id].append(m)
    agents = {a.id: a for a in await Agent.filter(id__in={r.agent_id for r in page})}
    if ids:
        await audit(key, "list", ids)
    items = [
        CenterApplication.model_validate(center_view(r, materials[r.id], agents[r.agent_id]))
        for r in page
    ]
    return json_ok(CenterApplicationList(items=items, next_cursor=str(ids[-1]) if more else None))


@operation(
    "POST",
    "/api/v1/center/applications/{id}/decision",
    summary="Decide an application",
    tag="center",
    body=DecisionIn,
    response=DecisionResult,
    auth="api_key",
    errors=(404, 409),
)
async def decide(request: web.Request) -> web.Response:
    key = await require_center(request)
    app_id = path_id(request)
    body = await parse_body(request, DecisionIn)
    row = await apply_decision(
        request.app,
        region=key.region,
        app_id=app_id,
        body=body,
        actor=f"center_key:{key.id}",
        locale=request_locale(request),
    )
    decision = decision_of(row)
    assert decision is not None  # apply_decision has decided it
    return json_ok(DecisionResult(id=row.id, status=row.status, decision=decision))


async def apply_decision(
    app: web.Application, *, region: str, app_id: int, body: DecisionIn, actor: str, locale: str
) -> Application:
    """Decide one application of `region` (the API and the staff console both come here):
    the agent is told through the outbox and the centre gets an event. Repeating the same
    decision changes nothing; a different one after the first is 409.

    need_materials with `materials`: each kind not already owed becomes an owed (missing)
    material, and the application gets the policy's deadline from today (materials_due_days;
    a later one already set stands): the agent's checklist (补充材料 N, the mini-program's
    missing_materials), the 补充材料通知书 and the materials reminders all follow those rows."""
    reason = (body.reason or "").strip() or None
    if body.decision == "refused" and not reason:
        raise ApiError(
            422, "validation", fields={"reason": t("applications.reason_required", locale)}
        )
    kinds = list(dict.fromkeys(body.materials or ()))
    if kinds and body.decision != "need_materials":
        raise ApiError(
            422, "validation", fields={"materials": t("applications.materials_not_asked", locale)}
        )
    unknown = [k for k in kinds if k not in MATERIAL_KINDS]
    if unknown:
        raise ApiError(
            422,
            "validation",
            fields={
                "materials": t("applications.materials_unknown", locale, kinds=", ".join(unknown))
            },
        )
    async with in_transaction() as conn:
        row = (
            await Application.select_for_update()
            .using_db(conn)
            .get_or_none(id=app_id, region=region)
        )
        if row is None:
            raise ApiError(404, "not_found")
        if row.status in FINAL:
            if row.status != body.decision:
                raise ApiError(409, "already_decided", decision=row.status)
            return row
        row.status, row.decision_reason = body.decision, reason
        row.case_no = (body.case_no or "").strip() or row.case_no
        row.decided_at = datetime.now(UTC)
        if kinds:
            await _owe(app, row, kinds, conn)
        await row.save(using_db=conn)
        agent = await Agent.get(id=row.agent_id).using_db(conn)
        await tell_agent(app, agent, row, conn=conn)
        await after_decision(app, row, conn=conn)  # assignment, documents, applicant
        await emit_event(
            app[settings_key],
            event_type="application.decided",
            key=f"application:{row.id}:decided:{row.status}",
            region=row.region,
            data=event_data(row),
            conn=conn,
        )
        await DataAccess.create(
            actor=actor, action="decide", region=region, application_ids=[row.id], using_db=conn
        )
    wake(app)
    return row


async def _owe(app: web.Application, row: Application, kinds: list[str], conn) -> None:
    """The centre asks for `kinds`: owed materials (those not owed already) and a deadline."""
    owed = set(await Material.owed_kinds(row.id, conn))
    await Material.bulk_create(
        [Material(application_id=row.id, kind=k, status="missing") for k in kinds if k not in owed],
        using_db=conn,
    )
    due = add_days(local_today(app[settings_key].timezone), app[policy_key].materials_due_days)
    row.materials_due = max(row.materials_due or due, due)
    row.materials_overdue_at = None  # a new deadline: the reminders start again


@operation(
    "GET",
    "/api/v1/center/applications/{id}/materials/{material_id}",
    summary="Download an uploaded material",
    tag="center",
    auth="api_key",
    content_type="application/octet-stream",
    errors=(404,),
)
async def material_file(request: web.Request) -> web.Response:
    key = await require_center(request)
    app_id, material_id = path_id(request), path_id(request, "material_id")
    m = await Material.get_or_none(
        id=material_id, application_id=app_id, application__region=key.region
    )
    if m is None or not m.storage_key:
        raise ApiError(404, "not_found")
    try:
        data = await request.app[storage_key].get(m.storage_key)
    except FileNotFoundError:  # the row outlived its file (restored backup, lost bucket)
        log.error("material %s: its file %s is missing from storage", m.id, m.storage_key)
        raise ApiError(404, "not_found") from None
    await audit(key, "material", [app_id])
    return web.Response(body=data, content_type=m.content_type or "application/octet-stream")
