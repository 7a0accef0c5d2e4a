"""Mini-program login: exchange a wx.login code for our own opaque bearer token.

WeChat's session_key stays here: it is neither stored, returned nor logged (we never decrypt
user data with it). The token is random, stored hashed, valid BOT_TOKEN_TTL_DAYS (7) and
revocable with POST /api/v1/auth/logout.
"""

from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from bot import ratelimit
from bot.api import ApiError, json_ok, operation, parse_body
from bot.auth import agent_of, bearer_token, issue_login_token, require_session, revoke_login_token
from bot.keys import settings_key, wechat_api_key
from bot.wechat.api import ERR_NOT_CONFIGURED, WeChatAPIError
from models.masking import mask_openid

log = logging.getLogger(__name__)
RETRY_AFTER = "60"  # seconds: 45011 is WeChat's per-minute quota, "retry next minute"


class LoginIn(BaseModel):
    code: str = Field(min_length=1, max_length=128, description="from wx.login()")


class LoginOut(BaseModel):
    token: str
    expires_at: datetime
    roles: list[str] = Field(description='"agent" once the user is bound to an active agent')


class LoggedOut(BaseModel):
    revoked: bool


async def roles_of(openid: str) -> list[str]:
    return ["agent"] if await agent_of(openid) else []


def login_error(exc: WeChatAPIError) -> ApiError:
    """WeChat's answer -> what the mini-program can act on."""
    if exc.errcode in (40029, 40163):  # invalid code / code already used: log in again
        return ApiError(401, "invalid_code", headers={"WWW-Authenticate": "Bearer"})
    if exc.errcode in (45011, 45009):
        return ApiError(429, "wechat_rate_limited", headers={"Retry-After": RETRY_AFTER})
    if exc.errcode == ERR_NOT_CONFIGURED:
        return ApiError(503, "wxa_not_configured")
    if exc.retryable:  # -1 system busy, timeouts, network, 5xx
        return ApiError(503, "wechat_unavailable", headers={"Retry-After": "5"})
    return ApiError(502, "wechat_error")


@operation(
    "POST",
    "/api/v1/auth/wxa-login",
    summary="Log in with a mini-program wx.login code",
    tag="auth",
    body=LoginIn,
    response=LoginOut,
    errors=(401, 429, 502, 503),
)
async def wxa_login(request: web.Request) -> web.Response:
    # Each login costs a jscode2session call against WeChat's per-minute quota (45011):
    # one address may not spend it for everyone.
    await ratelimit.enforce(request, "login", request.app[settings_key].login_rate_limit, 60)
    body = await parse_body(request, LoginIn)
    try:
        session = await request.app[wechat_api_key].jscode2session(body.code)
    except WeChatAPIError as exc:
        raise login_error(exc) from None
    openid = session["openid"]
    token, expires_at = await issue_login_token(openid, request.app[settings_key].token_ttl_days)
    log.info("mini-program login for %s", mask_openid(openid))
    return json_ok(LoginOut(token=token, expires_at=expires_at, roles=await roles_of(openid)))


@operation(
    "POST",
    "/api/v1/auth/logout",
    summary="Revoke the current token",
    tag="auth",
    response=LoggedOut,
    auth="bearer",
)
async def logout(request: web.Request) -> web.Response:
    await require_session(request)
    return json_ok(LoggedOut(revoked=await revoke_login_token(bearer_token(request))))
