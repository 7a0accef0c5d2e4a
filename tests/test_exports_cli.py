"""`python -m bot export …` as an operator runs it: a subprocess on the test's database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from bot.app import create_app
from models.callback import Callback
from models.case import Case
from tests.test_digest_cli import cli_env, database_url, run_cli  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


async def test_export_callbacks_to_a_file_with_a_progress_line(
    app, aiohttp_client, settings, fake_wechat, tmp_path, database_url
):
    await aiohttp_client(create_app(settings.model_copy(update={"database_url": database_url})))
    for i, region in enumerate(("330600", "330600", "610626")):
        c = await Case.create(
            region=region,
            case_no=f"E-{i}",
            kind="civil",
            cause="借款纠纷",
            beneficiary_name="孙",
            beneficiary_phone="13600000000",
            handler_name="周",
            handler_org="所",
            status="closed",
            closed_on=date(2026, 3, 1),
        )
        await Callback.create(
            case=c,
            region=region,
            due_at=datetime(2026, 3, 4, tzinfo=UTC),
            status="completed",
            channel="phone",
            fee_charged=False,
            negligent=False,
            satisfied=True,
            answered_at=datetime(2026, 3, 5, 2, tzinfo=UTC),
        )
    env = cli_env(settings, fake_wechat, database_url)
    out_file = tmp_path / "callbacks.xlsx"
    code, out, err = await run_cli(
        env,
        tmp_path,
        "export",
        "callbacks",
        "--from",
        "2026-01-01",
        "--to",
        "2026-06-30",
        "-o",
        str(out_file),
    )
    assert code == 0, err
    assert "callbacks：已写入 3 行" in err and f"已导出 3 行到 {out_file}" in out
    # into a log (not a terminal) every progress report is a whole line; no ORM chatter
    assert "\r" not in err and err.endswith("已写入 3 行\n")
    assert "Tortoise-ORM shutdown" not in err
    rows = list(load_workbook(out_file, read_only=True).active.iter_rows(values_only=True))
    assert len(rows) == 4 and rows[0][0] == "序号"

    code, out, err = await run_cli(
        env,
        tmp_path,
        "export",
        "callbacks",
        "--region",
        "610626",
        "--from",
        "2026-01-01",
        "--to",
        "2026-06-30",
        "-o",
        str(out_file),
    )
    assert code == 0 and "已导出 1 行" in out

    code, out, err = await run_cli(
        env, tmp_path, "export", "disclosure", "--half", "2026H1", "-o", str(tmp_path / "d.xlsx")
    )
    assert code == 0, err
    names = load_workbook(tmp_path / "d.xlsx", read_only=True).sheetnames
    assert {
        "附件5 各承办机构办案数",
        "附件6 各承办人员办案数",
        "附件7 法律援助案件质量同行评估结果",
    } <= set(names)
    assert len(names) == 6 and "指派明细" in names  # 附件4, 附件7's detail, the assignments


@pytest.mark.parametrize(
    "args,message",
    [
        (["callbacks", "--from", "2026-07-01", "--to", "2026-06-30"], "开始日期不能晚于结束日期"),
        (["disclosure", "--half", "2026H3"], "2026H1 or 2026H2"),
        (["callbacks", "--from", "2026-02-30"], "invalid"),
    ],
)
async def test_bad_arguments_exit_non_zero_with_a_message(
    app,
    settings,
    fake_wechat,
    tmp_path,
    database_url,
    args,
    message,
):
    code, _, err = await run_cli(
        cli_env(settings, fake_wechat, database_url),
        tmp_path,
        "export",
        *args,
        "-o",
        str(tmp_path / "x.xlsx"),
    )
    assert code != 0 and message in err
    assert not (tmp_path / "x.xlsx").exists()
