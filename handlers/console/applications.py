"""Applications: the queue (urgent and overdue first), one application with every answer and
its materials, the decision, and the audited "show" of a full ID number or phone.

Views come from handlers.api.application_views (the masked view agents get) and decisions go
through handlers.api.center_applications.apply_decision, the function the centre API uses.
"""

from __future__ import annotations

from aiohttp import web

from bot.api import ApiError
from bot.storage import storage_key
from handlers.api.application_schemas import DecisionIn
from handlers.api.application_views import agent_view, list_item
from handlers.api.center_applications import apply_decision
from handlers.console.common import audit, int_id, local_today, paged
from handlers.console.session import Visitor, form_of, locale_of, page, render
from i18n import t
from models.application import Application, Material, Status
from models.codes import MATERIAL_KINDS

OPEN = (Status.RECEIVED, Status.NEED_MATERIALS)
STATUSES = ("open", "received", "need_materials", "granted", "refused")


@page("staff", "supervisor")
async def queue(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/applications?status=open|…: urgent first, then the nearest due date."""
    status = request.query.get("status", "open")
    status = status if status in STATUSES else "open"
    rows = Application.filter(region=visitor.region)
    rows = rows.filter(status__in=OPEN) if status == "open" else rows.filter(status=status)
    rows = (
        rows.order_by("-urgent", "decision_due", "id")
        if status in ("open", "received", "need_materials")
        else rows.order_by("-decided_at", "-id")
    )
    items, pager = await paged(request, rows)
    loc = locale_of(request)
    return render(
        request,
        "applications.html",
        {
            "items": [list_item(r, loc) for r in items],
            "status": status,
            "statuses": STATUSES,
            "pager": pager,
            "today": local_today(request),
        },
    )


async def _load(request: web.Request, visitor: Visitor) -> tuple[Application, list[Material]]:
    row = await Application.get_or_none(id=int_id(request), region=visitor.region).prefetch_related(
        "agent"
    )
    if row is None:
        raise ApiError(404, "not_found")
    return row, list(await Material.filter(application_id=row.id).order_by("id"))


async def _detail(
    request: web.Request,
    visitor: Visitor,
    *,
    revealed: dict | None = None,
    error: dict | None = None,
    status: int = 200,
) -> web.Response:
    row, materials = await _load(request, visitor)
    view = agent_view(row, materials, locale_of(request))
    return render(
        request,
        "application.html",
        {
            "a": view,
            "row": row,
            "agent": row.agent,
            "materials": materials,
            "material_kinds": MATERIAL_KINDS,
            "revealed": revealed or {},
            "error": error or {},
            "decided": request.query.get("done") == "1",
            "open": row.status in OPEN,
        },
        status=status,
    )


@page("staff", "supervisor")
async def detail(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/applications/{id}: every answer, materials, the pledge record."""
    return await _detail(request, visitor)


@page("staff", "supervisor")
async def decide(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """POST …/decision: grant (case number), refuse (reason) or ask for materials (checklist).

    The checked items go to the API's decision as its `materials`: each becomes an owed
    material with the policy's deadline, as when the centre's system asks through the API."""
    form = await form_of(request, visitor)
    loc = locale_of(request)
    decision = form.get("decision", "")
    reason = form.get("reason") or None
    items = None
    if decision == "need_materials":
        items = [k for k in MATERIAL_KINDS if form.get("item_" + k)]
        if not items and not reason:
            return await _detail(
                request,
                visitor,
                status=422,
                error={"reason": t("console.applications.items_required", loc)},
            )
    try:
        body = DecisionIn.model_validate(
            {
                "decision": decision,
                "reason": reason,
                "case_no": form.get("case_no") or None,
                "materials": items or None,
            }
        )
    except ValueError:
        return await _detail(
            request, visitor, status=422, error={"decision": t("validation.invalid", loc)}
        )
    try:
        await apply_decision(
            request.app,
            region=visitor.region,
            app_id=int_id(request),
            body=body,
            actor=visitor.actor,
            locale=loc,
        )
    except ApiError as exc:
        if exc.status == 404:
            raise
        return await _detail(
            request,
            visitor,
            status=exc.status,
            error=exc.fields or {"decision": t(exc.message_key, loc, **exc.params)},
        )
    await audit(visitor, "decide", f"application:{int_id(request)}")
    raise web.HTTPFound(f"/console/applications/{int_id(request)}?done=1")


@page("staff", "supervisor")
async def reveal(request: web.Request, visitor: Visitor) -> web.Response:
    """POST …/reveal (field=id_number|phone): the full value, once, audited."""
    form = await form_of(request, visitor)
    field = form.get("field")
    if field not in ("id_number", "phone"):
        raise ApiError(422, "validation")
    row, _ = await _load(request, visitor)
    value = row.applicant_id_number if field == "id_number" else row.applicant_phone
    await audit(visitor, f"reveal_{field}", f"application:{row.id}")
    return await _detail(request, visitor, revealed={field: value})


@page("staff", "supervisor")
async def material(request: web.Request, visitor: Visitor) -> web.Response:
    """GET …/materials/{material_id}: an uploaded photo or PDF, shown inline."""
    app_id, material_id = int_id(request), int_id(request, "material_id")
    m = await Material.get_or_none(
        id=material_id, application_id=app_id, application__region=visitor.region
    )
    if m is None or not m.storage_key:
        raise ApiError(404, "not_found")
    data = await request.app[storage_key].get(m.storage_key)
    await audit(visitor, "material", f"application:{app_id}")
    return web.Response(
        body=data,
        content_type=m.content_type or "application/octet-stream",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
        },
    )
