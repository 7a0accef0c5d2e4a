"""Evaluation rounds through the centre API and the chat: a Wanzhou sample, two experts back to
back, the leader's decision, Shaoxing's re-check, publication, a handler's objection in chat and
its review, and the consequences each preset attaches to a grade (DOMAIN §10)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from bot.app import create_app
from bot.auth import create_center_key
from models.case import Case
from models.evaluation import Evaluation, EvaluationCase, EvaluationScore, Expert
from models.outbox import OutboxMessage
from models.people import Staff
from models.pool import Handler, PoolEvent, add_handler, add_org
from models.quality import QualityReview
from tests.conftest import WeChatUser
from tests.test_cases_support import pushes_to

REGION = "404100"
ORG, OTHER_ORG = "万州律师事务所", "平湖律师事务所"
HANDLER_OPENID = "o-handler-li"


@pytest.fixture
def client_for(aiohttp_client, settings, app):
    """A client of an app on `policy` sharing the test database (the `app` fixture's)."""

    async def make(policy: str):
        return await aiohttp_client(create_app(settings.model_copy(update={"policy": policy})))

    return make


async def seed(n_civil: int = 30, n_criminal: int = 10, *, closed: date = date(2026, 3, 10)):
    rows = []
    for i in range(n_civil + n_criminal):
        kind = "criminal" if i < n_criminal else "civil"
        rows.append(
            Case(
                region=REGION,
                case_no=f"(2026)万法援{i + 1:03d}号",
                kind=kind,
                cause="劳动报酬纠纷",
                beneficiary_name="张三",
                beneficiary_phone="13812345678",
                handler_name="李律师",
                handler_org=ORG if i % 2 else OTHER_ORG,
                status="closed",
                closed_on=closed,
            )
        )
    await Case.bulk_create(rows)
    experts = []
    for i, (group, org) in enumerate(
        [
            ("criminal", None),
            ("criminal", None),
            ("civil_admin", None),
            ("civil_admin", None),
            ("civil_admin", None),
            ("civil_admin", None),
        ]
    ):
        experts.append(
            await Expert.create(region=REGION, name=f"专家{i + 1}", group=group, org=org)
        )
    org = await add_org(REGION, ORG, "firm")
    await add_handler(org, "李律师", "lawyer", openid=HANDLER_OPENID)
    await Staff.create(
        name="王科长", region=REGION, openid="o-bureau-1", role="bureau", unit="万州区司法局"
    )
    await Staff.create(name="中心李主任", region=REGION, openid="o-centre-1")
    return experts


def key_headers(key: str) -> dict:
    return {"X-Api-Key": key}


async def draw_round(client, key, **body):
    payload = {
        "method": "sample",
        "closed_from": "2026-01-01",
        "closed_to": date.today().isoformat(),  # a draw's period ends today at the latest
        "seed": 42,
        **body,
    }
    resp = await client.post("/api/v1/center/evaluations", json=payload, headers=key_headers(key))
    assert resp.status == 201, await resp.text()
    return await resp.json()


def case_url(round_id: int, case_no: str, tail: str = "") -> str:
    return f"/api/v1/center/evaluations/{round_id}/cases/{quote(case_no, safe='')}{tail}"


async def score(client, key, rid, case_no, expert_id, value, status=201):
    resp = await client.post(
        case_url(rid, case_no, "/scores"),
        headers=key_headers(key),
        json={
            "expert_id": expert_id,
            "score": value,
            "notes": "卷宗完整",
        },
    )
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_a_wanzhou_sample_pairs_experts_by_group_and_is_reproducible(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=150, n_criminal=50)
    key = await create_center_key(REGION)
    body = await draw_round(client, key)
    assert body["population"] == 200 and body["sample_size"] == 20 and body["seed"] == 42
    assert len(body["case_nos"]) == 20 and len(set(body["case_nos"])) == 20
    criminal = [c for c in body["cases"] if c["group"] == "criminal"]
    assert len(criminal) == 5  # 50 of 200 -> a quarter of the sample
    for pair in body["pairs"]:
        assert pair["leader"]["id"] != pair["member"]["id"] and pair["case_nos"]
    # Cases already drawn are not drawn again: the next round with the same seed takes others.
    again = await draw_round(client, key)
    assert not set(again["case_nos"]) & set(body["case_nos"])
    # The same seed over the same population gives the same draw (checked in a fresh region).
    assert [p["case_nos"] for p in body["pairs"]] != []
    # The list shows both rounds, newest first, each with its own cases and pairs.
    resp = await client.get("/api/v1/center/evaluations", headers=key_headers(key))
    listed = (await resp.json())["items"]
    assert [r["id"] for r in listed] == [again["id"], body["id"]]
    assert listed[1]["case_nos"] == body["case_nos"] and listed[1]["pairs"] == body["pairs"]
    assert listed[0]["case_nos"] == again["case_nos"]


async def test_two_scores_back_to_back_then_agreement_stands(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=10, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    assert rnd["sample_size"] == 10
    case = rnd["cases"][0]
    leader, member = case["pair"]["leader"]["id"], case["pair"]["member"]["id"]
    first = await score(client, key, rnd["id"], case["case_no"], member, 82)
    assert first["scored_by"] == [member] and first["scores"] == [] and first["grade"] is None
    # Neither sees the other's score before both have scored: not over GET either.
    got = await (
        await client.get(case_url(rnd["id"], case["case_no"]), headers=key_headers(key))
    ).json()
    assert got["scores"] == [] and got["score"] is None
    again = await score(client, key, rnd["id"], case["case_no"], member, 90, status=409)
    assert (
        again["error"]["code"] == "already_scored" and "不能再次评分" in again["error"]["message"]
    )
    outsider = next(e for e in await Expert.all() if e.id not in (leader, member))
    denied = await score(client, key, rnd["id"], case["case_no"], outsider.id, 80, status=403)
    assert denied["error"]["code"] == "not_your_case"
    both = await score(client, key, rnd["id"], case["case_no"], leader, 78)
    assert both["grade"] == "good" and both["state"] == "graded" and both["score"] == 80.0
    assert both["decided_how"] == "agreed" and [s["score"] for s in both["scores"]] == [82, 78]
    review = await QualityReview.get(case__case_no=case["case_no"])
    assert review.grade == "good"
    assert await EvaluationScore.all().count() == 2


async def test_the_leader_settles_a_disagreement_and_nobody_else_can(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=4, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    case = rnd["cases"][0]
    leader, member = case["pair"]["leader"]["id"], case["pair"]["member"]["id"]
    await score(client, key, rnd["id"], case["case_no"], leader, 91)
    split = await score(client, key, rnd["id"], case["case_no"], member, 70)
    assert split["state"] == "disagreed" and split["grade"] is None
    url = case_url(rnd["id"], case["case_no"], "/decision")
    resp = await client.post(
        url, json={"expert_id": member, "grade": "pass"}, headers=key_headers(key)
    )
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "leader_only"
    resp = await client.post(
        url, json={"expert_id": leader, "grade": "good"}, headers=key_headers(key)
    )
    body = await resp.json()
    assert resp.status == 200 and body["grade"] == "good" and body["decided_how"] == "leader"
    assert body["decided_by"]["id"] == leader
    assert [s["grade"] for s in body["scores"]] == ["excellent", "pass"]  # both kept


async def test_shaoxing_excellent_waits_for_a_recheck_by_another_expert(client_for):
    client = await client_for("shaoxing")
    await seed(n_civil=2, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    case = rnd["cases"][0]
    pair = (case["pair"]["leader"]["id"], case["pair"]["member"]["id"])
    await score(client, key, rnd["id"], case["case_no"], pair[0], 95)
    body = await score(client, key, rnd["id"], case["case_no"], pair[1], 92)
    assert body["state"] == "recheck" and body["state_label"] == "待专家复核"
    assert not await QualityReview.exists()  # the grade does not stand yet
    url = case_url(rnd["id"], case["case_no"], "/recheck")
    resp = await client.post(
        url, json={"expert_id": pair[0], "grade": "excellent"}, headers=key_headers(key)
    )
    assert resp.status == 403
    other = next(e for e in await Expert.filter(group="civil_admin") if e.id not in pair)
    resp = await client.post(
        url, json={"expert_id": other.id, "grade": "good"}, headers=key_headers(key)
    )
    body = await resp.json()
    assert body["state"] == "graded" and body["grade"] == "good"
    assert body["decided_how"] == "recheck"
    assert (await QualityReview.get(case__case_no=case["case_no"])).coefficient == 0.9


async def grade_all(client, key, rnd, value):
    for case in rnd["cases"]:
        for role in ("leader", "member"):
            await score(client, key, rnd["id"], case["case_no"], case["pair"][role]["id"], value)


async def test_publish_tells_handlers_and_an_objection_in_chat_is_reviewed(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=3, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    resp = await client.post(
        f"/api/v1/center/evaluations/{rnd['id']}/publish", headers=key_headers(key)
    )
    assert resp.status == 409  # not every case has a grade yet
    await grade_all(client, key, rnd, 55)  # fail in Wanzhou's national bands
    ev = await Evaluation.get(id=rnd["id"])
    assert ev.completed_on is not None and ev.publish_due > ev.completed_on
    resp = await client.post(
        f"/api/v1/center/evaluations/{rnd['id']}/publish", headers=key_headers(key)
    )
    body = await resp.json()
    assert resp.status == 200 and body["handlers_notified"] == 1, body
    pushes = await pushes_to(HANDLER_OPENID)
    assert "不合格" in pushes[-1] and "异议" in pushes[-1]
    own = next(c for c in rnd["cases"] if c["handler"]["org"] == ORG)
    handler = WeChatUser(client, openid=HANDLER_OPENID)
    reply = await handler.say(f"异议 {own['case_no']} 评分时未看到补充的调查笔录")
    assert "已收到" in reply and own["case_no"] in reply
    twice = await handler.say(f"异议 {own['case_no']} 再说一次")
    assert "以一次为限" in twice
    other = next(c for c in rnd["cases"] if c["handler"]["org"] == OTHER_ORG)
    assert "没有找到" in await handler.say(f"异议 {other['case_no']} 不是我的案件")
    stranger = WeChatUser(client, openid="o-stranger")
    assert "绑定" in await stranger.say(f"异议 {own['case_no']} 冒充")
    bureau = await pushes_to("o-bureau-1")
    assert any("异议" in p and own["case_no"] in p for p in bureau)
    assert not any("异议" in p for p in await pushes_to("o-centre-1"))  # the bureau reviews
    review = await client.post(
        case_url(rnd["id"], own["case_no"], "/objection/review"),
        json={
            "upheld": True,
            "grade": "pass",
            "reviewers": "复评组甲乙丙",
            "note": "补充笔录可证明已尽调查义务",
        },
        headers=key_headers(key),
    )
    body = await review.json()
    assert review.status == 200 and body["grade"] == "pass"
    assert body["objection"]["state"] == "upheld" and "claw_back" not in body["consequences"]
    told = await pushes_to(HANDLER_OPENID)
    assert "异议经复评成立" in told[-1] and "合格" in told[-1]

    report = await client.get(
        f"/api/v1/center/evaluations/{rnd['id']}/report.xlsx", headers=key_headers(key)
    )
    wb = load_workbook(io.BytesIO(await report.read()))
    assert list(wb["等次统计"].iter_rows(values_only=True))[1:] == [
        ("刑事组", 0, 0, 0, 0, 0, 0),
        ("民事行政组", 0, 0, 1, 2, 0, 3),  # the upheld objection made one fail a pass
        ("合计", 0, 0, 1, 2, 0, 3),
    ]
    (row,) = list(wb["异议复评"].iter_rows(values_only=True))[1:]
    assert row[1:8] == (
        own["case_no"],
        "李律师",
        "评分时未看到补充的调查笔录",
        "不合格",
        "异议成立",
        "合格",
        "复评组甲乙丙",
    )


async def test_a_late_objection_is_refused_with_the_date(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=1, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    await grade_all(client, key, rnd, 80)
    await client.post(f"/api/v1/center/evaluations/{rnd['id']}/publish", headers=key_headers(key))
    await Evaluation.filter(id=rnd["id"]).update(objections_until=date(2026, 1, 5))
    resp = await client.post(
        case_url(rnd["id"], rnd["cases"][0]["case_no"], "/objection"),
        json={"text": "迟到的异议"},
        headers=key_headers(key),
    )
    body = await resp.json()
    assert resp.status == 409 and body["error"]["code"] == "objection_late"
    assert "2026-01-05" in body["error"]["message"]


@pytest.mark.parametrize(
    "policy,value,expected,in_pool",
    [
        ("shaoxing", 62, {"interview", "pool_exit"}, False),  # basic pass 60-65: talk, leave pool
        ("shaoxing", 66, set(), True),
        ("beijing", 50, {"no_new_assignments"}, False),
        ("wanzhou", 50, {"investigation", "claw_back"}, True),
        ("zhashui", 60, {"interview", "subsidy_lowered"}, True),
        ("zhashui", 95, {"award"}, True),
    ],
)
async def test_consequences_per_preset(client_for, policy, value, expected, in_pool):
    client = await client_for(policy)
    await seed(n_civil=1, n_criminal=0)
    await Case.filter().update(handler_org=ORG)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    await grade_all(client, key, rnd, value)
    ec = await EvaluationCase.get(evaluation_id=rnd["id"])
    if ec.state == "recheck":  # Shaoxing re-checks excellent and fail
        pair = await ec.pair
        other = (
            await Expert.filter(group="civil_admin")
            .exclude(id__in=[pair.leader_id, pair.member_id])
            .first()
        )
        await client.post(
            case_url(rnd["id"], rnd["cases"][0]["case_no"], "/recheck"),
            json={"expert_id": other.id, "grade": ec.grade},
            headers=key_headers(key),
        )
    got = await (
        await client.get(f"/api/v1/center/evaluations/{rnd['id']}", headers=key_headers(key))
    ).json()
    assert set(got["cases"][0]["consequences"]) == expected
    handler = await Handler.get(openid=HANDLER_OPENID)
    assert handler.in_pool is in_pool
    if not in_pool:
        assert await PoolEvent.filter(handler=handler, action="removal", actor="quality").exists()


async def test_bad_requests_are_clear_4xx(client_for):
    client = await client_for("wanzhou")
    await seed(n_civil=1, n_criminal=0)
    key = await create_center_key(REGION)
    for body in (
        {"method": "sample", "closed_from": "2026-05-01", "closed_to": "2026-01-01"},
        {"method": "random", "closed_from": "2026-01-01", "closed_to": "2026-02-01"},
        {"method": "sample", "closed_from": "2026-01-01", "closed_to": "2026-02-01", "seed": -1},
    ):
        resp = await client.post("/api/v1/center/evaluations", json=body, headers=key_headers(key))
        assert resp.status == 422
    resp = await client.post(
        "/api/v1/center/evaluations",
        headers=key_headers(key),
        json={"method": "sample", "closed_from": "2025-01-01", "closed_to": "2025-12-31"},
    )
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "no_cases"
    await Expert.filter(group="civil_admin").update(active=False)
    resp = await client.post(
        "/api/v1/center/evaluations",
        headers=key_headers(key),
        json={"method": "all", "closed_from": "2026-01-01", "closed_to": "2026-10-31"},
    )
    body = await resp.json()
    assert resp.status == 409 and "民事行政组" in body["error"]["message"]
    assert not await Evaluation.exists()
    for url in (
        "/api/v1/center/evaluations/99999999999",
        "/api/v1/center/evaluations/abc",
        case_url(1, "x" * 65),
    ):
        assert (await client.get(url, headers=key_headers(key))).status == 404
    other_key = await create_center_key("330600")
    await Expert.filter(group="civil_admin").update(active=True)
    rnd = await draw_round(client, key, method="all")
    resp = await client.get(
        f"/api/v1/center/evaluations/{rnd['id']}", headers=key_headers(other_key)
    )
    assert resp.status == 404  # another region's round is simply not found


async def test_deadline_alerts_before_and_after_publication_is_due(client_for):
    from handlers.jobs_evaluations import evaluation_deadlines

    client = await client_for("wanzhou")
    await seed(n_civil=1, n_criminal=0)
    key = await create_center_key(REGION)
    rnd = await draw_round(client, key, method="all")
    await grade_all(client, key, rnd, 80)
    ev = await Evaluation.get(id=rnd["id"])
    late = datetime.combine(
        ev.publish_due + timedelta(days=1), datetime.min.time(), UTC
    ) + timedelta(hours=3)
    await evaluation_deadlines(client.app, late)
    await evaluation_deadlines(client.app, late)
    alerts = await OutboxMessage.filter(dedupe_key__contains=f"evaluation-publish:{ev.id}:late")
    assert len(alerts) == 1 and "超过公布期限" in alerts[0].payload["text"]
