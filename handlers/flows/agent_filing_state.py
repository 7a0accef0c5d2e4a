"""Chat flow `agent_filing`: what its steps share. Step names, the agent writing, and the
answers collected so far read as a `Filing` (the same value the API builds), so both halves of
the flow and the summary check eligibility with one set of rules (handlers.filing).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from bot.flowkit import UNKNOWN, Ctx, Next, register_fact
from handlers.filing import Filing
from models.agent import Agent
from models.codes import CRIMINAL_DEFENSE, EXEMPT_CATEGORIES, OTHER_REASON, PLEDGE_TEXT_VERSION
from models.fields import decrypt

NONE_WORDS = {"无", "没有", "没", "不清楚", "不知道", "否", "none", "no", "n/a", "-", "无对方"}


class S(StrEnum):
    INTRO = "intro"
    MATTER = "matter"
    NAME = "name"
    ID = "id_number"
    PHONE = "phone"
    ADDRESS = "address"
    FACTS = "facts"
    OPPOSING = "opposing"
    DEADLINE = "deadline"
    MIGRANT = "migrant"
    HARDSHIP = "hardship"
    EXEMPT = "exempt"
    OTHER_REASON = "other_reason"
    HOUSEHOLD = "household"
    INCOME = "income"
    SOURCE = "source"
    ASSETS = "assets"
    PLEDGE = "pledge"
    CONFIRM_BY = "confirm_by"
    PLEDGE_PHOTO = "pledge_photo"
    MATERIALS = "materials"
    ACK = "ack"
    SUMMARY = "summary"


def is_none(text: str) -> bool:
    return text.strip(" 。.").lower() in NONE_WORDS


# How the signed pledge is kept (pledge["record"]): its photo came in chat, or the agent keeps the
# paper and brings it to the centre. A spoken confirmation has no paper (None).
PLEDGE_PHOTO, PLEDGE_PAPER = "photo", "paper_kept_by_agent"


def pledge_record(data: dict) -> str | None:
    if data.get("confirmed_by") in (None, "spoken"):
        return None
    if data.get("pledge_photo"):
        return PLEDGE_PHOTO
    return PLEDGE_PAPER if data.get("pledge_paper") else None


def hardship_fits(d: dict) -> bool:
    """Whether the hardship answers still fit the matter (after 改 1 changed it)."""
    exempt = d.get("exempt")
    return (
        d.get("basis") == "pledge"
        or (d.get("basis") == OTHER_REASON and d.get("matter") == CRIMINAL_DEFENSE)
        or (
            d.get("basis") == "exempt"
            and exempt is not None
            and EXEMPT_CATEGORIES[exempt].covers(d.get("matter"))
        )
    )


def proceed(ctx: Ctx, step: str) -> Next:
    """Go on to `step`; while the agent edits one answer from the summary (改 N), back to it."""
    return Next(S.SUMMARY) if ctx.data.get("editing") else Next(step)


async def current_agent(ctx: Ctx) -> Agent | None:
    """The bound, active agent writing, or None.

    Prompts, choices and steps all ask, so the answer is kept in the batch's memo. The batch's
    lock statement read each sender's agent id (the `agent_id` fact), so a batch of people who
    are no agent asks nothing more; agents are loaded in one query. Outside a batch, or after
    binding in chat (`forget_agents`), every sender is looked up in one query by openid.
    """
    agents = ctx.memo.get("agents")
    if agents is None or ctx.openid not in agents:
        openids = sorted({*ctx.memo.get("openids", ()), ctx.openid})
        facts = ctx.memo.get("facts", {})
        ids = [facts.get(o, {}).get("agent_id", UNKNOWN) for o in openids]
        if any(i is UNKNOWN for i in ids):
            query = Agent.filter(oa_openid__in=openids, active=True)
        elif any(i is not None for i in ids):
            query = Agent.filter(id__in=[i for i in ids if i is not None], active=True)
        else:
            query = None  # nobody in the batch is an agent: nothing to ask
        found = (
            {a.oa_openid: a for a in await query.using_db(ctx.conn)} if query is not None else {}
        )
        agents = ctx.memo["agents"] = {o: found.get(o) for o in openids}
    return agents[ctx.openid]


def forget_agents(ctx: Ctx) -> None:
    """After binding: the next `current_agent` looks again."""
    ctx.memo.pop("agents", None)
    ctx.forget("agent_id")


def _agent_fact() -> str:
    """The sender's active agent's id, or NULL (oa_openid is unique)."""
    table = Agent._meta.db_table
    return f'SELECT a."id" FROM "{table}" a WHERE a."oa_openid" = {{openid}} AND a."active"'


register_fact("agent_id", _agent_fact)


def needed_kinds(data: dict) -> list[str]:
    kinds = ["id_document"]
    if data.get("basis") == "pledge":
        kinds.append("hardship_statement")
    elif data.get("basis") == "exempt":
        kinds.append("exemption_proof")
    return [*kinds, "matter_evidence"]


def filing_of(ctx: Ctx) -> Filing:
    d = ctx.data
    pledge = None
    if d.get("basis") == "pledge" and d.get("confirmed_by"):
        pledge = {
            "accepted": True,
            "confirmed_by": d["confirmed_by"],
            "text_version": PLEDGE_TEXT_VERSION,
            "record": pledge_record(d),
        }
    kinds = needed_kinds(d)
    missing = d.get("missing") or []
    return Filing(
        name=decrypt(d["name"]),
        id_number=decrypt(d["id_number"]),
        phone=decrypt(d["phone"]),
        address=decrypt(d["address"]) if d.get("address") else "",
        matter=d["matter"],
        facts=d.get("facts", ""),
        opposing_party=d.get("opposing"),
        limitation_deadline=date.fromisoformat(d["deadline"]) if d.get("deadline") else None,
        hardship_basis=d.get("basis") or "",
        exempt_category=d.get("exempt"),
        statement=d.get("statement"),
        pledge=pledge,
        channel="chat",
        materials=[(k, "missing" if k in missing else "provided") for k in kinds],
        missing_acknowledged=bool(d.get("ack")),
        other_reason=d.get("other_reason"),
        migrant_worker=bool(d.get("migrant")),
    )
