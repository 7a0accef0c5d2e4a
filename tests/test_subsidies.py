"""Subsidies follow the grade (DOMAIN §10): amounts and statuses per preset, Beijing's closing
check, Wanzhou's claw-back, the money recorded, and the disclosure workbook's 附件4 and 附件7."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from bot.app import create_app
from bot.auth import create_center_key
from models.case import Case
from models.people import Staff
from models.quality import QualityReview

REGION = "110105"
FEES = {"civil": 3000, "criminal": 2000, "administrative": 2500}


@pytest.fixture
def client_for(aiohttp_client, settings, app, tmp_path):
    """A client on a policy file: `base` preset with local fees (no seed gives an amount)."""

    async def make(base: str, **extra):
        import json

        path = tmp_path / f"{base}-local.json"
        path.write_text(json.dumps({"base": base, "subsidy_base_fees": FEES, **extra}))
        return await aiohttp_client(create_app(settings.model_copy(update={"policy": str(path)})))

    return make


async def closed_case(
    no: str,
    *,
    kind: str = "civil",
    grade: str | None = None,
    special: bool = False,
    coefficient: float | None = None,
) -> Case:
    case = await Case.create(
        region=REGION,
        case_no=no,
        kind=kind,
        cause="劳动报酬纠纷",
        beneficiary_name="张三",
        beneficiary_phone="13812345678",
        handler_name="李律师",
        handler_org="朝阳律师事务所",
        status="closed",
        closed_on=date(2026, 8, 3),
        special=special,
    )
    if grade:
        await QualityReview.create(
            case=case,
            region=REGION,
            score=80,
            grade=grade,
            coefficient=coefficient,
            policy="x",
            reviewed_at=datetime.now(UTC),
        )
    return case


async def listing(client, key, **query):
    params = {"from": "2026-07-01", "to": "2026-12-31", **query}
    resp = await client.get("/api/v1/center/subsidies", params=params, headers={"X-Api-Key": key})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_shaoxing_pays_the_fee_times_the_grade_coefficient_once_graded(client_for):
    client = await client_for("shaoxing")
    key = await create_center_key(REGION)
    await closed_case("A1", grade="excellent", coefficient=1.2)
    await closed_case("A2", grade="fail", coefficient=0.0)
    await closed_case("A3")  # not graded yet
    await closed_case("A4", special=True)  # outside evaluation: the base fee
    items = {i["case_no"]: i for i in (await listing(client, key))["items"]}
    assert (items["A1"]["amount"], items["A1"]["status"]) == (3600.0, "payable")
    assert (items["A2"]["amount"], items["A2"]["coefficient"]) == (0.0, 0.0)
    assert (items["A3"]["amount"], items["A3"]["status"]) == (None, "awaiting_grade")
    assert (items["A4"]["amount"], items["A4"]["status"]) == (3000.0, "payable")
    waiting = await listing(client, key, status="awaiting_grade")
    assert [i["case_no"] for i in waiting["items"]] == ["A3"]


async def test_beijing_pays_nothing_before_the_closing_check_passes(client_for):
    client = await client_for("beijing")
    key = await create_center_key(REGION)
    case = await closed_case("B1", kind="criminal")
    reviewer = await Staff.create(name="质量审查负责人", region=REGION, openid="o-reviewer")
    (item,) = (await listing(client, key))["items"]
    assert item["status"] == "awaiting_check" and item["amount"] == 2000.0
    paid = await client.post(
        f"/api/v1/center/subsidies/{item['id']}/paid", json={}, headers={"X-Api-Key": key}
    )
    assert paid.status == 409 and "签字确认合格" in (await paid.json())["error"]["message"]
    english = await client.post(
        f"/api/v1/center/subsidies/{item['id']}/paid",
        json={},
        headers={"X-Api-Key": key, "Accept-Language": "en"},
    )
    message = (await english.json())["error"]["message"]
    assert english.status == 409 and message.isascii() and message
    url = f"/api/v1/center/cases/{quote(case.case_no)}/quality-check"
    bad = await client.post(
        url, json={"passed": True, "reviewer_id": 999}, headers={"X-Api-Key": key}
    )
    assert bad.status == 422
    ok = await client.post(
        url, json={"passed": True, "reviewer_id": reviewer.id}, headers={"X-Api-Key": key}
    )
    assert ok.status == 200 and (await ok.json())["reviewer"] == "质量审查负责人"
    (item,) = (await listing(client, key))["items"]
    assert item["status"] == "payable" and item["quality_check"] is True
    paid = await client.post(
        f"/api/v1/center/subsidies/{item['id']}/paid", json={}, headers={"X-Api-Key": key}
    )
    body = await paid.json()
    assert paid.status == 200 and body["status"] == "paid" and body["paid_amount"] == 2000.0
    again = await client.post(
        f"/api/v1/center/subsidies/{item['id']}/paid", json={}, headers={"X-Api-Key": key}
    )
    assert again.status == 409


async def test_wanzhou_claws_back_a_paid_subsidy_after_a_fail(client_for):
    client = await client_for("wanzhou")
    key = await create_center_key(REGION)
    case = await closed_case("W1")
    (item,) = (await listing(client, key))["items"]
    assert item["status"] == "payable" and item["amount"] == 3000.0  # paid at closing
    await client.post(
        f"/api/v1/center/subsidies/{item['id']}/paid", json={}, headers={"X-Api-Key": key}
    )
    await QualityReview.create(
        case=case, region=REGION, score=50, grade="fail", policy="x", reviewed_at=datetime.now(UTC)
    )
    (item,) = (await listing(client, key))["items"]
    assert item["status"] == "paid" and item["claw_back_due"] is True
    resp = await client.post(
        f"/api/v1/center/subsidies/{item['id']}/claw-back",
        json={"note": "评估不合格"},
        headers={"X-Api-Key": key},
    )
    body = await resp.json()
    assert body["status"] == "clawed_back" and body["clawback_amount"] == 3000.0
    assert (await listing(client, key, status="clawed_back"))["items"][0]["case_no"] == "W1"


async def test_zhashui_lowers_by_the_local_factor_or_asks_for_the_amount(client_for):
    client = await client_for("zhashui")
    key = await create_center_key(REGION)
    await closed_case("Z1", grade="fail")
    (item,) = (await listing(client, key))["items"]
    assert item["amount"] is None and item["status"] == "payable"
    resp = await client.post(
        f"/api/v1/center/subsidies/{item['id']}/paid", json={}, headers={"X-Api-Key": key}
    )
    assert resp.status == 422  # the lowered amount is the county's call: give it
    resp = await client.post(
        f"/api/v1/center/subsidies/{item['id']}/paid",
        json={"amount": 1800},
        headers={"X-Api-Key": key},
    )
    assert (await resp.json())["paid_amount"] == 1800.0


async def test_a_local_factor_lowers_a_failed_case_by_itself(client_for):
    client = await client_for("zhashui", quality_fail_subsidy_factor=0.7)
    key = await create_center_key(REGION)
    await closed_case("Z2", grade="fail")
    (item,) = (await listing(client, key))["items"]
    assert item["amount"] == 2100.0


async def test_pages_and_filters_hold_together(client_for):
    client = await client_for("shaoxing")
    key = await create_center_key(REGION)
    for i in range(7):
        await closed_case(
            f"P{i}", grade="good" if i % 2 else None, coefficient=0.9 if i % 2 else None
        )
    seen, cursor = [], None
    while True:
        page = await listing(
            client, key, limit=2, status="payable", **({"cursor": cursor} if cursor else {})
        )
        seen += [i["case_no"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == ["P1", "P3", "P5"]
    for bad in (
        {"from": "2026-12-01", "to": "2026-01-01"},
        {"status": "lost"},
        {"limit": 0},
        {"cursor": "x"},
    ):
        resp = await client.get(
            "/api/v1/center/subsidies",
            headers={"X-Api-Key": key},
            params={"from": "2026-07-01", "to": "2026-12-31", **bad},
        )
        assert resp.status == 422


async def test_disclosure_has_subsidies_paid_and_every_graded_case(client_for):
    client = await client_for("shaoxing")
    key = await create_center_key(REGION)
    await closed_case("D1", grade="excellent", coefficient=1.2)
    await closed_case("D2", grade="good", coefficient=0.9)
    for item in (await listing(client, key))["items"]:
        await client.post(
            f"/api/v1/center/subsidies/{item['id']}/paid", json={}, headers={"X-Api-Key": key}
        )
    resp = await client.get(
        "/api/v1/center/exports/disclosure.xlsx",
        params={"half": "2026H2"},
        headers={"X-Api-Key": key},
    )
    wb = load_workbook(io.BytesIO(await resp.read()))
    detail = list(wb["附件7 评估结果明细"].iter_rows(values_only=True))[1:]
    assert [(r[1], r[3], r[4]) for r in detail] == [
        ("D1", "李律师", "优秀"),
        ("D2", "李律师", "良好"),
    ]
    paid = list(wb["附件4 办案补贴发放情况"].iter_rows(values_only=True))[1:]
    assert paid[0][1:] == ("朝阳律师事务所", "李律师", 2, 6300.0, 0.0)
