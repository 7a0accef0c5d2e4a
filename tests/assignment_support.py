"""Helpers for the pool, assignment, document and applicant tests (no tests here).

Everything goes through the app: applications filed by a logged-in agent, decided and assigned
with a real centre key, handlers answering over signed WeChat requests.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.auth import create_center_key
from models.agent import Agent
from tests.applications_support import REGION, agent_token, body, file

_openids = itertools.count(1)


async def policy_client(aiohttp_client, settings, tmp_path: Path, **overrides) -> TestClient:
    """A second client of the app under a policy file overriding the national preset."""
    path = tmp_path / f"policy-{next(_openids)}.json"
    path.write_text(json.dumps({"name": "test", **overrides}), "utf-8")
    return await aiohttp_client(create_app(settings.model_copy(update={"policy": str(path)})))


class Centre:
    """The centre's records system of one region, talking to the API with its key."""

    def __init__(self, client: TestClient, key: str, region: str = REGION) -> None:
        self.client, self.region = client, region
        self.h = {"X-Api-Key": key}

    @classmethod
    async def of(cls, client: TestClient, region: str = REGION) -> Centre:
        return cls(client, await create_center_key(region), region)

    async def call(self, method: str, path: str, expect: int | None = None, **kw) -> dict:
        resp = await self.client.request(method, path, headers=self.h, **kw)
        data = await resp.json()
        if expect is not None:
            assert resp.status == expect, data
        data["_status"] = resp.status
        return data

    async def org(self, name: str, kind: str = "firm", phone: str | None = "0575-8512345") -> int:
        return (
            await self.call(
                "POST",
                "/api/v1/center/orgs",
                201,
                json={"name": name, "kind": kind, "phone": phone},
            )
        )["id"]

    async def handler(self, org_id: int, name: str, kind: str = "lawyer", **extra) -> int:
        return (
            await self.call(
                "POST",
                "/api/v1/center/handlers",
                201,
                json={"name": name, "org_id": org_id, "kind": kind, **extra},
            )
        )["id"]

    async def decide(self, app_id: int, decision: str = "granted", **extra) -> dict:
        return await self.call(
            "POST",
            f"/api/v1/center/applications/{app_id}/decision",
            200,
            json={"decision": decision, **extra},
        )

    async def assign(self, app_id: int, expect: int | None = 201, **payload) -> dict:
        return await self.call(
            "POST", f"/api/v1/center/applications/{app_id}/assignment", expect, json=payload
        )

    async def assignments(self, app_id: int) -> list[dict]:
        return (await self.call("GET", f"/api/v1/center/applications/{app_id}/assignment", 200))[
            "items"
        ]


async def new_filer(client: TestClient, fake_wechat) -> tuple[str, Agent]:
    """A fresh mini-program agent of REGION (token, agent)."""
    return await agent_token(client, fake_wechat, openid=f"o-wxa-filer-{next(_openids)}")


async def filed(client: TestClient, token: str, **changes) -> int:
    resp = await file(client, token, body(**changes))
    assert resp.status == 201, await resp.text()
    return (await resp.json())["id"]
