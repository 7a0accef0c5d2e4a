"""`python -m bot digest --region <code> --now` as an operator runs it: a subprocess on the same DB."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import create_app
from bot.settings import reveal
from handlers.jobs_digest import run_due
from models.outbox import OutboxMessage
from models.people import Staff
from tests.conftest import PG_URL
from tests.fake_wechat import OA_APP_ID, OA_SECRET

REPO = Path(__file__).resolve().parent.parent
REGION = "610626"
pytestmark = pytest.mark.slow


def cli_env(settings, fake_wechat, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "BOT_DATABASE_URL": database_url,
        "BOT_DATA_DIR": str(settings.data_dir),
        "BOT_SECRET_KEY": reveal(settings.secret_key),
        "BOT_WECHAT_TOKEN": "testtoken",
        "BOT_WECHAT_APP_ID": OA_APP_ID,
        "BOT_WECHAT_APP_SECRET": OA_SECRET,
        "BOT_WECHAT_API_BASE": fake_wechat.url,
        "BOT_WECOM_WEBHOOK_URL": fake_wechat.wecom_url,
        "BOT_POLICY": "zhashui",
    }


async def run_cli(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    """Run the CLI without blocking the loop: the fake WeChat server answers it meanwhile."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
def database_url(tmp_path) -> str:
    return PG_URL or f"sqlite://{(tmp_path / 'cli.sqlite3').as_posix()}"


async def test_digest_now_sends_and_prints_what_was_sent(
    app, aiohttp_client, settings, fake_wechat, tmp_path, database_url
):
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"database_url": database_url}))
    )
    await Staff.create(name="王主任", region=REGION, openid="o-sup", supervisor=True)
    env = cli_env(settings, fake_wechat, database_url)

    code, out, err = await run_cli(env, tmp_path, "digest", "--region", REGION)
    assert code == 0, err
    assert f"每日汇总 {REGION}" in out and "预览" in out
    assert fake_wechat.calls_to("message/custom/send") == []  # a preview sends nothing

    code, out, err = await run_cli(env, tmp_path, "digest", "--region", REGION, "--now")
    assert code == 0, err
    assert f"每日汇总 {REGION}" in out and "申请：新收0件" in out
    assert "已排队发送给 1 名工作人员和企业微信群" in out and "送达 2 条，失败 0 条" in out
    [sent] = fake_wechat.bodies("message/custom/send")
    assert sent["touser"] == "o-sup" and sent["text"]["content"].startswith("【每日汇总")
    assert len(fake_wechat.calls_to("webhook/send")) == 1
    assert await OutboxMessage.filter(kind="digest", status="sent").count() == 2
    code, out, err = await run_cli(env, tmp_path, "digest", "--region", REGION, "--now", "--weekly")
    assert code == 0 and "每周汇总" in out
    # the scheduled digests of the same day and week are not sent again (they were, a minute
    # later: --now counts as the period's digest)
    queued = await OutboxMessage.filter(kind="digest").count()
    evening = datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=23, minute=0)
    assert await run_due(client.app, evening.astimezone(UTC)) == []
    assert await OutboxMessage.filter(kind="digest").count() == queued


async def test_a_bad_region_is_refused(app, settings, fake_wechat, tmp_path, database_url):
    code, _, err = await run_cli(
        cli_env(settings, fake_wechat, database_url), tmp_path, "digest", "--region", "abc", "--now"
    )
    assert code != 0 and "6-digit" in err
