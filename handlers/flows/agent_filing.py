"""Chat flow `agent_filing`: a bound agent files an application for an applicant, step by step.

For agents without the mini-program. Same facts, same eligibility rules and the same service
(handlers.filing) as POST /api/v1/applications, so both produce the same application. Each
answer is checked at its own step and re-asked with the reason; 返回/取消/继续 come from the
engine. The ID number, phone and name are kept encrypted in the conversation state while the
flow is open (it lives in the database). Diagram: agent_filing.mmd. The hardship and materials
steps are in agent_filing_finish.py, the summary and submission in agent_filing_submit.py, what
they share in agent_filing_state.py.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from bot.flowkit import (
    UNKNOWN,
    Choice,
    Ctx,
    Done,
    Flow,
    Next,
    Outcome,
    Stay,
    Step,
    register_flow,
)
from handlers.filing import today_of
from handlers.flows import agent_filing_finish as fin
from handlers.flows import agent_filing_submit as submit
from handlers.flows.agent_filing_state import (
    S,
    current_agent,
    hardship_fits,
    is_none,
    proceed,
)
from models.application import FACTS_MAX, TEXT_MAX
from models.codes import ART32_MATTERS, MATTERS, MIGRANT_GREEN_MATTERS, OTHER_CIVIL
from models.contact import InvalidInput, normalize_phone, validate_name
from models.fields import encrypt
from models.idcard import InvalidIdNumber, parse_id_number

FACTS_MIN = 5  # characters: "欠薪" alone tells the centre nothing; ask for a sentence
ADDRESS_MIN = 2
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


async def intro_prompt(ctx: Ctx) -> str:
    agent = await current_agent(ctx)
    if agent is None:
        return ctx.t("filing.not_agent")
    return ctx.t("filing.intro", name=agent.name, village=agent.village)


async def intro_choices(ctx: Ctx) -> list[Choice]:
    if await current_agent(ctx) is None:
        return [Choice("menu", "filing.back_to_menu")]
    return [Choice("start", "filing.start", means="yes")]


async def intro(ctx: Ctx) -> Outcome:
    """Lets only a bound, active agent in; asks for the matter."""
    if ctx.choice != "start" or await current_agent(ctx) is None:
        from bot.conversation import menu_text

        return Done(await menu_text(ctx))
    return Next(S.MATTER)


async def matter_choices(ctx: Ctx) -> list[Choice]:
    return [
        Choice(code, f"matter.{code}")
        for code in MATTERS
        if code != OTHER_CIVIL or ctx.policy.other_civil_allowed
    ]


async def matter(ctx: Ctx) -> Outcome:
    """Stores the matter code and asks for the applicant's name."""
    ctx.data["matter"] = ctx.choice
    if ctx.data.get("editing"):
        return after_matter_edit(ctx)
    return Next(S.NAME)


def after_matter_edit(ctx: Ctx) -> Next:
    """After 改 1: back to the summary when the hardship answers still fit the new matter, else
    through the hardship steps (and so the materials, whose list follows the hardship path)."""
    d = ctx.data
    if d["matter"] not in MIGRANT_GREEN_MATTERS:
        d["migrant"] = False
    elif "migrant" not in d:  # the green channel asks who is claiming, then the hardship path
        return Next(S.MIGRANT)
    if d["matter"] in ART32_MATTERS:
        if d.get("basis") != "not_required":
            d.update(
                basis="not_required",
                exempt=None,
                statement=None,
                confirmed_by=None,
                pledge_photo=None,
                pledge_paper=False,
            )
            return Next(S.MATERIALS, say=ctx.t("filing.art32"))
        return Next(S.SUMMARY)
    return Next(S.SUMMARY) if hardship_fits(d) else Next(S.HARDSHIP)


async def name(ctx: Ctx) -> Outcome:
    """Stores the applicant's name (encrypted) and asks for the ID number."""
    try:
        ctx.data["name"] = encrypt(validate_name(ctx.text))
    except InvalidInput as exc:
        return Stay(ctx.t(exc.message_key))
    return proceed(ctx, S.ID)


async def id_number(ctx: Ctx) -> Outcome:
    """Checks and stores the ID number (encrypted) and asks for the phone number."""
    try:
        parsed = parse_id_number(ctx.text)
    except InvalidIdNumber as exc:
        return Stay(ctx.t(exc.message_key))
    ctx.data["id_number"] = encrypt(parsed.number)
    return proceed(ctx, S.PHONE)


async def phone(ctx: Ctx) -> Outcome:
    """Stores the mobile number (encrypted; +86 and spaces are fine) and asks for the address."""
    try:
        ctx.data["phone"] = encrypt(normalize_phone(ctx.text))
    except InvalidInput as exc:
        return Stay(ctx.t(exc.message_key))
    return proceed(ctx, S.ADDRESS)


async def address(ctx: Ctx) -> Outcome:
    """Stores the address (encrypted) and asks for the facts."""
    if not ADDRESS_MIN <= len(ctx.text) <= TEXT_MAX:
        return Stay(ctx.t("filing.length", min=ADDRESS_MIN, max=TEXT_MAX))
    ctx.data["address"] = encrypt(ctx.text)
    return proceed(ctx, S.FACTS)


async def facts(ctx: Ctx) -> Outcome:
    """Stores the facts and what the applicant asks for; asks for the opposing party."""
    if not FACTS_MIN <= len(ctx.text) <= FACTS_MAX:
        return Stay(ctx.t("filing.length", min=FACTS_MIN, max=FACTS_MAX))
    ctx.data["facts"] = ctx.text
    return proceed(ctx, S.OPPOSING)


async def opposing(ctx: Ctx) -> Outcome:
    """Stores the opposing party (or none) and asks for a limitation deadline."""
    if len(ctx.text) > TEXT_MAX:
        return Stay(ctx.t("filing.length", min=1, max=TEXT_MAX))
    ctx.data["opposing"] = None if is_none(ctx.text) else ctx.text
    return proceed(ctx, S.DEADLINE)


def parse_date(text: str) -> date | None:
    m = _DATE.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def date_example(today: date) -> date:
    """A plausible limitation date to show as the example: the 1st of a month half a year ahead
    (a fixed date in a message turns into a past one, which no deadline can be)."""
    month = today.month + 6
    return date(today.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def _examples(ctx: Ctx) -> dict[str, str]:
    day = date_example(today_of(ctx.app))
    return {"example": day.isoformat(), "example_zh": f"{day.year}年{day.month}月{day.day}日"}


async def deadline_prompt(ctx: Ctx) -> str:
    return ctx.t("filing.ask.deadline", **_examples(ctx))


async def deadline(ctx: Ctx) -> Outcome:
    """Stores the limitation deadline (or none); asks how hardship is shown, unless Art. 32."""
    if is_none(ctx.text):
        ctx.data["deadline"] = None
    else:
        day = parse_date(ctx.text)
        if day is None:
            return Stay(ctx.t("filing.deadline_invalid", **_examples(ctx)))
        ctx.data["deadline"] = day.isoformat()
    if ctx.data.get("editing"):
        return Next(S.SUMMARY)
    if ctx.data["matter"] in ART32_MATTERS:
        ctx.data.update(basis="not_required", exempt=None, statement=None, confirmed_by=None)
        return Next(S.MATERIALS, say=ctx.t("filing.art32"))
    if ctx.data["matter"] in MIGRANT_GREEN_MATTERS:  # the green channel asks who is claiming
        return Next(S.MIGRANT)
    return Next(S.HARDSHIP)


async def agents_only(ctx: Ctx) -> str | None:
    """Only an active, bound agent goes on filing: the batch's `agent_id` fact says so without
    a query (the check at submitting stays)."""
    fact = ctx.fact("agent_id")
    if fact is None or (fact is UNKNOWN and await current_agent(ctx) is None):
        return ctx.t("filing.not_agent")
    return None


FLOW = register_flow(
    Flow(
        name="agent_filing",
        title="filing.title",
        guard=agents_only,
        steps=(
            Step(S.INTRO, intro_prompt, intro, choices=intro_choices),
            Step(S.MATTER, "filing.ask.matter", matter, choices=matter_choices),
            Step(S.NAME, "filing.ask.name", name),
            Step(S.ID, "filing.ask.id_number", id_number),
            Step(S.PHONE, "filing.ask.phone", phone),
            Step(S.ADDRESS, "filing.ask.address", address),
            Step(S.FACTS, "filing.ask.facts", facts, raw=True),
            Step(S.OPPOSING, "filing.ask.opposing", opposing),
            Step(S.DEADLINE, deadline_prompt, deadline),
            *fin.STEPS,
            submit.SUMMARY,
        ),
    )
)
