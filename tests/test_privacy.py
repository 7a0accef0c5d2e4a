"""A whole day of use, then: no ID number or phone in any log line, push, or error answer.

The scenario files an application (API), decides it, closes a case, runs its callback survey
in chat, files a complaint and drives the outbox and the scheduler — every path that touches
personal data — while capturing every log record at DEBUG level.
"""

from __future__ import annotations

import json
import logging

from bot import scheduler
from bot.logs import JsonFormatter
from models.outbox import OutboxMessage
from models.people import Staff
from tests.applications_support import ADULT_ID, agent_token, bearer, body, file
from tests.conftest import drain_outbox
from tests.test_cases_support import ID_NUMBER, PHONE, center_key, invite, put_case

APPLICANT_PHONE = "13912345678"
SECRETS = (ADULT_ID, ID_NUMBER, PHONE, APPLICANT_PHONE)


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text or s.lower() in text]


async def test_personal_data_never_reaches_logs_pushes_or_errors(app, user, fake_wechat, caplog):
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    await Staff.create(name="值班员", region="611026", openid="o-duty", supervisor=True)
    await Staff.create(name="审查员", region="330602", openid="o-review", supervisor=True)

    # an agent files an application with an ID number and a phone, and gets one wrong
    token, _ = await agent_token(app, fake_wechat)
    resp = await file(app, token, body(**{"applicant.phone": APPLICANT_PHONE}))
    assert resp.status == 201, await resp.text()
    app_id = (await resp.json())["id"]
    bad = await file(
        app,
        token,
        body(
            **{"applicant.id_number": ADULT_ID[:-1] + "0", "applicant.phone": APPLICANT_PHONE + "9"}
        ),
    )
    assert bad.status == 422
    errors.append(await bad.text())
    assert not leaks(
        await (await app.get(f"/api/v1/applications/{app_id}", headers=bearer(token))).text()
    )

    # the centre sees full data (its own API), decides; the agent is told
    key = {"X-Api-Key": await center_key_for("330602")}
    listed = await app.get("/api/v1/center/applications", headers=key)
    assert ADULT_ID in await listed.text()  # full values only here, for the centre
    resp = await app.post(
        f"/api/v1/center/applications/{app_id}/decision",
        json={"decision": "granted", "reason": "", "case_no": "绍法援2026-1"},
        headers=key,
    )
    assert resp.status in (200, 201), await resp.text()

    # a case closes; the beneficiary scans, answers the survey with a bad answer, complains
    ckey = await center_key()
    await put_case(app, ckey, expect=200)
    scene = (await invite(app, ckey))["scene"]
    await user.event("SCAN", scene)
    for answer in ("是", "收了两百元", "有", "一直拖着", "2", "希望改进", "1"):
        await user.say(answer)
    await user.say("投诉 承办律师态度很差，电话" + PHONE)
    errors.append(
        await (
            await app.put(
                "/api/v1/center/cases/x",
                json={
                    "beneficiary": {
                        "name": "王",
                        "phone": "12345",
                        "id_number": ID_NUMBER[:-1] + "1",
                    }
                },
                headers=ckey,
            )
        ).text()
    )

    await scheduler.tick(app.app)
    await drain_outbox(app)

    for text in errors:
        assert not leaks(text), text
    as_json = JsonFormatter()
    for record in caplog.records:
        line = record.getMessage() + (record.exc_text or "")
        assert not leaks(line), (record.name, line[:300])
        assert not leaks(as_json.format(record)), record.name  # BOT_LOG_FORMAT=json too
    access = [r.getMessage() for r in caplog.records if r.name == "bot.access"]
    assert any(line.startswith("POST /wechat 200 ") for line in access)
    assert any("/api/v1/center/applications/{id}/decision" in line for line in access)
    for line in access:  # route patterns only: no ids, openids, signatures or query strings
        assert "?" not in line and "signature" not in line and "o-" not in line, line
        assert not any(part.isdigit() for part in line.split()[1].split("/")), line
    for row in await OutboxMessage.all():
        payload = json.dumps(row.payload, ensure_ascii=False)
        assert not leaks(payload), payload
    for call in fake_wechat.calls:
        sent = json.dumps(call.body, ensure_ascii=False) if call.body else ""
        assert not leaks(sent), sent


async def center_key_for(region: str) -> str:
    from bot.auth import create_center_key

    return await create_center_key(region)
