"""Service organisations and the handler pool: CLI, centre API, and binding in chat."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.pool import Handler, PoolEvent
from tests.test_cases_support import OTHER_REGION, REGION, center_key

REPO = Path(__file__).resolve().parents[1]


async def add_org(client, key, name="正义律师事务所", kind="firm", **extra) -> dict:
    resp = await client.post(
        "/api/v1/center/orgs", json={"name": name, "kind": kind, **extra}, headers=key
    )
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def add_handler(client, key, org_id, name="李明", kind="lawyer", **extra) -> dict:
    resp = await client.post(
        "/api/v1/center/handlers",
        json={"name": name, "org_id": org_id, "kind": kind, **extra},
        headers=key,
    )
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_orgs_and_handlers_over_the_api(app):
    key = await center_key()
    a = await add_org(app, key, phone="0914-4321234")
    b = await add_org(app, key, name="城关法律服务所", kind="office")
    assert (a["position"], b["position"]) == (1, 2)
    dup = await app.post(
        "/api/v1/center/orgs", json={"name": "正义律师事务所", "kind": "firm"}, headers=key
    )
    assert dup.status == 409 and "同名" in (await dup.json())["error"]["message"]
    bad = await app.post("/api/v1/center/orgs", json={"name": "x", "kind": "bank"}, headers=key)
    assert bad.status == 422 and "kind" in (await bad.json())["error"]["fields"]

    h = await add_handler(app, key, a["id"], specialties=["civil", "criminal"])
    assert h["in_pool"] and h["org"]["name"] == "正义律师事务所" and not h["bound"]
    assert [e["action"] for e in h["events"]] == ["entry"]

    resp = await app.post(
        f"/api/v1/center/handlers/{h['id']}/removal",
        json={"reason": "质量评查不合格", "until": "2099-12-31"},
        headers=key,
    )
    out = await resp.json()
    assert resp.status == 200 and not out["in_pool"] and out["removed_until"] == "2099-12-31"
    assert out["events"][-1]["reason"] == "质量评查不合格"
    resp = await app.post(
        f"/api/v1/center/handlers/{h['id']}/readmission", json={"reason": "培训合格"}, headers=key
    )
    out = await resp.json()
    assert out["in_pool"] and [e["action"] for e in out["events"]] == [
        "entry",
        "removal",
        "readmission",
    ]

    listed = await (await app.get("/api/v1/center/orgs", headers=key)).json()
    assert [o["name"] for o in listed["items"]] == ["正义律师事务所", "城关法律服务所"]
    assert listed["items"][0]["handlers_in_pool"] == 1
    handlers = await (await app.get("/api/v1/center/handlers", headers=key)).json()
    assert [x["name"] for x in handlers["items"]] == ["李明"]


async def test_other_region_sees_nothing(app):
    key, other = await center_key(), await center_key(OTHER_REGION)
    org = await add_org(app, key)
    h = await add_handler(app, key, org["id"])
    assert (await (await app.get("/api/v1/center/orgs", headers=other)).json())["items"] == []
    assert (await app.get(f"/api/v1/center/handlers/{h['id']}", headers=other)).status == 404
    resp = await app.post(
        "/api/v1/center/handlers",
        json={"name": "王", "org_id": org["id"], "kind": "lawyer"},
        headers=other,
    )
    assert resp.status == 422 and "org_id" in (await resp.json())["error"]["fields"]
    resp = await app.post(
        f"/api/v1/center/handlers/{h['id']}/removal", json={"reason": "x"}, headers=other
    )
    assert resp.status == 404


async def test_removal_for_a_period_ends_by_itself(app):
    key = await center_key()
    org = await add_org(app, key)
    h = await add_handler(app, key, org["id"])
    resp = await app.post(
        f"/api/v1/center/handlers/{h['id']}/removal",
        json={"reason": "行政处罚", "until": "2020-01-31"},
        headers=key,
    )
    assert (await resp.json())["in_pool"]  # the period is over
    bad = await app.post(
        f"/api/v1/center/handlers/{h['id']}/removal", json={"reason": " "}, headers=key
    )
    assert bad.status == 422
    assert await PoolEvent.filter(handler_id=h["id"]).count() == 2


async def test_handler_binds_in_chat(app, make_user):
    key = await center_key()
    org = await add_org(app, key)
    h = await add_handler(app, key, org["id"])
    resp = await app.post(f"/api/v1/center/handlers/{h['id']}/invitation", headers=key)
    assert resp.status == 201
    code = (await resp.json())["code"]
    u = make_user("o-handler-1")
    reply = await u.say(f"绑定 {code.lower()}")
    assert "承办人" in reply and "李明" in reply and "正义律师事务所" in reply
    assert (await Handler.get(id=h["id"])).openid == "o-handler-1"
    assert "已被使用" in await make_user("o-someone").say(f"绑定 {code}")
    assert "邀请码不对" in await make_user("o-someone").say("绑定 ZZZZZZZZ")


async def test_a_handler_bound_in_a_batch_is_a_handler_for_the_rest_of_it(app, make_user):
    """The engine reads who is a handler with the batch's lock; a bind in the batch counts."""
    from bot.conversation import handle_batch
    from bot.wechat.protocol import build_text_xml, parse

    key = await center_key()
    org = await add_org(app, key)
    h = await add_handler(app, key, org["id"])
    resp = await app.post(f"/api/v1/center/handlers/{h['id']}/invitation", headers=key)
    code = (await resp.json())["code"]
    before, bind, after = await handle_batch(
        app.server.app,
        [
            parse(build_text_xml("o-handler-2", "gh_test", text, msg_id=n))
            for n, text in enumerate(("帮助", f"绑定 {code}", "帮助"), start=1)
        ],
    )
    assert "异议 案号 理由" not in before
    assert "承办人" in bind and "异议 案号 理由" in after


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
def test_cli_orgs_and_handlers(tmp_path):
    out = _cli(
        tmp_path,
        "orgs",
        "add",
        "--region",
        REGION,
        "--name",
        "正义律师事务所",
        "--kind",
        "firm",
        "--phone",
        "0914-4321234",
    )
    assert out.returncode == 0, out.stderr
    org_id = out.stdout.strip().splitlines()[-1]
    assert org_id == "1"
    out = _cli(
        tmp_path,
        "handlers",
        "add",
        "--region",
        REGION,
        "--name",
        "李明",
        "--org",
        org_id,
        "--kind",
        "lawyer",
        "--specialties",
        "civil,criminal",
    )
    assert out.returncode == 0, out.stderr
    hid = out.stdout.strip().splitlines()[-1]
    assert hid == "1"
    assert "正义律师事务所" in _cli(tmp_path, "orgs", "list").stdout
    listed = _cli(tmp_path, "handlers", "list", "--region", REGION).stdout
    assert "李明" in listed and "in pool" in listed
    out = _cli(tmp_path, "handlers", "remove", hid, "--reason", "年度考核不合格")
    assert out.returncode == 0 and "removed" in out.stdout
    assert "removed" in _cli(tmp_path, "handlers", "list").stdout
    assert _cli(tmp_path, "handlers", "readmit", hid).returncode == 0
    code = _cli(tmp_path, "handlers", "invite", hid).stdout.strip().splitlines()[-1]
    assert len(code) == 8 and code.isalnum()
    bad = _cli(
        tmp_path,
        "handlers",
        "add",
        "--region",
        REGION,
        "--name",
        "王",
        "--org",
        "9",
        "--kind",
        "lawyer",
    )
    assert bad.returncode == 1 and "no organisation" in bad.stderr
    assert _cli(tmp_path, "handlers", "remove", "99", "--reason", "x").returncode == 1
