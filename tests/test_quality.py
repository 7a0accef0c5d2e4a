"""POST /api/v1/center/cases/{case_no}/quality: the regional policy turns a score into a grade."""

from __future__ import annotations

from datetime import date

import pytest

from bot.app import create_app
from bot.auth import create_center_key
from models.case import Case
from models.quality import QualityReview

REGION = "330600"


async def seed_case(case_no: str = "(2026)绍援民123号", region: str = REGION, **kw) -> Case:
    values = {
        "kind": "civil",
        "cause": "劳动报酬纠纷",
        "beneficiary_name": "张三",
        "beneficiary_phone": "13812345678",
        "handler_name": "李律师",
        "handler_org": "越城律师事务所",
        "status": "closed",
        "closed_on": date(2026, 8, 3),
    }
    return await Case.create(region=region, case_no=case_no, **{**values, **kw})


@pytest.fixture
def app_with(app, aiohttp_client, settings):
    async def make(**update):
        return await aiohttp_client(create_app(settings.model_copy(update=update)))

    return make


def url(case_no: str) -> str:
    from urllib.parse import quote

    return f"/api/v1/center/cases/{quote(case_no, safe='')}/quality"


@pytest.mark.parametrize(
    "policy,score,grade,coefficient",
    [
        ("shaoxing", 92, "excellent", 1.2),
        ("shaoxing", 89.5, "good", 0.9),
        ("shaoxing", 60, "pass", 0.6),
        ("shaoxing", 59.99, "fail", 0.0),
        ("zhashui", 85, "good", None),
        ("zhashui", 69, "fail", None),
        ("zhashui", 70, "pass", None),
    ],
)
async def test_grade_and_coefficient_follow_the_policy(app_with, policy, score, grade, coefficient):
    client = await app_with(policy=policy)
    key = await create_center_key(REGION)
    case = await seed_case()
    resp = await client.post(
        url(case.case_no), json={"score": score, "reviewer": "评查组"}, headers={"X-Api-Key": key}
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["grade"] == grade and body["coefficient"] == coefficient
    assert body["policy"] == policy and body["score"] == score and body["revisions"] == 1
    assert body["case_no"] == case.case_no and body["grade_label"]
    stored = await QualityReview.get(case_id=case.id)
    assert stored.grade == grade


async def test_posting_again_replaces_the_review(app):
    key = await create_center_key(REGION)
    case = await seed_case()
    await app.post(url(case.case_no), json={"score": 55}, headers={"X-Api-Key": key})
    resp = await app.post(
        url(case.case_no), json={"score": 91}, headers={"X-Api-Key": key, "Accept-Language": "en"}
    )
    body = await resp.json()
    assert body["grade"] == "excellent" and body["grade_label"] == "Excellent"
    assert body["revisions"] == 2 and await QualityReview.all().count() == 1
    got = await (await app.get(url(case.case_no), headers={"X-Api-Key": key})).json()
    assert got["score"] == 91


@pytest.mark.parametrize(
    "body",
    [
        {"score": 101},
        {"score": -1},
        {"score": "90"},
        {"score": True},
        {},
        {"score": None},
        {"score": 90, "x": 1},
        [90],
    ],
)
async def test_a_score_outside_0_to_100_is_422_and_nothing_is_stored(app, body):
    key = await create_center_key(REGION)
    case = await seed_case()
    resp = await app.post(url(case.case_no), json=body, headers={"X-Api-Key": key})
    assert resp.status == 422
    err = (await resp.json())["error"]
    assert err["code"] == "validation" and err["fields"]
    assert await QualityReview.all().count() == 0


async def test_unknown_case_other_region_and_no_key(app):
    key = await create_center_key(REGION)
    other = await create_center_key("610626")
    case = await seed_case()
    assert (
        await app.post(url("nope"), json={"score": 90}, headers={"X-Api-Key": key})
    ).status == 404
    assert (
        await app.post(url(case.case_no), json={"score": 90}, headers={"X-Api-Key": other})
    ).status == 404
    assert (await app.post(url(case.case_no), json={"score": 90})).status == 401
    assert (await app.get(url(case.case_no), headers={"X-Api-Key": key})).status == 404
    assert (
        await app.post(url(case.case_no), data=b"{not json", headers={"X-Api-Key": key})
    ).status == 400
    assert await QualityReview.all().count() == 0
