"""我的申请 and 补充材料 in chat: an agent sees what they filed, adds the materials the centre asked
for, and sees the decision — without the mini-program."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import scheduler
from bot.auth import create_center_key
from models.application import Application, Material
from models.outbox import OutboxMessage
from models.people import Staff
from tests.applications_support import REGION, new_agent, today
from tests.conftest import drain_outbox
from tests.test_applications_chat import bound_user, file_up_to_materials, image_xml
from tests.test_applications_jobs import at

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8


async def decide(app, app_id: int, decision: str, **body) -> None:
    key = {"X-Api-Key": await create_center_key(REGION)}
    resp = await app.post(
        f"/api/v1/center/applications/{app_id}/decision",
        headers=key,
        json={"decision": decision, **body},
    )
    assert resp.status == 200, await resp.text()


async def pushes(openid: str) -> list[str]:
    rows = await OutboxMessage.filter(recipient=openid).order_by("id")
    return [r.payload.get("text", "") for r in rows]


async def test_agent_files_is_asked_for_materials_adds_them_and_sees_the_decision(
    app, make_user, fake_wechat
):
    """The issue's "done when", in chat from start to end."""
    await Staff.create(name="李四", region=REGION, openid="o-staff-1")
    fake_wechat.add_media("m-evidence", JPEG)
    u, agent = await bound_user(make_user)
    await file_up_to_materials(u)
    assert "一次性告知" in await u.say("2")  # matter evidence owed (容缺)
    await u.say("1")  # acknowledged
    assert "#" in await u.say("1")  # submitted
    row = await Application.get(agent_id=agent.id)

    menu = await u.say("菜单")
    assert "2. 我的申请" in menu
    listing = await u.say("2")
    assert f"#{row.id} 李*" in listing and "待审查" in listing and "缺1项材料" in listing
    detail = await u.say("1")
    assert f"申请 #{row.id}" in detail and "暂缺材料：与所申请法律援助事项有关的材料" in detail
    assert f"补充材料 {row.id}" in detail and row.decision_due.isoformat() in detail

    await decide(app, row.id, "need_materials", reason="请补充儿子拒付赡养费的证据")
    told = await pushes(u.openid)
    assert any("需要补充材料" in p and f"补充材料 {row.id}" in p for p in told)

    prompt = await u.say(f"补充材料 {row.id}")
    assert "与所申请法律援助事项有关的材料" in prompt and "请补充儿子拒付赡养费的证据" in prompt
    assert "完成" in prompt
    assert "已收到第1张" in await u.send(image_xml(u.openid, "m-evidence"))
    assert "还没有收到" not in (done := await u.say("完成"))
    assert "已为申请" in done and "已经交齐" in done

    materials = await Material.filter(application_id=row.id).order_by("id")
    evidence = [m for m in materials if m.kind == "matter_evidence"]
    assert {m.status for m in evidence} == {"provided"}
    photo = next(m for m in evidence if m.source == "chat")
    assert photo.wechat_media_id == "m-evidence"
    assert any("代办人补充了材料" in p for p in await pushes("o-staff-1"))

    await drain_outbox(app)  # the photo is fetched from WeChat for the centre
    key = {"X-Api-Key": await create_center_key(REGION)}
    listed = await (await app.get("/api/v1/center/applications", headers=key)).json()
    view = next(i for i in listed["items"] if i["id"] == row.id)
    chat = [m for m in view["materials"] if m["source"] == "chat"]
    assert [m["kind"] for m in chat] == ["matter_evidence"] and chat[0]["file_url"]
    assert view["missing_materials"] == []

    # nothing is owed any more: the materials-due reminder stays silent
    await scheduler.tick(app.app, at(12))
    assert await OutboxMessage.filter(kind="reminder").count() == 0

    await decide(app, row.id, "granted", case_no="绍援民〔2026〕15号")
    detail = await u.say(f"申请 {row.id}")
    assert "给予法律援助" in detail and "绍援民〔2026〕15号" in detail
    assert "补充材料" not in detail.split("\n")[-1]


async def _rows(agent, n: int, **kw) -> list[Application]:
    rows = []
    for i in range(n):
        rows.append(
            await Application.create(
                region=REGION,
                agent=agent,
                channel="api",
                applicant_name=f"王{i}大",
                applicant_id_number="11010519491231002X",
                applicant_id_index=f"i{i}",
                applicant_phone="13900001111",
                applicant_address="东浦村",
                matter="support_payment",
                facts="儿子不给赡养费",
                hardship_basis="pledge",
                received_at=datetime.now(UTC),
                decision_due=today() + timedelta(days=7),
                **kw,
            )
        )
    return rows


async def test_my_applications_newest_first_a_page_at_a_time_and_only_mine(app, make_user):
    u, agent = await bound_user(make_user)
    mine = await _rows(agent, 7)
    other, _ = await new_agent(name="赵六")
    [theirs] = await _rows(other, 1)
    page1 = await u.say("我的申请")
    assert "第1页，共7份" in page1
    ids = [r.id for r in reversed(mine)]
    for i, app_id in enumerate(ids[:5], start=1):
        assert f"{i}. #{app_id} " in page1
    assert "6. 下一页" in page1 and f"#{ids[5]} " not in page1
    page2 = await u.say("6")
    assert "第2页" in page2 and f"1. #{ids[5]} " in page2 and f"2. #{ids[6]} " in page2
    assert "下一页" not in page2
    assert f"申请 #{ids[6]}" in await u.say("2")
    assert "没有找到这份申请" in await u.say(f"申请 {theirs.id}")  # another agent's
    assert "没有找到这份申请" in await u.say(f"补充材料 {theirs.id}")


async def test_not_an_agent_sees_no_such_entry(app, make_user):
    u = make_user("o-beneficiary")
    menu = await u.say("菜单")
    assert "我的申请" not in menu and "1. 代办法律援助申请" in menu
    assert "只有已绑定的代办人" in await u.say("申请 3")
    assert "只有已绑定的代办人" in await u.say("补充材料 3")


async def test_supplement_which_items_and_the_rules(app, make_user, fake_wechat):
    u, agent = await bound_user(make_user)
    owing, refused, settled = await _rows(agent, 3, materials_due=today() + timedelta(days=10))
    for kind in ("id_document", "hardship_statement", "matter_evidence"):
        await Material.create(application=owing, kind=kind, status="missing")
    await Application.filter(id=refused.id).update(status="refused", decision_reason="不符合")
    # the one application owing anything is found without its number
    prompt = await u.say("补充材料")
    assert f"#{owing.id}" in prompt and "1. 身份证明" in prompt and "3. 与所申请" in prompt
    assert "请发送材料照片" in await u.say("你好")
    assert "还没有收到照片" in await u.say("完成")
    await u.send(image_xml(u.openid, "m-1"))
    assert "已收到第2张" in await u.send(image_xml(u.openid, "m-2"))
    ask = await u.say("完成")
    assert "补齐了哪几项" in ask
    assert "1到3" in await u.say("4")
    done = await u.say("1 3")
    assert "仍缺：经济困难状况说明" in done
    owed = await Material.filter(application_id=owing.id, status="missing").values_list(
        "kind", flat=True
    )
    assert owed == ["hardship_statement"]
    photos = await Material.filter(application_id=owing.id, source="chat").values_list(
        "kind", flat=True
    )
    assert photos == ["other", "other"]  # two items covered: the photos are not told apart
    assert "不能再补充材料" in await u.say(f"补充材料 {refused.id}")
    assert "没有需要补充的材料" in await u.say(f"补充材料 {settled.id}")
    assert "没有找到" in await u.say("补充材料 999999")
    # inside an open form the command answers without throwing the form away
    await u.say("菜单")
    await u.say("1")
    await u.say("1")
    assert "先完成或者取消" in await u.say(f"补充材料 {owing.id}")
    detail = await u.say(f"申请 {owing.id}")
    assert f"申请 #{owing.id}" in detail and "事项" in detail  # and the form's step again
    from models.conversation import Conversation

    assert (await Conversation.get(openid=u.openid)).flow == "agent_filing"
