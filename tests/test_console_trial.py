"""What a new-user trial of the console found, each as the person saw it: a form's address
opened again, the audit log's actions and times, English punctuation, a lone pager, the
report's language; the bureau's and the centre's work on evaluations and subsidies."""

from __future__ import annotations

import pytest

from bot.app import create_app
from bot.auth import create_center_key
from handlers.console.common import API_AUDIT_ACTIONS, AUDIT_ACTIONS
from i18n import t
from models.calendar import to_local
from models.console import StaffAudit
from models.evaluation import EvaluationCase, Expert
from models.handoff import Handoff
from models.people import Staff
from tests.console_support import csrf_of, sign_in
from tests.test_cases_support import add_staff
from tests.test_evaluations import REGION, case_url, draw_round, key_headers, seed


async def test_get_on_a_form_address_goes_back_to_the_page(app):
    """Every console form's POST address, opened with GET (refresh, the address bar after a
    refused form, a shared link): a redirect to the page, never a 405 in JSON."""
    posts = {
        r.resource.canonical
        for r in app.app.router.routes()
        if r.method == "POST" and r.resource.canonical.startswith("/console")
    }
    pages = {
        r.resource.canonical
        for r in app.app.router.routes()
        if r.method == "GET" and r.resource.canonical.startswith("/console")
    }
    assert "/console/expert/cases/{id}/score" in posts
    for path in posts - pages:
        url = path.replace("{id}", "6").replace("{ticket}", "TS-1").replace("{case_no}", "A1")
        resp = await app.get(url, allow_redirects=False)
        assert resp.status == 303, (url, resp.status)
        assert resp.headers["Location"].startswith("/console/"), url
        assert resp.headers["Location"] != url
    resp = await app.get("/console/expert/cases/6/score", allow_redirects=False)
    assert resp.headers["Location"] == "/console/expert/cases/6"


async def test_after_a_refused_score_sheet_the_address_opens_the_case(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=2, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    case = rnd["cases"][0]
    await Expert.filter(id=case["pair"]["member"]["id"]).update(openid="o-expert-x")
    ec = await EvaluationCase.get(evaluation_id=rnd["id"], case__case_no=case["case_no"])
    await sign_in(client, "o-expert-x")
    page = f"/console/expert/cases/{ec.id}"
    token = await csrf_of(client, page)
    bad = await client.post(page + "/score", data={"csrf": token, "score": "120"})
    assert bad.status == 422
    again = await client.get(page + "/score")  # what the address bar now says, opened
    assert again.status == 200 and str(again.url).endswith(page)
    assert "提交评分" in await again.text()


def test_every_audited_action_reads_as_words_in_both_languages():
    for action in AUDIT_ACTIONS:
        for loc in ("zh_CN", "en"):
            key = f"console.audit.act.{action}"
            assert t(key, loc) != key, (action, loc)
    for action in API_AUDIT_ACTIONS:
        for loc in ("zh_CN", "en"):
            assert t(f"console.audit.api_act.{action}", loc) != f"console.audit.api_act.{action}"
    assert t("console.audit.act.export_evaluation", "zh_CN") == "导出评估报告"


async def test_the_audit_log_says_what_was_done_at_local_time(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=2, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    await Staff.filter(openid="o-centre-1").update(supervisor=True)
    await sign_in(client, "o-centre-1")
    assert (await client.get(f"/console/evaluations/{rnd['id']}/report.xlsx")).status == 200
    row = await StaffAudit.get(action="export_evaluation")
    page = await (await client.get("/console/audit")).text()
    assert "导出评估报告" in page and "export_evaluation" not in page
    assert "时间（UTC+8）" in page
    assert to_local(row.at, "Asia/Shanghai").strftime("%Y-%m-%d %H:%M:%S") in page
    assert 'class="pager"' not in page  # one page: no lone "1"
    resp = await client.get("/console/lang", params={"to": "en", "next": "/console/audit"})
    text = await resp.text()
    assert "Exported an evaluation report" in text and "Time (UTC+8)" in text
    report = await (await client.get(f"/console/evaluations/{rnd['id']}")).text()
    assert "in Chinese · 中文" in report  # the xlsx is a Chinese record, said so


async def test_english_case_page_uses_english_brackets(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=1, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    case = rnd["cases"][0]
    leader, member = case["pair"]["leader"], case["pair"]["member"]
    for who, value in ((leader, 70), (member, 85)):
        resp = await client.post(
            case_url(rnd["id"], case["case_no"], "/scores"),
            json={"expert_id": who["id"], "score": value},
            headers=key_headers(key),
        )
        assert resp.status == 201, await resp.text()
    resp = await client.post(
        case_url(rnd["id"], case["case_no"], "/decision"),
        json={"expert_id": leader["id"], "grade": "good"},
        headers=key_headers(key),
    )
    assert resp.status in (200, 201), await resp.text()
    await Expert.filter(id=member["id"]).update(openid="o-expert-m")
    await sign_in(client, "o-expert-m")
    ec = await EvaluationCase.get(evaluation_id=rnd["id"], case__case_no=case["case_no"])
    page = f"/console/expert/cases/{ec.id}"
    zh = await (await client.get(page)).text()
    assert f"组长确定（{leader['name']}）" in zh
    en = await (await client.get("/console/lang", params={"to": "en", "next": page})).text()
    assert f"leader decided ({leader['name']})" in en and "（" not in en.split("<main>")[1]


async def test_times_are_local_and_labelled(app, user):
    await add_staff("赵六", "o-staff-1")
    await user.say("人工")
    h = await Handoff.first()
    await sign_in(app, "o-staff-1")
    page = await (await app.get(f"/console/handoffs/{h.ticket}")).text()
    local = to_local(h.opened_at, "Asia/Shanghai").strftime("%Y-%m-%d %H:%M")
    assert f"{local} (UTC+8)" in page and " UTC<" not in page


@pytest.fixture
def client_for(aiohttp_client, settings, app):
    async def make(policy: str):
        return await aiohttp_client(create_app(settings.model_copy(update={"policy": policy})))

    return make
