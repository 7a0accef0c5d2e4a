"""Callbacks: the phone worklist, the Zhashui form for a phone or visit answer, the flagged
answers' follow-up list (满意度异常) with findings and verifying visits, and the Word form.

Recording goes through handlers.api.center_callbacks.record_phone_result, the API's function;
the follow-ups are rows beside the first answer (models.followup), never replacing it.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from pydantic import ValidationError

from bot.api import ApiError
from bot.keys import settings_key
from handlers.api.center_callbacks import ResultIn, record_phone_result
from handlers.console.common import audit, int_id, paged
from handlers.console.session import Visitor, form_of, locale_of, page, render
from handlers.records.docx_forms import DOCX, callback_form
from i18n import t
from models.callback import Callback, CallbackStatus
from models.followup import NOTE_MAX, CallbackFollowUp, FollowUpKind
from models.masking import mask_name, mask_phone

TABS = ("phone", "flagged", "open", "completed")


def _yes(form: dict[str, str], name: str) -> bool | None:
    return {"yes": True, "no": False}.get(form.get(name, ""))


@page("staff", "supervisor")
async def worklist(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/callbacks?tab=phone|flagged|open|completed."""
    tab = request.query.get("tab", "phone")
    tab = tab if tab in TABS else "phone"
    rows = Callback.filter(region=visitor.region)
    if tab == "phone":
        rows = rows.filter(status=CallbackStatus.PENDING_PHONE).order_by("due_at", "id")
    elif tab == "flagged":
        rows = rows.filter(flagged=True).order_by("-answered_at", "-id")
    elif tab == "open":
        rows = rows.filter(status__in=(CallbackStatus.SCHEDULED, CallbackStatus.INVITED)).order_by(
            "due_at", "id"
        )
    else:
        rows = rows.filter(status=CallbackStatus.COMPLETED).order_by("-answered_at", "-id")
    items, pager = await paged(request, rows, related=("case",))
    settled = set(
        await CallbackFollowUp.filter(
            callback_id__in=[c.id for c in items], resolved=True
        ).values_list("callback_id", flat=True)
    )
    return render(
        request,
        "callbacks.html",
        {
            "items": items,
            "tab": tab,
            "tabs": TABS,
            "pager": pager,
            "settled": settled,
            "mask_name": mask_name,
        },
    )


async def _load(request: web.Request, visitor: Visitor) -> Callback:
    cb = await Callback.get_or_none(id=int_id(request), region=visitor.region).select_related(
        "case"
    )
    if cb is None:
        raise ApiError(404, "not_found", message_key="callbacks.error.not_found")
    return cb


async def _detail(
    request: web.Request,
    visitor: Visitor,
    *,
    phone: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    cb = await _load(request, visitor)
    followups = await CallbackFollowUp.filter(callback_id=cb.id).order_by("id")
    return render(
        request,
        "callback.html",
        {
            "cb": cb,
            "case": cb.case,
            "name": mask_name(cb.case.beneficiary_name),
            "phone_masked": mask_phone(cb.case.beneficiary_phone),
            "phone": phone,
            "followups": followups,
            "error": error,
            "note_max": NOTE_MAX,
            "done": request.query.get("done"),
        },
        status=status,
    )


@page("staff", "supervisor")
async def detail(request: web.Request, visitor: Visitor) -> web.Response:
    """GET /console/callbacks/{id}: the case, the record, the follow-ups, the forms."""
    return await _detail(request, visitor)


@page("staff", "supervisor")
async def reveal(request: web.Request, visitor: Visitor) -> web.Response:
    """POST …/reveal: the beneficiary's phone as a tel: link, audited."""
    await form_of(request, visitor)
    cb = await _load(request, visitor)
    await audit(visitor, "reveal_phone", f"callback:{cb.id}")
    return await _detail(request, visitor, phone=cb.case.beneficiary_phone)


@page("staff", "supervisor")
async def record(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """POST …/result: the Zhashui form, answered on the phone or at a visit."""
    form = await form_of(request, visitor)
    loc = locale_of(request)
    try:
        body = ResultIn.model_validate(  # the form as typed; the model says what is missing
            {
                "channel": form.get("channel", ""),
                "called_by": form.get("called_by") or visitor.member.name,
                "fee_charged": _yes(form, "fee_charged"),
                "fee_details": form.get("fee_details") or None,
                "negligent": _yes(form, "negligent"),
                "negligent_details": form.get("negligent_details") or None,
                "satisfied": _yes(form, "satisfied"),
                "comments": form.get("comments") or None,
            }
        )
    except ValidationError:
        return await _detail(
            request, visitor, status=422, error=t("console.callbacks.form_incomplete", loc)
        )
    try:
        cb, _ = await record_phone_result(
            request.app,
            region=visitor.region,
            raw_id=request.match_info["id"],
            body=body,
            locale=loc,
        )
    except ApiError as exc:
        if exc.status == 404:
            raise
        return await _detail(
            request, visitor, status=exc.status, error=t(exc.message_key, loc, **exc.params)
        )
    await audit(visitor, "callback_result", f"callback:{cb.id}")
    raise web.HTTPFound(f"/console/callbacks/{cb.id}?done=recorded")


@page("staff", "supervisor")
async def followup(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """POST …/followup: what someone found about a flagged answer, or a verifying visit."""
    form = await form_of(request, visitor)
    loc = locale_of(request)
    cb = await _load(request, visitor)
    kind, note = form.get("kind", ""), form.get("note", "")
    if cb.answered_at is None:
        return await _detail(
            request, visitor, status=409, error=t("console.callbacks.not_answered", loc)
        )
    if kind not in tuple(FollowUpKind) or not note or len(note) > NOTE_MAX:
        return await _detail(
            request,
            visitor,
            status=422,
            error=t("console.callbacks.note_required", loc, max=NOTE_MAX),
        )
    visit = kind == FollowUpKind.VISIT
    answers = {k: _yes(form, k) for k in ("fee_charged", "negligent", "satisfied")}
    if visit and None in answers.values():
        return await _detail(
            request, visitor, status=422, error=t("console.callbacks.form_incomplete", loc)
        )
    await CallbackFollowUp.create(
        callback_id=cb.id,
        region=cb.region,
        kind=kind,
        by=visitor.member.name,
        note=note,
        resolved=bool(form.get("resolved")),
        fee_charged=answers["fee_charged"] if visit else None,
        negligent=answers["negligent"] if visit else None,
        satisfied=answers["satisfied"] if visit else None,
    )
    await audit(visitor, f"callback_{kind}", f"callback:{cb.id}")
    raise web.HTTPFound(f"/console/callbacks/{cb.id}?done={kind}")


@page("staff", "supervisor")
async def form_docx(request: web.Request, visitor: Visitor) -> web.Response:
    """GET …/form.docx: the case's callback record as the Zhashui Word form."""
    cb = await _load(request, visitor)
    body = await callback_form(cb.case, request.app[settings_key].timezone)
    name = quote(f"回访记录表_{cb.case.case_no}.docx")
    return web.Response(
        body=body,
        content_type=DOCX,
        headers={
            "Content-Disposition": f'attachment; filename="callback-form.docx"; '
            f"filename*=UTF-8''{name}",
            "Cache-Control": "no-store",
        },
    )
