"""`python -m bot experts …` as an operator runs it, and the same over the centre API."""

from __future__ import annotations

from datetime import date

import pytest

from bot.app import create_app
from bot.auth import create_center_key
from models.case import Case
from models.evaluation import Evaluation, EvaluationCase, EvaluationPair, Expert
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
    # A round waits for the expert: disabling them says so, and how to get out of it.
    other = await Expert.create(region="500101", name="李专家", group="criminal")
    case = await Case.create(
        region="500101",
        case_no="(2026)万法援6号",
        kind="criminal",
        cause="盗窃",
        beneficiary_name="张三",
        beneficiary_phone="13812345678",
        handler_name="李律师",
        handler_org="万州律师事务所",
        status="closed",
        closed_on=date(2026, 3, 1),
    )
    ev = await Evaluation.create(
        region="500101",
        method="all",
        closed_from=date(2026, 1, 1),
        closed_to=date(2026, 3, 31),
        seed=1,
        population=1,
        sample_size=1,
        policy="wanzhou",
    )
    pair = await EvaluationPair.create(
        evaluation=ev, group="criminal", leader_id=other.id, member_id=new_id
    )
    await EvaluationCase.create(evaluation=ev, case=case, pair=pair)
    code, out, _ = await run_cli(env, tmp_path, "experts", "disable", str(new_id))
    assert code == 0 and not (await Expert.get(id=new_id)).active
    assert "warning" in out and "(2026)万法援6号" in out and f"experts enable {new_id}" in out
    code, out, _ = await run_cli(env, tmp_path, "experts", "enable", str(new_id))
    assert code == 0 and "enabled" in out and (await Expert.get(id=new_id)).active
    code, out, _ = await run_cli(env, tmp_path, "experts", "enable", str(new_id))
    assert code == 1 and "no such disabled expert" in out
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
    got = await resp.json()
    assert resp.status == 200 and got["active"] is False
    assert got["waiting_cases"] == [] and got["warning"] is None  # no round waits for them
    resp = await app.post(f"/api/v1/center/experts/{body['id']}/enable", headers=headers)
    assert resp.status == 200 and (await resp.json())["active"] is True
    assert (await app.post("/api/v1/center/experts/0/disable", headers=headers)).status == 404
