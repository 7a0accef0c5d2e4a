"""Chat flow `agent_filing`, second half: hardship, pledge, materials, the missing-materials notice.

The pledge text is shown in full and the applicant's way of confirming it recorded; photos sent
at the materials step are kept for the application (agent_filing_submit); owed materials are
listed at once with their deadline and the applicant's acknowledgement is asked for.
"""

from __future__ import annotations

import re

from bot import answers
from bot.flowkit import Choice, Ctx, Next, Outcome, Stay, Step
from handlers.filing import check, today_of
from handlers.flows.agent_filing_state import (
    S,
    filing_of,
    hardship_fits,
    is_none,
    needed_kinds,
)
from models.calendar import add_days
from models.codes import (
    CRIMINAL_DEFENSE,
    EXEMPT_CATEGORIES,
    OTHER_REASON,
    OTHER_REASON_MAX,
    PLEDGE_CONFIRMATIONS,
    PLEDGE_TEXT_KEY,
)
from models.eligibility import violation_message

PHOTOS_MAX = 30  # photos per application in chat; more is a mistake (or a flood)
ALL_WORDS = {"齐全", "都有", "全有", "已备齐", "备齐", "all", "complete", "none missing"}
# The agent keeps the signed paper pledge instead of photographing it.
PAPER_WORDS = {
    "纸质留存",
    "纸质",
    "留存",
    "代办人留存",
    "纸质承诺书",
    "paper",
    "paper copy",
    "keep paper",
}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


async def migrant(ctx: Ctx) -> Outcome:
    """Stores whether the applicant is a 城乡务工人员 (a wage or work-injury claim then takes the
    green channel whatever the hardship path) and asks how hardship is shown."""
    ctx.data["migrant"] = ctx.choice == "yes"
    if ctx.data.get("editing") and hardship_fits(ctx.data):  # 改 1: the rest still stands
        return Next(S.SUMMARY)
    return Next(S.HARDSHIP)


async def hardship_choices(ctx: Ctx) -> list[Choice]:
    """Exempt or pledge; criminal defence may also rest on other reasons (Art. 24)."""
    base = [Choice("exempt", "hardship.exempt"), Choice("pledge", "hardship.pledge")]
    if ctx.data.get("matter") == CRIMINAL_DEFENSE:
        base.append(Choice(OTHER_REASON, "hardship.other_reason", words=("其他原因",)))
    return base


async def hardship(ctx: Ctx) -> Outcome:
    """Stores the hardship path; asks for the exempt group, the other reason or the household."""
    ctx.data["basis"] = ctx.choice
    ctx.data.update(
        exempt=None,
        statement=None,
        confirmed_by=None,
        other_reason=None,
        pledge_photo=None,
        pledge_paper=False,
    )
    return Next(
        {"exempt": S.EXEMPT, OTHER_REASON: S.OTHER_REASON}.get(ctx.choice or "", S.HOUSEHOLD)
    )


async def other_reason(ctx: Ctx) -> Outcome:
    """Stores the other reason for a criminal defence and asks about materials."""
    if not 2 <= len(ctx.text) <= OTHER_REASON_MAX:
        return Stay(ctx.t("violation.hardship.other_reason_required"))
    ctx.data["other_reason"] = ctx.text
    return Next(S.MATERIALS)


async def exempt_choices(ctx: Ctx) -> list[Choice]:
    matter = ctx.data.get("matter")
    return [
        Choice(c, f"exempt.{c}")
        for c in ctx.policy.exempt_categories_allowed
        if EXEMPT_CATEGORIES[c].covers(matter)
    ]


async def exempt(ctx: Ctx) -> Outcome:
    """Stores the exempt group if it fits the matter and the applicant's age; asks for materials."""
    ctx.data["exempt"] = ctx.choice
    wrong = [
        v
        for v in check(ctx.app, filing_of(ctx), today_of(ctx.app)).violations
        if v.field == "hardship.exempt_category"
    ]
    if wrong:
        ctx.data["exempt"] = None
        return Stay(violation_message(wrong[0], ctx.locale))
    return Next(S.MATERIALS)


async def household(ctx: Ctx) -> Outcome:
    """Stores the household size and asks for the monthly income."""
    if not ctx.text.isdigit() or not 1 <= int(ctx.text) <= 99:
        return Stay(ctx.t("violation.pledge.household_size"))
    ctx.data["statement"] = {"household_size": int(ctx.text)}
    return Next(S.INCOME)


async def income(ctx: Ctx) -> Outcome:
    """Stores the household's monthly income in yuan and asks where it comes from."""
    m = _NUMBER.search(ctx.text.replace(",", "").replace("，", ""))
    if is_none(ctx.text):
        value = 0.0
    elif m is None or len(ctx.text) > 20:
        return Stay(ctx.t("violation.pledge.monthly_income"))
    else:
        value = float(m.group())
    ctx.data["statement"]["monthly_income_yuan"] = int(value) if value.is_integer() else value
    return Next(S.SOURCE)


async def source(ctx: Ctx) -> Outcome:
    """Stores the income source and asks for notable assets."""
    if not 1 <= len(ctx.text) <= 200:
        return Stay(ctx.t("violation.pledge.income_source"))
    ctx.data["statement"]["income_source"] = ctx.text
    return Next(S.ASSETS)


async def assets(ctx: Ctx) -> Outcome:
    """Stores notable assets (or none) and shows the pledge text."""
    ctx.data["statement"]["assets"] = ctx.t("filing.none") if is_none(ctx.text) else ctx.text[:200]
    return Next(S.PLEDGE)


async def pledge_prompt(ctx: Ctx) -> str:
    return ctx.t(PLEDGE_TEXT_KEY) + "\n\n" + ctx.t("filing.ask.pledge")


async def pledge(ctx: Ctx) -> Outcome:
    """Records that the applicant accepted the pledge and asks how they confirmed it."""
    if ctx.choice != "agree":
        return Next(S.HARDSHIP, say=ctx.t("filing.pledge_declined"))
    return Next(S.CONFIRM_BY)


async def confirm_by(ctx: Ctx) -> Outcome:
    """Stores how the pledge was confirmed; asks for the signed pledge's photo, or (spoken)
    about materials."""
    ctx.data.update(confirmed_by=ctx.choice, pledge_photo=None, pledge_paper=False)
    if ctx.choice == "spoken":
        return Next(S.MATERIALS)
    return Next(S.PLEDGE_PHOTO)


async def pledge_photo_prompt(ctx: Ctx) -> str:
    return ctx.t(
        "filing.ask.pledge_photo",
        how=ctx.t(f"pledge_confirm.{ctx.data.get('confirmed_by') or 'signature'}"),
    )


async def pledge_photo(ctx: Ctx) -> Outcome:
    """Keeps the photo of the signed (or fingerprinted) pledge, or records that the agent keeps
    the paper; asks about materials."""
    if ctx.inc.kind == "image":
        ctx.data.update(
            pledge_photo={"media_id": ctx.inc.media_id, "pic_url": ctx.inc.pic_url},
            pledge_paper=False,
        )
        return Next(S.MATERIALS, say=ctx.t("filing.pledge_photo_received"))
    if ctx.text.strip(" 。.").lower() in PAPER_WORDS:
        ctx.data.update(pledge_photo=None, pledge_paper=True)
        return Next(S.MATERIALS, say=ctx.t("filing.pledge_paper_recorded"))
    return Stay(ctx.t("filing.pledge_photo_invalid"))


async def materials_prompt(ctx: Ctx) -> str:
    items = "\n".join(
        f"{i}. {ctx.t('material.' + k)}" for i, k in enumerate(needed_kinds(ctx.data), 1)
    )
    return ctx.t("filing.ask.materials", items=items, photos=len(ctx.data.get("photos", [])))


async def materials(ctx: Ctx) -> Outcome:
    """Attaches a photo, or stores which listed materials are missing; asks to acknowledge."""
    if ctx.inc.kind == "image":
        photos = ctx.data.setdefault("photos", [])
        if len(photos) >= PHOTOS_MAX:
            return Stay(ctx.t("filing.photos_full", max=PHOTOS_MAX))
        photos.append({"media_id": ctx.inc.media_id, "pic_url": ctx.inc.pic_url})
        return Stay(ctx.t("filing.photo_received", n=len(photos)), ask=False)
    kinds = needed_kinds(ctx.data)
    text = ctx.text.strip(" 。.").lower()
    if text in ALL_WORDS:
        ctx.data.update(missing=[], ack=False)
        return Next(S.SUMMARY)
    # numbers as the menus read them (bot.answers.number): "２ 三", "第2项、第三项"
    picks = [answers.number(p) for p in re.split(r"[\s,，、;；]+", text) if p]
    if not picks or not all(n is not None and 1 <= n <= len(kinds) for n in picks):
        return Stay(ctx.t("filing.materials_invalid", n=len(kinds)))
    ctx.data["missing"] = [k for i, k in enumerate(kinds, 1) if i in picks]
    return Next(S.ACK)


async def ack_prompt(ctx: Ctx) -> str:
    due = add_days(today_of(ctx.app), ctx.policy.materials_due_days)
    items = "\n".join(
        f"{i}. {ctx.t('material.' + k)}" for i, k in enumerate(ctx.data.get("missing", []), 1)
    )
    consequence = ctx.t(
        "applications.missing_consequence." + ctx.policy.missing_materials_consequence
    )
    return (
        ctx.t(
            "applications.missing_notice", items=items, due=due.isoformat(), consequence=consequence
        )
        + "\n\n"
        + ctx.t("filing.ask.ack")
    )


async def ack(ctx: Ctx) -> Outcome:
    """Records that the applicant acknowledged the missing-materials notice; shows the summary."""
    if ctx.choice != "agree":
        return Next(S.MATERIALS)
    ctx.data["ack"] = True
    return Next(S.SUMMARY)


STEPS = (
    Step(
        S.MIGRANT,
        "filing.ask.migrant",
        migrant,
        choices=(
            Choice("yes", "filing.migrant_yes", words=("是", "是的", "对", "yes")),
            Choice("no", "filing.migrant_no", words=("不是", "否", "no")),
        ),
    ),
    Step(S.HARDSHIP, "filing.ask.hardship", hardship, choices=hardship_choices),
    Step(S.EXEMPT, "filing.ask.exempt", exempt, choices=exempt_choices),
    Step(S.OTHER_REASON, "filing.ask.other_reason", other_reason, raw=True),
    Step(S.HOUSEHOLD, "filing.ask.household", household),
    Step(S.INCOME, "filing.ask.income", income),
    Step(S.SOURCE, "filing.ask.source", source),
    Step(S.ASSETS, "filing.ask.assets", assets),
    Step(
        S.PLEDGE,
        pledge_prompt,
        pledge,
        choices=(
            Choice("agree", "filing.pledge_agree", words=("同意", "agree"), means="yes"),
            Choice("decline", "filing.pledge_decline", words=("不同意", "disagree"), means="no"),
        ),
    ),
    Step(
        S.CONFIRM_BY,
        "filing.ask.confirm_by",
        confirm_by,
        choices=tuple(Choice(c, f"pledge_confirm.{c}") for c in PLEDGE_CONFIRMATIONS),
    ),
    Step(S.PLEDGE_PHOTO, pledge_photo_prompt, pledge_photo, accepts=frozenset({"text", "image"})),
    Step(S.MATERIALS, materials_prompt, materials, accepts=frozenset({"text", "image"})),
    Step(
        S.ACK,
        ack_prompt,
        ack,
        choices=(
            Choice("agree", "filing.ack_agree", words=("知悉", "同意", "agree"), means="yes"),
            Choice("change", "filing.ack_change"),
        ),
    ),
)
