"""Agent onboarding: invites (CLI), mini-program login, binding in the API and in chat."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.agent import Agent, AgentInvite, SessionToken
from tests.applications_support import agent_token, bearer, file, login, new_agent

REPO = Path(__file__).resolve().parent.parent


async def test_login_returns_an_opaque_token_and_hides_the_session_key(app, fake_wechat, caplog):
    caplog.set_level(logging.INFO)  # what production logs (DEBUG has the ORM's SQL parameters)
    fake_wechat.add_code("c1", openid="o-wxa-1", session_key="SECRET-SESSION-KEY")
    resp = await app.post("/api/v1/auth/wxa-login", json={"code": "c1"})
    assert resp.status == 200
    out = await resp.json()
    assert set(out) == {"token", "expires_at", "roles"} and out["roles"] == []
    expires = datetime.fromisoformat(out["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert "SECRET-SESSION-KEY" not in await resp.text()
    assert "SECRET-SESSION-KEY" not in caplog.text and "o-wxa-1" not in caplog.text
    row = await SessionToken.get(openid="o-wxa-1")
    assert row.token_hash != out["token"] and out["token"] not in row.token_hash


@pytest.mark.parametrize(
    ("errcode", "status", "code"),
    [
        (40029, 401, "invalid_code"),
        (45011, 429, "wechat_rate_limited"),
        (-1, 503, "wechat_unavailable"),
    ],
)
async def test_wechat_login_errors_map_to_clear_statuses(app, fake_wechat, errcode, status, code):
    fake_wechat.fail_next("sns/jscode2session", errcode)
    resp = await app.post("/api/v1/auth/wxa-login", json={"code": "whatever"})
    assert resp.status == status
    assert (await resp.json())["error"]["code"] == code
    assert await SessionToken.all().count() == 0


async def test_login_with_an_unknown_code_and_bad_bodies(app):
    assert (await app.post("/api/v1/auth/wxa-login", json={"code": "never-issued"})).status == 401
    assert (await app.post("/api/v1/auth/wxa-login", json={})).status == 422
    assert (await app.post("/api/v1/auth/wxa-login", data=b"[")).status == 400


async def test_bind_in_the_mini_program_then_roles_say_agent(app, fake_wechat):
    agent, code = await new_agent()
    token = (await login(app, fake_wechat, "o-wxa-7"))["token"]
    resp = await app.post(
        "/api/v1/agents/bind", json={"invite_code": code.lower()}, headers=bearer(token)
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["agent"]["village"] == "东浦村"
    assert (await login(app, fake_wechat, "o-wxa-7"))["roles"] == ["agent"]
    me = await (await app.get("/api/v1/agents/me", headers=bearer(token))).json()
    assert me["id"] == agent.id
    # replaying the same bind is harmless; someone else using the code is refused
    again = await app.post("/api/v1/agents/bind", json={"invite_code": code}, headers=bearer(token))
    assert again.status == 200
    intruder = (await login(app, fake_wechat, "o-wxa-8"))["token"]
    resp = await app.post(
        "/api/v1/agents/bind", json={"invite_code": code}, headers=bearer(intruder)
    )
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "invite_used"


async def test_bind_with_wrong_or_expired_code(app, fake_wechat):
    token = (await login(app, fake_wechat, "o-wxa-9"))["token"]
    resp = await app.post(
        "/api/v1/agents/bind", json={"invite_code": "ZZZZ2222"}, headers=bearer(token)
    )
    assert resp.status == 422 and "invite_code" in (await resp.json())["error"]["fields"]
    agent, code = await new_agent()
    await AgentInvite.filter(agent_id=agent.id).update(
        expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    resp = await app.post(
        "/api/v1/agents/bind",
        json={"invite_code": code},
        headers=bearer(token, **{"Accept-Language": "en"}),
    )
    assert resp.status == 422
    assert "expired" in (await resp.json())["error"]["message"]
    assert (await Agent.get(id=agent.id)).wxa_openid is None
    assert (await app.post("/api/v1/agents/bind", json={"invite_code": code})).status == 401


async def test_logout_revokes_and_disable_takes_effect_at_once(app, fake_wechat):
    token, agent = await agent_token(app, fake_wechat)
    assert (await file(app, token)).status == 201
    await Agent.filter(id=agent.id).update(active=False)
    assert (await file(app, token)).status == 403
    resp = await app.post("/api/v1/auth/logout", headers=bearer(token))
    assert resp.status == 200 and (await resp.json())["revoked"] is True
    assert (await app.get("/api/v1/agents/me", headers=bearer(token))).status == 401
    assert (await app.get("/api/v1/agents/me", headers=bearer("lat_forged"))).status == 401


async def test_bind_in_chat(app, make_user):
    agent, code = await new_agent()
    u = make_user("o-oa-agent-1")
    reply = await u.say("绑定 ABCDEFGH")
    assert "邀请码不对" in reply
    reply = await u.say(f"绑定 {code[:4]} {code[4:].lower()}")
    assert "绑定成功" in reply and "东浦村" in reply
    assert (await Agent.get(id=agent.id)).oa_openid == "o-oa-agent-1"
    other = make_user("o-oa-someone")
    assert "已被使用" in await other.say(f"绑定 {code}")


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BOT_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    env.pop("BOT_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_cli_invite_list_disable(tmp_path):
    out = _cli(
        tmp_path,
        "agents",
        "invite",
        "--region",
        "330602",
        "--name",
        "王五",
        "--village",
        "东浦村",
        "--kind",
        "consultant",
    )
    assert out.returncode == 0, out.stderr
    code = out.stdout.strip().splitlines()[-1]
    assert len(code) == 8 and code.isalnum() and code.isupper()
    listed = _cli(tmp_path, "agents", "list")
    assert "东浦村" in listed.stdout and "unbound" in listed.stdout and code not in listed.stdout
    assert _cli(tmp_path, "agents", "disable", "1").returncode == 0
    assert "disabled" in _cli(tmp_path, "agents", "list").stdout
    enabled = _cli(tmp_path, "agents", "enable", "1")
    assert enabled.returncode == 0 and "enabled agent #1" in enabled.stdout
    assert "\tactive\t" in _cli(tmp_path, "agents", "list").stdout
    assert _cli(tmp_path, "agents", "enable", "99").returncode == 1
    bad = _cli(tmp_path, "agents", "invite", "--region", "33", "--name", "x", "--village", "y")
    assert bad.returncode != 0 and "6-digit" in bad.stderr
