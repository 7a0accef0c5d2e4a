"""Telling the filing agent what the centre decided, through the outbox.

An agent known in chat (official-account openid) gets a customer-service message (with the
notice-template fallback outside the 48 h window); an agent known in the mini-program gets a
subscribe message, always attempted: if they never subscribed, WeChat answers 43101 and the
outbox records the row as failed without retrying. Texts carry the masked name only.
"""

from __future__ import annotations

from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from bot.keys import policy_key, settings_key
from bot.notify import notify_user
from bot.outbox import enqueue
from i18n import t
from models.agent import Agent
from models.application import Application, Material
from models.masking import mask_name
from models.outbox import Channel

THING_MAX = 20  # characters WeChat allows in a subscribe message "thing" field
WXA_PAGE = "pages/applications/detail?id={id}"  # the mini-program page showing the application


async def tell_agent(
    app: web.Application, agent: Agent, row: Application, *, conn: BaseDBAsyncClient
) -> None:
    settings = app[settings_key]
    loc = agent.locale
    decision = row.status
    reason = row.decision_reason
    owed = await Material.owed_kinds(row.id, conn) if decision == "need_materials" else []
    if owed:  # 一次性告知: every item still owed, then what the centre wrote
        items = t("punct.list_sep", loc).join(t(f"material.{k}", loc) for k in owed)
        reason = items + (t("punct.semi", loc) + reason if reason else "")
    text = t(
        f"applications.decided.{decision}",
        loc,
        id=row.id,
        name=mask_name(row.applicant_name),
        reason=reason or "-",
        days=app[policy_key].objection_review_days,
    )
    if decision == "granted" and row.case_no:  # no "案号：-" before the centre numbers it
        text += t("applications.decided.case_no", loc, case_no=row.case_no)
    if owed and row.materials_due:
        text += t("applications.decided.materials_due", loc, due=row.materials_due.isoformat())
    key = f"application:{row.id}:decided:{decision}"
    if agent.oa_openid:
        await notify_user(
            settings,
            openid=agent.oa_openid,
            key=key,
            text=text,
            kind="decision",
            region=row.region,
            conn=conn,
        )
    if agent.wxa_openid:
        note = reason or t("applications.subscribe.see_details", loc)
        await enqueue(
            channel=Channel.WXA_SUBSCRIBE,
            recipient=agent.wxa_openid,
            kind="decision",
            dedupe_key=f"decision:{key}:wxa",
            region=row.region,
            conn=conn,
            payload={
                "template_id": settings.wxa_decision_template_id,
                "page": WXA_PAGE.format(id=row.id),
                "data": {
                    "character_string1": str(row.id),
                    "phrase2": t(f"applications.decision_short.{decision}", loc),
                    "thing3": note[:THING_MAX],
                    "time4": row.decided_at.strftime("%Y-%m-%d %H:%M") if row.decided_at else "",
                },
            },
        )
