"""Chat command `绑定 <code>` (or `bind <code>`): bind this official-account user to an agent.

The operator printed the code with `python -m bot agents invite`. Binding here records the
official-account openid, so the agent can file in chat (菜单 -> 1) and gets decisions as
customer-service messages. A wrong, used or expired code says which, so the agent knows whether
to retype or ask the centre for a new one. A handler's code (`python -m bot handlers invite`)
binds the same way: a code that is no agent's is tried as a handler's.
"""

from __future__ import annotations

import logging

from bot.flowkit import Ctx, Done, Outcome, command
from handlers.flows.agent_filing_state import forget_agents
from models.agent import InviteError, bind_invite
from models.masking import mask_openid
from models.pool import Org, PoolError, bind_handler

log = logging.getLogger(__name__)


@command(r"^\s*(?:绑定|綁定|bind)\s*[:：]?\s*([A-Za-z0-9０-９Ａ-Ｚａ-ｚ\- ]{1,40})\s*$")
async def bind(ctx: Ctx, match) -> Outcome:
    """Binds the sender to the invite's agent, in this message's transaction."""
    try:
        agent = await bind_invite(
            match.group(1),
            channel="oa",
            openid=ctx.openid,
            locale=ctx.locale,
            conn=ctx.conn,
            now=ctx.now,
        )
    except InviteError as exc:
        if exc.reason == "unknown":  # not an agent's code: perhaps a handler's (models.pool)
            return await bind_as_handler(ctx, match.group(1))
        log.info("bind refused (%s) for %s", exc.reason, mask_openid(ctx.openid))
        return Done(ctx.t(f"agents.invite.{exc.reason}"))
    forget_agents(ctx)
    log.info("agent %s bound in chat to %s", agent.id, mask_openid(ctx.openid))
    return Done(ctx.t("agents.bound", name=agent.name, village=agent.village))


async def bind_as_handler(ctx: Ctx, code: str) -> Outcome:
    """Binds the sender to the handler a `handlers invite` code was issued for."""
    try:
        handler = await bind_handler(
            code, openid=ctx.openid, locale=ctx.locale, conn=ctx.conn, now=ctx.now
        )
    except PoolError as exc:
        log.info("handler bind refused (%s) for %s", exc.code, mask_openid(ctx.openid))
        return Done(ctx.t(f"pool.bind.{exc.code}"))
    if handler is None:
        log.info("bind refused (unknown) for %s", mask_openid(ctx.openid))
        return Done(ctx.t("agents.invite.unknown"))
    ctx.forget("handler")  # 帮助 later in this batch mentions 异议 (bot.flowkit.help_text)
    log.info("handler %s bound in chat to %s", handler.id, mask_openid(ctx.openid))
    org = await Org.get(id=handler.org_id).using_db(ctx.conn)
    return Done(ctx.t("pool.bound", name=handler.name, org=org.name))
