"""Helpers for the agent and application tests: agents, logins, a valid application body."""

from __future__ import annotations

import copy
import itertools
from datetime import date
from typing import Any

from aiohttp.test_utils import TestClient

from models.agent import Agent, create_invite
from models.calendar import local_today
from models.codes import PLEDGE_TEXT_VERSION
from models.idcard import check_char

REGION = "330602"
OTHER_REGION = "110105"
_codes = itertools.count(1)
_keys = itertools.count(1)


def id_number(birth: str, area: str = "330602", seq: str = "001") -> str:
    """A valid 18-character ID number for a birth date YYYYMMDD."""
    body = area + birth + seq
    return body + check_char(body)


def years_ago(years: int) -> str:
    today = local_today()
    return f"{today.year - years:04d}0101"


ADULT_ID = id_number(years_ago(41))  # 40 or 41 today, never 70+


def today() -> date:
    return local_today()


VALID: dict[str, Any] = {
    "applicant": {
        "name": "张三丰",
        "id_number": ADULT_ID,
        "phone": "13812345678",
        "address": "浙江省绍兴市越城区东浦街道东浦村3组",
    },
    "matter": "support_payment",
    "facts": "儿子三年未给付赡养费，申请人年老多病，请求给付赡养费。",
    "opposing_party": "张小明",
    "hardship": {
        "basis": "pledge",
        "statement": {
            "household_size": 2,
            "monthly_income_yuan": 800,
            "income_source": "务农",
            "assets": "自住房一间",
        },
        "pledge": {
            "accepted": True,
            "confirmed_by": "fingerprint",
            "text_version": PLEDGE_TEXT_VERSION,
        },
    },
    "materials": [
        {"kind": "id_document", "status": "provided"},
        {"kind": "hardship_statement", "status": "provided"},
        {"kind": "matter_evidence", "status": "provided"},
    ],
}


def body(**changes: Any) -> dict[str, Any]:
    """A valid application body; dotted keys ("applicant.phone") change nested values."""
    out = copy.deepcopy(VALID)
    for dotted, value in changes.items():
        target = out
        *path, last = dotted.split(".")
        for part in path:
            target = target[part]
        if value is ...:
            target.pop(last, None)
        else:
            target[last] = value
    return out


async def new_agent(
    region: str = REGION, name: str = "王五", village: str = "东浦村"
) -> tuple[Agent, str]:
    agent = await Agent.create(name=name, region=region, village=village, kind="agent")
    return agent, await create_invite(agent)


async def login(client: TestClient, fake_wechat, openid: str) -> dict[str, Any]:
    code = f"code-{next(_codes)}"
    fake_wechat.add_code(code, openid=openid)
    resp = await client.post("/api/v1/auth/wxa-login", json={"code": code})
    assert resp.status == 200, await resp.text()
    return await resp.json()


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


async def agent_token(
    client: TestClient, fake_wechat, openid: str = "o-wxa-agent-1", region: str = REGION
) -> tuple[str, Agent]:
    """A logged-in mini-program user bound to a new agent of `region`."""
    agent, code = await new_agent(region=region)
    token = (await login(client, fake_wechat, openid))["token"]
    resp = await client.post(
        "/api/v1/agents/bind", json={"invite_code": code}, headers=bearer(token)
    )
    assert resp.status == 200, await resp.text()
    return token, await Agent.get(id=agent.id)


async def file(
    client: TestClient,
    token: str,
    data: dict[str, Any] | None = None,
    key: str | None = None,
    **headers: str,
):
    return await client.post(
        "/api/v1/applications",
        json=data if data is not None else body(),
        headers=bearer(token, **{"Idempotency-Key": key or f"key-{next(_keys)}"}, **headers),
    )
