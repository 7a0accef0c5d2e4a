"""Evaluation experts in the staff console: they sign in with the same scan (role `expert`),
see and score only the cases given to them, back to back, once; the pair's leader settles a
disagreement; in Shaoxing an expert outside the pair re-checks; staff pages, alerts, digests
and 人工 stay staff's. Staff and supervisors read each round's report (DOMAIN §10)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook

from bot import scheduler
from bot.app import create_app
from bot.auth import create_center_key
from models.console import StaffAudit
from models.evaluation import EvaluationCase, EvaluationScore, Expert
from models.outbox import OutboxMessage
from models.people import Staff
from models.quality import QualityReview
from tests.conftest import WeChatUser
from tests.console_support import csrf_of, scan, show_login, sign_in
from tests.test_console_oauth import WECHAT_UA
from tests.test_evaluations import REGION, case_url, draw_round, grade_all, key_headers, seed

STAFF_PAGES = (
    "/console/applications",
    "/console/callbacks",
    "/console/complaints",
    "/console/handoffs",
    "/console/records",
    "/console/staff",
    "/console/audit",
    "/console/evaluations",
)


@pytest.fixture
def client_for(aiohttp_client, settings, app):
    """A client of an app on `policy` (a preset or a file) sharing the test database."""

    async def make(policy: str):
        return await aiohttp_client(create_app(settings.model_copy(update={"policy": policy})))

    return make


async def with_openids() -> list[Expert]:
    experts = await Expert.all().order_by("id")
    for e in experts:
        e.openid = f"o-expert-{e.id}"
        await e.save(update_fields=["openid"])
    return experts


async def as_(client, openid: str) -> None:
    """Sign this client's browser in as `openid` (signing out whoever was in)."""
    client.session.cookie_jar.clear()
    await sign_in(client, openid)


def openid_of(expert_ref: dict) -> str:
    return f"o-expert-{expert_ref['id']}"


async def ec_id(round_id: int, case_no: str) -> int:
    return (await EvaluationCase.get(evaluation_id=round_id, case__case_no=case_no)).id


async def post_form(client, path: str, data: dict, page: str | None = None):
    token = await csrf_of(client, page or "/console/expert")
    return await client.post(path, data={"csrf": token, **data}, allow_redirects=False)


async def test_an_expert_signs_in_by_scan_and_sees_only_their_cases(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=8, n_criminal=0)
    await with_openids()
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    pair = rnd["pairs"][0]
    others = [no for p in rnd["pairs"][1:] for no in p["case_nos"]]
    assert pair["case_nos"] and others

    scene = await show_login(client)
    reply = await scan(client, openid_of(pair["member"]), scene)
    assert "已登录工作台" in reply and "评估专家" in reply and "我的评估" in reply
    poll = await (await client.get("/console/login/poll", params={"scene": scene})).json()
    assert poll["status"] == "ok"
    front = await client.get("/console/", allow_redirects=False)
    assert front.status == 302 and front.headers["Location"] == "/console/expert"

    page = await (await client.get("/console/expert")).text()
    assert "评估专家" in page and pair["member"]["name"] in page
    for no in pair["case_nos"]:
        assert no in page
    assert not any(no in page for no in others)
    assert "万州律师事务所" in page or "平湖律师事务所" in page  # the organisation, as the API
    assert "李律师" in page and "待您评分" in page and "刑事组" not in page
    # the staff's menu is not offered, and the staff's pages are refused
    assert "/console/applications" not in page and "/console/complaints" not in page
    for path in STAFF_PAGES:
        assert (await client.get(path, allow_redirects=False)).status == 403, path
    token = await csrf_of(client)
    retry = await client.post("/console/records/outbox/1/retry", data={"csrf": token})
    assert retry.status == 403
    # another pair's case is not there for them, nor a made-up one
    other_case = await ec_id(rnd["id"], others[0])
    assert (await client.get(f"/console/expert/cases/{other_case}")).status == 404
    assert (await client.get("/console/expert/cases/999999")).status == 404
    assert (await client.get("/console/expert/cases/abc")).status == 404
    # in English too
    mine = await ec_id(rnd["id"], pair["case_nos"][0])
    resp = await client.get("/console/lang", params={"to": "en", "next": "/console/expert"})
    text = await resp.text()
    assert "My evaluations" in text and "To score" in text and "civil" in text.lower()
    text = await (await client.get(f"/console/expert/cases/{mine}")).text()
    assert "Score sheet" in text and "Total (0–100)" in text and "Submit the score" in text


async def test_an_expert_gets_no_staff_alerts_digests_or_handoffs(client_for, fake_wechat):
    client = await client_for("wanzhou")
    await seed(n_civil=2, n_criminal=0)
    [first, *_] = await with_openids()
    assert (await Staff.filter(openid=first.openid).count()) == 0
    # a digest morning (08:31 in Chongqing) and someone asking for a person
    await scheduler.tick(client.app, datetime(2026, 11, 23, 0, 31, tzinfo=UTC))
    await WeChatUser(client, openid="o-someone").say("人工")
    to_staff = await OutboxMessage.filter(recipient="o-centre-1").values_list("kind", flat=True)
    assert "handoff" in to_staff and any("digest" in k for k in to_staff)
    experts = [e.openid for e in await Expert.all()]
    assert not await OutboxMessage.filter(recipient__in=experts).exists()
    # in chat an expert is not staff: 接 takes nothing
    reply = await WeChatUser(client, openid=first.openid).say("接 1")
    assert "已接入" not in (reply or "")


async def test_two_scores_back_to_back_then_the_leader_decides(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=4, n_criminal=0)
    await with_openids()
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    case = rnd["cases"][0]
    leader, member = case["pair"]["leader"], case["pair"]["member"]
    page = f"/console/expert/cases/{await ec_id(rnd['id'], case['case_no'])}"

    await as_(client, openid_of(member))
    form = await (await client.get(page)).text()
    assert "提交评分" in form and "总分（0–100 分）" in form and case["case_no"] in form
    bad = await post_form(client, page + "/score", {"score": "120"}, page)
    assert bad.status == 422 and "0 到 100" in await bad.text()
    resp = await post_form(
        client, page + "/score", {"score": "８３.5", "notes": "卷宗完整，会见及时"}, page
    )
    assert resp.status == 302 and resp.headers["Location"] == page + "?done=scored"
    mine = await (await client.get(page + "?done=scored")).text()
    assert "评分已提交" in mine and "您的评分：83.5 分（良好）" in mine
    assert "另一位专家：尚未评分" in mine and "提交评分" not in mine
    # a second submit (another tab, the back button) is the API's 409, said plainly
    again = await post_form(client, page + "/score", {"score": "90"}, page)
    assert again.status == 409 and "您已经为本案评过分，不能再次评分" in await again.text()
    # the same record the API's endpoint makes
    api = await (
        await client.get(case_url(rnd["id"], case["case_no"]), headers=key_headers(key))
    ).json()
    assert api["scored_by"] == [member["id"]] and api["scores"] == []
    [row] = await EvaluationScore.filter(expert_id=member["id"])
    assert float(row.score) == 83.5 and row.notes == "卷宗完整，会见及时" and row.grade == "good"

    # back to back: the leader sees that the member scored, not what
    await as_(client, openid_of(leader))
    theirs = await (await client.get(page)).text()
    assert "另一位专家：已评分" in theirs
    assert "83.5" not in theirs and "卷宗完整" not in theirs
    resp = await post_form(client, page + "/score", {"score": "70"}, page)  # pass: they differ
    assert resp.status == 302
    split = await (await client.get(page)).text()
    assert "待组长确定" in split and "83.5" in split and "卷宗完整" in split  # both in: shown
    assert "确定等次" in split

    # the member cannot decide (the API's 403), the leader can
    await as_(client, openid_of(member))
    waiting = await (await client.get(page)).text()
    assert "等待评估小组组长确定" in waiting and 'action="' + page + '/decision"' not in waiting
    refused = await post_form(client, page + "/decision", {"grade": "good"}, page)
    assert refused.status == 403 and "只有评估小组组长可以确定等次" in await refused.text()
    await as_(client, openid_of(leader))
    assert (await client.post(page + "/decision", data={"grade": "good"})).status == 403  # CSRF
    missing = await post_form(client, page + "/decision", {"grade": "best"}, page)
    assert missing.status == 422 and "请选择等次" in await missing.text()
    resp = await post_form(client, page + "/decision", {"grade": "good"}, page)
    assert resp.status == 302
    done = await (await client.get(page + "?done=decided")).text()
    assert "等次已确定" in done and "组长确定" in done and "已定等次" in done
    ec = await EvaluationCase.get(id=int(page.rsplit("/", 1)[1]))
    assert ec.grade == "good" and ec.decided_how == "leader" and ec.decided_by_id == leader["id"]
    assert (await QualityReview.get(case__case_no=case["case_no"])).grade == "good"


async def test_the_score_sheet_has_the_policys_items(client_for, tmp_path):
    policy = tmp_path / "wanzhou-items.json"
    items = [["及时有效会见受援人", 30], ["法律文书质量", 40], ["办案态度", 30]]
    policy.write_text(
        json.dumps({"base": "wanzhou", "evaluation_items": {"civil_admin": items}}), "utf-8"
    )
    client = await client_for(str(policy))
    await seed(n_civil=2, n_criminal=0)
    await with_openids()
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    case = rnd["cases"][0]
    page = f"/console/expert/cases/{await ec_id(rnd['id'], case['case_no'])}"
    await as_(client, openid_of(case["pair"]["leader"]))
    form = await (await client.get(page)).text()
    assert "及时有效会见受援人（满分 30）" in form and "总分为各项得分之和" in form
    over = await post_form(client, page + "/score", {"item-0": "31", "item-1": "30"}, page)
    assert (
        over.status == 422
        and "请填写「及时有效会见受援人」的得分（0 到 30 分）" in await over.text()
    )
    missing = await post_form(client, page + "/score", {"item-0": "28", "item-1": "35"}, page)
    assert missing.status == 422 and "办案态度" in await missing.text()
    resp = await post_form(
        client, page + "/score", {"item-0": "28", "item-1": "35.5", "item-2": "27"}, page
    )
    assert resp.status == 302
    [row] = await EvaluationScore.all()
    assert float(row.score) == 90.5 and row.grade == "excellent"
    assert row.items == {"及时有效会见受援人": 28, "法律文书质量": 35.5, "办案态度": 27}


async def test_shaoxing_an_expert_outside_the_pair_rechecks(client_for):
    client = await client_for("shaoxing")
    await seed(n_civil=2, n_criminal=0)
    experts = await with_openids()
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    case = rnd["cases"][0]
    pair = case["pair"]
    await grade_all(client, key, {**rnd, "cases": [case]}, 95)  # both excellent: re-checked
    page = f"/console/expert/cases/{await ec_id(rnd['id'], case['case_no'])}"
    await as_(client, openid_of(pair["member"]))
    mine = await (await client.get(page)).text()
    assert "等待评估小组以外的专家复核" in mine and "提交复核" not in mine
    refused = await post_form(client, page + "/recheck", {"grade": "excellent"}, page)
    assert refused.status == 403 and "复核须由评估小组以外的专家进行" in await refused.text()

    in_pair = {pair["leader"]["id"], pair["member"]["id"]}
    outside = next(e for e in experts if e.group == "civil_admin" and e.id not in in_pair)
    criminal = next(e for e in experts if e.group == "criminal")
    await as_(client, criminal.openid)  # another group: not theirs to re-check
    assert case["case_no"] not in await (await client.get("/console/expert")).text()
    assert (await client.get(page)).status == 404
    await as_(client, outside.openid)
    listing = await (await client.get("/console/expert")).text()
    assert "待您复核的案件" in listing and case["case_no"] in listing
    form = await (await client.get(page)).text()
    assert "评估小组评定为「优秀」" in form and "95" in form  # both scores are in
    resp = await post_form(client, page + "/recheck", {"grade": "good"}, page)
    assert resp.status == 302
    done = await (await client.get(page + "?done=rechecked")).text()
    assert "复核已提交" in done and "专家复核" in done
    ec = await EvaluationCase.get(id=int(page.rsplit("/", 1)[1]))
    assert ec.state == "graded" and ec.grade == "good" and ec.decided_by_id == outside.id


async def test_staff_who_are_also_experts_keep_their_staff_role(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=2, n_criminal=0)
    [first, *_] = await with_openids()
    await Staff.create(name="中心评估员", region=REGION, openid=first.openid)
    scene = await show_login(client)
    assert "已登录工作台。" in await scan(client, first.openid, scene)
    await client.get("/console/login/poll", params={"scene": scene})
    today = await client.get("/console/", allow_redirects=False)
    assert today.status == 200
    text = await today.text()
    assert "工作人员" in text and 'href="/console/expert"' in text
    assert (await client.get("/console/expert")).status == 200
    # disabling the expert leaves the staff member signed in, without the expert's page
    await Expert.filter(id=first.id).update(active=False)
    assert (await client.get("/console/", allow_redirects=False)).status == 200
    assert (await client.get("/console/expert")).status == 403


async def test_a_disabled_expert_is_signed_out_and_cannot_sign_in(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=2, n_criminal=0)
    [first, *_] = await with_openids()
    await sign_in(client, first.openid)
    assert (await client.get("/console/expert")).status == 200
    await Expert.filter(id=first.id).update(active=False)  # python -m bot experts disable
    assert (await client.get("/console/expert", allow_redirects=False)).status == 302
    scene = await show_login(client)
    assert "不是在职的中心工作人员或评估专家" in await scan(client, first.openid, scene)


async def test_staff_read_the_round_report_and_download_the_xlsx(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=3, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    await grade_all(client, key, rnd, 80)
    await client.post(f"/api/v1/center/evaluations/{rnd['id']}/publish", headers=key_headers(key))
    objected = rnd["cases"][0]["case_no"]
    await client.post(
        case_url(rnd["id"], objected, "/objection"),
        json={"text": "评分时未看到补充的调查笔录"},
        headers=key_headers(key),
    )
    await client.post(
        case_url(rnd["id"], objected, "/objection/review"),
        json={"upheld": True, "grade": "excellent", "reviewers": "复评组甲乙丙", "note": "已补"},
        headers=key_headers(key),
    )
    await sign_in(client, "o-centre-1")
    rounds = await (await client.get("/console/evaluations")).text()
    assert (
        f"第 {rnd['id']} 轮评估" in rounds and "已公布" in rounds and "已定等次 3 / 3 件" in rounds
    )
    report = await (await client.get(f"/console/evaluations/{rnd['id']}")).text()
    assert "各组等次统计" in report and "民事行政组" in report
    assert "评分时未看到补充的调查笔录" in report and "异议成立" in report
    assert "新等次：优秀" in report and "复评组：复评组甲乙丙" in report
    # the download is the API's report
    mine = await client.get(f"/console/evaluations/{rnd['id']}/report.xlsx")
    api = await client.get(
        f"/api/v1/center/evaluations/{rnd['id']}/report.xlsx", headers=key_headers(key)
    )
    assert mine.status == 200 and api.status == 200

    def sheets(body: bytes) -> dict:
        wb = load_workbook(io.BytesIO(body), read_only=True)
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}

    got = sheets(await mine.read())
    assert got == sheets(await api.read())
    assert got["等次统计"][1][:5] == ("刑事组", 0, 0, 0, 0)
    assert got["等次统计"][2][:6] == ("民事行政组", 1, 2, 0, 0, 0)
    assert await StaffAudit.filter(action="export_evaluation").exists()
    other = await client.get("/console/evaluations/999999")
    assert other.status == 404


async def test_inside_wechat_an_expert_signs_in_by_web_authorisation(
    aiohttp_client, settings, app, fake_wechat
):
    https = {"public_base_url": "https://aid.example.gov.cn", "wechat_open_base": "https://o.x"}
    client = await aiohttp_client(create_app(settings.model_copy(update=https)))
    await seed(n_civil=2, n_criminal=0)
    [first, *_] = await with_openids()
    resp = await client.get("/console/", headers={"User-Agent": WECHAT_UA}, allow_redirects=False)
    state = parse_qs(urlsplit(resp.headers["Location"]).query)["state"][0]
    jar = {"console_pre": resp.cookies["console_pre"].value}
    fake_wechat.add_oauth_code("c1", first.openid)
    resp = await client.get(
        "/console/oauth", params={"code": "c1", "state": state}, cookies=jar, allow_redirects=False
    )
    assert resp.status == 302
    session = {"console_session": resp.cookies["console_session"].value}
    front = await client.get(
        resp.headers["Location"], cookies=session, headers={"User-Agent": WECHAT_UA}
    )
    assert front.status == 200 and str(front.url).endswith("/console/expert")
    assert "我的评估" in await front.text()
