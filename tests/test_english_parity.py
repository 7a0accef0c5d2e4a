"""Both languages, properly (issue 11, item 11): `complaint <text>` in English, English
punctuation in English replies, no English codes inside Chinese errors, no "案号：-"."""

from __future__ import annotations

import re

import pytest

from bot.auth import create_center_key
from models.agent import Agent
from models.complaint import Complaint
from tests.applications_support import REGION, agent_token, file
from tests.conftest import drain_outbox
from tests.test_callback_survey import answer_all, scan, scene  # noqa: F401  (fixture)
from tests.test_cases_support import center_key

CJK_PUNCT = re.compile(r"[（），。：！？、「」【】“”；]")


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"default_region": "611026"})


async def test_complaint_text_in_english_files_a_complaint(user):
    await user.say("English")
    reply = await user.say("complaint The lawyer asked me for money and never calls back")
    c = await Complaint.get(openid=user.openid)
    assert c.ticket in reply and c.text.startswith("The lawyer") and not CJK_PUNCT.search(reply)
    status = await user.say(f"complaint status {c.ticket}")
    assert c.ticket in status and not CJK_PUNCT.search(status)


async def test_english_chat_replies_use_english_punctuation(user):
    await user.say("English")
    for text in (
        "menu",
        "hello",
        "I want to apply for legal aid",
        "help",
        "4",
        "9",
        "list",
        "4",
        "3",
        "The staff were rude to me",
        "1",
        "maybe",
        "menu",
        "4",
        "continue",
        "cancel",
    ):
        reply = await user.say(text)
        assert reply and not CJK_PUNCT.search(reply), (text, reply)


async def test_english_callback_summary_has_english_brackets(user, scene):
    await user.say("English")
    await scan(user, scene)
    summary = await answer_all(user, "1", "they asked for 500 yuan", "2", "1", "none")
    assert "(they asked for 500 yuan)" in summary and not CJK_PUNCT.search(summary)


async def test_chinese_enum_errors_show_labels_not_codes(app):
    key = {"X-Api-Key": await create_center_key(REGION)}
    bad = await app.get("/api/v1/center/applications?status=maybe", headers=key)
    message = (await bad.json())["error"]["fields"]["status"]
    assert "给予法律援助" in message and not re.search("[A-Za-z]", message)
    bad = await app.get(
        "/api/v1/center/applications?status=maybe", headers={**key, "Accept-Language": "en"}
    )
    assert "granted" in (await bad.json())["error"]["fields"]["status"]


async def test_a_complaint_transition_error_names_states_in_chinese(app, user):
    await user.say("投诉 承办律师三个月没有联系我，也不接电话")
    ticket = (await Complaint.get(openid=user.openid)).ticket
    key = await center_key()
    url = f"/api/v1/center/complaints/{ticket}"
    await app.patch(url, json={"status": "not_accepted", "reason": "超过三年投诉期限"}, headers=key)
    resp = await app.patch(url, json={"status": "accepted"}, headers=key)
    message = (await resp.json())["error"]["message"]
    assert resp.status == 409 and "不予受理" in message and not re.search("[A-Za-z]", message)


async def test_a_grant_without_case_no_says_no_case_no(app, fake_wechat):
    center = {"X-Api-Key": await create_center_key(REGION)}
    token, agent = await agent_token(app, fake_wechat)
    app_id = (await (await file(app, token)).json())["id"]
    await Agent.filter(id=agent.id).update(oa_openid="o-oa-agent-1")
    resp = await app.post(
        f"/api/v1/center/applications/{app_id}/decision",
        headers=center,
        json={"decision": "granted"},
    )
    assert resp.status == 200
    await drain_outbox(app)
    texts = [
        b["text"]["content"]
        for b in fake_wechat.bodies("message/custom/send")
        if b["touser"] == "o-oa-agent-1"
    ]  # the decision, then the letter's link
    assert "给予法律援助" in texts[0] and "案号" not in texts[0]
    assert not any("案号：-" in text for text in texts)


async def test_english_users_get_english_command_words(user, scene):
    from models.handoff import Handoff

    await user.say("English")
    filed = await user.say("complaint Nobody from the centre ever called me back")
    assert "complaint status" in filed and "查询投诉" not in filed
    opened = await user.say("person")
    assert 'Reply "end"' in opened and "结束" not in opened
    assert "ended" in (await user.say("End")).lower()
    assert (await Handoff.get()).status == "closed"
    await scan(user, scene)
    await user.say("cancel")
    assert "Question 1" in await user.say("survey")  # what the English invitation says
