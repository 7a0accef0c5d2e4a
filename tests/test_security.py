"""Security across every declared endpoint: who may call what, and what never leaks.

The matrix is built from the declared operations (bot.api.OPERATIONS, the same list the OpenAPI
document comes from), so a new endpoint is covered the day it is added.
"""

from __future__ import annotations

import re

import pytest

from bot.api import OPERATIONS
from bot.auth import create_center_key
from bot.keys import settings_key
from bot.settings import reveal

ANON_OK = {"/api/v1/auth/wxa-login", "/api/v1/openapi.json"}  # endpoints that need no credentials


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def ops(auth: str | None = None):
    import handlers.api  # noqa: F401  (declares every operation)

    return [op for op in OPERATIONS if auth is None or op.auth == auth]


async def call(app, op, headers=None):
    kwargs = {"headers": headers or {}}
    if op.method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    return await app.request(op.method, concrete(op.path), **kwargs)


async def test_every_protected_endpoint_refuses_anonymous_callers(app):
    protected = [op for op in ops() if op.auth]
    assert protected, "no protected operations declared"
    for op in protected:
        resp = await call(app, op)
        assert resp.status == 401, (op.method, op.path, resp.status, await resp.text())
        body = await resp.json()
        assert body["error"]["code"] and body["error"]["message"]


async def test_wrong_kind_of_credential_is_refused(app):
    key = await create_center_key("330600")
    for op in ops("bearer"):  # a centre key is not a mini-program session
        resp = await call(app, op, {"X-Api-Key": key, "Authorization": "Bearer " + key})
        assert resp.status == 401, (op.method, op.path, resp.status)
    for op in ops("api_key"):  # a made-up or revoked key
        resp = await call(app, op, {"X-Api-Key": "lak_" + "x" * 43})
        assert resp.status == 401, (op.method, op.path, resp.status)


async def test_no_secret_in_any_response(app):
    s = app.app[settings_key]
    secrets = [
        reveal(v)
        for v in (
            s.secret_key,
            s.wechat_token,
            s.wechat_aes_key,
            s.wechat_app_secret,
            s.wxa_app_secret,
            s.center_webhook_secret,
        )
        if v
    ]
    key = await create_center_key("330600")
    paths = {"/healthz", "/metrics", "/api/v1/openapi.json", "/wechat"}
    for op in ops():
        for headers in ({}, {"X-Api-Key": key}):
            resp = await call(app, op, headers)
            body = await resp.read()  # xlsx and docx answers are bytes
            assert resp.status < 500, (op.method, op.path, resp.status, body[:300])
            assert not any(secret.encode() in body for secret in secrets), (op.method, op.path)
    for path in paths:
        body = await (await app.get(path)).read()
        assert not any(secret.encode() in body for secret in secrets), path


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/center/nope"])
async def test_unknown_api_paths_are_json_404(app, path):
    resp = await app.get(path)
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"


async def test_openapi_lists_every_operation(app):
    doc = await (await app.get("/api/v1/openapi.json")).json()
    for op in ops():
        assert op.method.lower() in doc["paths"][op.path], op.path


async def test_login_is_rate_limited_per_address_with_retry_after(
    aiohttp_client, settings, fake_wechat
):
    from bot.app import create_app

    client = await aiohttp_client(
        create_app(
            settings.model_copy(update={"login_rate_limit": 3, "trusted_proxies": "127.0.0.1"})
        )
    )
    for i in range(3):
        fake_wechat.add_code(f"rl-{i}", openid=f"o-rl-{i}")
        resp = await client.post("/api/v1/auth/wxa-login", json={"code": f"rl-{i}"})
        assert resp.status == 200
    resp = await client.post("/api/v1/auth/wxa-login", json={"code": "rl-x"})
    assert resp.status == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert (await resp.json())["error"]["code"] == "rate_limited"
    other = await client.post(
        "/api/v1/auth/wxa-login", json={"code": "rl-y"}, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert other.status == 401  # another address still gets through (to a wrong code)


async def test_expired_and_revoked_tokens_are_refused(app, fake_wechat):
    from datetime import UTC, datetime, timedelta

    from models.agent import SessionToken
    from tests.applications_support import bearer, login

    token = (await login(app, fake_wechat, "o-tok"))["token"]
    assert (await app.get("/api/v1/agents/me", headers=bearer(token))).status in (200, 403, 404)
    await app.post("/api/v1/auth/logout", headers=bearer(token))
    assert (await app.get("/api/v1/agents/me", headers=bearer(token))).status == 401
    token = (await login(app, fake_wechat, "o-tok2"))["token"]
    await SessionToken.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await app.get("/api/v1/agents/me", headers=bearer(token))).status == 401


async def test_huge_page_cursors_are_not_a_server_error(app):
    key = {"X-Api-Key": await create_center_key("330600")}
    for path in (
        "/api/v1/center/callbacks",
        "/api/v1/center/complaints",
        "/api/v1/center/outbox",
        "/api/v1/center/applications",
    ):
        resp = await app.get(path, params={"cursor": "9" * 12}, headers=key)
        assert resp.status in (200, 422), (path, resp.status, await resp.text())
