"""`python -m bot experts …` as an operator runs it, and the same over the centre API."""

from __future__ import annotations

import pytest

from bot.app import create_app
from bot.auth import create_center_key
from models.evaluation import Expert
from tests.test_digest_cli import cli_env, database_url, run_cli  # noqa: F401 (fixture)


@pytest.mark.slow
async def test_add_list_and_disable_experts(
    app, aiohttp_client, settings, fake_wechat, tmp_path, database_url
):
    await aiohttp_client(create_app(settings.model_copy(update={"database_url": database_url})))
    env = cli_env(settings, fake_wechat, database_url)
    code, out, err = await run_cli(
        env,
        tmp_path,
        "experts",
        "add",
        "--region",
        "500101",
        "--name",
        "陈专家",
        "--group",
        "criminal",
        "--openid",
        "o-expert-chen",
    )
    assert code == 0, err
    new_id = int(out.strip().splitlines()[-1])  # the new id alone on the last line
    assert (await Expert.get(id=new_id)).group == "criminal"
    code, out, err = await run_cli(
        env,
        tmp_path,
        "experts",
        "add",
        "--region",
        "500101",
        "--name",
        "赵专家",
        "--group",
        "civil_admin",
        "--openid",
        "o-expert-chen",
    )
    assert code != 0 and "exists" in err
    code, out, _ = await run_cli(env, tmp_path, "experts", "list")
    assert "陈专家" in out and "o-expert-chen" not in out and "1 experts" in out
    code, out, _ = await run_cli(env, tmp_path, "experts", "disable", str(new_id))
    assert code == 0 and not (await Expert.get(id=new_id)).active
    code, _, err = await run_cli(
        env, tmp_path, "experts", "add", "--region", "5001", "--name", "X", "--group", "criminal"
    )
    assert code != 0 and "6-digit" in err


async def test_experts_over_the_centre_api(app):
    key = await create_center_key("500101")
    headers = {"X-Api-Key": key}
    resp = await app.post(
        "/api/v1/center/experts",
        headers=headers,
        json={
            "name": "陈专家",
            "group": "civil_admin",
            "org": "万州律师事务所",
            "openid": "o-expert-chen",
        },
    )
    body = await resp.json()
    assert resp.status == 201 and body["openid"] != "o-expert-chen"  # masked
    dup = await app.post(
        "/api/v1/center/experts",
        headers=headers,
        json={"name": "赵专家", "group": "civil_admin", "openid": "o-expert-chen"},
    )
    assert dup.status == 409
    bad = await app.post(
        "/api/v1/center/experts", headers=headers, json={"name": "赵专家", "group": "family"}
    )
    assert bad.status == 422
    listed = await (await app.get("/api/v1/center/experts", headers=headers)).json()
    assert [e["name"] for e in listed["items"]] == ["陈专家"]
    other = await app.get(
        "/api/v1/center/experts", headers={"X-Api-Key": await create_center_key("330600")}
    )
    assert (await other.json())["items"] == []
    resp = await app.post(f"/api/v1/center/experts/{body['id']}/disable", headers=headers)
    assert resp.status == 200 and (await resp.json())["active"] is False
    assert (await app.post("/api/v1/center/experts/0/disable", headers=headers)).status == 404
