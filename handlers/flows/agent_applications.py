"""Chat flow `my_applications` (我的申请) and the command `申请 N`: what an agent filed, in chat.

A bound agent sees their applications newest first, a page at a time, one line each (number,
masked name, matter, status with its deadline); a digit shows one in full — status, the centre's
decision, deadlines, owed materials and how to send them (`补充材料 N`, agent_supplement.py).
Only the agent who filed an application sees it; personal data is masked as in the API.
"""

from __future__ import annotations

from bot.flowkit import Choice, Ctx, Done, Flow, Next, Outcome, Stay, Step, command, register_flow
from handlers.flows.agent_filing_state import current_agent
from models.application import Application, Material, Status
from models.masking import mask_name

FLOW = "my_applications"
PAGE = 5  # applications per page: five lines fit a phone screen with the prompt
MATTER_SHOWN = 10  # characters of the matter in a list line; the detail shows it whole


async def owned(ctx: Ctx, app_id: int) -> Application | None:
    """The application `app_id` if the agent writing filed it (another's is as absent as none)."""
    agent = await current_agent(ctx)
    if agent is None:
        return None
    return await Application.filter(id=app_id, agent_id=agent.id).using_db(ctx.conn).first()


async def missing_kinds(ctx: Ctx, row: Application) -> list[str]:
    return await Material.owed_kinds(row.id, ctx.conn)


def status_line(ctx: Ctx, row: Application, missing: list[str]) -> str:
    """待审查（12-06 前决定） / 需要补充材料 / 给予法律援助 …, and owed items when there are."""
    text = ctx.t(f"mine.status.{row.status}", due=row.decision_due.isoformat())
    if missing:
        text += ctx.t("mine.missing_count", n=len(missing))
    return text


async def _page(ctx: Ctx) -> tuple[list[Application], bool, int]:
    """This page's applications (newest first, keyset: ids below the last page's), whether
    more follow, and how many the agent filed in all."""
    agent = await current_agent(ctx)
    if agent is None:
        return [], False, 0
    q = Application.filter(agent_id=agent.id).using_db(ctx.conn)
    total = await q.count()
    before = ctx.data.get("before")
    page_q = q.filter(id__lt=before) if before else q
    rows = await page_q.order_by("-id").limit(PAGE + 1)
    return rows[:PAGE], len(rows) > PAGE, total


async def list_prompt(ctx: Ctx) -> str | Done:
    """The page's heading; with nothing filed (or not an agent) says so and ends."""
    if await current_agent(ctx) is None:
        return Done(ctx.t("filing.not_agent"))
    rows, _, total = await _page(ctx)
    if not rows:
        return Done(ctx.t("mine.empty"))
    return ctx.t("mine.title", page=ctx.data.get("page", 1), total=total)


async def list_choices(ctx: Ctx) -> list[Choice]:
    rows, more, _ = await _page(ctx)
    out = []
    for row in rows:
        matter = ctx.t(f"matter.{row.matter}")
        if len(matter) > MATTER_SHOWN:
            matter = matter[:MATTER_SHOWN] + "…"
        line = ctx.t(
            "mine.line",
            id=row.id,
            name=mask_name(row.applicant_name),
            matter=matter,
            status=status_line(ctx, row, await missing_kinds(ctx, row)),
        )
        out.append(Choice(f"app:{row.id}", "mine.item", label_fields={"text": line}))
    if more:
        out.append(Choice("next", "mine.next_page", words=("下一页", "更多", "next", "more")))
    return out


async def pick(ctx: Ctx) -> Outcome:
    """Shows the next page, or the picked application in full (and ends)."""
    if ctx.choice == "next":
        rows, _, _ = await _page(ctx)
        ctx.data["before"] = rows[-1].id
        ctx.data["page"] = ctx.data.get("page", 1) + 1
        return Next("list")
    row = await owned(ctx, int((ctx.choice or "app:0").partition(":")[2]))
    if row is None:
        return Done(ctx.t("mine.not_found"))
    return Done(await detail(ctx, row))


async def detail(ctx: Ctx, row: Application) -> str:
    """One application in full, as its agent sees it (masked applicant)."""
    missing = await missing_kinds(ctx, row)
    files = (
        await Material.filter(application_id=row.id, source__in=("chat", "upload"))
        .using_db(ctx.conn)
        .count()
    )
    lines = [
        ctx.t("mine.detail.title", id=row.id, name=mask_name(row.applicant_name)),
        ctx.t("filing.summary.matter", matter=ctx.t(f"matter.{row.matter}")),
        ctx.t("mine.detail.status", status=status_line(ctx, row, missing)),
        ctx.t("mine.detail.received", day=row.received_at.date().isoformat()),
    ]
    if row.decided_at is not None:
        lines.append(
            ctx.t(
                f"mine.detail.decision.{row.status}",
                reason=row.decision_reason or ctx.t("filing.none"),
                case_no=row.case_no or ctx.t("mine.no_case_no"),
                day=row.decided_at.date().isoformat(),
            )
        )
    if row.urgent:
        lines.append(ctx.t("mine.detail.urgent"))
    if missing:
        items = "、".join(ctx.t(f"material.{k}") for k in missing)
        due = row.materials_due.isoformat() if row.materials_due else "—"
        lines.append(ctx.t("mine.detail.missing", items=items, due=due))
    lines.append(ctx.t("mine.detail.files", n=files))
    if row.status != Status.REFUSED and (missing or row.status == Status.NEED_MATERIALS):
        lines.append(ctx.t("mine.detail.supplement_hint", id=row.id))
    return "\n".join(lines)


@command(r"^\s*(?:申请|我的申请|application|app)\s*[#＃]?\s*(\d{1,9})\s*[。.]?\s*$")
async def show_one(ctx: Ctx, m) -> Outcome:
    """申请 N: one of my applications in full. Inside another flow it answers and re-asks that
    flow's step (a Done would throw the open form away)."""
    if await current_agent(ctx) is None:
        text = ctx.t("filing.not_agent")
    else:
        row = await owned(ctx, int(m.group(1)))
        text = await detail(ctx, row) if row is not None else ctx.t("mine.not_found")
    return Stay(text) if ctx.conv.flow else Done(text)


register_flow(
    Flow(
        FLOW,
        "mine.title_short",
        (Step("list", list_prompt, pick, choices=list_choices),),
        resumable=False,
    )
)
