"""Chat flow `supplement` (补充材料 N): an agent adds photos of materials to an application filed
earlier — after the centre asked for more (need_materials) or while 容缺 items are owed.

`补充材料 12`, then photos, then `完成`. With several items owed the agent says which ones the
photos cover; those stop being owed, so the materials-due reminder (jobs_applications) stops
once every item is in. Each photo becomes a material the centre lists (its file fetched from
WeChat by the outbox, as at filing); the region's staff are told, and the centre's records
system gets an `application.materials_added` event.
"""

from __future__ import annotations

import re

from bot.flowkit import Ctx, Done, Flow, Next, Outcome, Start, Stay, Step, command, register_flow
from bot.notify import alert_staff, emit_event
from handlers.filing import event_data
from handlers.flows.agent_applications import missing_kinds, owned
from handlers.flows.agent_filing_finish import PHOTOS_MAX
from handlers.flows.agent_filing_state import current_agent
from handlers.flows.agent_filing_submit import keep_photo
from i18n import t
from models.application import Application, Material, Status
from models.masking import mask_name

FLOW = "supplement"
OPEN_SHOWN = 5  # applications named when the agent did not say which one
DONE_WORDS = {"完成", "好了", "发完了", "发完", "结束", "就这些", "done", "finish", "finished"}
ALL_WORDS = {"全部", "都有", "都补齐了", "全部补齐", "齐全", "all"}
OTHER_WORDS = {"其他", "其它", "都不是", "other", "none"}
_TRIM = " 。.!！"


async def needs_materials(ctx: Ctx, row: Application) -> bool:
    """Whether materials may be added: not refused, and items owed or the centre asked."""
    if row.status == Status.REFUSED:
        return False
    return row.status == Status.NEED_MATERIALS or bool(await missing_kinds(ctx, row))


@command(
    r"^\s*(?:补充材料|补交材料|补材料|supplement|add materials)\s*[#＃]?\s*(\d{1,9})?"
    r"\s*[。.]?\s*$"
)
async def begin(ctx: Ctx, m: re.Match[str]) -> Outcome:
    """补充材料 [N]: starts adding photos to application N (or the one application owing any)."""
    if ctx.conv.flow:  # never throw an open form away for this
        return Stay(ctx.t("supplement.finish_first"))
    agent = await current_agent(ctx)
    if agent is None:
        return Done(ctx.t("filing.not_agent"))
    if m.group(1) is None:
        rows = [
            r
            for r in await Application.filter(agent_id=agent.id, status__not=Status.REFUSED)
            .using_db(ctx.conn)
            .order_by("-id")
            .limit(50)
            if await needs_materials(ctx, r)
        ]
        if len(rows) != 1:
            return Done(
                ctx.t(
                    "supplement.which",
                    ids="、".join(f"#{r.id}" for r in rows[:OPEN_SHOWN]),
                    example=rows[0].id,
                )
                if rows
                else ctx.t("supplement.nothing_open")
            )
        row: Application | None = rows[0]
    else:
        row = await owned(ctx, int(m.group(1)))
    if row is None:
        return Done(ctx.t("mine.not_found"))
    if row.status == Status.REFUSED:
        return Done(ctx.t("supplement.refused", id=row.id))
    if not await needs_materials(ctx, row):
        return Done(ctx.t("supplement.nothing_owed", id=row.id))
    return Start(FLOW, data={"id": row.id, "photos": []})


async def _row(ctx: Ctx) -> Application:
    return await Application.get(id=ctx.data["id"]).using_db(ctx.conn)


def _numbered(ctx: Ctx, kinds: list[str]) -> str:
    return "\n".join(f"{i}. {ctx.t('material.' + k)}" for i, k in enumerate(kinds, 1))


async def photos_prompt(ctx: Ctx) -> str:
    """What is owed and how to send it; once photos arrive, only the count (short replies)."""
    n = len(ctx.data.get("photos", []))
    if n:
        return ctx.t("supplement.more", n=n)
    row = await _row(ctx)
    lines = [ctx.t("supplement.intro", id=row.id, name=mask_name(row.applicant_name))]
    missing = await missing_kinds(ctx, row)
    if missing:
        lines.append(
            ctx.t(
                "supplement.owed",
                items=_numbered(ctx, missing),
                due=row.materials_due.isoformat() if row.materials_due else "—",
            )
        )
    if row.status == Status.NEED_MATERIALS and row.decision_reason:
        lines.append(ctx.t("supplement.centre_asks", reason=row.decision_reason))
    lines.append(ctx.t("supplement.send"))
    return "\n".join(lines)


async def photos(ctx: Ctx) -> Outcome:
    """Keeps each photo; on 完成 asks which owed items they cover (or saves them at once)."""
    kept = ctx.data.setdefault("photos", [])
    if ctx.inc.kind == "image":
        if len(kept) >= PHOTOS_MAX:
            return Stay(ctx.t("filing.photos_full", max=PHOTOS_MAX))
        kept.append({"media_id": ctx.inc.media_id, "pic_url": ctx.inc.pic_url})
        return Stay(ctx.t("supplement.photo_received", n=len(kept)))
    if ctx.text.strip(_TRIM).lower() not in DONE_WORDS:
        return Stay(ctx.t("supplement.send_or_done"))
    if not kept:
        return Stay(ctx.t("supplement.no_photos"))
    missing = await missing_kinds(ctx, await _row(ctx))
    if len(missing) > 1:
        return Next("which")
    return await save(ctx, missing)


async def which_prompt(ctx: Ctx) -> str:
    missing = await missing_kinds(ctx, await _row(ctx))
    return ctx.t(
        "supplement.ask_which", n=len(ctx.data.get("photos", [])), items=_numbered(ctx, missing)
    )


async def which(ctx: Ctx) -> Outcome:
    """Stores which owed items the photos cover (numbers, 全部 or 其他) and saves them."""
    missing = await missing_kinds(ctx, await _row(ctx))
    text = ctx.text.strip(_TRIM).lower()
    if text in ALL_WORDS:
        return await save(ctx, missing)
    if text in OTHER_WORDS:
        return await save(ctx, [])
    picks = [p for p in re.split(r"[\s,，、]+", text) if p]
    if not picks or not all(p.isdigit() and 1 <= int(p) <= len(missing) for p in picks):
        return Stay(ctx.t("supplement.which_invalid", n=len(missing)))
    return await save(ctx, [k for i, k in enumerate(missing, 1) if str(i) in picks])


async def save(ctx: Ctx, covered: list[str]) -> Outcome:
    """Writes the photos as materials, marks the covered items provided, tells staff and the
    centre, and answers what is still owed."""
    row = await Application.select_for_update().using_db(ctx.conn).get(id=ctx.data["id"])
    kind = covered[0] if len(covered) == 1 else "other"  # several items: photos not told apart
    kept = [await keep_photo(ctx, row, p, kind) for p in ctx.data.get("photos", [])]
    if covered:
        await (
            Material.filter(application_id=row.id, kind__in=covered, status="missing")
            .using_db(ctx.conn)
            .update(status="provided")
        )
    await Application.filter(id=row.id).using_db(ctx.conn).update(updated_at=ctx.now)
    still = await missing_kinds(ctx, row)
    zh = "zh_CN"
    name = mask_name(row.applicant_name)
    items = "、".join(t(f"material.{k}", zh) for k in covered) or t("material.other", zh)
    rest = "、".join(t(f"material.{k}", zh) for k in still) or t("filing.none", zh)
    await alert_staff(
        ctx.settings,
        region=row.region,
        key=f"materials-added:{kept[0].id}",
        title=t("staff.materials_added.title", zh),
        conn=ctx.conn,
        lines=[
            t(
                "staff.materials_added.line",
                zh,
                id=row.id,
                name=name,
                n=len(kept),
                items=items,
                rest=rest,
            )
        ],
    )
    await emit_event(
        ctx.settings,
        event_type="application.materials_added",
        key=f"application:{row.id}:materials:{kept[0].id}",
        region=row.region,
        conn=ctx.conn,
        data={**event_data(row), "photos": len(kept), "provided": covered, "missing": still},
    )
    lines = [ctx.t("supplement.saved", id=row.id, n=len(kept))]
    if still:
        lines.append(
            ctx.t(
                "supplement.still_missing",
                items="、".join(ctx.t(f"material.{k}") for k in still),
                due=row.materials_due.isoformat() if row.materials_due else "—",
            )
        )
    else:
        lines.append(ctx.t("supplement.all_in"))
    return Done("\n".join(lines))


register_flow(
    Flow(
        FLOW,
        "supplement.title",
        (
            Step("photos", photos_prompt, photos, accepts=frozenset({"text", "image"})),
            Step("which", which_prompt, which),
        ),
        resumable=False,
    )
)
