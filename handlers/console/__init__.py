"""The staff console at /console/: server-rendered pages (aiohttp-jinja2, templates beside
the handlers, assets under static/, no CDN), each a thin view over the functions the JSON API
uses. `setup` shows the whole console surface on one screen."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web

HERE = Path(__file__).parent


async def to_console(_: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console/")


def back_to(page: str):
    """GET on a form's POST address (the address bar keeps it after a refused form, and a
    refresh or a shared link opens it): to the page the form is on, never a bare 405."""

    async def handler(request: web.Request) -> web.StreamResponse:
        parts = {k: quote(v, safe="") for k, v in request.match_info.items()}
        raise web.HTTPSeeOther(page.format(**parts))

    return handler


# Every console POST route a browser may end up showing, and the page its GET goes to.
FORM_PAGES = {
    "/console/logout": "/console/",
    "/console/applications/{id}/decision": "/console/applications/{id}",
    "/console/applications/{id}/reveal": "/console/applications/{id}",
    "/console/callbacks/{id}/result": "/console/callbacks/{id}",
    "/console/callbacks/{id}/followup": "/console/callbacks/{id}",
    "/console/callbacks/{id}/reveal": "/console/callbacks/{id}",
    "/console/complaints/{ticket}/step": "/console/complaints/{ticket}",
    "/console/handoffs/{ticket}/take": "/console/handoffs/{ticket}",
    "/console/records/outbox/{id}/retry": "/console/records",
    "/console/expert/cases/{id}/score": "/console/expert/cases/{id}",
    "/console/expert/cases/{id}/decision": "/console/expert/cases/{id}",
    "/console/expert/cases/{id}/recheck": "/console/expert/cases/{id}",
    "/console/evaluations/{id}/publish": "/console/evaluations/{id}",
    "/console/objections/{id}/review": "/console/objections/{id}",
    "/console/subsidies/{id}/paid": "/console/subsidies",
    "/console/subsidies/{id}/claw-back": "/console/subsidies",
    "/console/subsidies/{id}/undo": "/console/subsidies",
}


def setup(app: web.Application) -> None:
    from handlers.console import (
        admin,
        applications,
        callbacks,
        complaints,
        evaluations,
        expert,
        handoffs,
        login,
        objections,
        records,
        subsidies,
        today,
    )

    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    r = app.router
    r.add_static("/console/static/", HERE / "static", name="console_static")
    r.add_get("/console", to_console)
    r.add_get("/console/", today.page_today)
    r.add_get("/console/login", login.login_page)
    r.add_get("/console/login/poll", login.poll)
    r.add_get("/console/oauth", login.oauth)
    r.add_post("/console/logout", login.logout)
    r.add_get("/console/lang", login.lang)
    r.add_get("/console/applications", applications.queue)
    r.add_get("/console/applications/{id}", applications.detail)
    r.add_post("/console/applications/{id}/decision", applications.decide)
    r.add_post("/console/applications/{id}/reveal", applications.reveal)
    r.add_get("/console/applications/{id}/materials/{material_id}", applications.material)
    r.add_get("/console/callbacks", callbacks.worklist)
    r.add_get("/console/callbacks/{id}", callbacks.detail)
    r.add_post("/console/callbacks/{id}/result", callbacks.record)
    r.add_post("/console/callbacks/{id}/followup", callbacks.followup)
    r.add_post("/console/callbacks/{id}/reveal", callbacks.reveal)
    r.add_get("/console/callbacks/{id}/form.docx", callbacks.form_docx)
    r.add_get("/console/complaints", complaints.listing)
    r.add_get("/console/complaints/{ticket}", complaints.detail)
    r.add_post("/console/complaints/{ticket}/step", complaints.step)
    r.add_get("/console/handoffs", handoffs.listing)
    r.add_get("/console/handoffs/{ticket}", handoffs.detail)
    r.add_post("/console/handoffs/{ticket}/take", handoffs.take)
    r.add_get("/console/records", records.page_records)
    r.add_get("/console/records/export", records.export)
    r.add_post("/console/records/outbox/{id}/retry", records.retry)
    r.add_get("/console/staff", admin.staff_list)
    r.add_post("/console/staff", admin.staff_change)
    r.add_get("/console/audit", admin.audit)
    r.add_get("/console/evaluations", evaluations.rounds)
    r.add_get("/console/evaluations/{id}", evaluations.report)
    r.add_get("/console/evaluations/{id}/report.xlsx", evaluations.report_xlsx)
    r.add_post("/console/evaluations/{id}/publish", evaluations.publish)
    r.add_get("/console/objections", objections.listing)
    r.add_get("/console/subsidies", subsidies.listing)
    r.add_post("/console/subsidies/{id}/paid", subsidies.paid)
    r.add_post("/console/subsidies/{id}/claw-back", subsidies.claw_back)
    r.add_post("/console/subsidies/{id}/undo", subsidies.undo)
    r.add_get("/console/objections/{id}", objections.detail)
    r.add_post("/console/objections/{id}/review", objections.review)
    r.add_get("/console/expert", expert.mine)
    r.add_get("/console/expert/cases/{id}", expert.case)
    r.add_post("/console/expert/cases/{id}/score", expert.score)
    r.add_post("/console/expert/cases/{id}/decision", expert.decide)
    r.add_post("/console/expert/cases/{id}/recheck", expert.recheck)
    for path, target in FORM_PAGES.items():
        r.add_get(path, back_to(target), allow_head=False)
