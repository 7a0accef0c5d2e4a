"""People who want help, not a menu: "我想申请法律援助", "申请", "法律援助", "咨询", "你好".

An idle user who says they want legal aid is told how to get it — the village agents of their
region (when the region is known: a bound case, the account's own centre), the 12348 hotline,
what to bring — and gets the menu; a greeting gets a greeting. The menu calls `reply_to` before
reading the text as a menu choice, after numbers and the entries' own words.
"""

from __future__ import annotations

import re

from bot.answers import normalize
from bot.flowkit import Ctx
from handlers.flows.progress import home_region
from models.agent import Agent

GREETINGS = frozenset(
    {
        "你好",
        "您好",
        "你好啊",
        "您好啊",
        "hi",
        "hello",
        "hey",
        "在吗",
        "在么",
        "在不在",
        "有人吗",
        "嗨",
        "哈喽",
        "早上好",
        "下午好",
        "晚上好",
        "老师好",
        "同志你好",
        "good morning",
    }
)
# What someone wanting legal aid says; words of other menu entries (投诉, 进度 …) are read by
# the menu instead ("申请进度" is progress, "投诉律师" a complaint).
WANTS_AID = re.compile(
    r"申请|法律援助|援助|咨询|律师|打官司|求助|帮帮|帮忙|维权|怎么办|法律帮助|"
    r"apply|legal aid|consult|lawyer|advice"
)
OTHER_ENTRIES = re.compile(
    r"投诉|举报|进度|进展|回访|评价|人工|客服|代办|complain|progress|"
    r"callback"
)
AGENTS_SHOWN = 5  # a short list fits one screen on a phone; the region may have dozens


def is_greeting(text: str) -> bool:
    return normalize(text) in GREETINGS


def wants_aid(text: str) -> bool:
    s = normalize(text)
    return bool(WANTS_AID.search(s)) and not OTHER_ENTRIES.search(s)


async def how_to_apply(ctx: Ctx) -> str:
    """How to apply: agents nearby, the 12348 hotline, what to bring."""
    region = await home_region(ctx)
    agents = []
    if region:
        agents = (
            await Agent.filter(region=region, active=True)
            .using_db(ctx.conn)
            .order_by("village", "id")
            .limit(AGENTS_SHOWN)
        )
    if agents:
        names = ctx.t("howto.sep").join(
            ctx.t("howto.agent", name=a.name, village=a.village, kind=ctx.t(f"howto.kind.{a.kind}"))
            for a in agents
        )
        where = ctx.t("howto.agents", agents=names)
    else:
        where = ctx.t("howto.no_agents")
    return ctx.t("howto.apply", agents=where)
