"""One scrubber for pushes, alerts and ledgers: phones and ID numbers masked however written."""

from __future__ import annotations

import json
from datetime import date

import pytest

from bot.keys import settings_key
from bot.notify import alert_staff, notify_user
from models.complaint import Complaint
from models.masking import scrub
from models.outbox import OutboxMessage
from tests.test_cases_support import add_staff
from tests.test_exports import download, sheet_rows

PHONE_FORMS = [
    "13812340000",
    "138.1234.0000",
    "138 1234 0000",
    "138-1234-0000",
    "138/1234/0000",
    "138_1234_0000",
    "+86 138 1234 0000",
    "0086-138-1234-0000",
    "+8613812340000",
    "１３８１２３４００００",
    "１３８－１２３４－００００",
    "138\u30001234\u30000000",
]
ID_FORMS = [
    "11010519491231002X",
    "110105 19491231 002X",
    "110105-1949-1231-002x",
    "110105.19491231.002X",
    "1101 0519 4912 3100 2X",
    "１１０１０５１９４９１２３１００２Ｘ",
]


@pytest.mark.parametrize("phone", PHONE_FORMS)
def test_every_written_form_of_a_mobile_is_masked(phone):
    out = scrub(f"律师说先交钱，电话{phone}。")
    assert out == "律师说先交钱，电话138****0000。", out


@pytest.mark.parametrize("id_number", ID_FORMS)
def test_every_written_form_of_an_id_number_is_masked(id_number):
    out = scrub(f"身份证 {id_number} 请核对")
    assert "19491231" not in out.replace(" ", "").replace("-", "").replace(".", "")
    assert out.lower() == "身份证 110105********002x 请核对", out


@pytest.mark.parametrize(
    "text,expected",
    [
        ("座机 0575-85123456", "座机 0575-****3456"),
        ("卡号 6222 0202 0000 1234 567", "卡号 ***************4567"),
        ("旧证 110105491231002", "旧证 110105*****1002"),
        # what must stay: references, dates, amounts, case numbers
        ("编号 C7K2M9 受理", "编号 C7K2M9 受理"),
        (
            "(2026)绍援民9号，2026-08-15 10:30 收 500 元",
            "(2026)绍援民9号，2026-08-15 10:30 收 500 元",
        ),
        ("订单 abc13812340000", "订单 abc13812340000"),
    ],
)
def test_other_numbers(text, expected):
    assert scrub(text) == expected


def test_free_text_hides_other_long_runs_and_is_capped():
    assert scrub("QQ 12345678 微信", free_text=True) == "QQ *** 微信"
    assert scrub("x" * 200, free_text=True, limit=120) == "x" * 120 + "…"


async def test_pushes_and_alerts_mask_every_form(app):
    await add_staff("王主任", "o-sup", supervisor=True)
    s = app.app[settings_key]
    lines = [f"电话 {p}" for p in PHONE_FORMS] + [f"证 {i}" for i in ID_FORMS]
    await alert_staff(s, region="611026", key="k", title="回访 138.1234.0000", lines=lines)
    await notify_user(s, openid="o-u", key="n", text="\n".join(lines))
    stored = json.dumps([r.payload for r in await OutboxMessage.all()], ensure_ascii=False)
    for form in PHONE_FORMS + ID_FORMS:
        assert form not in stored, form
    assert stored.count("138****0000") >= len(PHONE_FORMS)


async def test_the_complaints_ledger_masks_a_phone_typed_into_the_complaint(app):
    from bot.auth import create_center_key

    text = "律师要我先交两千块，电话 138.1234.0000，身份证 110105 19491231 002X"
    await Complaint.create(
        ticket="C7K2M9",
        region="330600",
        text=text,
        about="handler",
        grounds="money",
        received_on=date(2026, 8, 15),
        accept_due=date(2026, 8, 22),
        status="received",
    )
    app.key = await create_center_key("330600")
    resp = await download(
        app, "/api/v1/center/exports/complaints.xlsx", **{"from": "2026-08-01", "to": "2026-08-31"}
    )
    assert resp.status == 200
    row = " ".join(str(v) for v in sheet_rows(await resp.read())[1])
    assert "138.1234.0000" not in row and "19491231" not in row
    assert "138****0000" in row and "110105********002X" in row and "两千块" in row
