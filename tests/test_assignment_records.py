"""Records: the applications ledger shows each application's handler, organisation, priority and
assignment date; the disclosure workbook's 附件5/6 count cases that started here under the pool's
names, and a 指派明细 sheet lists the period's assignments."""

from __future__ import annotations

import io
from datetime import timedelta

from openpyxl import load_workbook

from models.calendar import local_today
from tests.applications_support import REGION
from tests.assignment_support import Centre, filed, new_filer
from tests.test_cases_support import case_body


def sheets(body: bytes) -> dict[str, list[tuple]]:
    wb = load_workbook(io.BytesIO(body))
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


async def test_ledger_and_disclosure_show_the_assignment(app, fake_wechat):
    c = await Centre.of(app)
    org = await c.org("甲律师事务所")
    await c.handler(org, "李一")
    token, _ = await new_filer(app, fake_wechat)
    app_id = await filed(app, token)
    await c.decide(app_id, case_no="绍援2026-21")
    today = local_today()
    resp = await app.get(
        "/api/v1/center/exports/applications.xlsx",
        headers=c.h,
        params={"from": today.isoformat(), "to": today.isoformat()},
    )
    assert resp.status == 200
    (ledger,) = sheets(await resp.read()).values()
    header, row = ledger[0], ledger[1]
    assert header[-4:] == ("承办人员", "承办机构", "指派方式", "指派日期")
    assert row[-4:-1] == ("李一", "甲律师事务所", "轮候") and row[-1] is not None

    # the centre's system sends the case with its own spelling of the handler
    body = case_body(
        region=REGION,
        application_id=app_id,
        status="closed",
        closed_on=(today - timedelta(days=1)).isoformat(),
        handler={"name": "李一律师", "org": "甲所"},
    )
    assert (await app.put("/api/v1/center/cases/绍援2026-21", json=body, headers=c.h)).status == 200
    half = f"{today.year}H{1 if today.month <= 6 else 2}"
    if (today - timedelta(days=1)).month in (6, 12) and today.month in (1, 7):
        return  # closed in the other half-year: nothing to count on New Year's or 1 July
    resp = await app.get(
        "/api/v1/center/exports/disclosure.xlsx", headers=c.h, params={"half": half}
    )
    assert resp.status == 200
    book = sheets(await resp.read())
    assert book["附件5 各承办机构办案数"][1][1] == "甲律师事务所"
    assert book["附件6 各承办人员办案数"][1][1:] == ("李一", "甲律师事务所", 1)
    detail = book["指派明细"]
    assert detail[1][1:6] == (app_id, "绍援2026-21", "李一", "甲律师事务所", "轮候")
