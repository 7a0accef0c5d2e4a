"""Ledgers, the disclosure workbook and the callback form, opened the way a centre opens them."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from urllib.parse import quote

import pytest
from docx import Document
from openpyxl import load_workbook

from bot.app import create_app
from bot.auth import create_center_key
from models.agent import Agent
from models.application import Application, Material
from models.callback import Callback
from models.case import Case
from models.complaint import Complaint
from models.quality import QualityReview

REGION, OTHER = "330600", "610626"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def shaoxing(app, aiohttp_client, settings):
    """The app under the Shaoxing policy (grades carry subsidy coefficients), and a key."""
    client = await aiohttp_client(create_app(settings.model_copy(update={"policy": "shaoxing"})))
    client.key = await create_center_key(REGION)
    return client


async def case(
    no: str,
    *,
    region: str = REGION,
    closed: date = date(2026, 8, 3),
    handler: str = "李律师",
    org: str = "越城律师事务所",
    kind: str = "civil",
) -> Case:
    return await Case.create(
        region=region,
        case_no=no,
        kind=kind,
        cause="劳动报酬纠纷",
        beneficiary_name="张三丰",
        beneficiary_phone="13812345678",
        handler_name=handler,
        handler_org=org,
        status="closed",
        closed_on=closed,
    )


async def callback(c: Case, answered: datetime | None, **answers) -> Callback:
    values = {
        "fee_charged": False,
        "negligent": False,
        "satisfied": True,
        "comments": "无",
        "channel": "wechat",
    } | answers
    return await Callback.create(
        case=c,
        region=c.region,
        due_at=answered or datetime.now(UTC),
        status="completed" if answered else "invited",
        answered_at=answered,
        **(values if answered else {}),
    )


async def download(client, path: str, **params):
    return await client.get(path, params=params, headers={"X-Api-Key": client.key})


def sheet_rows(body: bytes, sheet: int = 0) -> list[tuple]:
    wb = load_workbook(io.BytesIO(body))
    return [tuple(r) for r in wb.worksheets[sheet].iter_rows(values_only=True)]


# --- callbacks ------------------------------------------------------------------------------


async def test_callback_ledger_has_the_form_columns_and_only_the_range(shaoxing):
    a = await case("(2026)绍援民1号")
    b = await case("(2026)绍援民2号", handler="王律师")
    await callback(a, datetime(2026, 8, 10, 2, 0, tzinfo=UTC), channel="phone", called_by="赵")
    await callback(
        b,
        datetime(2026, 8, 31, 17, 30, tzinfo=UTC),
        fee_charged=True,
        fee_details="收了 200 元",
        satisfied=False,
        comments="太慢",
    )  # 9-01 local
    await callback(await case("(2026)绍援民3号"), datetime(2026, 7, 31, 15, 59, tzinfo=UTC))
    await callback(await case("(2026)绍援民4号"), None)  # not answered yet
    await callback(await case("(2026)陕援5号", region=OTHER), datetime(2026, 8, 5, tzinfo=UTC))
    await QualityReview.create(
        case=a,
        region=REGION,
        score=92,
        grade="excellent",
        coefficient=1.2,
        policy="shaoxing",
        reviewed_at=datetime.now(UTC),
    )

    resp = await download(
        shaoxing,
        "/api/v1/center/exports/callbacks.xlsx",
        **{"from": "2026-08-01", "to": "2026-09-01"},
    )
    assert resp.status == 200 and resp.content_type == XLSX
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = sheet_rows(await resp.read())
    header, data = rows[0], rows[1:]
    for name in (
        "案由",
        "受援人姓名",
        "案件承办人",
        "结案时间",
        "回访日期",
        "是否收取费用或索要钱物",
        "对案件办理是否满意",
        "意见和建议",
        "回访方式",
        "质量等级",
        "补贴系数",
    ):
        assert name in header
    col = {h: i for i, h in enumerate(header)}
    assert [r[col["案号"]] for r in data] == ["(2026)绍援民1号", "(2026)绍援民2号"]
    first, second = data
    assert first[col["回访方式"]] == "电话" and first[col["回访人"]] == "赵"
    assert first[col["回访日期"]] == datetime(2026, 8, 10, 10, 0)  # local time
    assert first[col["结案时间"]] == datetime(2026, 8, 3)
    assert first[col["质量等级"]] == "优秀" and first[col["补贴系数"]] == 1.2
    assert (
        second[col["是否收取费用或索要钱物"]] == "是"
        and second[col["收费情况说明"]] == "收了 200 元"
    )
    assert second[col["对案件办理是否满意"]] == "不满意" and second[col["质量等级"]] is None
    assert second[col["受援人姓名"]] == "张三丰" and second[col["案件承办人"]] == "王律师"


@pytest.mark.parametrize(
    "params",
    [{"from": "2026-09-02", "to": "2026-09-01"}, {"from": "2026-02-30"}, {"to": "yesterday"}],
)
async def test_from_after_to_or_a_bad_date_is_422(shaoxing, params):
    resp = await download(shaoxing, "/api/v1/center/exports/callbacks.xlsx", **params)
    assert resp.status == 422
    err = (await resp.json())["error"]
    assert err["code"] == "validation" and set(err["fields"]) & {"from", "to"}
    assert (await shaoxing.get("/healthz")).status == 200


async def test_the_inverted_range_message_is_localized(shaoxing):
    resp = await shaoxing.get(
        "/api/v1/center/exports/complaints.xlsx",
        params={"from": "2026-09-02", "to": "2026-09-01"},
        headers={"X-Api-Key": shaoxing.key, "Accept-Language": "en"},
    )
    assert "must not be after" in (await resp.json())["error"]["fields"]["from"]


async def test_a_huge_range_streams_a_workbook_that_opens(shaoxing):
    for i in range(30):
        await callback(await case(f"C-{i}"), datetime(2026, 8, 1 + i % 28, 3, tzinfo=UTC))
    resp = await download(
        shaoxing,
        "/api/v1/center/exports/callbacks.xlsx",
        **{"from": "1900-03-01", "to": "2999-12-31"},
    )
    assert resp.status == 200
    body = await resp.read()
    assert int(resp.headers["Content-Length"]) == len(body)
    assert len(sheet_rows(body)) == 31


async def test_exports_need_the_key_and_stay_in_its_region(shaoxing):
    await callback(await case("X-1", region=OTHER), datetime(2026, 8, 5, tzinfo=UTC))
    assert (await shaoxing.get("/api/v1/center/exports/callbacks.xlsx")).status == 401
    resp = await download(
        shaoxing,
        "/api/v1/center/exports/callbacks.xlsx",
        **{"from": "2026-01-01", "to": "2026-12-31"},
    )
    assert len(sheet_rows(await resp.read())) == 1  # the header only


# --- applications and complaints -------------------------------------------------------------


async def test_application_ledger_masks_id_and_phone(shaoxing):
    agent = await Agent.create(name="周代办", region=REGION, village="东浦村")
    row = await Application.create(
        region=REGION,
        agent=agent,
        channel="api",
        applicant_name="钱老伯",
        applicant_id_number="11010519491231002X",
        applicant_id_index="x",
        applicant_phone="13900001111",
        applicant_address="东浦村 1 号",
        matter="labor_remuneration",
        facts="欠薪",
        hardship_basis="exempt",
        exempt_category="migrant_worker",
        urgent=True,
        received_at=datetime(2026, 8, 2, 1, tzinfo=UTC),
        decision_due=date(2026, 8, 9),
        materials_due=date(2026, 8, 17),
    )
    await Material.create(application=row, kind="id_document", status="missing")
    await Material.create(application=row, kind="matter_evidence", status="missing")
    await Material.create(application=row, kind="hardship_statement", status="provided")
    await Application.create(
        region=REGION,
        agent=agent,
        channel="chat",
        applicant_name="孙",
        applicant_id_number="x",
        applicant_id_index="z",
        applicant_phone="x",
        applicant_address="x",
        matter="hero_honor",
        facts="x",
        hardship_basis="not_required",
        received_at=datetime(2026, 8, 3, tzinfo=UTC),
        decision_due=date(2026, 8, 10),
    )
    await Application.create(
        region=REGION,
        agent=agent,
        channel="chat",
        applicant_name="旧",
        applicant_id_number="x",
        applicant_id_index="y",
        applicant_phone="x",
        applicant_address="x",
        matter="hero_honor",
        facts="x",
        hardship_basis="not_required",
        received_at=datetime(2026, 6, 1, tzinfo=UTC),
        decision_due=date(2026, 6, 8),
    )
    resp = await download(
        shaoxing,
        "/api/v1/center/exports/applications.xlsx",
        **{"from": "2026-08-01", "to": "2026-08-31"},
    )
    rows = sheet_rows(await resp.read())
    assert len(rows) == 3
    text = " ".join(str(v) for v in rows[1])
    assert "11010519491231002X" not in text and "13900001111" not in text
    assert "110105********002X" in text and "139****1111" in text
    assert "请求确认劳动关系或者支付劳动报酬" in text and "钱老伯" in text and "东浦村" in text
    col = {h: i for i, h in enumerate(rows[0])}
    # missing materials by name, urgency as 是/否 (a count and a blank said too little)
    assert rows[1][col["缺少材料"]] == "身份证明、与所申请法律援助事项有关的材料"
    assert rows[1][col["加急"]] == "是"
    assert rows[2][col["缺少材料"]] == "无" and rows[2][col["加急"]] == "否"
    assert rows[1][col["状态"]] == "待审查"


async def test_complaint_ledger(shaoxing):
    c = await case("(2026)绍援民9号")
    await Complaint.create(
        ticket="2608150001",
        region=REGION,
        text="律师收钱",
        about="handler",
        grounds="money",
        case=c,
        received_on=date(2026, 8, 15),
        accept_due=date(2026, 8, 22),
        status="accepted",
        accepted_on=date(2026, 8, 18),
        conclude_due=date(2026, 10, 17),
    )
    resp = await download(
        shaoxing,
        "/api/v1/center/exports/complaints.xlsx",
        **{"from": "2026-08-01", "to": "2026-08-31"},
    )
    rows = sheet_rows(await resp.read())
    col = {h: i for i, h in enumerate(rows[0])}
    [row] = rows[1:]
    assert row[col["投诉编号"]] == "2608150001" and row[col["案号"]] == "(2026)绍援民9号"
    assert row[col["投诉对象"]] == "承办人员" and row[col["投诉事由"]] == "收取或索要钱物"
    assert row[col["状态"]] == "已受理" and row[col["办结期限"]] == datetime(2026, 10, 17)


# --- disclosure ------------------------------------------------------------------------------


async def test_disclosure_counts_per_firm_per_handler_and_by_grade(shaoxing):
    cases = [
        await case("D1"),
        await case("D2", kind="criminal"),
        await case("D3", handler="王律师", org="鉴湖律师事务所"),
        await case("D4", closed=date(2026, 6, 30)),
    ]  # first half: not counted
    for c, grade in zip(cases, ("excellent", "good", "excellent", "fail"), strict=True):
        await QualityReview.create(
            case=c,
            region=REGION,
            score=90,
            grade=grade,
            policy="shaoxing",
            reviewed_at=datetime.now(UTC),
        )
    resp = await download(shaoxing, "/api/v1/center/exports/disclosure.xlsx", half="2026H2")
    assert resp.status == 200
    body = await resp.read()
    firms, handlers, grades = (sheet_rows(body, i) for i in range(3))
    assert firms[1:] == [
        (1, "越城律师事务所", 1, 1, 0, 2),
        (2, "鉴湖律师事务所", 1, 0, 0, 1),
        ("合计", None, 2, 1, 0, 3),
    ]  # busiest first
    assert handlers[1:] == [(1, "李律师", "越城律师事务所", 2), (2, "王律师", "鉴湖律师事务所", 1)]
    assert grades[0][2:] == ("优秀", "良好", "合格", "不合格", "合计")
    assert ("合计", None, 2, 1, 0, 0, 3) in grades
    bad = await download(shaoxing, "/api/v1/center/exports/disclosure.xlsx", half="2026H3")
    assert bad.status == 422


# --- the callback form -----------------------------------------------------------------------


async def test_callback_form_docx_is_the_filled_zhashui_form(shaoxing):
    c = await case("(2026)绍援民7号")
    await callback(
        c,
        datetime(2026, 8, 10, 2, tzinfo=UTC),
        negligent=True,
        negligent_details="三次打电话不接",
        satisfied=False,
        comments="希望快一点",
    )
    resp = await download(
        shaoxing, f"/api/v1/center/cases/{quote(c.case_no, safe='')}/callback-form.docx"
    )
    assert resp.status == 200 and resp.content_type.endswith("wordprocessingml.document")
    doc = Document(io.BytesIO(await resp.read()))
    text = "\n".join(
        [p.text for p in doc.paragraphs]
        + [cell.text for t in doc.tables for r in t.rows for cell in r.cells]
    )
    assert "法律援助案件电话回访登记表" in text and "(2026)绍援民7号" in text
    assert "对法律援助案件承办人提出监督意见" in text
    for expected in (
        "劳动报酬纠纷",
        "张三丰",
        "李律师（越城律师事务所）",
        "2026-08-03",
        "2026-08-10",
        "微信",
        "□是    ☑否",
        "☑有    □无",
        "三次打电话不接",
        "□满意    ☑不满意",
        "希望快一点",
    ):
        assert expected in text, expected


async def test_callback_form_is_blank_before_the_callback_and_404_for_unknown(shaoxing):
    c = await case("B-1")
    resp = await download(shaoxing, "/api/v1/center/cases/B-1/callback-form.docx")
    doc = Document(io.BytesIO(await resp.read()))
    cells = [cell.text for t in doc.tables for r in t.rows for cell in r.cells]
    assert "□是    □否    情况说明：" in cells and c.cause in cells
    assert (await download(shaoxing, "/api/v1/center/cases/nope/callback-form.docx")).status == 404
    await case("O-1", region=OTHER)
    assert (await download(shaoxing, "/api/v1/center/cases/O-1/callback-form.docx")).status == 404


async def test_openapi_lists_the_downloads(shaoxing):
    paths = (await (await shaoxing.get("/api/v1/openapi.json")).json())["paths"]
    for kind in ("applications", "callbacks", "complaints", "disclosure"):
        assert f"/api/v1/center/exports/{kind}.xlsx" in paths
    params = {
        p["name"] for p in paths["/api/v1/center/exports/callbacks.xlsx"]["get"]["parameters"]
    }
    assert params == {"from", "to"}
    assert "/api/v1/center/cases/{case_no}/callback-form.docx" in paths


@pytest.mark.parametrize(
    "path,params",
    [
        ("callbacks.xlsx", {"to": "0001-01-01"}),
        ("callbacks.xlsx", {"from": "9999-12-31"}),
        ("applications.xlsx", {"from": "0001-01-01", "to": "9999-12-31"}),
        ("disclosure.xlsx", {"half": "0000H1"}),
        ("disclosure.xlsx", {"half": "9999H2"}),
    ],
)
async def test_dates_at_the_ends_of_the_calendar_are_422_not_500(shaoxing, path, params):
    resp = await download(shaoxing, f"/api/v1/center/exports/{path}", **params)
    assert resp.status == 422
    assert (await resp.json())["error"]["fields"]
