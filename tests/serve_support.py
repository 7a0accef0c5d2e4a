"""A real `python -m bot serve` process for tests that need signals, sockets and timeouts.

The database is a sqlite file in the test's directory, or the PostgreSQL test database when
BOT_TEST_DATABASE_URL is set; WeChat is the fake in the test process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.conftest import AES_KEY, PG_URL, TOKEN
from tests.fake_wechat import OA_APP_ID, OA_SECRET, WXA_APP_ID, WXA_SECRET

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, tmp: Path, api_base: str, *args: str, **env: str) -> None:
        self.port = free_port()
        self.args = args
        self.log = tmp / f"serve-{self.port}.log"
        self.env = {
            **os.environ,
            "BOT_DATA_DIR": str(tmp / "data"),
            "BOT_WECHAT_TOKEN": TOKEN,
            "BOT_WECHAT_AES_KEY": AES_KEY,
            "BOT_WECHAT_APP_ID": OA_APP_ID,
            "BOT_WECHAT_APP_SECRET": OA_SECRET,
            "BOT_WXA_APP_ID": WXA_APP_ID,
            "BOT_WXA_APP_SECRET": WXA_SECRET,
            "BOT_WECHAT_API_BASE": api_base,
            "BOT_SECRET_KEY": "test-secret-key-not-for-production",
            "PYTHONPATH": str(ROOT),
            **env,
        }
        if PG_URL:
            self.env["BOT_DATABASE_URL"] = PG_URL
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        """Runs another `python -m bot` command on the same database; returns its output."""
        done = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    async def start(self) -> Served:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(self.port), *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        async with aiohttp.ClientSession() as s:
            for _ in range(600):  # a loaded machine may take a while to start Python
                try:
                    async with s.get(self.url + "/readyz") as r:
                        if r.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.1)
        raise RuntimeError("serve did not start:\n" + self.log.read_text()[-3000:])

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float) -> int | None:
        """The exit code, or None when still running after `timeout` seconds."""
        assert self.proc is not None
        for _ in range(int(timeout * 10)):
            if self.proc.poll() is not None:
                return self.proc.returncode
            await asyncio.sleep(0.1)
        return self.proc.poll()

    def stop(self) -> None:
        """SIGTERM (a supervisor stops its workers), SIGKILL if that takes too long."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
