"""The staff console in a real browser: Debian's Chromium driven by Playwright, as staff use it.

Each test walks one path a staff member takes, finding things by what a person reads (roles,
labels, texts), and keeps a 360 px (a phone in WeChat) and a 1280 px (a desk) screenshot of
every page it passes under screenshots/ (BOT_SCREENSHOT_DIR), for review. `playwright install`
is not needed: the system browser at /usr/bin/chromium (apt-get install chromium
chromium-driver; .ci/run does it) is used. Without a browser these tests skip, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import create_app
from bot.auth import create_center_key
from models.application import Application
from models.complaint import Complaint
from models.evaluation import EvaluationScore, Expert
from models.outbox import OutboxMessage
from tests.applications_support import agent_token, file
from tests.console_support import scan
from tests.test_callback_api import closed_case
from tests.test_cases_support import add_staff, center_key, tick
from tests.test_evaluations import REGION as EVAL_REGION
from tests.test_evaluations import case_url as eval_case_url
from tests.test_evaluations import draw_round
from tests.test_evaluations import seed as seed_evaluations
from tests.test_subsidies import FEES as SUB_FEES
from tests.test_subsidies import REGION as SUB_REGION
from tests.test_subsidies import closed_case as sub_case

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright not installed")

CHROMIUM = os.environ.get("BOT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(
    os.environ.get("BOT_SCREENSHOT_DIR", Path(__file__).resolve().parent.parent / "screenshots")
)
WIDTHS = {"phone": (360, 740), "desk": (1280, 900)}

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() or shutil.which("chromium")),
    reason=f"no Chromium at {CHROMIUM}: apt-get install chromium chromium-driver "
    "(or set BOT_CHROMIUM)",
)


@pytest.fixture
async def browser() -> AsyncIterator:
    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=ARGS,
        )
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def page(browser):
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    pg = await context.new_page()
    yield pg
    await context.close()


async def shoot(page, name: str) -> None:
    """Keep the page as a phone and a desk show it."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (w, h) in WIDTHS.items():
        await page.set_viewport_size({"width": w, "height": h})
        await page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def scan_login(app, page, openid: str, start: str = "/console/") -> None:
    """Open a console page, get the login page, scan its code (simulated), land back."""
    base = str(app.make_url("")).rstrip("/")
    await page.goto(base + start)
    scene = (await page.locator("#login-scene").inner_text()).strip()
    assert scene.startswith("login:")
    await shoot(page, "login")
    assert "已登录工作台" in await scan(app, openid, scene)
    await page.wait_for_url(base + start, timeout=15000)


async def test_scan_login_today_and_decide_an_application(app, page, fake_wechat):
    expect = playwright_api.expect
    token, agent = await agent_token(app, fake_wechat)
    app_id = (await (await file(app, token)).json())["id"]
    await add_staff("赵六", "o-staff-1", region=agent.region)
    await scan_login(app, page, "o-staff-1")
    await expect(page.get_by_role("heading", name="近 24 小时")).to_be_visible()
    tile = page.get_by_role("link", name="新申请").first
    await expect(tile).to_contain_text("1")
    await expect(page.get_by_role("img", name="回访率（虚线为目标）")).to_be_visible()
    await shoot(page, "today")

    await page.get_by_role("navigation", name="栏目").get_by_role("link", name="申请").click()
    await expect(page.get_by_role("heading", name="申请")).to_be_visible()
    await shoot(page, "applications")
    await page.get_by_role("link", name=f"#{app_id}").click()
    await expect(page.get_by_text("138****5678")).to_be_visible()
    await shoot(page, "application")
    await page.get_by_role("button", name="显示完整电话").click()
    await expect(page.get_by_role("link", name="13812345678")).to_be_visible()
    await page.get_by_label("案号").fill("越法援2026-7")
    await page.get_by_role("button", name="给予法律援助").click()
    await expect(page.get_by_role("status")).to_contain_text("已决定")
    await shoot(page, "application-decided")
    row = await Application.get(id=app_id)
    assert row.status == "granted" and row.case_no == "越法援2026-7"
    assert await OutboxMessage.filter(kind__contains="decision").exists()  # the agent is told


async def test_record_a_phone_callback(app, page):
    expect = playwright_api.expect
    key = await center_key()
    cb = await closed_case(app, key, case_no="柞法援民2026-9", days_ago=9)
    await tick(app, datetime.now(UTC))
    await add_staff("赵六", "o-staff-1")
    await scan_login(app, page, "o-staff-1", "/console/callbacks")
    await shoot(page, "callbacks")
    await page.get_by_role("link", name="柞法援民2026-9").click()
    await page.get_by_role("button", name="显示电话并拨打").click()
    call = page.get_by_role("link", name="拨打 13812345678")
    await expect(call).to_have_attribute("href", "tel:13812345678")
    await shoot(page, "callback")
    await page.get_by_role("radiogroup", name="是否收取了您的费用").get_by_label("否").check()
    await page.get_by_role("radiogroup", name="压案不办").get_by_label("无").check()
    await (
        page.get_by_role("radiogroup", name="您对案件办理是否满意")
        .get_by_label("满意", exact=True)
        .check()
    )
    await page.get_by_label("4. 您对法律援助工作的意见和建议").fill("律师很负责")
    await page.get_by_role("button", name="保存回访").click()
    await expect(page.get_by_role("status")).to_contain_text("回访已保存")
    await shoot(page, "callback-recorded")
    items = (await (await app.get("/api/v1/center/callbacks", headers=key)).json())["items"]
    [item] = [i for i in items if i["id"] == cb.id]
    assert item["channel"] == "phone" and item["satisfied"] is True
    assert item["comments"] == "律师很负责" and item["called_by"] == "赵六"


async def test_accept_a_complaint(app, page, user):
    expect = playwright_api.expect
    await add_staff("赵六", "o-staff-1")
    await user.say("投诉 承办律师三个月没有联系我，也不接电话")
    c = await Complaint.get(openid=user.openid)
    await scan_login(app, page, "o-staff-1", "/console/complaints")
    await shoot(page, "complaints")
    await page.get_by_role("link", name=c.ticket).click()
    await expect(page.get_by_text("投诉人将收到").first).to_be_visible()
    await shoot(page, "complaint")
    await page.get_by_role("button", name="受理", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("已受理")
    assert (await Complaint.get(id=c.id)).status == "accepted"
    assert await OutboxMessage.filter(recipient=user.openid, kind="complaint").exists()


async def test_the_other_pages_render_on_a_phone_and_a_desk(app, page, user):
    expect = playwright_api.expect
    await add_staff("孙八", "o-boss", supervisor=True)
    await user.say("人工")
    await scan_login(app, page, "o-boss")
    for name, path, heading in (
        ("handoffs", "/console/handoffs", "人工服务"),
        ("records", "/console/records", "台账与推送"),
        ("staff", "/console/staff", "人员与凭据"),
        ("audit", "/console/audit", "审计日志"),
    ):
        await page.goto(str(app.make_url(path)))
        await expect(page.get_by_role("heading", name=heading)).to_be_visible()
        await shoot(page, name)
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", name="Log in to the console")).to_be_visible()


async def test_an_expert_scans_in_and_scores_a_case_on_a_phone(
    app, page, aiohttp_client, settings, tmp_path
):
    """An evaluation expert in a 360 px browser: the scan, their cases, the score sheet with
    the policy's items and its running total, the score in; a second tab's submit is told
    the score is already in (the API's 409)."""
    expect = playwright_api.expect
    policy = tmp_path / "wanzhou-items.json"
    items = [["及时有效会见受援人", 30], ["法律文书质量", 40], ["办案态度", 30]]
    policy.write_text(
        json.dumps({"base": "wanzhou", "evaluation_items": {"civil_admin": items}}), "utf-8"
    )
    client = await aiohttp_client(create_app(settings.model_copy(update={"policy": str(policy)})))
    await seed_evaluations(n_civil=4, n_criminal=0)
    rnd = await draw_round(client, await create_center_key(EVAL_REGION), method="all")
    case = rnd["cases"][0]
    await Expert.filter(id=case["pair"]["member"]["id"]).update(openid="o-expert-1")
    phone = {"width": 360, "height": 740}

    await scan_login(client, page, "o-expert-1", "/console/expert")
    await page.set_viewport_size(phone)
    await expect(page.get_by_role("heading", name="我的评估")).to_be_visible()
    await expect(page.get_by_text("待您评分").first).to_be_visible()
    await shoot(page, "expert-cases")
    await page.set_viewport_size(phone)
    await page.get_by_role("link", name=case["case_no"]).click()
    await expect(page.get_by_role("heading", name=case["case_no"])).to_be_visible()
    other_tab = await page.context.new_page()  # the same case left open in another tab
    await other_tab.set_viewport_size(phone)
    await other_tab.goto(page.url)

    await page.get_by_label("及时有效会见受援人（满分 30）").fill("28")
    await page.get_by_label("法律文书质量（满分 40）").fill("35.5")
    await page.get_by_label("办案态度（满分 30）").fill("24")
    await expect(page.locator("output")).to_have_text("87.5")  # the running total
    await page.get_by_label("评分说明（选填）").fill("会见及时，文书规范")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways
    await page.screenshot(path=str(SHOTS / "expert-score-sheet-phone.png"), full_page=True)
    await page.get_by_role("button", name="提交评分").click()
    await expect(page.get_by_role("status")).to_contain_text("评分已提交")
    await expect(page.get_by_text("您的评分：87.5 分（良好）")).to_be_visible()
    await expect(page.get_by_text("另一位专家：尚未评分")).to_be_visible()
    await shoot(page, "expert-case-scored")
    [row] = await EvaluationScore.all()
    assert float(row.score) == 87.5 and row.items["法律文书质量"] == 35.5

    for label, value in (("及时有效会见受援人", "20"), ("法律文书质量", "20"), ("办案态度", "20")):
        await other_tab.get_by_label(f"{label}（满分").fill(value)
    await other_tab.get_by_role("button", name="提交评分").click()
    await expect(other_tab.get_by_role("alert")).to_contain_text("您已经为本案评过分")
    assert await EvaluationScore.all().count() == 1


async def test_the_evaluation_report_on_a_phone_and_a_desk(app, page):
    """Staff open a round's report from the menu: grades per group, the objection's outcome."""
    expect = playwright_api.expect
    await seed_evaluations(n_civil=3, n_criminal=2)
    key = await create_center_key(EVAL_REGION)
    headers = {"X-Api-Key": key}
    rnd = await draw_round(app, key, method="all")
    for c in rnd["cases"]:
        for who in ("leader", "member"):
            body = {"expert_id": c["pair"][who]["id"], "score": 80 if who == "leader" else 92}
            await app.post(
                eval_case_url(rnd["id"], c["case_no"], "/scores"), json=body, headers=headers
            )
        await app.post(  # 80 and 92 are good and excellent: the leader decides
            eval_case_url(rnd["id"], c["case_no"], "/decision"),
            json={"expert_id": c["pair"]["leader"]["id"], "grade": "good"},
            headers=headers,
        )
    await app.post(f"/api/v1/center/evaluations/{rnd['id']}/publish", headers=headers)
    objected = rnd["cases"][0]["case_no"]
    await app.post(
        eval_case_url(rnd["id"], objected, "/objection"),
        json={"text": "评分时未看到补充的调查笔录"},
        headers=headers,
    )
    await scan_login(app, page, "o-centre-1")
    await page.get_by_role("navigation", name="栏目").get_by_role("link", name="评估").click()
    await expect(page.get_by_role("heading", name="质量评估")).to_be_visible()
    await page.get_by_role("link", name=f"第 {rnd['id']} 轮评估").click()
    await expect(page.get_by_role("heading", name="各组等次统计")).to_be_visible()
    await expect(page.get_by_text("评分时未看到补充的调查笔录")).to_be_visible()
    await expect(page.get_by_text("待复评").first).to_be_visible()
    link = page.get_by_role("link", name="下载评估报告（xlsx）")
    await expect(link).to_have_attribute("href", f"/console/evaluations/{rnd['id']}/report.xlsx")
    await shoot(page, "evaluation-report")


async def test_long_unbroken_text_never_widens_a_phone_page(app, page):
    """An expert's note with a long URL and an objection of 300 "x": at 360 px the pages do
    not scroll sideways, and the report's case table keeps its status on one line (the
    table scrolls inside its own box)."""
    expect = playwright_api.expect
    await seed_evaluations(n_civil=3, n_criminal=0)
    key = await create_center_key(EVAL_REGION)
    headers = {"X-Api-Key": key}
    rnd = await draw_round(app, key, method="all")
    url = "https://example.org/" + "a-very-long-path-segment-" * 12 + "?q=" + "0" * 80
    for c in rnd["cases"]:
        for who in ("leader", "member"):
            body = {"expert_id": c["pair"][who]["id"], "score": 85, "notes": f"见 {url}"}
            await app.post(
                eval_case_url(rnd["id"], c["case_no"], "/scores"), json=body, headers=headers
            )
    await app.post(f"/api/v1/center/evaluations/{rnd['id']}/publish", headers=headers)
    objected = rnd["cases"][0]
    await app.post(
        eval_case_url(rnd["id"], objected["case_no"], "/objection"),
        json={"text": "x" * 300},
        headers=headers,
    )
    await Expert.filter(id=objected["pair"]["member"]["id"]).update(openid="o-centre-1")
    await scan_login(app, page, "o-centre-1")
    await page.set_viewport_size({"width": 360, "height": 740})
    base = str(app.make_url("")).rstrip("/")

    await page.goto(f"{base}/console/evaluations/{rnd['id']}")
    await expect(page.get_by_text("x" * 300)).to_be_visible()
    await page.get_by_text("评估案件（3 件）").click()  # open the cases' table
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    lines = await page.evaluate(  # the lines each short cell's text takes
        """[...document.querySelectorAll('details td.short, th[scope=row]')].map(td => {
             const r = document.createRange(); r.selectNodeContents(td);
             return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; })"""
    )
    assert lines and max(lines) == 1  # 状态 and 民事行政组 on one line, not a character a line
    await page.screenshot(path=str(SHOTS / "long-text-report-phone.png"), full_page=True)

    await page.goto(f"{base}/console/expert")
    await page.get_by_role("link", name=objected["case_no"]).click()
    await expect(page.get_by_text(url).first).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.screenshot(path=str(SHOTS / "long-text-expert-case-phone.png"), full_page=True)


async def test_the_bureau_reviews_an_objection_on_a_phone(app, page):
    """The bureau's member opens the objection from the menu at 360 px, reads the reason
    and records the review group's decision, without the page scrolling sideways."""
    expect = playwright_api.expect
    await seed_evaluations(n_civil=2, n_criminal=0)
    key = await create_center_key(EVAL_REGION)
    headers = {"X-Api-Key": key}
    rnd = await draw_round(app, key, method="all")
    for c in rnd["cases"]:
        for who in ("leader", "member"):
            body = {"expert_id": c["pair"][who]["id"], "score": 55}
            await app.post(
                eval_case_url(rnd["id"], c["case_no"], "/scores"), json=body, headers=headers
            )
    await app.post(f"/api/v1/center/evaluations/{rnd['id']}/publish", headers=headers)
    objected = rnd["cases"][0]["case_no"]
    await app.post(
        eval_case_url(rnd["id"], objected, "/objection"),
        json={"text": "补充的调查笔录未被采纳：" + "y" * 150},
        headers=headers,
    )
    await scan_login(app, page, "o-bureau-1", "/console/objections")
    await page.set_viewport_size({"width": 360, "height": 740})
    await expect(page.get_by_role("heading", name="评估等次异议复评")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.screenshot(path=str(SHOTS / "objections-phone.png"), full_page=True)
    await page.get_by_role("link", name=objected).click()
    await expect(page.get_by_text("补充的调查笔录未被采纳").first).to_be_visible()
    await (
        page.get_by_role("radiogroup", name="异议是否成立").get_by_label("成立，改为新等次").check()
    )
    await page.get_by_label("新等次（异议成立时）").select_option(label="合格")
    await page.get_by_label("复评组成员").fill("复评组甲乙丙")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.screenshot(path=str(SHOTS / "objection-review-phone.png"), full_page=True)
    await page.get_by_role("button", name="提交复评结果").click()
    await expect(page.get_by_role("status")).to_contain_text("复评结果已记录")
    await shoot(page, "objection-reviewed")


async def test_subsidies_on_a_phone(app, page, aiohttp_client, settings, tmp_path):
    """Staff open 补贴 at 360 px, filter the payable ones and mark one paid."""
    expect = playwright_api.expect
    policy = tmp_path / "shaoxing-fees.json"
    policy.write_text(json.dumps({"base": "shaoxing", "subsidy_base_fees": SUB_FEES}), "utf-8")
    client = await aiohttp_client(create_app(settings.model_copy(update={"policy": str(policy)})))
    await sub_case("(2026)越法援民" + "9" * 30 + "号", grade="excellent", coefficient=1.2)
    await sub_case("A3")
    await add_staff("赵六", "o-staff-1", region=SUB_REGION)
    await scan_login(client, page, "o-staff-1", "/console/subsidies?from=2026-07-01")
    await page.set_viewport_size({"width": 360, "height": 740})
    await expect(page.get_by_role("heading", name="办案补贴")).to_be_visible()
    await page.get_by_label("状态").select_option(label="可发放")
    await page.get_by_role("button", name="查看").click()
    await expect(page.get_by_text("核定 3600.00 元")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.locator("summary", has_text="标记已发放").click()
    await page.screenshot(path=str(SHOTS / "subsidies-phone.png"), full_page=True)
    await page.get_by_role("button", name="标记已发放").click()
    await expect(page.get_by_role("status")).to_contain_text("已标记为已发放")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await shoot(page, "subsidies")
