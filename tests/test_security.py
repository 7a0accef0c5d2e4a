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
    secrets = [v for v in (s.secret_key, s.wechat_token, s.wechat_aes_key, s.wechat_app_secret,
                           s.wxa_app_secret, s.center_webhook_secret) if v]
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
