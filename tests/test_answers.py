"""The one answer normalizer (bot.answers): how real people answer numbered questions.

Each row is a phrasing seen from elderly users, agents and voice recognition, answered against
the options a flow really offers. `None` means the answer must re-prompt, not guess.
"""

from __future__ import annotations

import pytest

from bot.answers import candidates_text, number, resolve, yes_no
from bot.flowkit import Choice
from handlers.flows import callback_survey, complaint, menu
from models.codes import MATTERS, PLEDGE_CONFIRMATIONS

MATTER = tuple(Choice(code, f"matter.{code}") for code in MATTERS)
CONFIRM_BY = tuple(Choice(c, f"pledge_confirm.{c}") for c in PLEDGE_CONFIRMATIONS)
HARDSHIP = (Choice("exempt", "hardship.exempt"), Choice("pledge", "hardship.pledge"))
# the menu as a beneficiary sees it (agents see 我的申请 too)
MENU = tuple(Choice(e.key, e.label, e.words) for e in menu.ENTRIES if not e.agents_only)
TABLES = {
    "menu": MENU,
    "matter": MATTER,
    "q1": callback_survey.Q1,
    "q2": callback_survey.Q2,
    "q3": callback_survey.Q3,
    "about": complaint.ABOUT_CHOICES,
    "grounds": complaint.GROUND_CHOICES,
    "confirm_by": CONFIRM_BY,
    "hardship": HARDSHIP,
    "cb_confirm": callback_survey.CONFIRM,
}

PHRASINGS = [
    # numbers: digits, full-width, Chinese numerals and ordinals, voice punctuation, fillers
    ("menu", "2", "progress"),
    ("menu", "２", "progress"),
    ("menu", "二", "progress"),
    ("menu", "两", "progress"),
    ("menu", "第二个", "progress"),
    ("menu", "第2项", "progress"),
    ("menu", "选二", "progress"),
    ("menu", "2吧", "progress"),
    ("menu", "我选2", "progress"),
    ("menu", "二。", "progress"),
    ("menu", "第一个。", "apply"),
    ("menu", "(4)", "complaint"),
    ("menu", "4.", "complaint"),
    ("menu", "4、", "complaint"),
    ("menu", "嗯，三", "callback"),
    ("menu", "就第五个吧", "human"),
    ("menu", "我要第三项。", "callback"),
    ("menu", "数字1", "apply"),
    ("menu", " ３ ", "callback"),
    ("menu", "5号", "human"),
    ("menu", "second", "progress"),
    ("menu", "option 4", "complaint"),
    ("menu", "3rd", "callback"),
    ("menu", "九", None),
    ("menu", "12", None),
    ("matter", "十二", "other_civil"),
    ("matter", "第十四个", "good_samaritan"),
    # an option's words and synonyms
    ("matter", "赡养费", "support_payment"),
    ("matter", "要赡养费", "support_payment"),
    ("matter", "讨薪", "labor_remuneration"),
    ("matter", "老板欠工资", "labor_remuneration"),
    ("matter", "车祸", "traffic_accident"),
    ("matter", "工伤。", "work_injury"),
    ("matter", "家暴", "domestic_violence"),
    ("matter", "国家赔偿", "state_compensation"),
    ("matter", "赔偿", None),
    ("matter", "见义勇为", "good_samaritan"),
    ("menu", "投诉", "complaint"),
    ("menu", "我要投诉", "complaint"),
    ("menu", "查进度", "progress"),
    ("menu", "找客服", "human"),
    ("menu", "使用帮助", "help"),
    ("about", "律师", "handler"),
    ("about", "那个律师", "handler"),
    ("about", "律师事务所", "firm"),
    ("about", "中心的工作人员", "centre"),
    ("about", "承办人", "handler"),
    ("grounds", "他问我要钱", "money"),
    ("grounds", "态度不好", "attitude"),
    ("grounds", "一直没有进展", "no_progress"),
    ("grounds", "拖着不办", "delay"),
    ("confirm_by", "指印", "fingerprint"),
    ("confirm_by", "按手印", "fingerprint"),
    ("confirm_by", "签字", "signature"),
    ("confirm_by", "口头", "spoken"),
    ("hardship", "承诺", "pledge"),
    ("hardship", "免予核查", "exempt"),
    # yes / no, broad, and negated keywords
    ("q1", "收钱", "yes"),
    ("q1", "是的", "yes"),
    ("q1", "对对对", "yes"),
    ("q1", "嗯", "yes"),
    ("q1", "收过钱。", "yes"),
    ("q1", "没有", "no"),
    ("q1", "没有收钱", "no"),
    ("q1", "没收过", "no"),
    ("q1", "不是", "no"),
    ("q1", "从来没有", "no"),
    ("q1", "1", "yes"),
    ("q1", "２", "no"),
    ("q1", "否", "no"),
    ("q1", "不知道", None),
    ("q2", "有", "yes"),
    ("q2", "没有拖延", "no"),
    ("q2", "无", "no"),
    ("q3", "满意", "yes"),
    ("q3", "很满意！", "yes"),
    ("q3", "不满意", "no"),
    ("q3", "不太满意", "no"),
    ("q3", "挺好的", "yes"),
    ("q3", "还可以", "yes"),
    ("q3", "yes", "yes"),
    ("q3", "not satisfied", "no"),
    ("q3", "no", "no"),
    ("cb_confirm", "确认", "submit"),
    ("cb_confirm", "好的", "submit"),
    ("cb_confirm", "重新填", "redo"),
]


@pytest.mark.parametrize(
    ("table", "text", "value"), PHRASINGS, ids=[f"{t}:{x}" for t, x, _ in PHRASINGS]
)
def test_phrasings(table, text, value):
    assert resolve(text, TABLES[table]).value == value


def test_the_table_is_large_enough():
    assert len(PHRASINGS) >= 60


def test_ambiguous_answers_name_the_candidates():
    got = resolve("赔偿", MATTER)
    assert got.value is None and len(got.candidates) > 1
    assert resolve("律", complaint.ABOUT_CHOICES).candidates == ()  # too short to guess
    assert candidates_text((1, 3), "zh_CN") == "1 或 3"
    assert candidates_text((1, 2, 3), "en") == "1, 2 or 3"


def test_number_and_yes_no_alone():
    assert number("第十一项") == 11 and number("二十") == 20 and number("一下") is None
    assert yes_no("好吧") is True and yes_no("不是的") is False and yes_no("不一定") is None
