"""Chat command `异议 <案号> <理由>` (or `objection <case no> <text>`): a handler objects to the
published grade of one of their cases (Wanzhou: once per case, within 5 working days of
publication). The sender must be the case's handler, bound in WeChat (`绑定 <code>`); a late or
repeated objection is refused with the reason. The bureau is alerted in the same transaction.

Case numbers come as phones type them: full-width or half-width brackets, 〔〕 or none, spaces,
no space after 异议 (`异议（2026）万法援6号 理由`); they are matched with models.case's
normaliser. Without a reason the handler is asked for it. `异议` alone from a handler lists the
cases they may still object to (handlers.flows.objection calls `handler_objectable`).
"""

from __future__ import annotations

import logging
import re

from bot.flowkit import Ctx, Done, Flow, Outcome, Start, Stay, Step, command, register_flow
from handlers.quality import notices
from models.calendar import to_local
from models.case import case_no_key, find_by_case_no
from models.evaluation import Evaluation, EvaluationCase, GradeObjection
from models.evaluation_rules import EvaluationError, file_objection
from models.masking import mask_openid
from models.pool import Handler

log = logging.getLogger(__name__)
TEXT_MAX = 2000  # characters of an objection; the bureau reads it in full
FLOW = "grade_objection"
# A case number: a year in any brackets (or none), then up to the first 号; else the first word.
CASE_NO = re.compile(
    r"^\s*([\(（〔\[［【〖]?\s*\d{4}\s*[\)）〕\]］】〗]?\s*[^\s\d()（）〔〕\[\]［］【】][^号]{0,40}?号)"
    r"\s*(.*)$",
    re.DOTALL,
)
WORD = re.compile(r"^\s*(\S{1,64})\s*(.*)$", re.DOTALL)


def split(rest: str) -> tuple[str, str]:
    """The case number and the reason typed after 异议 (either may be empty)."""
    m = CASE_NO.match(rest) or WORD.match(rest)
    return (m.group(1).strip(), m.group(2).strip()) if m else ("", "")


def looks_like_case_no(text: str) -> bool:
    return bool(re.search(r"\d{4}", case_no_key(text)))


async def _handler(ctx: Ctx) -> Handler | None:
    return await Handler.get_or_none(openid=ctx.openid).using_db(ctx.conn)


async def _published_cases(ctx: Ctx, handler: Handler):
    """The handler's cases with a published grade (by name and organisation, as the pool
    matches them), newest round first."""
    org = (await handler.org.using_db(ctx.conn)).name
    return (
        EvaluationCase.filter(
            case__region=handler.region,
            case__handler_name=handler.name,
            case__handler_org=org,
            evaluation__published_at__isnull=False,
        )
        .select_related("case", "evaluation")
        .order_by("-id")
    )


@command(r"^\s*(?:异议|異議|objection)\s*(\S.*)$")
async def object_to_grade(ctx: Ctx, match) -> Outcome:
    """Records the objection to the latest published grade of that case, if the sender handled
    it; asks for the reason when only the case number came."""
    case_no, text = split(match.group(1))
    handler = await _handler(ctx)
    if handler is None:
        if not looks_like_case_no(case_no):  # an applicant's 异议 with words: their flow
            from handlers.flows.objection import start

            return await start(ctx, match)
        return Done(ctx.t("quality.chat.not_handler"))
    if not text:
        ec = await _find(ctx, handler, case_no)
        if ec is None:
            return Done(ctx.t("quality.chat.no_such_case", case_no=case_no))
        return Start(FLOW, {"case_no": ec.case.case_no})
    return await _file(ctx, handler, case_no, text)


async def _find(ctx: Ctx, handler: Handler, case_no: str) -> EvaluationCase | None:
    found = await find_by_case_no(
        await _published_cases(ctx, handler), case_no, "case__case_no", ctx.conn
    )
    return found[0] if found else None


async def _file(ctx: Ctx, handler: Handler, case_no: str, text: str) -> Outcome:
    ec = await _find(ctx, handler, case_no)
    if ec is None:
        return Done(ctx.t("quality.chat.no_such_case", case_no=case_no))
    case_no = ec.case.case_no  # as the centre wrote it
    ev = await Evaluation.get(id=ec.evaluation_id).using_db(ctx.conn)
    try:
        obj = await file_objection(
            ec, ev, text[:TEXT_MAX], ctx.policy, openid=ctx.openid, now=ctx.now, conn=ctx.conn
        )
    except EvaluationError as exc:
        return Done(ctx.t(f"quality.chat.{exc.code}", case_no=case_no, **exc.params))
    await notices.objection_filed(ctx.settings, ev, ec, obj, conn=ctx.conn)
    log.info("grade objection %s filed by %s", obj.id, mask_openid(ctx.openid))
    return Done(
        ctx.t("quality.chat.objection_filed", case_no=case_no, due=obj.review_due.isoformat())
    )


async def reason_prompt(ctx: Ctx) -> str:
    return ctx.t("quality.chat.ask_reason", case_no=ctx.data["case_no"])


async def on_reason(ctx: Ctx) -> Outcome:
    text = ctx.text.strip()
    if not text:
        return Stay(ctx.t("quality.chat.reason_empty"))
    handler = await _handler(ctx)
    if handler is None:
        return Done(ctx.t("quality.chat.not_handler"))
    return await _file(ctx, handler, ctx.data["case_no"], text)


register_flow(
    Flow(FLOW, "quality.chat.title", (Step("reason", reason_prompt, on_reason, raw=True),))
)


async def handler_objectable(ctx: Ctx) -> str | None:
    """For `异议` alone: the sender's graded cases they may still object to (case number,
    grade, last day) and how to object; None when the sender is not a handler with a
    published grade."""
    handler = await _handler(ctx)
    if handler is None:
        return None
    cases = await (await _published_cases(ctx, handler)).using_db(ctx.conn)
    if not cases:
        return None
    objected = set(
        await GradeObjection.filter(eval_case_id__in=[ec.id for ec in cases])
        .using_db(ctx.conn)
        .values_list("eval_case_id", flat=True)
    )
    today = to_local(ctx.now).date()
    lines, seen = [], set()
    for ec in cases:
        until = ec.evaluation.objections_until
        if ec.case_id in seen or ec.id in objected or (until is not None and today > until):
            continue
        seen.add(ec.case_id)
        lines.append(
            ctx.t(
                "quality.chat.objectable_line",
                case_no=ec.case.case_no,
                grade=ctx.t(f"grade.{ec.grade}"),
                until=until.isoformat() if until else "-",
            )
        )
    if not lines:
        return ctx.t("quality.chat.nothing_objectable")
    return "\n".join([ctx.t("quality.chat.objectable_title"), *lines, ctx.t("quality.chat.how")])
