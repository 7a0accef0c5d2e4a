"""The words centres use (DOMAIN §8): the statute's phrases, one term for migrant workers, the
Zhashui form's title and opening paragraph."""

from __future__ import annotations

import pytest

from handlers.records import docx_forms, ledgers
from i18n import catalog, t

ZH = catalog("zh_CN")


@pytest.mark.parametrize(
    "wrong",
    [
        "代为申请",
        "准予援助",
        "无需经济困难条件",
        "农民工",
        "进城务工",
        "覆盖率",
        "5个工作日",
        "个人诚信承诺书",
        "可以处三千元",
        "律师或法律工作者",
    ],
)
def test_no_chinese_text_says_it_the_old_way(wrong: str) -> None:
    # `words.*` are what people may type (a villager says 农民工 or 代为申请), never what we say.
    assert [k for k, v in ZH.items() if wrong in v and not k.startswith("words.")] == []


def test_the_pledge_quotes_art_64_under_the_provinces_title() -> None:
    text = t("pledge.text", "zh_CN")
    assert text.startswith("法律援助经济困难状况承诺书")
    assert "由司法行政部门责令其支付已实施法律援助的费用，并处三千元以下罚款" in text


def test_statutory_phrases() -> None:
    assert t("filing.title", "zh_CN") == "帮办、代办法律援助申请"
    assert "给予法律援助" in t("applications.decided.granted", "zh_CN")
    assert t("hardship.not_required", "zh_CN") == "不受经济困难条件限制"
    assert "可先行提供法律援助" in t("green.limitation", "zh_CN")
    assert "城乡务工人员" in t("green.migrant_wage", "zh_CN")
    assert "回访率" in t("digest.coverage", "zh_CN", share="90%", done=9, closed=10)
    assert "律师、基层法律服务工作者等法律援助人员" in t("complaint.about.handler", "zh_CN")
    assert ledgers.APPLICATION_STATUS["granted"] == "给予法律援助"


def test_missing_materials_consequence_follows_the_policy() -> None:
    assert (
        t("applications.missing_consequence.withdrawn", "zh_CN") == "逾期未补齐的，视为撤回申请。"
    )
    from models.policy import PRESETS

    assert PRESETS["national"].missing_materials_consequence == "withdrawn"
    assert PRESETS["shaoxing"].missing_materials_consequence == "terminated"


def test_callback_form_title_and_opening() -> None:
    assert docx_forms.TITLE == "法律援助案件电话回访登记表"
    assert docx_forms.OPENING.startswith(
        "法律援助中心根据《中华人民共和国法律援助法》《司法部办理法律援助案件程序规定》"
    )
