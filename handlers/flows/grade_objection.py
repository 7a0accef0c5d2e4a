"""Chat command `异议 <案号> <理由>` (or `objection <case no> <text>`): a handler objects to the
published grade of one of their cases (Wanzhou: once per case, within 5 working days of
publication). The sender must be the case's handler, bound in WeChat (`绑定 <code>`); a late or
repeated objection is refused with the reason. The bureau is alerted in the same transaction.
"""

from __future__ import annotations

import logging

from bot.flowkit import Ctx, Done, Outcome, command
from handlers.quality import notices
from models.evaluation import Evaluation, EvaluationCase
from models.evaluation_rules import EvaluationError, file_objection
from models.masking import mask_openid
from models.pool import Handler

log = logging.getLogger(__name__)
TEXT_MAX = 2000  # characters of an objection; the bureau reads it in full


@command(r"^\s*(?:异议|異議|objection)\s+(\S{1,64})\s+(\S.*)$")
async def object_to_grade(ctx: Ctx, match) -> Outcome:
    """Records the objection to the latest published grade of that case, if the sender handled it."""
    case_no, text = match.group(1), match.group(2).strip()[:TEXT_MAX]
    handler = await Handler.get_or_none(openid=ctx.openid).using_db(ctx.conn)
    if handler is None:
        return Done(ctx.t("quality.chat.not_handler"))
    ec = (
        await EvaluationCase.filter(
            case__region=handler.region,
            case__case_no=case_no,
            case__handler_name=handler.name,
            evaluation__published_at__isnull=False,
        )
        .select_related("case", "pair")
        .using_db(ctx.conn)
        .order_by("-id")
        .first()
    )
    if ec is None or ec.case.handler_org != (await handler.org.using_db(ctx.conn)).name:
        return Done(ctx.t("quality.chat.no_such_case", case_no=case_no))
    ev = await Evaluation.get(id=ec.evaluation_id).using_db(ctx.conn)
    try:
        obj = await file_objection(
            ec, ev, text, ctx.policy, openid=ctx.openid, now=ctx.now, conn=ctx.conn
        )
    except EvaluationError as exc:
        return Done(ctx.t(f"quality.chat.{exc.code}", case_no=case_no, **exc.params))
    await notices.objection_filed(ctx.settings, ev, ec, obj, conn=ctx.conn)
    log.info("grade objection %s filed by %s", obj.id, mask_openid(ctx.openid))
    return Done(
        ctx.t("quality.chat.objection_filed", case_no=case_no, due=obj.review_due.isoformat())
    )
