"""What a new operator trips on first: the chat client's --url, the serve banner's hint, JSON 404s,
and what the operator commands print (openids in lists, no ORM chatter on stderr)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.cli.chat import base_url
from bot.cli.core import chat_hint
from bot.settings import Settings
from tests.conftest import AES_KEY, TOKEN
from tests.fake_wechat import OA_APP_ID

REPO = Path(__file__).resolve().parents[1]


async def chat_cli(tmp_path: Path, url: str, *lines: str) -> tuple[int, str, str]:
    """`python -m bot chat --url URL` with `lines` typed, run beside the test server's loop."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "BOT_DATA_DIR": str(tmp_path),
        "BOT_WECHAT_TOKEN": TOKEN,
        "BOT_WECHAT_AES_KEY": AES_KEY,
        "BOT_WECHAT_APP_ID": OA_APP_ID,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "chat",
        "--openid",
        "u-cli",
        "--url",
        url,
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate("".join(line + "\n" for line in lines).encode())
    return proc.returncode, out.decode(), err.decode()


def test_base_url_takes_the_webhook_url_too():
    assert base_url("http://h:8080") == "http://h:8080"
    assert base_url("http://h:8080/") == "http://h:8080"
    assert base_url("http://h:8080/wechat") == "http://h:8080"
    assert base_url("https://aid.example.gov.cn/wechat/ ") == "https://aid.example.gov.cn"


@pytest.mark.slow
async def test_chat_accepts_the_wechat_url_and_fails_on_a_wrong_one(app, tmp_path):
    wechat = str(app.make_url("/wechat"))
    code, out, err = await chat_cli(tmp_path, wechat, "菜单", "/photo")
    assert code == 0, err
    assert "请回复数字选择服务" in out
    assert "收到您的图片" in out  # /photo sent an image message, as a phone would
    code, out, err = await chat_cli(tmp_path, str(app.make_url("/nothing-here")), "菜单")
    assert code == 1 and "HTTP 404" in err


def test_serve_banner_names_the_port_served():
    s = Settings(_env_file=None)
    assert chat_hint(s, s.host, s.port) == "python -m bot chat --openid u1"
    assert chat_hint(s, s.host, 9000).endswith("--url http://127.0.0.1:9000")
    assert chat_hint(s, "0.0.0.0", 8080).endswith("--url http://127.0.0.1:8080")


@pytest.mark.parametrize(
    "method,path,status",
    [
        ("GET", "/nothing-here", 404),
        ("GET", "/api/v1/nothing", 404),
        ("GET", "/wechat/extra", 404),
        ("DELETE", "/healthz", 405),
    ],
)
async def test_every_404_is_json(app, method, path, status):
    resp = await app.request(method, path, headers={"Accept-Language": "en"})
    assert resp.status == status and resp.content_type == "application/json"
    body = await resp.json()
    assert body["error"]["code"] in ("not_found", "method_not_allowed")
    assert body["error"]["message"]


@pytest.mark.slow
async def test_staff_and_agent_lists_tell_people_apart_and_no_orm_chatter(tmp_path):
    from tests.test_agents import _cli

    assert (
        _cli(
            tmp_path,
            "staff",
            "add",
            "--name",
            "王",
            "--region",
            "330602",
            "--openid",
            "oAbCdEfGhIjKlMnOpQrStUvW0001",
        ).returncode
        == 0
    )
    out = _cli(
        tmp_path,
        "staff",
        "add",
        "--name",
        "李",
        "--region",
        "330602",
        "--openid",
        "oAbCdEfGhIjKlMnOpQrStUvW0002",
    )
    assert out.returncode == 0
    listed = _cli(tmp_path, "staff", "list")
    # same prefix and the same last two characters' shape: the list must still differ
    assert "oAbCdEfGhIjKlMnOpQrStUvW0001" in listed.stdout
    assert "oAbCdEfGhIjKlMnOpQrStUvW0002" in listed.stdout
    assert "Tortoise-ORM shutdown" not in listed.stderr + out.stderr
    assert (
        _cli(tmp_path, "staff", "disable", "--openid", "oAbCdEfGhIjKlMnOpQrStUvW0002").returncode
        == 0
    )
    migrated = _cli(tmp_path, "migrate")
    assert migrated.returncode == 0 and "Tortoise-ORM shutdown" not in migrated.stderr
