"""`异议`: an applicant or recipient objects to a refusal or a termination (Art. 49).

What can be objected to: a refused application this user follows, and a terminated case bound
to them (or from an application they follow). With one such decision the flow asks for the
objection at once; with several it asks which. The objection goes to the region's justice bureau,
which reviews it within 5 days; the user is told the deadline now and the result later.
(`异议 <案号> [理由]` is a handler's objection to a grade, handlers.flows.grade_objection;
this is the bare word, or a numbered choice after it. A handler with published grades and no
decision to object to is shown the cases they may object to instead.)
"""

from __future__ import annotations

import logging

from bot.flowkit import (
    Choice,
    Ctx,
    Done,
    Flow,
    Next,
    Outcome,
    Start,
    Stay,
    Step,
    command,
    register_flow,
)
from handlers.flows.grade_objection import handler_objectable
from handlers.termination import file_objection
from models.application import Application
from models.case import Case, CaseStatus
from models.follow import ApplicantFollow
from models.termination import Objection, ObjectionStatus, Termination

log = logging.getLogger(__name__)
FLOW = "objection"
TEXT_MIN, TEXT_MAX = 4, 1000  # a sentence at least; the bureau reads it in full


async def objectable(ctx: Ctx) -> list[dict]:
    """The decisions this user may object to and has not objected to yet."""
    ids = list(
        await ApplicantFollow.filter(openid=ctx.openid)
        .using_db(ctx.conn)
        .values_list("application_id", flat=True)
    )
    out: list[dict] = []
    for a in await Application.filter(id__in=ids, status="refused").using_db(ctx.conn):
        out.append(
            {
                "target": "refusal",
                "application_id": a.id,
                "case_id": None,
                "region": a.region,
                "ref": ctx.t("objection.ref_application", id=a.id),
            }
        )
    cases = await Case.filter(status=CaseStatus.TERMINATED, openid=ctx.openid).using_db(ctx.conn)
    followed_cases = (
        await Case.filter(status=CaseStatus.TERMINATED, application_id__in=ids).using_db(ctx.conn)
        if ids
        else []
    )
    for c in {c.id: c for c in [*cases, *followed_cases]}.values():
        if await Termination.filter(case_id=c.id).using_db(ctx.conn).exists():
            out.append(
                {
                    "target": "termination",
                    "application_id": c.application_id,
                    "case_id": c.id,
                    "region": c.region,
                    "ref": ctx.t("objection.ref_case", case_no=c.case_no),
                }
            )
    done = await Objection.filter(openid=ctx.openid).using_db(ctx.conn)
    taken = {(o.target, o.application_id, o.case_id) for o in done}
    return [o for o in out if (o["target"], o["application_id"], o["case_id"]) not in taken]


async def pick_prompt(ctx: Ctx) -> str | Done:
    return ctx.t("objection.pick")


async def pick_choices(ctx: Ctx) -> list[Choice]:
    return [
        Choice(
            str(i),
            "objection.item",
            label_fields={"ref": o["ref"], "target": ctx.t(f"objection.target.{o['target']}")},
        )
        for i, o in enumerate(ctx.data.get("options", []))
    ]


async def on_pick(ctx: Ctx) -> Outcome:
    """Stores which decision is objected to, asks the objection."""
    ctx.data["chosen"] = ctx.data["options"][int(ctx.choice or 0)]
    return Next("text")


async def text_prompt(ctx: Ctx) -> str:
    chosen = ctx.data["chosen"]
    return ctx.t(
        "objection.ask", ref=chosen["ref"], target=ctx.t(f"objection.target.{chosen['target']}")
    )


async def on_text(ctx: Ctx) -> Outcome:
    """Records the objection, routes it to the bureau, tells the user the review deadline."""
    text = ctx.text.strip()
    if not TEXT_MIN <= len(text) <= TEXT_MAX:
        return Stay(ctx.t("objection.length", min=TEXT_MIN, max=TEXT_MAX))
    chosen = ctx.data["chosen"]
    obj = await file_objection(
        ctx.app,
        openid=ctx.openid,
        region=chosen["region"],
        target=chosen["target"],
        text=text,
        application_id=chosen["application_id"],
        case_id=chosen["case_id"],
        ref=chosen["ref"],
        now=ctx.now,
        conn=ctx.conn,
    )
    log.info("objection %s filed (%s)", obj.id, chosen["target"])
    return Done(
        ctx.t(
            "objection.filed",
            id=obj.id,
            bureau=ctx.policy.bureau_name,
            due=obj.review_due.isoformat(),
        )
    )


register_flow(
    Flow(
        FLOW,
        "objection.title",
        (
            Step("pick", pick_prompt, on_pick, choices=pick_choices),
            Step("text", text_prompt, on_text, raw=True),
        ),
    )
)
FLOW_TEXT = "objection_text"  # the same without the choice, for a single decision
register_flow(Flow(FLOW_TEXT, "objection.title", (Step("text", text_prompt, on_text, raw=True),)))


@command(r"^\s*(?:异议|異議|objection|提出异议|我要异议)\s*$")
async def start(ctx: Ctx, _match) -> Outcome:
    """Starts an objection; says what can be objected to when there is nothing."""
    options = await objectable(ctx)
    pending = (
        await Objection.filter(openid=ctx.openid, status=ObjectionStatus.RECEIVED)
        .using_db(ctx.conn)
        .first()
    )
    if not options:
        graded = await handler_objectable(ctx)  # a handler's objection is to a grade
        if graded is not None and pending is None:
            return Done(graded)
        if pending is not None:
            return Done(
                ctx.t("objection.pending", id=pending.id, due=pending.review_due.isoformat())
            )
        return Done(ctx.t("objection.none"))
    if len(options) == 1:  # nothing to choose: ask the objection at once
        return Start(FLOW_TEXT, {"options": options, "chosen": options[0]})
    return Start(FLOW, {"options": options})
