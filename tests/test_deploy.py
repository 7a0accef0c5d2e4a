"""The deployment recipe, run: Debian's nginx with deploy/nginx.conf in front of two service
processes on PostgreSQL, each with its own data directory, sharing materials through the S3
backend (moto's server), and BOT_TRUSTED_PROXIES set as deploy/legal-aid-bot.env sets it.

Through nginx (HTTPS, a self-signed certificate): a chat message, an agent's upload, and its
download by the centre from both processes. Needs nginx (`apt-get install nginx`; .ci/run installs
it), openssl and PostgreSQL; CI runs it in its PostgreSQL pass.
"""

from __future__ import annotations

import asyncio
import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.settings import Settings
from bot.wechat.protocol import reply_content
from tests.applications_support import body
from tests.conftest import PG_URL
from tests.fake_wechat import WXA_APP_ID, WXA_SECRET
from tests.s3_server import make_bucket, s3_env, s3_server  # noqa: F401 (fixtures)
from tests.test_applications_materials import PNG
from tests.test_workers import CRYPTO, ROOT, Worker, free_port, pg, signed_message

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.path.exists(p)), None
)
DEPLOY = ROOT / "deploy"
REGION = "330602"


def test_environment_template_names_only_real_settings():
    """Every BOT_ variable of the template is a setting (a typo would be ignored silently)."""
    names = re.findall(
        r"^#?(BOT_[A-Z0-9_]+)=", (DEPLOY / "legal-aid-bot.env").read_text("utf-8"), re.M
    )
    assert len(names) > 10
    known = {"BOT_" + n.upper() for n in Settings.model_fields}
    known.add("BOT_TRUSTED_PROXIES")  # issue 10 (trusted proxies) adds it; harmless once landed
    assert set(names) <= known, set(names) - known


def test_systemd_unit_runs_our_commands():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[method-assign,assignment]  # keys are case-sensitive
    unit.read(DEPLOY / "legal-aid-bot.service", encoding="utf-8")
    service = unit["Service"]
    assert service["EnvironmentFile"] == "/etc/legal-aid-bot/env"
    assert service["ExecStart"].split()[1:] == ["serve", "--workers", "4"]
    assert service["ExecStartPre"].split()[1:] == ["migrate"]
    assert service["Restart"] == "always" and service["KillSignal"] == "SIGTERM"
    verify = shutil.which("systemd-analyze")
    if verify:  # present on systemd hosts; containers often lack it
        out = subprocess.run(
            [verify, "verify", str(DEPLOY / "legal-aid-bot.service")],
            capture_output=True,
            text=True,
        )
        assert "Unknown key" not in out.stderr and "Invalid" not in out.stderr, out.stderr


def site_for_test(tmp: Path, ports: list[int], http: int, https: int) -> str:
    """deploy/nginx.conf with this test's ports and certificate; each substitution must match,
    so a change to the file's shape fails here instead of testing something else."""
    site = (DEPLOY / "nginx.conf").read_text("utf-8")
    subs = [
        (
            r"    server 127\.0\.0\.1:8080 (max_fails=\S+ fail_timeout=\S+);",
            "\n".join(f"    server 127.0.0.1:{p} \\1;" for p in ports),
        ),
        (r"listen 80;", f"listen 127.0.0.1:{http};"),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        (r"ssl_certificate +\S+;", f"ssl_certificate {tmp}/cert.pem;"),
        (r"ssl_certificate_key +\S+;", f"ssl_certificate_key {tmp}/key.pem;"),
    ]
    for i, (pattern, repl) in enumerate(subs):
        site, n = re.subn(pattern, repl, site)
        # the first: the upstreams of every request and of WeChat's messages
        assert n == (2 if i == 0 else 1), f"deploy/nginx.conf no longer has {pattern!r}"
    return site


async def start_nginx(tmp: Path, site: str, https: int) -> subprocess.Popen:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(tmp / "key.pem"),
            "-out",
            str(tmp / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    (tmp / "site.conf").write_text(site, "utf-8")
    temps = "\n".join(
        f"    {kind}_temp_path {tmp}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the temp dirs
    (tmp / "nginx-main.conf").write_text(
        f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/nginx-error.log;\n"
        f"events {{ worker_connections 256; }}\nhttp {{\n{temps}\n"
        f"    include {tmp}/site.conf;\n}}\n",
        "utf-8",
    )
    proc = subprocess.Popen(
        [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx-main.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", https)
            writer.close()
            return proc
        except OSError:
            if proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
    err = (tmp / "nginx-error.log").read_text() if (tmp / "nginx-error.log").exists() else ""
    proc.kill()
    raise RuntimeError("nginx did not start:\n" + err)


def cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.db
@pytest.mark.slow
@pytest.mark.skipif(
    not PG_URL,
    reason="two service processes need PostgreSQL: set "
    "BOT_TEST_DATABASE_URL (CI does in its PostgreSQL pass)",
)
@pytest.mark.skipif(not NGINX, reason="nginx is not installed (apt-get install nginx)")
@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
async def test_two_processes_behind_nginx_share_materials_through_s3(
    tmp_path, fake_wechat, s3_server
):
    await pg("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    bucket = await make_bucket(s3_server)
    env = {
        **s3_env(s3_server, bucket, "shaoxing"),
        "BOT_TRUSTED_PROXIES": "127.0.0.1",
        "BOT_LOGIN_RATE_LIMIT": "3",
        "BOT_WXA_APP_ID": WXA_APP_ID,
        "BOT_WXA_APP_SECRET": WXA_SECRET,
        "BOT_BACKGROUND": "false",
    }
    workers: list[Worker] = []
    nginx = None
    try:
        for name in ("a", "b"):  # one after the other: the first migrates
            (tmp_path / name).mkdir()
            worker = Worker(tmp_path, fake_wechat.url, BOT_DATA_DIR=str(tmp_path / name), **env)
            workers.append(await worker.start())
        http, https = free_port(), free_port()
        nginx = await start_nginx(
            tmp_path, site_for_test(tmp_path, [w.port for w in workers], http, https), https
        )
        base = f"https://127.0.0.1:{https}"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as s:
            await through_nginx(s, base, http, workers[0].env, fake_wechat)
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=20)
        for w in workers:
            w.stop()
        await pg("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    logs = [w.log.read_text("utf-8") for w in workers]
    assert sorted(log.count("POST /wechat 200") for log in logs) == [0, 6]  # sticky
    download = "GET /api/v1/center/applications/{id}/materials/{material_id} 200"
    assert all(download in log for log in logs), "each process served the file once at least"
    assert not any("signature=" in log or "Bearer" in log for log in logs)
    assert not any((tmp_path / name / "materials").exists() for name in ("a", "b"))


async def through_nginx(
    s: aiohttp.ClientSession, base: str, http: int, env: dict[str, str], fake_wechat
) -> None:
    """A chat, an upload and its download, all through nginx."""
    async with s.get(f"http://127.0.0.1:{http}/healthz", allow_redirects=False) as r:
        assert r.status == 301 and r.headers["Location"].startswith("https://")

    # chat: signed, encrypted messages, answered (encrypted) through the proxy, each user's
    # by one process (nginx hashes the openid)
    replies = []
    for i, text in enumerate(["菜单", "帮助", "English", "帮助", "中文", "菜单"]):
        query, data = signed_message("o-deploy-1", text, 424242 + i)
        async with s.post(base + "/wechat", params=query, data=data) as r:
            assert r.status == 200
            replies.append(reply_content(CRYPTO, query, await r.text()) or "")
    assert "1" in replies[0] and "How to use" in replies[3] and "1" in replies[5]

    # an agent logs in from the mini-program, binds, files an application, uploads a photo
    invite = cli(
        env, "agents", "invite", "--region", REGION, "--name", "王五", "--village", "东浦村"
    )
    fake_wechat.add_code("deploy-code", openid="o-wxa-deploy")
    async with s.post(base + "/api/v1/auth/wxa-login", json={"code": "deploy-code"}) as r:
        assert r.status == 200, await r.text()
        token = (await r.json())["token"]
    auth = {"Authorization": f"Bearer {token}"}
    async with s.post(
        base + "/api/v1/agents/bind", json={"invite_code": invite}, headers=auth
    ) as r:
        assert r.status == 200, await r.text()
    async with s.post(
        base + "/api/v1/applications", json=body(), headers={**auth, "Idempotency-Key": "deploy-1"}
    ) as r:
        assert r.status == 201, await r.text()
        app_id = (await r.json())["id"]
    form = aiohttp.FormData()
    form.add_field("kind", "matter_evidence")
    form.add_field("file", PNG, filename="photo.png", content_type="image/png")
    async with s.post(
        f"{base}/api/v1/applications/{app_id}/materials", data=form, headers=auth
    ) as r:
        assert r.status == 201, await r.text()
        material_id = (await r.json())["material"]["id"]

    # the centre downloads it: each request may reach either process, and both find the file
    key = cli(env, "center-keys", "create", "--region", REGION)
    url = f"{base}/api/v1/center/applications/{app_id}/materials/{material_id}"
    for _ in range(4):
        async with s.get(url, headers={"X-Api-Key": key}) as r:
            assert r.status == 200 and await r.read() == PNG
    async with s.get(url) as r:
        assert r.status == 401

    # the docs UI and the OpenAPI document come through too
    async with s.get(base + "/api/docs") as r:
        assert r.status == 200 and "swagger-ui" in await r.text()

    if "trusted_proxies" in Settings.model_fields:
        # nginx is trusted: the rate limit counts the client nginx saw, not nginx itself
        for i in range(3):
            fake_wechat.add_code(f"rl-{i}", openid=f"o-rl-{i}")
            async with s.post(
                base + "/api/v1/auth/wxa-login",
                json={"code": f"rl-{i}"},
                headers={"X-Forwarded-For": "203.0.113.5"},
            ) as r:
                assert r.status == 200, await r.text()
        async with s.post(
            base + "/api/v1/auth/wxa-login",
            json={"code": "rl-x"},
            headers={"X-Forwarded-For": "203.0.113.5"},
        ) as r:
            assert r.status == 429
        fake_wechat.add_code("rl-other", openid="o-rl-other")
        async with s.post(
            base + "/api/v1/auth/wxa-login",
            json={"code": "rl-other"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        ) as r:
            assert r.status == 200, await r.text()
