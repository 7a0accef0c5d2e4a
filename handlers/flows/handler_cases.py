"""Handlers in WeChat: answering an assignment (`1` accept / `2` conflict) and `我的案件`.

An assignment puts the bound handler's chat on the answer step (handlers.assignment_notice); a
handler who was busy with something else reaches the same step from `我的案件`. A conflict of
interest (or any reason they cannot act) asks for the reason, then the case is reassigned by the
same rules and the centre is told. After accepting, the handler records here that the agreement
with the recipient is signed (due within 5 days of the assignment, 程序规定 Art. 27).
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
from handlers.assignment_notice import ANSWER_FLOW, ANSWER_STEP, case_ref, reassign_after_conflict
from models.application import Application
from models.assignment import LIVE, Assignment, AssignmentStatus
from models.masking import mask_name
from models.pool import Handler, Org

log = logging.getLogger(__name__)
MY_CASES = "my_cases"
REASON_MIN, REASON_MAX = 2, 200  # a word or two at least; one line for the centre
LIST_MAX = 8  # cases shown in one chat bubble
ANSWERS = (
    Choice("accept", "assignment.choice.accept", words=("接受", "接单", "同意", "accept")),
    Choice(
        "conflict",
        "assignment.choice.conflict",
        words=("冲突", "利益冲突", "无法承办", "不能承办", "conflict"),
    ),
)
SIGNED = (Choice("signed", "assignment.choice.signed", words=("已签约", "已签订", "签了")),)


async def _handler(ctx: Ctx) -> Handler | None:
    return await Handler.filter(openid=ctx.openid).using_db(ctx.conn).first()


async def _mine(ctx: Ctx, assignment_id: int) -> Assignment | None:
    handler = await _handler(ctx)
    if handler is None:
        return None
    return (
        await Assignment.filter(id=assignment_id, handler_id=handler.id).using_db(ctx.conn).first()
    )


async def _summary(ctx: Ctx, a: Assignment) -> str:
    application = await Application.get(id=a.application_id).using_db(ctx.conn)
    org = await Org.get(id=a.org_id).using_db(ctx.conn)
    return ctx.t(
        "assignment.summary",
        ref=case_ref(application, ctx.locale),
        name=mask_name(application.applicant_name),
        matter=ctx.t(f"matter.{application.matter}"),
        org=org.name,
        phone=org.phone or "-",
        due=a.agreement_due.isoformat(),
        status=ctx.t(f"assignment.status.{a.status}"),
    )


# --- answering an assignment ------------------------------------------------------------------


async def answer_prompt(ctx: Ctx) -> str | Done:
    """Shows the case and asks 1 accept / 2 conflict; a case no longer waiting ends here."""
    a = await _mine(ctx, int(ctx.data.get("assignment") or 0))
    if a is None or a.status != AssignmentStatus.ASSIGNED:
        return Done(ctx.t("assignment.answer.gone"))
    return await _summary(ctx, a) + "\n" + ctx.t("assignment.answer.ask")


async def on_answer(ctx: Ctx) -> Outcome:
    """Accepts the assignment, or asks the reason of a conflict."""
    a = await _mine(ctx, int(ctx.data.get("assignment") or 0))
    if a is None or a.status != AssignmentStatus.ASSIGNED:
        return Done(ctx.t("assignment.answer.gone"))
    if ctx.choice == "conflict":
        return Next("reason")
    a.status, a.accepted_at = AssignmentStatus.ACCEPTED, ctx.now
    await a.save(using_db=ctx.conn, update_fields=["status", "accepted_at"])
    log.info("assignment %s accepted", a.id)
    return Done(ctx.t("assignment.answer.accepted", due=a.agreement_due.isoformat()))


async def on_reason(ctx: Ctx) -> Outcome:
    """Stores the conflict's reason, reassigns the case, tells the centre."""
    reason = " ".join(ctx.text.split())
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        return Stay(ctx.t("assignment.answer.reason_length", min=REASON_MIN, max=REASON_MAX))
    a = await _mine(ctx, int(ctx.data.get("assignment") or 0))
    if a is None or a.status != AssignmentStatus.ASSIGNED:
        return Done(ctx.t("assignment.answer.gone"))
    await reassign_after_conflict(ctx.app, a, reason, now=ctx.now, conn=ctx.conn)
    return Done(ctx.t("assignment.answer.conflict_recorded"))


register_flow(
    Flow(
        ANSWER_FLOW,
        "assignment.flow_title",
        (
            Step(ANSWER_STEP, answer_prompt, on_answer, choices=ANSWERS),
            Step("reason", "assignment.answer.reason", on_reason, raw=True),
        ),
        resumable=False,
    )
)  # not resumable: the question waits for the handler, it never expires


# --- 我的案件 ---------------------------------------------------------------------------------


async def _cases(ctx: Ctx) -> list[Assignment]:
    handler = await _handler(ctx)
    if handler is None:
        return []
    return (
        await Assignment.filter(handler_id=handler.id, status__in=LIVE)
        .using_db(ctx.conn)
        .order_by("-id")
        .limit(LIST_MAX)
    )


async def cases_prompt(ctx: Ctx) -> str | Done:
    """Lists the handler's live cases; with none, says so."""
    if not await _cases(ctx):
        return Done(ctx.t("assignment.mine.empty"))
    return ctx.t("assignment.mine.title")


async def cases_choices(ctx: Ctx) -> list[Choice]:
    out = []
    for a in await _cases(ctx):
        application = await Application.get(id=a.application_id).using_db(ctx.conn)
        out.append(
            Choice(
                str(a.id),
                "assignment.mine.item",
                label_fields={
                    "ref": case_ref(application, ctx.locale),
                    "matter": ctx.t(f"matter.{application.matter}"),
                    "status": ctx.t(f"assignment.status.{a.status}"),
                },
            )
        )
    return out


async def on_case(ctx: Ctx) -> Outcome:
    """A case waiting for an answer asks it; an accepted one shows itself and the agreement."""
    a = await _mine(ctx, int(ctx.choice or 0))
    if a is None:
        return Done(ctx.t("assignment.answer.gone"))
    if a.status == AssignmentStatus.ASSIGNED:
        return Start(ANSWER_FLOW, {"assignment": a.id})
    text = await _summary(ctx, a)
    if a.agreement_signed_at is not None:
        return Done(
            text
            + "\n"
            + ctx.t("assignment.mine.signed_on", date=a.agreement_signed_at.date().isoformat())
        )
    ctx.data["assignment"] = a.id
    return Next("agreement", say=text)


async def on_agreement(ctx: Ctx) -> Outcome:
    """Records that the agreement with the recipient is signed."""
    a = await _mine(ctx, int(ctx.data.get("assignment") or 0))
    if a is None or a.status != AssignmentStatus.ACCEPTED:
        return Done(ctx.t("assignment.answer.gone"))
    a.agreement_signed_at = ctx.now
    await a.save(using_db=ctx.conn, update_fields=["agreement_signed_at"])
    return Done(ctx.t("assignment.mine.signed"))


register_flow(
    Flow(
        MY_CASES,
        "assignment.mine.title_short",
        (
            Step("pick", cases_prompt, on_case, choices=cases_choices),
            Step("agreement", "assignment.mine.agreement_ask", on_agreement, choices=SIGNED),
        ),
        resumable=False,
    )
)


@command(r"^\s*(?:我的案件|我承办的案件|my cases)\s*$")
async def my_cases(ctx: Ctx, match) -> Outcome:
    """Opens 我的案件 for a handler; anyone else is told it is for handlers."""
    if await _handler(ctx) is None:
        return Done(ctx.t("assignment.mine.not_handler"))
    return Start(MY_CASES)
