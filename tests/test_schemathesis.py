"""schemathesis against /api/v1/openapi.json: no 5xx, and every answer matches the schema.

A real server process (sqlite in a temporary directory, the fake WeChat API of the test process)
is fuzzed by schemathesis' command line with a centre key and a bound agent's token, so the
protected endpoints are exercised past authentication too.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.fake_wechat import OA_APP_ID, OA_SECRET, WXA_APP_ID, WXA_SECRET
from tests.test_workers import ROOT, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.db,  # on PostgreSQL too: NUL and surrogates failed only there
    pytest.mark.skipif(
        not shutil.which("st", path=str(Path(sys.executable).parent)),
        reason="schemathesis is not installed (pip install -e '.[test]')",
    ),
]
EXAMPLES = os.environ.get("BOT_SCHEMATHESIS_EXAMPLES", "25")  # per operation; CI keeps it quick


@pytest.fixture
async def server_db():
    """The served database: sqlite in the temporary directory, or, when the tests run on
    PostgreSQL, a scratch database beside the test one — never the test database itself,
    which other tests empty and fill. The scratch database is kept between runs and emptied
    at the start (DROP DATABASE waits for a checkpoint, minutes on a busy server)."""
    base = os.environ.get("BOT_TEST_DATABASE_URL")
    if not base:
        yield None
        return
    import asyncpg

    root, _, name = base.rpartition("/")
    scratch = f"{name}_st"
    pg = root.replace("postgres://", "postgresql://", 1)
    admin = await asyncpg.connect(pg + "/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", scratch):
            await admin.execute(f'CREATE DATABASE "{scratch}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(f"{pg}/{scratch}")
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()
    yield f"{root}/{scratch}"


def cli(env: dict, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout.strip().splitlines()[-1]


async def test_api_matches_its_openapi_document(tmp_path, fake_wechat, server_db):
    port = free_port()
    env = {
        **os.environ,
        "BOT_DATA_DIR": str(tmp_path),
        "BOT_PORT": str(port),
        "BOT_WECHAT_TOKEN": "t",
        "BOT_WECHAT_AES_KEY": "a" * 43,
        "BOT_WECHAT_APP_ID": OA_APP_ID,
        "BOT_WECHAT_APP_SECRET": OA_SECRET,
        "BOT_WXA_APP_ID": WXA_APP_ID,
        "BOT_WXA_APP_SECRET": WXA_SECRET,
        "BOT_WECHAT_API_BASE": fake_wechat.url,
        "BOT_SECRET_KEY": "s" * 32,
        "BOT_LOGIN_RATE_LIMIT": "100000",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("BOT_DATABASE_URL", None)
    env.pop("BOT_TEST_DATABASE_URL", None)
    if server_db:
        env["BOT_DATABASE_URL"] = server_db
    key = cli(env, "center-keys", "create", "--region", "330600")
    invite = cli(
        env, "agents", "invite", "--region", "330600", "--name", "李四", "--village", "东村"
    )
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(100):
                try:
                    async with s.get(base + "/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            fake_wechat.add_code("st-code", openid="o-st-agent")
            async with s.post(base + "/api/v1/auth/wxa-login", json={"code": "st-code"}) as r:
                token = (await r.json())["token"]
            headers = {"Authorization": f"Bearer {token}"}
            async with s.post(
                base + "/api/v1/agents/bind", json={"invite_code": invite}, headers=headers
            ) as r:
                assert r.status in (200, 201), await r.text()
        proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "st"),
            "run",
            base + "/api/v1/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "-H",
            f"X-Api-Key: {key}",
            "-H",
            f"Authorization: Bearer {token}",
            "-n",
            EXAMPLES,
            "--seed",
            "20261122",
            "--phases",
            "examples,coverage,fuzzing",
            "--mode",
            "all",
            "--generation-allow-x00",
            "true",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=600)
        report = out.decode(errors="replace")
        assert proc.returncode == 0, report[-6000:]
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
