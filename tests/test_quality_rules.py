"""What a centre, an expert or a handler sees when a quality-evaluation request goes wrong or
needs a way out: second decisions, objection reviews, bad API keys, mistaken draws, score
sheets, disabled experts (issue 14's new-user trial)."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from bot.app import create_app
from bot.auth import create_center_key
from models.case import Case
from models.evaluation import Evaluation, Expert, GradeObjection
from tests.conftest import WeChatUser
from tests.test_cases_support import pushes_to
from tests.test_evaluations import (
    HANDLER_OPENID,
    ORG,
    REGION,
    case_url,
    client_for,  # noqa: F401  (fixture)
    draw_round,
    grade_all,
    key_headers,
    score,
    seed,
)
from tests.test_subsidies import FEES, closed_case, listing
from tests.test_subsidies import REGION as SUBSIDY_REGION


async def test_a_second_decision_says_the_case_is_decided_and_by_whom(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=4, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    case = rnd["cases"][0]
    leader, member = case["pair"]["leader"]["id"], case["pair"]["member"]["id"]
    await score(client, key, rnd["id"], case["case_no"], leader, 91)
    await score(client, key, rnd["id"], case["case_no"], member, 70)
    url = case_url(rnd["id"], case["case_no"], "/decision")
    first = await client.post(
        url, json={"expert_id": leader, "grade": "good"}, headers=key_headers(key)
    )
    assert first.status == 200
    again = await client.post(
        url, json={"expert_id": leader, "grade": "pass"}, headers=key_headers(key)
    )
    body = await again.json()
    assert again.status == 409
    assert "已定等次：良好" in body["error"]["message"] and "组长专家" in body["error"]["message"]
    assert "尚未都评分" not in body["error"]["message"]
    en = await client.post(
        url,
        json={"expert_id": leader, "grade": "pass"},
        headers={**key_headers(key), "Accept-Language": "en"},
    )
    assert "already graded" in (await en.json())["error"]["message"]
    # A pair that agreed: the leader is told the experts agreed.
    agreed = rnd["cases"][1]
    for role in ("leader", "member"):
        await score(client, key, rnd["id"], agreed["case_no"], agreed["pair"][role]["id"], 80)
    resp = await client.post(
        case_url(rnd["id"], agreed["case_no"], "/decision"),
        json={"expert_id": agreed["pair"]["leader"]["id"], "grade": "pass"},
        headers=key_headers(key),
    )
    assert "两位专家评定一致" in (await resp.json())["error"]["message"]


async def test_a_missing_or_wrong_api_key_says_so(client_for):
    client = await client_for("wanzhou")
    for headers in ({}, {"X-Api-Key": "lak_wrong-key-000000000000000000"}):
        resp = await client.get("/api/v1/center/evaluations", headers=headers)
        body = await resp.json()
        assert resp.status == 401 and body["error"]["code"] == "unauthorized"
        assert "API 密钥" in body["error"]["message"] and "登录" not in body["error"]["message"]


async def test_the_single_case_answer_lists_the_pairs_cases_like_the_round(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=6, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    for case in rnd["cases"]:
        got = await (
            await client.get(case_url(rnd["id"], case["case_no"]), headers=key_headers(key))
        ).json()
        assert got["pair"] == case["pair"]
        assert case["case_no"] in got["pair"]["case_nos"]


async def objected_round(client, key):
    rnd = await draw_round(client, key, method="all")
    await grade_all(client, key, rnd, 55)
    await client.post(f"/api/v1/center/evaluations/{rnd['id']}/publish", headers=key_headers(key))
    own = next(c for c in rnd["cases"] if c["handler"]["org"] == ORG)
    handler = WeChatUser(client, openid=HANDLER_OPENID)
    assert "已收到" in await handler.say(f"异议 {own['case_no']} 评分时未看到补充的调查笔录")
    return rnd, own


async def test_an_objection_review_refuses_a_grade_it_would_drop(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=3, n_criminal=0)
    key = await create_center_key(REGION)
    rnd, own = await objected_round(client, key)
    url = case_url(rnd["id"], own["case_no"], "/objection/review")
    resp = await client.post(
        url,
        json={"upheld": False, "grade": "good", "reviewers": "复评组"},
        headers=key_headers(key),
    )
    body = await resp.json()
    assert resp.status == 422 and "grade" in body["error"]["fields"]
    assert "upheld" in body["error"]["message"]
    resp = await client.post(
        url, json={"upheld": True, "reviewers": "复评组"}, headers=key_headers(key)
    )
    body = await resp.json()
    assert resp.status == 422 and "grade" in body["error"]["fields"]
    resp = await client.post(url, json={"upheld": False}, headers=key_headers(key))
    assert resp.status == 422 and "reviewers" in (await resp.json())["error"]["fields"]
    # Rejected without a note: the handler is told the result, and no empty 说明 line.
    resp = await client.post(
        url, json={"upheld": False, "reviewers": "复评组"}, headers=key_headers(key)
    )
    assert resp.status == 200 and (await resp.json())["grade"] == "fail"
    told = (await pushes_to(HANDLER_OPENID))[-1]
    assert "维持原等次：不合格" in told and "说明" not in told


async def test_a_draw_with_dates_out_of_order_or_in_the_future_names_the_fields(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=2, n_criminal=0)
    key = await create_center_key(REGION)
    url = "/api/v1/center/evaluations"
    resp = await client.post(
        url,
        json={"method": "all", "closed_from": "2026-05-01", "closed_to": "2026-01-01"},
        headers=key_headers(key),
    )
    body = await resp.json()
    assert resp.status == 422 and set(body["error"]["fields"]) == {"closed_from", "closed_to"}
    assert "不能晚于" in body["error"]["fields"]["closed_to"]
    future = (date.today() + timedelta(days=40)).isoformat()
    resp = await client.post(
        url,
        json={"method": "all", "closed_from": "2026-01-01", "closed_to": future},
        headers=key_headers(key),
    )
    body = await resp.json()
    assert resp.status == 422 and list(body["error"]["fields"]) == ["closed_to"]
    assert "今天" in body["error"]["message"]
    resp = await client.get(
        "/api/v1/center/subsidies?from=2026-07-01&to=2026-01-01", headers=key_headers(key)
    )
    body = await resp.json()
    assert resp.status == 422 and set(body["error"]["fields"]) == {"from", "to"}


async def test_a_round_drawn_by_mistake_is_cancelled_before_any_score(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=4, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    resp = await client.post(
        f"/api/v1/center/evaluations/{rnd['id']}/cancel", headers=key_headers(key)
    )
    body = await resp.json()
    assert (
        resp.status == 200
        and body["cancelled"]
        and sorted(body["case_nos"]) == sorted(rnd["case_nos"])
    )
    got = await client.get(f"/api/v1/center/evaluations/{rnd['id']}", headers=key_headers(key))
    assert got.status == 404
    again = await draw_round(client, key, method="all")  # the same cases are drawable again
    assert sorted(again["case_nos"]) == sorted(rnd["case_nos"])
    case = again["cases"][0]
    await score(client, key, again["id"], case["case_no"], case["pair"]["leader"]["id"], 80)
    resp = await client.post(
        f"/api/v1/center/evaluations/{again['id']}/cancel", headers=key_headers(key)
    )
    body = await resp.json()
    assert resp.status == 409 and body["error"]["code"] == "round_scored"
    assert "已有专家评分" in body["error"]["message"]


async def test_score_items_follow_the_policys_score_sheet(client_for, tmp_path):
    sheet = tmp_path / "wanzhou-items.json"
    sheet.write_text(
        json.dumps(
            {
                "base": "wanzhou",
                "name": "wanzhou-items",
                "evaluation_items": {"civil_admin": [["调查取证", 40], ["法律文书", 60]]},
            }
        ),
        "utf-8",
    )
    client = await client_for(str(sheet))
    await seed(n_civil=2, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    case = rnd["cases"][0]
    url = case_url(rnd["id"], case["case_no"], "/scores")
    leader = case["pair"]["leader"]["id"]

    async def post(body):
        resp = await client.post(url, json={"expert_id": leader, **body}, headers=key_headers(key))
        return resp.status, await resp.json()

    status, body = await post({"score": 80, "items": {"不存在的项目": 80}})
    assert status == 422 and "items" in body["error"]["fields"]
    assert "不存在的项目" in body["error"]["message"]
    status, body = await post({"score": 80, "items": {"调查取证": 30}})
    assert status == 422 and "法律文书" in body["error"]["message"]  # an item left out
    status, body = await post({"score": 80, "items": {"调查取证": 50, "法律文书": 30}})
    assert status == 422 and "最多 40 分" in body["error"]["message"]
    status, body = await post({"score": 86.5, "items": {"调查取证": 30, "法律文书": 50}})
    assert status == 422 and "score" in body["error"]["fields"] and "80" in body["error"]["message"]
    status, body = await post({"score": 80, "items": {"调查取证": 30, "法律文书": 50}})
    assert status == 201 and body["scored_by"] == [leader]


async def test_without_a_score_sheet_the_score_comes_alone(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=2, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    case = rnd["cases"][0]
    resp = await client.post(
        case_url(rnd["id"], case["case_no"], "/scores"),
        json={
            "expert_id": case["pair"]["leader"]["id"],
            "score": 80,
            "items": {"不存在的项目": 80},
        },
        headers=key_headers(key),
    )
    body = await resp.json()
    assert resp.status == 422 and "没有规定评分项目" in body["error"]["message"]


async def subsidy_client(aiohttp_client, settings, tmp_path, base: str):
    path = tmp_path / f"{base}-fees.json"
    path.write_text(json.dumps({"base": base, "subsidy_base_fees": FEES}))
    return await aiohttp_client(create_app(settings.model_copy(update={"policy": str(path)})))


async def subsidy_of(client, key) -> dict:
    (item,) = (await listing(client, key))["items"]
    return item


async def money(client, key, sid, what, body):
    resp = await client.post(
        f"/api/v1/center/subsidies/{sid}/{what}", json=body, headers={"X-Api-Key": key}
    )
    return resp.status, await resp.json()


async def test_a_payment_is_the_amount_worked_out_unless_a_note_says_why(
    aiohttp_client, settings, app, tmp_path
):
    client = await subsidy_client(aiohttp_client, settings, tmp_path, "wanzhou")
    key = await create_center_key(SUBSIDY_REGION)
    await closed_case("W1")
    sid = (await subsidy_of(client, key))["id"]
    status, body = await money(client, key, sid, "paid", {"amount": 99999})
    assert status == 422 and "amount" in body["error"]["fields"]
    assert "3000.00" in body["error"]["message"]
    status, body = await money(client, key, sid, "paid", {"amount": 99999, "note": "加发"})
    assert status == 422 and "amount" in body["error"]["fields"]  # never above what is due
    status, body = await money(client, key, sid, "paid", {"amount": -5, "note": "x"})
    assert status == 422 and "amount" in body["error"]["fields"]
    status, body = await money(client, key, sid, "paid", {"amount": 2500})
    assert status == 422 and list(body["error"]["fields"]) == ["note"]
    status, body = await money(client, key, sid, "paid", {"amount": 2500, "note": "扣减差旅"})
    assert status == 200 and body["status"] == "paid" and body["paid_amount"] == 2500.0
    assert [(h["action"], h["amount"], h["note"]) for h in body["history"]] == [
        ("paid", 2500.0, "扣减差旅")
    ]


async def test_a_failed_case_with_nothing_due_is_not_payable(
    aiohttp_client, settings, app, tmp_path
):
    client = await subsidy_client(aiohttp_client, settings, tmp_path, "wanzhou")
    key = await create_center_key(SUBSIDY_REGION)
    await closed_case("W2", grade="fail")
    item = await subsidy_of(client, key)
    assert item["amount"] == 0 and item["status"] == "nothing_due"
    status, body = await money(client, key, item["id"], "paid", {})
    assert status == 409 and "没有可发放" in body["error"]["message"]
    assert (await listing(client, key, status="payable"))["items"] == []


async def test_claw_back_needs_a_reason_unless_due_and_a_mistake_can_be_undone(
    aiohttp_client, settings, app, tmp_path
):
    client = await subsidy_client(aiohttp_client, settings, tmp_path, "wanzhou")
    key = await create_center_key(SUBSIDY_REGION)
    await closed_case("W3")
    sid = (await subsidy_of(client, key))["id"]
    status, body = await money(client, key, sid, "undo", {"note": "误操作"})
    assert status == 409 and "无可撤销" in body["error"]["message"]
    assert (await money(client, key, sid, "paid", {}))[0] == 200
    status, body = await money(client, key, sid, "claw-back", {})
    assert status == 422 and list(body["error"]["fields"]) == ["note"]  # claw_back_due is false
    status, body = await money(client, key, sid, "claw-back", {"note": "重复发放"})
    assert status == 200 and body["status"] == "clawed_back"
    status, body = await money(client, key, sid, "undo", {})
    assert status == 422 and "note" in body["error"]["fields"]
    status, body = await money(client, key, sid, "undo", {"note": "追回登记错了案件"})
    assert status == 200 and body["status"] == "paid" and body["clawback_amount"] is None
    status, body = await money(client, key, sid, "undo", {"note": "发放登记错了案件"})
    assert status == 200 and body["status"] == "payable" and body["paid_amount"] is None
    assert [h["action"] for h in body["history"]] == [
        "paid",
        "claw_back",
        "undo_claw_back",
        "undo_paid",
    ]
    assert all(h["actor"].startswith("center_key:") for h in body["history"])
    # The disclosure's 附件4 follows: nothing paid in the half-year any more.
    resp = await client.get(
        "/api/v1/center/exports/disclosure.xlsx?half=2026H2", headers={"X-Api-Key": key}
    )
    wb = load_workbook(io.BytesIO(await resp.read()))
    assert list(wb["附件4 办案补贴发放情况"].iter_rows(values_only=True))[1:] == []


async def published_round(client, key):
    """A published round of three failed cases; returns it and the handler's own case."""
    rnd = await draw_round(client, key, method="all")
    await grade_all(client, key, rnd, 55)
    await client.post(f"/api/v1/center/evaluations/{rnd['id']}/publish", headers=key_headers(key))
    own = next(c for c in rnd["cases"] if c["handler"]["org"] == ORG)
    return rnd, own


def typed(case_no: str, style: str) -> str:
    """The case number `(2026)万法援002号` as a phone may type it."""
    bare = case_no.removeprefix("(2026)")
    return {
        "full_width": f"（2026）{bare}",
        "no_brackets": f"2026{bare}",
        "official": f"〔2026〕{bare}",
        "spaces": f"( 2026 ) {bare}",
    }[style]


@pytest.mark.parametrize(
    "message",
    [
        "异议 {full_width} 评分时未看到补充的调查笔录",
        "异议 {no_brackets} 评分时未看到补充的调查笔录",
        "异议{official}评分时未看到补充的调查笔录",
        "异议{spaces} 评分时未看到补充的调查笔录",
    ],
)
async def test_a_handler_objects_with_the_case_number_as_typed_on_a_phone(client_for, message):
    client = await client_for("wanzhou")
    await seed(n_civil=3, n_criminal=0)
    key = await create_center_key(REGION)
    rnd, own = await published_round(client, key)
    styles = {
        s: typed(own["case_no"], s) for s in ("full_width", "no_brackets", "official", "spaces")
    }
    handler = WeChatUser(client, openid=HANDLER_OPENID)
    reply = await handler.say(message.format(**styles))
    assert "已收到" in reply and own["case_no"] in reply, reply
    # The API finds the case however its number is typed, too.
    got = await client.get(case_url(rnd["id"], styles["full_width"]), headers=key_headers(key))
    assert got.status == 200 and (await got.json())["case_no"] == own["case_no"]


async def test_an_objection_without_a_reason_asks_for_it(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=3, n_criminal=0)
    key = await create_center_key(REGION)
    _, own = await published_round(client, key)
    handler = WeChatUser(client, openid=HANDLER_OPENID)
    ask = await handler.say(f"异议 {typed(own['case_no'], 'full_width')}")
    assert "请回复异议理由" in ask and own["case_no"] in ask and "没看懂" not in ask
    reply = await handler.say("评分时未看到补充的调查笔录")
    assert "已收到" in reply
    obj = await GradeObjection.get()
    assert obj.text == "评分时未看到补充的调查笔录"


async def test_objection_alone_lists_a_handlers_objectable_cases_and_help_mentions_it(
    client_for,
):
    client = await client_for("wanzhou")
    await seed(n_civil=3, n_criminal=0)
    key = await create_center_key(REGION)
    handler = WeChatUser(client, openid=HANDLER_OPENID)
    assert "异议 案号 理由" in await handler.say("帮助")
    rnd, own = await published_round(client, key)
    listing_ = await handler.say("异议")
    ev = await Evaluation.get(id=rnd["id"])
    assert own["case_no"] in listing_ and "不合格" in listing_
    assert ev.objections_until.isoformat() in listing_ and "异议 案号 理由" in listing_
    assert "不予法律援助" not in listing_
    await handler.say(f"异议 {own['case_no']} 评分时未看到补充的调查笔录")
    assert "目前没有可以提出异议" in await handler.say("异议")
    stranger = WeChatUser(client, openid="o-stranger")
    assert "异议 案号 理由" not in await stranger.say("帮助")


async def test_a_disabled_expert_is_warned_about_and_replaced_or_enabled(client_for):
    client = await client_for("wanzhou")
    experts = await seed(n_civil=4, n_criminal=0)
    await Expert.filter(id=experts[5].id).update(org=ORG)  # 回避 for ORG's cases
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    pair = rnd["pairs"][0]
    leader, member = pair["leader"]["id"], pair["member"]["id"]
    first, second = pair["case_nos"][0], pair["case_nos"][-1]
    await score(client, key, rnd["id"], first, member, 80)  # the member scores one case
    resp = await client.post(f"/api/v1/center/experts/{member}/disable", headers=key_headers(key))
    body = await resp.json()
    assert resp.status == 200 and body["active"] is False
    assert first not in [w["case_no"] for w in body["waiting_cases"]]
    assert second in [w["case_no"] for w in body["waiting_cases"]] or first == second
    assert "无法完成" in body["warning"] and "replace" in body["warning"]
    # A disabled expert can no longer score: the round would be stranded.
    await score(client, key, rnd["id"], second, member, 80, status=403)
    url = f"/api/v1/center/evaluations/{rnd['id']}/pairs/{pair['id']}/replace"
    others = [e for e in experts if e.group == "civil_admin" and e.id not in (leader, member)]
    criminal = next(e for e in experts if e.group == "criminal")
    for new, field in (
        (criminal.id, "new_expert_id"),  # another group
        (leader, "new_expert_id"),  # already in the pair
        (member, "new_expert_id"),  # disabled
    ):
        resp = await client.post(
            url, json={"old_expert_id": member, "new_expert_id": new}, headers=key_headers(key)
        )
        assert resp.status == 422 and field in (await resp.json())["error"]["fields"]
    resp = await client.post(
        url,
        json={"old_expert_id": others[0].id, "new_expert_id": others[1].id},
        headers=key_headers(key),
    )
    assert resp.status == 422 and "old_expert_id" in (await resp.json())["error"]["fields"]
    has_org_case = any(
        c["handler"]["org"] == ORG for c in rnd["cases"] if c["case_no"] in pair["case_nos"]
    )
    if has_org_case and experts[5].id not in (leader, member):
        resp = await client.post(
            url,
            json={"old_expert_id": member, "new_expert_id": experts[5].id},
            headers=key_headers(key),
        )
        assert resp.status == 422 and "回避" in (await resp.json())["error"]["message"]
    new = next(e for e in others if e.org is None)
    resp = await client.post(
        url, json={"old_expert_id": member, "new_expert_id": new.id}, headers=key_headers(key)
    )
    body = await resp.json()
    assert resp.status == 200, body
    replaced = next(p for p in body["pairs"] if p["id"] == pair["id"])
    assert replaced["member"]["id"] == new.id
    # The old member's score stands; the new member scores the rest, not the scored case.
    await score(client, key, rnd["id"], first, new.id, 80, status=409)
    done = await score(client, key, rnd["id"], first, leader, 80)
    assert done["state"] == "graded" and member in [s["expert"]["id"] for s in done["scores"]]
    if second != first:
        assert (await score(client, key, rnd["id"], second, new.id, 80))["scored_by"] == [new.id]
    # Enabling brings the old expert back (for future draws).
    resp = await client.post(f"/api/v1/center/experts/{member}/enable", headers=key_headers(key))
    body = await resp.json()
    assert resp.status == 200 and body["active"] is True and body["warning"] is None
    # A published round's pairs are no longer changed.
    await Evaluation.filter(id=rnd["id"]).update(published_at=datetime.now(UTC))
    resp = await client.post(
        url, json={"old_expert_id": new.id, "new_expert_id": member}, headers=key_headers(key)
    )
    assert resp.status == 409


async def test_the_centre_api_finds_a_case_however_its_number_is_typed(client_for):
    client = await client_for("wanzhou")
    key = await create_center_key(REGION)
    case = {
        "region": REGION,
        "kind": "civil",
        "cause": "劳动报酬纠纷",
        "beneficiary": {"name": "张三", "phone": "13812345678"},
        "handler": {"name": "李律师", "org": ORG},
        "status": "accepted",
    }
    resp = await client.put(
        "/api/v1/center/cases/" + quote("(2026)万法援6号", safe=""),
        json=case,
        headers=key_headers(key),
    )
    assert resp.status in (200, 201), await resp.text()
    # The same case updated with full-width brackets: no second case.
    resp = await client.put(
        "/api/v1/center/cases/" + quote("（2026）万法援6号", safe=""),
        json={**case, "status": "in_progress"},
        headers=key_headers(key),
    )
    assert resp.status == 200 and (await resp.json())["case_no"] == "(2026)万法援6号"
    assert await Case.filter(region=REGION).count() == 1
    for typed_no in ("〔2026〕万法援6号", "2026万法援6号"):
        resp = await client.get(
            "/api/v1/center/cases/" + quote(typed_no, safe=""), headers=key_headers(key)
        )
        assert resp.status == 200 and (await resp.json())["status"] == "in_progress"
