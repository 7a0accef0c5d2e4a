"""Access lines (route pattern, status, duration; never a query string) and BOT_LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

import aiohttp
import pytest

from bot.logs import TEXT_FORMAT, JsonFormatter, TextFormatter
from tests.test_workers import ROOT, free_port


def access_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.access"]


async def test_one_access_line_per_request_with_the_route_pattern(app, user, caplog):
    caplog.set_level(logging.INFO, logger="bot.access")
    await app.get("/api/v1/applications/12345?token=abc&openid=o-secret")
    await user.say("菜单")
    await app.get("/no/such/path/o-secret")
    await app.get("/healthz")
    lines = access_lines(caplog)
    assert len(lines) == 4, [r.getMessage() for r in lines]
    api, chat, missing, health = (r.fields for r in lines)
    assert api["route"] == "/api/v1/applications/{id}" and api["status"] == 401
    assert api["method"] == "GET" and isinstance(api["ms"], float) and api["ms"] >= 0
    assert chat["route"] == "/wechat" and chat["status"] == 200 and chat["method"] == "POST"
    assert missing["route"] == "-" and missing["status"] == 404
    assert health["route"] == "/healthz" and health["status"] == 200
    text = "\n".join(r.getMessage() for r in lines)
    for leak in ("12345", "token", "abc", "o-secret", "signature", "nonce", "?"):
        assert leak not in text, leak
    assert lines[0].getMessage().startswith("GET /api/v1/applications/{id} 401 ")


def test_text_lines_are_what_logging_formats():
    """TextFormatter formats the time once a second; each line is still logging's own."""
    ours, theirs = TextFormatter(), logging.Formatter(TEXT_FORMAT)
    for created in (1_764_470_000.0, 1_764_470_000.999, 1_764_470_001.002, 1_764_470_000.5):
        record = logging.LogRecord("bot.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == theirs.format(record)


def test_json_lines_are_one_object_each():
    fmt = JsonFormatter()
    try:
        raise ValueError("boom\non two lines")
    except ValueError:
        record = logging.LogRecord(
            "bot", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info()
        )
    line = fmt.format(record)
    assert "\n" not in line
    out = json.loads(line)
    assert out["level"] == "ERROR" and out["msg"] == "failed x" and "ValueError" in out["exc"]
    assert out["ts"].endswith("+00:00")


@pytest.mark.slow
async def test_serve_with_json_logs_writes_only_json_lines(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_") and k != "DATABASE_URL"}
    env.update(
        {
            "BOT_DATA_DIR": str(tmp_path),
            "BOT_PORT": str(port),
            "BOT_LOG_FORMAT": "json",
            "BOT_BACKGROUND": "false",
            "PYTHONPATH": str(ROOT),
        }
    )
    out = (tmp_path / "server.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(300):
                try:
                    async with s.get(base + "/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    time.sleep(0.1)
            async with s.get(base + "/wechat?signature=abc&timestamp=1&nonce=2&echostr=o-x") as r:
                assert r.status == 403 or r.status == 400 or r.status == 401
            async with s.get(base + "/api/v1/meta/regions?q=o-secret") as r:
                await r.read()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    out.seek(0)
    lines = [line for line in out.read().splitlines() if line.strip()]
    objects = [json.loads(line) for line in lines]  # every line is one JSON object
    messages = [o["msg"] for o in objects]
    assert any("Development mode" in m for m in messages)  # the banner, as one object
    routes = [o.get("route") for o in objects if o["logger"] == "bot.access"]
    assert "/healthz" in routes and "/wechat" in routes
    assert not any("signature" in line or "o-secret" in line or "o-x" in line for line in lines)
