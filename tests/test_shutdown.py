"""SIGTERM on a real `python -m bot serve`: probes 503 at once, the listener closes, a 10 MB upload
still arriving finishes, the process exits within BOT_SHUTDOWN_TIMEOUT."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from bot.storage import MAX_UPLOAD
from tests.applications_support import REGION, body
from tests.serve_support import Served

pytestmark = pytest.mark.slow
BOUNDARY = "relrt-boundary"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


async def agent_and_application(srv: Served, fake_wechat) -> tuple[str, int]:
    """An agent invited by the CLI, logged in and bound over HTTP, with one filed application."""
    code = (
        srv.cli("agents", "invite", "--region", REGION, "--name", "王五", "--village", "东浦村")
        .strip()
        .splitlines()[-1]
    )
    fake_wechat.add_code("shutdown-code", openid="o-wxa-shutdown")
    async with aiohttp.ClientSession(base_url=srv.url) as s:
        async with s.post("/api/v1/auth/wxa-login", json={"code": "shutdown-code"}) as r:
            token = (await r.json())["token"]
        auth = {"Authorization": f"Bearer {token}"}
        async with s.post("/api/v1/agents/bind", json={"invite_code": code}, headers=auth) as r:
            assert r.status == 200, await r.text()
        async with s.post(
            "/api/v1/applications", json=body(), headers={**auth, "Idempotency-Key": "shutdown-1"}
        ) as r:
            assert r.status in (200, 201), await r.text()
            return token, (await r.json())["id"]


def upload_request(token: str, application_id: int) -> tuple[bytes, bytes]:
    """The head and the body of a multipart upload of a (nearly) 10 MB photo."""
    photo = JPEG + b"\x00" * (MAX_UPLOAD - 4096 - len(JPEG))
    payload = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nother\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + photo
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    head = (
        f"POST /api/v1/applications/{application_id}/materials HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return head, payload


async def probe(url: str) -> tuple[int, dict]:
    try:
        async with aiohttp.ClientSession() as s, s.get(url + "/healthz") as r:
            return r.status, await r.json()
    except aiohttp.ClientError:
        return 0, {}  # refused: the listener is closed


async def test_sigterm_lets_a_slow_upload_finish_and_exits_in_time(tmp_path, fake_wechat):
    srv = Served(
        tmp_path,
        fake_wechat.url,
        BOT_SHUTDOWN_TIMEOUT="20",
        BOT_SHUTDOWN_DRAIN="1.5",
        BOT_OUTBOX_INTERVAL="0.2",
    )
    try:
        await srv.start()
        token, application_id = await agent_and_application(srv, fake_wechat)
        head, payload = upload_request(token, application_id)
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(head + payload[: 2 << 20])  # 2 MB arrived, 8 MB still to come
        await writer.drain()
        signalled = time.monotonic()
        srv.signal()
        status, answer = await probe(srv.url)  # at once: 503, still listening (drain)
        assert status == 503 and answer["status"] == "shutting_down", answer
        sent = 2 << 20
        while sent < len(payload):  # the rest arrives slowly, over about 4 s
            writer.write(payload[sent : sent + (256 << 10)])
            await writer.drain()
            sent += 256 << 10
            await asyncio.sleep(0.12)
        assert time.monotonic() - signalled > 1.5 + 1  # the upload outlived the drain ...
        assert (await probe(srv.url))[0] == 0  # ... and the listener is closed by now
        response = await asyncio.wait_for(reader.read(), 20)
        writer.close()
        status_line, _, rest = response.partition(b"\r\n")
        assert b" 201 " in status_line, response[:500]
        material = json.loads(rest.split(b"\r\n\r\n", 1)[1])["material"]
        assert material["size"] == len(payload) - payload.index(JPEG) - len(
            f"\r\n--{BOUNDARY}--\r\n"
        )
        assert await srv.wait(20 - (time.monotonic() - signalled)) == 0
        log = srv.log.read_text()
        assert "did not finish its round" not in log and "Traceback" not in log, log[-3000:]
    finally:
        srv.stop()


async def test_a_request_that_outlasts_the_timeout_does_not_hold_the_exit(tmp_path, fake_wechat):
    srv = Served(tmp_path, fake_wechat.url, BOT_SHUTDOWN_TIMEOUT="2")
    try:
        await srv.start()
        token, application_id = await agent_and_application(srv, fake_wechat)
        head, payload = upload_request(token, application_id)
        _, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(head + payload[: 1 << 20])  # then nothing more: the client is gone quiet
        await writer.drain()
        signalled = time.monotonic()
        srv.signal()
        assert await srv.wait(10) == 0
        assert time.monotonic() - signalled < 2 + 3  # the timeout, plus closing the database
        writer.close()
    finally:
        srv.stop()
