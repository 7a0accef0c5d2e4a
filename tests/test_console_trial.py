"""What a new-user trial of the console found, each as the person saw it: a form's address
opened again, the audit log's actions and times, English punctuation, a lone pager, the
report's language; the bureau's and the centre's work on evaluations and subsidies."""

from __future__ import annotations

import json
import re

import pytest

from bot.app import create_app
from bot.auth import create_center_key
from handlers.console.common import API_AUDIT_ACTIONS, AUDIT_ACTIONS
from i18n import t
from models.calendar import to_local
from models.console import StaffAudit
from models.evaluation import EvaluationCase, Expert, GradeObjection
from models.handoff import Handoff
from models.people import Staff
from tests.console_support import csrf_of, sign_in
from tests.test_cases_support import add_staff, pushes_to
from tests.test_evaluations import (
    HANDLER_OPENID,
    ORG,
    REGION,
    case_url,
    draw_round,
    grade_all,
    key_headers,
    seed,
)
from tests.test_evaluations import score as score_api
from tests.test_subsidies import FEES
from tests.test_subsidies import REGION as SUB_REGION
from tests.test_subsidies import closed_case as sub_case

NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


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


async def test_the_bureau_is_alerted_with_a_link_and_reviews_the_objection(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=3, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    await grade_all(client, key, rnd, 55)  # fail in Wanzhou
    await client.post(f"/api/v1/center/evaluations/{rnd['id']}/publish", headers=key_headers(key))
    own = next(c for c in rnd["cases"] if c["handler"]["org"] == ORG)
    reason = "评分时未看到补充的调查笔录，见 https://example.org/" + "x" * 200
    resp = await client.post(
        case_url(rnd["id"], own["case_no"], "/objection"),
        json={"text": reason},
        headers=key_headers(key),
    )
    assert resp.status == 201
    obj = await GradeObjection.get(eval_case__case__case_no=own["case_no"])
    [alert] = [p for p in await pushes_to("o-bureau-1") if "异议待复评" in p]
    assert own["case_no"] in alert and "承办人：万州律师事务所 李律师" in alert
    assert "评分时未看到补充的调查笔录" in alert and "x" * 200 not in alert  # shortened
    assert alert.rstrip().endswith(f"/console/objections/{obj.id}")

    await sign_in(client, "o-bureau-1")
    assert (await client.get("/console/evaluations", allow_redirects=False)).status == 403
    listing = await (await client.get("/console/objections")).text()
    assert own["case_no"] in listing and f"请于 {obj.review_due.isoformat()}" not in listing
    assert obj.review_due.isoformat() in listing and "异议复评" in listing
    page = f"/console/objections/{obj.id}"
    text = await (await client.get(page)).text()
    assert "x" * 200 in text and "记录复评结果" in text and "李律师" in text
    assert (await client.post(page + "/review", data={"upheld": "no"})).status == 403  # CSRF
    token = await csrf_of(client, page)
    no_grade = await client.post(
        page + "/review", data={"csrf": token, "upheld": "yes", "reviewers": "复评组甲乙"}
    )
    assert no_grade.status == 422 and "新等次" in await no_grade.text()
    no_names = await client.post(page + "/review", data={"csrf": token, "upheld": "no"})
    assert no_names.status == 422 and "复评组成员" in await no_names.text()
    done = await client.post(
        page + "/review",
        data={"csrf": token, "upheld": "yes", "grade": "pass", "reviewers": "复评组甲乙丙"},
        allow_redirects=False,
    )
    assert done.status == 302 and done.headers["Location"] == page + "?done=reviewed"
    shown = await (await client.get(page + "?done=reviewed")).text()
    assert "复评结果已记录" in shown and "异议成立" in shown and "记录复评结果" not in shown
    api = await (
        await client.get(case_url(rnd["id"], own["case_no"]), headers=key_headers(key))
    ).json()
    assert api["grade"] == "pass" and api["objection"]["state"] == "upheld"
    assert "异议经复评成立" in (await pushes_to(HANDLER_OPENID))[-1]  # the handler is told
    assert await StaffAudit.filter(action="objection_review").exists()
    again = await client.post(
        page + "/review", data={"csrf": token, "upheld": "no", "reviewers": "甲"}
    )
    assert again.status == 404 or again.status == 409
    empty = await (await client.get("/console/objections")).text()
    assert "没有待复评的异议" in empty


async def test_staff_publish_a_round_and_see_who_owes_a_score(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=3, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    first = rnd["cases"][0]
    leader, member = first["pair"]["leader"], first["pair"]["member"]
    await score_api(client, key, rnd["id"], first["case_no"], member["id"], 55)
    await sign_in(client, "o-centre-1")
    page = f"/console/evaluations/{rnd['id']}"
    text = await (await client.get(page)).text()
    assert "尚欠评分的专家" in text and f"待 {leader['name']} 评分" in text
    assert "全部案件定等后才能公布" in text and "公布评估结果" not in text
    token = await csrf_of(client, page)
    early = await client.post(page + "/publish", data={"csrf": token})
    assert early.status == 409 and "尚欠评分的专家" in await early.text()

    await score_api(client, key, rnd["id"], first["case_no"], leader["id"], 55)
    for c in rnd["cases"][1:]:
        for who in ("leader", "member"):
            await score_api(client, key, rnd["id"], c["case_no"], c["pair"][who]["id"], 85)
    text = await (await client.get(page)).text()
    assert "尚欠评分的专家" not in text and "公布评估结果" in text
    assert "收回已发办案补贴" in text or "约谈" in text  # the fail's consequences on its row
    resp = await client.post(page + "/publish", data={"csrf": token}, allow_redirects=False)
    assert resp.status == 302 and "done=published" in resp.headers["Location"]
    shown = await (await client.get(resp.headers["Location"])).text()
    assert "评估结果已公布，已告知 1 位承办人" in shown and "公布评估结果" not in shown
    assert "不合格" in (await pushes_to(HANDLER_OPENID))[-1]
    assert await StaffAudit.filter(action="evaluation_publish").exists()
    twice = await client.post(page + "/publish", data={"csrf": token})
    assert twice.status == 409
    assert (await client.get(page + "/publish", allow_redirects=False)).status == 303


async def test_each_list_shows_its_tabs_with_the_current_one_marked(app):
    await add_staff("孙八", "o-boss", supervisor=True)
    await sign_in(app, "o-boss")
    for path, link in (
        ("/console/applications", 'aria-current="page">'),
        ("/console/callbacks", 'aria-current="page">'),
        ("/console/complaints", 'aria-current="page">'),
        ("/console/handoffs", 'aria-current="page">'),
        ("/console/objections", '<a href="?tab=pending" aria-current="page">待复评</a>'),
    ):
        text = await (await app.get(path)).text()
        tabs = text.split('class="tabs"')[1].split("</nav>")[0]
        assert link in tabs, path
        assert text.count('<a href="?') >= 2, path


async def test_staff_mark_subsidies_paid_and_claw_back_in_the_console(subsidy_client):
    client = await subsidy_client("shaoxing")
    key = await create_center_key(SUB_REGION)
    first = await sub_case("A1", grade="excellent", coefficient=1.2)
    await sub_case("A3")  # not graded yet
    for i in range(30):
        await sub_case(f"B{i:02d}", grade="good", coefficient=1.0)
    await add_staff("赵六", "o-staff-sub", region=SUB_REGION)
    await sign_in(client, "o-staff-sub")
    period = {"from": "2026-07-01", "to": "2026-12-31"}
    page = await (await client.get("/console/subsidies", params=period)).text()
    assert "办案补贴" in page and "下一页" in page and page.count('class="item') == 30
    waiting = await (
        await client.get("/console/subsidies", params={**period, "status": "awaiting_grade"})
    ).text()
    assert "A3" in waiting and "B00" not in waiting and "待定质量等次" in waiting
    payable = await (
        await client.get("/console/subsidies", params={**period, "status": "payable"})
    ).text()
    more = NEXT.search(payable).group(1).replace("&amp;", "&")
    rest = await (await client.get("/console/subsidies" + more)).text()
    assert "第一页" in rest and "A1" in rest and "核定 3600.00 元" in rest

    sid = await listing_api(client, key, status="payable", limit=500)
    sid = next(i["id"] for i in sid["items"] if i["case_no"] == first.case_no)
    token = await csrf_of(client, "/console/subsidies")
    back = "from=2026-07-01&to=2026-12-31&status=payable"
    url = f"/console/subsidies/{sid}"
    assert (await client.post(url + "/paid", data={"back": back})).status == 403  # CSRF
    resp = await client.post(
        url + "/paid", data={"csrf": token, "back": back}, allow_redirects=False
    )
    assert resp.status == 302
    assert resp.headers["Location"].startswith("/console/subsidies?from=2026-07-01")
    assert "done=paid" in resp.headers["Location"]
    item = await api_item(client, key, sid)
    assert item["status"] == "paid" and item["paid_amount"] == 3600.0
    again = await client.post(url + "/paid", data={"csrf": token, "back": back})
    assert again.status == 409 and "这笔补贴已经发放" in await again.text()
    bad = await client.post(url + "/claw-back", data={"csrf": token, "back": back, "amount": "abc"})
    assert bad.status == 422 and "金额" in await bad.text()
    resp = await client.post(
        url + "/claw-back",
        data={"csrf": token, "back": back, "note": "重复发放"},
        allow_redirects=False,
    )
    assert resp.status == 302
    assert (await api_item(client, key, sid))["status"] == "clawed_back"
    no_note = await client.post(url + "/undo", data={"csrf": token, "back": back})
    assert no_note.status == 422 and "错在哪里" in await no_note.text()
    resp = await client.post(
        url + "/undo", data={"csrf": token, "back": back, "note": "追回记错了"}
    )
    assert resp.status == 200 and "已撤销上一笔记录" in await resp.text()
    assert (await api_item(client, key, sid))["status"] == "paid"
    shown = await (
        await client.get("/console/subsidies", params={**period, "status": "paid"})
    ).text()
    assert "发放记录（3）" in shown and "撤销追回" in shown and "追回记错了" in shown
    assert await StaffAudit.filter(action="subsidy_paid", record=f"subsidy:{sid}").exists()
    assert await StaffAudit.filter(action="subsidy_claw_back").exists()
    assert (await client.get(url + "/paid", allow_redirects=False)).status == 303
    assert (await client.post("/console/subsidies/999999/paid", data={"csrf": token})).status == 404
    bad_filter = await (await client.get("/console/subsidies", params={"from": "x"})).text()
    assert "筛选条件有误" in bad_filter


async def listing_api(client, key, **query):
    params = {"from": "2026-07-01", "to": "2026-12-31", **query}
    resp = await client.get("/api/v1/center/subsidies", params=params, headers=key_headers(key))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def api_item(client, key, sid: int) -> dict:
    return next(i for i in (await listing_api(client, key, limit=500))["items"] if i["id"] == sid)


@pytest.fixture
def subsidy_client(aiohttp_client, settings, app, tmp_path):
    async def make(base: str):
        path = tmp_path / f"{base}-local.json"
        path.write_text(json.dumps({"base": base, "subsidy_base_fees": FEES}))
        return await aiohttp_client(create_app(settings.model_copy(update={"policy": str(path)})))

    return make
