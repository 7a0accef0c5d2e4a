"""Chat flow `agent_filing`, last step: the summary (personal data masked) and the submission.

Submitting files the application through the same service as the API; photos sent in chat become
materials whose files are fetched from WeChat by the outbox (WeChat keeps them 3 days).
"""

from __future__ import annotations

from bot.flowkit import Choice, Ctx, Done, Outcome, Stay, Step
from handlers.filing import check, file_application, today_of
from handlers.flows.agent_filing_state import S, current_agent, filing_of
from models.application import Application, Material
from models.eligibility import violation_message
from models.masking import mask_id, mask_name, mask_phone
from models.outbox import Channel


async def summary_prompt(ctx: Ctx) -> str:
    f = filing_of(ctx)
    lines = [ctx.t("filing.summary.title"),
             ctx.t("filing.summary.applicant", name=mask_name(f.name),
                   id_number=mask_id(f.id_number), phone=mask_phone(f.phone)),
             ctx.t("filing.summary.matter", matter=ctx.t(f"matter.{f.matter}")),
             ctx.t("filing.summary.hardship", basis=ctx.t(f"hardship.{f.hardship_basis}"))]
    if f.exempt_category:
        lines.append(ctx.t(f"exempt.{f.exempt_category}"))
    if f.other_reason:
        lines.append(f.other_reason[:60])
    if f.migrant_worker:
        lines.append(ctx.t("filing.summary.migrant"))
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


SUMMARY = Step(S.SUMMARY, summary_prompt, summary, choices=(
    Choice("submit", "filing.submit", words=("提交", "确认", "submit", "yes")),))
