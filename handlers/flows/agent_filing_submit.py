"""Chat flow `agent_filing`, last step: the summary (personal data masked) and the submission.

The summary shows every answer on a numbered line; `改 N` goes back to that one step and, once
it is answered, straight back to the summary (not through the steps after it).

Submitting files the application through the same service as the API; photos sent in chat become
materials whose files are fetched from WeChat by the outbox (WeChat keeps them 3 days).
"""

from __future__ import annotations

import re

from bot.flowkit import Choice, Ctx, Done, Next, Outcome, Stay, Step, command
from handlers.api.application_views import mask_address
from handlers.applicant import invitation_page, new_invitation
from handlers.filing import check, file_application, today_of
from handlers.flows.agent_filing_state import S, current_agent, filing_of
from models.application import Application, Material
from models.eligibility import violation_message
from models.masking import mask_id, mask_name, mask_phone
from models.outbox import Channel

FACTS_SHOWN = 30  # characters of the facts in the summary: one line on a phone, plus the count
# 改 N: the summary's numbered lines and the step each one goes back to.
EDIT_STEPS = {
    1: S.MATTER,
    2: S.NAME,
    3: S.ID,
    4: S.PHONE,
    5: S.ADDRESS,
    6: S.FACTS,
    7: S.OPPOSING,
    8: S.DEADLINE,
    9: S.HARDSHIP,
    10: S.MATERIALS,
}


def _facts_line(ctx: Ctx, facts: str) -> str:
    first = " ".join(facts.split())
    if len(first) <= FACTS_SHOWN:
        return first
    return ctx.t("filing.summary.facts_cut", text=first[:FACTS_SHOWN], n=len(facts))


def _hardship_line(ctx: Ctx, f) -> str:
    """The hardship path in words, with what proves it: exempt group, or the household
    statement and how the pledge was confirmed and kept (a photo only when one came)."""
    parts = [ctx.t(f"hardship.{f.hardship_basis}")]
    if f.exempt_category:
        parts.append(ctx.t(f"exempt.{f.exempt_category}"))
    if f.other_reason:
        parts.append(f.other_reason[:60])
    if f.statement:
        st = f.statement
        parts.append(
            ctx.t(
                "filing.summary.statement",
                size=st.get("household_size"),
                income=st.get("monthly_income_yuan"),
                source=st.get("income_source"),
                assets=st.get("assets"),
            )
        )
    if f.migrant_worker:
        parts.append(ctx.t("filing.summary.migrant"))
    if f.pledge:
        how = ctx.t(f"pledge_confirm.{f.pledge['confirmed_by']}")
        record = f.pledge.get("record")
        parts.append(how + (ctx.t(f"filing.summary.pledge_{record}") if record else ""))
    return ctx.t("punct.semi").join(parts)


async def summary_prompt(ctx: Ctx) -> str:
    """Every answer on a numbered line (personal data masked), so one can be changed with 改 N."""
    f = filing_of(ctx)
    none = ctx.t("filing.none")
    missing = [ctx.t(f"material.{k}") for k, s in f.materials if s == "missing"]
    photos = len(ctx.data.get("photos", []))
    values = [
        ctx.t(f"matter.{f.matter}"),
        mask_name(f.name),
        mask_id(f.id_number),
        mask_phone(f.phone),
        mask_address(f.address),
        _facts_line(ctx, f.facts),
        f.opposing_party or none,
        f.limitation_deadline.isoformat() if f.limitation_deadline else none,
        _hardship_line(ctx, f),
        ctx.t(
            "filing.summary.materials",
            missing=ctx.t("punct.list_sep").join(missing) or none,
            photos=photos,
        ),
    ]
    lines = [ctx.t("filing.summary.title")]
    lines += [ctx.t(f"filing.summary.line.{n}", value=v) for n, v in enumerate(values, 1)]
    return "\n".join(lines) + "\n\n" + ctx.t("filing.ask.submit")


@command(r"^\s*(?:改|修改|更改|edit|change)\s*(?:第)?\s*(\d{1,2})\s*(?:项|条)?\s*[。.]?\s*$")
async def edit(ctx: Ctx, m: re.Match[str]) -> Outcome:
    """改 N at the summary: goes back to the step of line N; after it, back to the summary."""
    if ctx.conv.flow != "agent_filing" or ctx.conv.step != S.SUMMARY:
        text = ctx.t("filing.edit_only_at_summary")
        return Stay(text) if ctx.conv.flow else Done(text)
    target = EDIT_STEPS.get(int(m.group(1)))
    if target is None:
        return Stay(ctx.t("filing.edit_invalid", n=len(EDIT_STEPS)))
    if target == S.HARDSHIP and ctx.data.get("basis") == "not_required":
        return Stay(ctx.t("filing.art32"))
    ctx.data["editing"] = True
    return Next(target)


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
    if ctx.data.get("pledge_photo") and f.pledge:  # the signed pledge: the hardship statement
        await keep_photo(ctx, row, ctx.data["pledge_photo"], "hardship_statement")
    for photo in ctx.data.get("photos", []):
        await keep_photo(ctx, row, photo)
    invitation = await new_invitation(row, now=ctx.now, conn=ctx.conn)  # issue 13: follow it
    return Done(
        receipt(ctx, row, [k for k, s in f.materials if s == "missing"])
        + "\n"
        + ctx.t("applicant.agent_qr", url=invitation_page(ctx.app, invitation))
    )


async def keep_photo(ctx: Ctx, row: Application, photo: dict, kind: str = "other") -> Material:
    """A material for a photo sent in chat, and a queued fetch of the file from WeChat (which
    keeps it 3 days), so the centre can download it like an uploaded one."""
    media_id = (photo.get("media_id") or "")[:128] or None
    material = await Material.create(
        application_id=row.id,
        kind=kind,
        status="provided",
        source="chat",
        wechat_media_id=media_id,
        wechat_pic_url=(photo.get("pic_url") or "")[:512] or None,
        using_db=ctx.conn,
    )
    if media_id:
        await ctx.enqueue(
            channel=Channel.WECHAT_MEDIA,
            kind="media",
            region=row.region,
            dedupe_key=f"media:{material.id}",
            payload={"material_id": material.id, "media_id": media_id},
        )
    return material


def receipt(ctx: Ctx, row: Application, missing: list[str]) -> str:
    lines = [ctx.t("filing.done", id=row.id, due=row.decision_due.isoformat())]
    if row.urgent:
        lines.append(ctx.t("filing.done_urgent"))
    if missing and row.materials_due:
        lines.append(
            ctx.t(
                "filing.done_missing",
                items=ctx.t("punct.list_sep").join(ctx.t(f"material.{k}") for k in missing),
                due=row.materials_due.isoformat(),
            )
        )
    lines += [violation_message(w, ctx.locale) for w in row.warnings]
    return "\n".join(lines)


SUMMARY = Step(
    S.SUMMARY,
    summary_prompt,
    summary,
    choices=(
        Choice("submit", "filing.submit", words=("提交", "确认", "submit", "yes"), means="yes"),
    ),
)
