"""Chat flow `agent_filing`, second half: hardship, pledge, materials, notice, summary, submit.

The pledge text is shown in full and the applicant's way of confirming it recorded; photos sent
at the materials step are attached to the application (as WeChat media references); owed
materials are listed at once with their deadline and the applicant's acknowledgement is asked
for; the summary shows personal data masked before anything is written.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from bot.flowkit import Choice, Ctx, Done, Next, Outcome, Stay, Step
from handlers.filing import Filing, check, file_application, today_of
from models.agent import Agent
from models.application import Application, Material
from models.calendar import add_days
from models.codes import (
    EXEMPT_CATEGORIES,
    PLEDGE_CONFIRMATIONS,
    PLEDGE_TEXT_KEY,
    PLEDGE_TEXT_VERSION,
)
from models.eligibility import violation_message
from models.fields import decrypt
from models.masking import mask_id, mask_name, mask_phone
from models.outbox import Channel

PHOTOS_MAX = 30  # photos per application in chat; more is a mistake (or a flood)
NONE_WORDS = {"无", "没有", "没", "不清楚", "不知道", "否", "none", "no", "n/a", "-", "无对方"}
ALL_WORDS = {"齐全", "都有", "全有", "已备齐", "备齐", "all", "complete", "none missing"}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


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
    HARDSHIP = "hardship"
    EXEMPT = "exempt"
    HOUSEHOLD = "household"
    INCOME = "income"
    SOURCE = "source"
    ASSETS = "assets"
    PLEDGE = "pledge"
    CONFIRM_BY = "confirm_by"
    MATERIALS = "materials"
    ACK = "ack"
    SUMMARY = "summary"


def is_none(text: str) -> bool:
    return text.strip(" 。.").lower() in NONE_WORDS


async def current_agent(ctx: Ctx) -> Agent | None:
    """The bound, active agent writing, or None.

    Prompts, choices and steps all ask, so the answer is kept in the batch's memo; the first
    ask looks up every sender of the batch at once (one query instead of one per message).
    Binding in chat drops the memo (`forget_agents`).
    """
    agents = ctx.memo.get("agents")
    if agents is None or ctx.openid not in agents:
        openids = sorted({*ctx.memo.get("openids", ()), ctx.openid})
        found = {a.oa_openid: a for a in await Agent.filter(
            oa_openid__in=openids, active=True).using_db(ctx.conn)}
        agents = ctx.memo["agents"] = {o: found.get(o) for o in openids}
    return agents[ctx.openid]


def forget_agents(ctx: Ctx) -> None:
    """After binding: the next `current_agent` looks again."""
    ctx.memo.pop("agents", None)


async def hardship(ctx: Ctx) -> Outcome:
    """Stores exempt or pledge and asks for the exempt group or the household size."""
    ctx.data["basis"] = ctx.choice
    ctx.data.update(exempt=None, statement=None, confirmed_by=None)
    return Next(S.EXEMPT if ctx.choice == "exempt" else S.HOUSEHOLD)


async def exempt_choices(ctx: Ctx) -> list[Choice]:
    matter = ctx.data.get("matter")
    return [Choice(c, f"exempt.{c}") for c in ctx.policy.exempt_categories_allowed
            if EXEMPT_CATEGORIES[c].matters is None or matter in EXEMPT_CATEGORIES[c].matters]


async def exempt(ctx: Ctx) -> Outcome:
    """Stores the exempt group if it fits the matter and the applicant's age; asks for materials."""
    ctx.data["exempt"] = ctx.choice
    wrong = [v for v in check(ctx.app, filing_of(ctx), today_of(ctx.app)).violations
             if v.field == "hardship.exempt_category"]
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
    """Stores how the pledge was confirmed and asks about materials."""
    ctx.data["confirmed_by"] = ctx.choice
    return Next(S.MATERIALS)


def needed_kinds(data: dict) -> list[str]:
    kinds = ["id_document"]
    if data.get("basis") == "pledge":
        kinds.append("hardship_statement")
    elif data.get("basis") == "exempt":
        kinds.append("exemption_proof")
    return [*kinds, "matter_evidence"]


async def materials_prompt(ctx: Ctx) -> str:
    items = "\n".join(f"{i}. {ctx.t('material.' + k)}"
                      for i, k in enumerate(needed_kinds(ctx.data), 1))
    return ctx.t("filing.ask.materials", items=items, photos=len(ctx.data.get("photos", [])))


async def materials(ctx: Ctx) -> Outcome:
    """Attaches a photo, or stores which listed materials are missing; asks to acknowledge."""
    if ctx.inc.kind == "image":
        photos = ctx.data.setdefault("photos", [])
        if len(photos) >= PHOTOS_MAX:
            return Stay(ctx.t("filing.photos_full", max=PHOTOS_MAX))
        photos.append({"media_id": ctx.inc.media_id, "pic_url": ctx.inc.pic_url})
        return Stay(ctx.t("filing.photo_received", n=len(photos)))
    kinds = needed_kinds(ctx.data)
    text = ctx.text.strip(" 。.").lower()
    if text in ALL_WORDS:
        ctx.data.update(missing=[], ack=False)
        return Next(S.SUMMARY)
    picks = re.split(r"[\s,，、]+", text)
    if not all(p.isdigit() and 1 <= int(p) <= len(kinds) for p in picks):
        return Stay(ctx.t("filing.materials_invalid", n=len(kinds)))
    ctx.data["missing"] = [k for i, k in enumerate(kinds, 1) if str(i) in picks]
    return Next(S.ACK)


async def ack_prompt(ctx: Ctx) -> str:
    due = add_days(today_of(ctx.app), ctx.policy.materials_due_days)
    items = "\n".join(f"{i}. {ctx.t('material.' + k)}"
                      for i, k in enumerate(ctx.data.get("missing", []), 1))
    return ctx.t("applications.missing_notice", items=items, due=due.isoformat()) + "\n\n" + \
        ctx.t("filing.ask.ack")


async def ack(ctx: Ctx) -> Outcome:
    """Records the applicant's acknowledgement of the missing-materials notice; shows the summary."""
    if ctx.choice != "agree":
        return Next(S.MATERIALS)
    ctx.data["ack"] = True
    return Next(S.SUMMARY)


def filing_of(ctx: Ctx) -> Filing:
    d = ctx.data
    pledge = None
    if d.get("basis") == "pledge" and d.get("confirmed_by"):
        pledge = {"accepted": True, "confirmed_by": d["confirmed_by"],
                  "text_version": PLEDGE_TEXT_VERSION}
    kinds = needed_kinds(d)
    missing = d.get("missing") or []
    return Filing(
        name=decrypt(d["name"]), id_number=decrypt(d["id_number"]), phone=decrypt(d["phone"]),
        address=decrypt(d["address"]) if d.get("address") else "", matter=d["matter"],
        facts=d.get("facts", ""), opposing_party=d.get("opposing"),
        limitation_deadline=date.fromisoformat(d["deadline"]) if d.get("deadline") else None,
        hardship_basis=d.get("basis") or "", exempt_category=d.get("exempt"),
        statement=d.get("statement"), pledge=pledge, channel="chat",
        materials=[(k, "missing" if k in missing else "provided") for k in kinds],
        missing_acknowledged=bool(d.get("ack")),
    )


async def summary_prompt(ctx: Ctx) -> str:
    f = filing_of(ctx)
    lines = [ctx.t("filing.summary.title"),
             ctx.t("filing.summary.applicant", name=mask_name(f.name),
                   id_number=mask_id(f.id_number), phone=mask_phone(f.phone)),
             ctx.t("filing.summary.matter", matter=ctx.t(f"matter.{f.matter}")),
             ctx.t("filing.summary.hardship", basis=ctx.t(f"hardship.{f.hardship_basis}"))]
    if f.exempt_category:
        lines.append(ctx.t(f"exempt.{f.exempt_category}"))
    if f.pledge:
        lines.append(ctx.t(f"pledge_confirm.{f.pledge['confirmed_by']}"))
    missing = [ctx.t(f"material.{k}") for k, s in f.materials if s == "missing"]
    lines.append(ctx.t("filing.summary.missing", items="、".join(missing) or ctx.t("filing.none")))
    lines.append(ctx.t("filing.summary.photos", n=len(ctx.data.get("photos", []))))
    return "\n".join(lines) + "\n\n" + ctx.t("filing.ask.submit")


async def summary(ctx: Ctx) -> Outcome:
    """Files the application (same service as the API) and answers with its number."""
    agent = await current_agent(ctx)
    if agent is None:
        return Done(ctx.t("filing.not_agent"))
    f = filing_of(ctx)
    result = check(ctx.app, f, today_of(ctx.app))
    if not result.ok:
        return Stay("\n".join(violation_message(v, ctx.locale) for v in result.violations))
    row = await file_application(ctx.app, agent, f, result, conn=ctx.conn, now=ctx.now)
    for photo in ctx.data.get("photos", []):
        await keep_photo(ctx, row, photo)
    return Done(receipt(ctx, row, [k for k, s in f.materials if s == "missing"]))


async def keep_photo(ctx: Ctx, row: Application, photo: dict) -> None:
    """A material for a photo sent in chat, and a queued fetch of the file from WeChat (which
    keeps it 3 days), so the centre can download it like an uploaded one."""
    media_id = (photo.get("media_id") or "")[:128] or None
    material = await Material.create(
        application_id=row.id, kind="other", status="provided", source="chat",
        wechat_media_id=media_id, wechat_pic_url=(photo.get("pic_url") or "")[:512] or None,
        using_db=ctx.conn)
    if media_id:
        await ctx.enqueue(channel=Channel.WECHAT_MEDIA, kind="media", region=row.region,
                          dedupe_key=f"media:{material.id}",
                          payload={"material_id": material.id, "media_id": media_id})


def receipt(ctx: Ctx, row: Application, missing: list[str]) -> str:
    lines = [ctx.t("filing.done", id=row.id, due=row.decision_due.isoformat())]
    if row.urgent:
        lines.append(ctx.t("filing.done_urgent"))
    if missing and row.materials_due:
        lines.append(ctx.t("filing.done_missing", items="、".join(
            ctx.t(f"material.{k}") for k in missing), due=row.materials_due.isoformat()))
    lines += [violation_message(w, ctx.locale) for w in row.warnings]
    return "\n".join(lines)


STEPS = (
    Step(S.HARDSHIP, "filing.ask.hardship", hardship,
         choices=(Choice("exempt", "hardship.exempt"), Choice("pledge", "hardship.pledge"))),
    Step(S.EXEMPT, "filing.ask.exempt", exempt, choices=exempt_choices),
    Step(S.HOUSEHOLD, "filing.ask.household", household),
    Step(S.INCOME, "filing.ask.income", income),
    Step(S.SOURCE, "filing.ask.source", source),
    Step(S.ASSETS, "filing.ask.assets", assets),
    Step(S.PLEDGE, pledge_prompt, pledge, choices=(
        Choice("agree", "filing.pledge_agree", words=("同意", "agree")),
        Choice("decline", "filing.pledge_decline", words=("不同意", "disagree")))),
    Step(S.CONFIRM_BY, "filing.ask.confirm_by", confirm_by,
         choices=tuple(Choice(c, f"pledge_confirm.{c}") for c in PLEDGE_CONFIRMATIONS)),
    Step(S.MATERIALS, materials_prompt, materials, accepts=frozenset({"text", "image"})),
    Step(S.ACK, ack_prompt, ack, choices=(
        Choice("agree", "filing.ack_agree", words=("知悉", "同意", "agree")),
        Choice("change", "filing.ack_change"))),
    Step(S.SUMMARY, summary_prompt, summary, choices=(
        Choice("submit", "filing.submit", words=("提交", "确认", "submit", "yes")),)),
)
