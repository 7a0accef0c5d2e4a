"""Rotating BOT_SECRET_KEY: `python -m bot rotate-key` re-encrypts personal data and indexes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot import db
from bot.settings import Settings
from models import fields as enc
from models.case import Case
from tests.test_cases_support import ID_NUMBER, PHONE, center_key, put_case
from tests.test_workers import ROOT

pytestmark = pytest.mark.slow


async def test_rotate_key_re_encrypts_under_the_new_key(aiohttp_client, settings, tmp_path):
    from bot.app import create_app

    url = f"sqlite://{tmp_path}/rotate.sqlite3"
    old = settings.model_copy(update={"database_url": url, "secret_key": "old-key-1"})
    client = await aiohttp_client(create_app(old))
    await put_case(client, await center_key(), expect=200)
    await client.close()

    env = {
        **os.environ,
        "BOT_DATABASE_URL": url,
        "BOT_DATA_DIR": str(tmp_path),
        "BOT_SECRET_KEY": "new-key-2",
        "BOT_OLD_SECRET_KEYS": "old-key-1",
        "BOT_WECHAT_TOKEN": "t",
        "PYTHONPATH": str(ROOT),
    }
    out = subprocess.run(
        [sys.executable, "-m", "bot", "rotate-key"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "re-encrypted" in out.stdout and "Case: 1/1" in out.stderr

    new_only = Settings(_env_file=None, database_url=url, data_dir=tmp_path, secret_key="new-key-2")
    async with db.orm(new_only):  # the old key is gone: everything must read with the new one
        case = await Case.get()
        assert case.beneficiary_id_number == ID_NUMBER and case.beneficiary_phone == PHONE
        assert case.beneficiary_id_index == enc.blind_index(ID_NUMBER)
