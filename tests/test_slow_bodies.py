"""Bodies that arrive slowly (split TCP writes, chunked) are read whole, against a real socket."""

from __future__ import annotations

import json

import pytest

from bot.api import MAX_JSON
from bot.auth import create_center_key
from models.application import Application, Material
from tests.applications_support import REGION, agent_token, body, file
from tests.rawhttp import raw_request

pytestmark = pytest.mark.db
PAUSE = 0.3  # seconds between TCP writes, as a village network delivers them
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 5000


def split(data: bytes, n: int = 3) -> list[bytes]:
    step = -(-len(data) // n)
    return [data[i : i + step] for i in range(0, len(data), step)]


def multipart(
    fields: list[tuple[str, bytes, str | None]], boundary: str = "b0undary"
) -> tuple[bytes, str]:
    out = b""
    for name, value, filename in fields:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n".encode()
        if filename:
            out += b"Content-Type: image/jpeg\r\n"
        out += b"\r\n" + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("chunked", [False, True])
async def test_login_body_in_slow_writes(app, fake_wechat, chunked):
    fake_wechat.add_code("slow-1", openid="o-slow")
    resp = await raw_request(
        app,
        "POST",
        "/api/v1/auth/wxa-login",
        headers={"Content-Type": "application/json"},
        parts=[b'{"code": ', b'"slow-1"}'],
        pause=PAUSE,
        chunked=chunked,
    )
    assert resp.status == 200, resp.body
    assert resp.json()["token"]


@pytest.mark.parametrize("chunked", [False, True])
async def test_application_and_decision_in_slow_writes(app, fake_wechat, chunked):
    token, _ = await agent_token(app, fake_wechat)
    data = json.dumps(body(), ensure_ascii=False).encode()
    resp = await raw_request(
        app,
        "POST",
        "/api/v1/applications",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": f"slow-{chunked}",
        },
        parts=split(data, 4),
        pause=PAUSE,
        chunked=chunked,
    )
    assert resp.status == 201, resp.body
    app_id = resp.json()["id"]
    key = await create_center_key(REGION)
    decision = json.dumps(
        {"decision": "granted", "case_no": "(2026)绍援字第9号"}, ensure_ascii=False
    ).encode()
    resp = await raw_request(
        app,
        "POST",
        f"/api/v1/center/applications/{app_id}/decision",
        headers={"Content-Type": "application/json", "X-Api-Key": key},
        parts=split(decision),
        pause=PAUSE,
        chunked=chunked,
    )
    assert resp.status == 200, resp.body
    assert (await Application.get(id=app_id)).status == "granted"


@pytest.mark.parametrize("chunked", [False, True])
async def test_material_upload_in_slow_writes(app, fake_wechat, chunked):
    token, _ = await agent_token(app, fake_wechat)
    app_id = (await (await file(app, token)).json())["id"]
    data, ctype = multipart([("kind", b"other", None), ("file", JPEG, "a.jpg")])
    resp = await raw_request(
        app,
        "POST",
        f"/api/v1/applications/{app_id}/materials",
        headers={"Content-Type": ctype, "Authorization": f"Bearer {token}"},
        parts=split(data, 4),
        pause=PAUSE,
        chunked=chunked,
    )
    assert resp.status == 201, resp.body
    assert (await Material.get(id=resp.json()["material"]["id"])).size == len(JPEG)


async def test_a_chunked_body_over_the_cap_is_413(app):
    resp = await raw_request(
        app,
        "POST",
        "/api/v1/auth/wxa-login",
        headers={"Content-Type": "application/json"},
        parts=[b'{"code": "' + b"x" * (MAX_JSON // 2), b"x" * (MAX_JSON // 2) + b'"}'],
        chunked=True,
    )
    assert resp.status == 413 and resp.json()["error"]["code"] == "too_large"
