"""Agents in the mini-program: bind the logged-in user with an invite code, and who am I."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field
from tortoise.transactions import in_transaction

from bot.api import ApiError, json_ok, operation, parse_body, request_locale
from bot.auth import require_agent, require_session
from i18n import t
from models.agent import Agent, InviteError, bind_invite


class BindIn(BaseModel):
    invite_code: str = Field(min_length=1, max_length=32)


class AgentOut(BaseModel):
    id: int
    name: str
    region: str
    village: str
    kind: str


class BindOut(BaseModel):
    agent: AgentOut
    roles: list[str]


# InviteError reason -> HTTP status: a wrong or stale code is the caller's input (422); a code
# or an openid someone else already holds is a conflict (409).
INVITE_STATUS = {"unknown": 422, "expired": 422, "disabled": 422, "used": 409, "taken": 409}


def agent_out(agent: Agent) -> AgentOut:
    return AgentOut(
        id=agent.id, name=agent.name, region=agent.region, village=agent.village, kind=agent.kind
    )


@operation(
    "POST",
    "/api/v1/agents/bind",
    summary="Bind the logged-in user to an agent",
    tag="agents",
    body=BindIn,
    response=BindOut,
    auth="bearer",
    errors=(409,),
)
async def bind(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await parse_body(request, BindIn)
    locale = request_locale(request)
    try:
        async with in_transaction() as conn:
            agent = await bind_invite(
                body.invite_code, channel="wxa", openid=session.openid, locale=locale, conn=conn
            )
    except InviteError as exc:
        key = f"agents.invite.{exc.reason}"
        raise ApiError(
            INVITE_STATUS[exc.reason],
            f"invite_{exc.reason}",
            message_key=key,
            fields={"invite_code": t(key, locale)},
        ) from None
    return json_ok(BindOut(agent=agent_out(agent), roles=["agent"]))


@operation(
    "GET",
    "/api/v1/agents/me",
    summary="The agent the caller is bound to",
    tag="agents",
    response=AgentOut,
    auth="bearer",
    errors=(403,),
)
async def me(request: web.Request) -> web.Response:
    return json_ok(agent_out(await require_agent(request)))
