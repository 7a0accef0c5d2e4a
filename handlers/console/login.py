"""Signing in without passwords: a scanned QR code at a desk, WeChat's web authorisation on a
phone, and logout.

Desk: /console/login shows an official-account QR code with scene `login:<token>` (5 minutes);
the scan reaches /wechat like any other, the scanner is told in chat whether they are staff
(or an evaluation expert: role `expert`, their page only), and the page, polling
/console/login/poll, takes its session. The scene is bound to the
browser that showed it by a pre-login cookie, so a scene read over a shoulder or leaked in a
screenshot signs nobody else in. In development the page shows the scene and the
`python -m bot chat` command that simulates the scan.

Phone: a console link opened inside WeChat without a session goes to WeChat's authorisation
(snsapi_base, silent) and comes back to /console/oauth with a code, exchanged for the openid.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from aiohttp import web

from bot.api import ApiError
from bot.flowkit import Ctx, Done, Outcome, Stay, scene
from bot.keys import http_key, settings_key, wechat_api_key
from bot.settings import reveal
from bot.wechat.api import WeChatAPIError, request_json
from handlers.console.session import (
    PRE_COOKIE,
    SESSION_COOKIE,
    current,
    error_page,
    form_of,
    locale_of,
    render,
    set_cookie,
    start_session,
    use_visitor,
)
from i18n import t
from models.console import ConsoleLogin, ConsoleSession, LoginStatus
from models.credentials import hash_secret
from models.evaluation import Expert
from models.masking import mask_openid
from models.people import Staff

log = logging.getLogger(__name__)
SCENE_PREFIX = "login"
LOGIN_TTL = timedelta(minutes=5)  # the QR code's life; a desk login takes seconds
PRE_TTL = 15 * 60  # seconds the pre-login cookie lives: a few QR codes' worth
POLL_MS = 2000  # how often the login page asks whether the scan arrived
STALE = timedelta(days=1)  # expired logins kept this long (for a late poll's clear answer)


def safe_next(value: str | None) -> str:
    """Only a path inside the console: an open redirect would make our login a phishing aid."""
    if (
        value
        and value.startswith("/console/")
        and not value.startswith("//")
        and "\\" not in value
        and "\n" not in value
        and "\r" not in value
    ):
        return value[:200]
    return "/console/"


def redirect(location: str) -> web.Response:
    """A 302 that can carry cookies (aiohttp wants HTTPFound raised, and then drops them)."""
    return web.Response(status=302, headers={"Location": location})


def in_wechat(request: web.Request) -> bool:
    return "micromessenger" in request.headers.get("User-Agent", "").lower()


def oauth_ready(request: web.Request) -> bool:
    s = request.app[settings_key]
    return bool(s.wechat_app_id and s.wechat_app_secret and not s.dev_credentials)


def _browser(request: web.Request, resp: web.StreamResponse) -> str:
    """The hash of this browser's pre-login cookie, creating the cookie when absent."""
    pre = request.cookies.get(PRE_COOKIE)
    if not pre or len(pre) > 64:
        pre = secrets.token_urlsafe(24)
        set_cookie(request, resp, PRE_COOKIE, pre, max_age=PRE_TTL)
    return hash_secret(pre)


async def enter(request: web.Request) -> web.StreamResponse:
    """A console page opened without a session: WeChat authorisation inside WeChat, else the
    login page; either way the visitor lands on the page they opened."""
    target = safe_next(request.path_qs)
    if in_wechat(request) and oauth_ready(request):
        return await oauth_start(request, target)
    raise web.HTTPFound("/console/login?" + urlencode({"next": target}))


async def oauth_start(request: web.Request, target: str) -> web.StreamResponse:
    s = request.app[settings_key]
    resp = web.Response(status=302)
    state = secrets.token_urlsafe(16)
    await ConsoleLogin.create(
        token=state,
        kind="oauth",
        browser_hash=_browser(request, resp),
        next_path=target,
        expires_at=datetime.now(UTC) + LOGIN_TTL,
    )
    redirect_uri = s.public_base_url.rstrip("/") + "/console/oauth"
    query = urlencode(
        {
            "appid": s.wechat_app_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
        }
    )
    resp.headers["Location"] = (
        f"{s.wechat_open_base.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"
    )
    return resp


async def login_page(request: web.Request) -> web.StreamResponse:
    """GET /console/login: the QR code (or, in development, the scene and the chat command)."""
    target = safe_next(request.query.get("next"))
    if await current(request) is not None:
        raise web.HTTPFound(target)
    if in_wechat(request) and oauth_ready(request):
        return await oauth_start(request, target)
    s = request.app[settings_key]
    token = secrets.token_urlsafe(16)
    scene_text = f"{SCENE_PREFIX}:{token}"
    qr_url = None
    if not s.dev_credentials and s.wechat_app_secret:
        try:
            qr = await request.app[wechat_api_key].create_qrcode(
                scene_text, int(LOGIN_TTL.total_seconds())
            )
            qr_url = qr["qr_url"]
        except WeChatAPIError as exc:  # the page still works with the scene text
            log.warning("login QR code not created: errcode %s", exc.errcode)
    resp = render(
        request,
        "login.html",
        {
            "scene": scene_text,
            "qr_url": qr_url,
            "poll_ms": POLL_MS,
            "dev": s.env == "development",
            "command": f"python -m bot chat --openid <openid> --event SCAN --key {scene_text}",
        },
    )
    now = datetime.now(UTC)
    await ConsoleLogin.create(
        token=token,
        kind="scan",
        browser_hash=_browser(request, resp),
        next_path=target,
        expires_at=now + LOGIN_TTL,
    )
    # logins over a day old are of no use to anyone: anonymous page views must not pile up rows
    await ConsoleLogin.filter(expires_at__lt=now - STALE).delete()
    return resp


async def poll(request: web.Request) -> web.Response:
    """GET /console/login/poll?scene=login:…: pending | ok (session set) | denied | expired.

    Only the browser holding the pre-login cookie the scene was made for may ask (403)."""
    prefix, _, token = request.query.get("scene", "").partition(":")
    row = (
        await ConsoleLogin.get_or_none(token=token[:40], kind="scan")
        if prefix == SCENE_PREFIX and token
        else None
    )
    if row is None:
        return web.json_response({"status": "unknown"}, status=404)
    pre = request.cookies.get(PRE_COOKIE, "")
    if not pre or not secrets.compare_digest(hash_secret(pre), row.browser_hash):
        log.warning("login scene polled from another browser")
        return web.json_response({"status": "forbidden"}, status=403)
    loc = locale_of(request)
    if row.status == LoginStatus.DENIED:
        return web.json_response({"status": "denied", "message": t("console.login.not_staff", loc)})
    if row.status == LoginStatus.PENDING:
        expired = row.expires_at <= datetime.now(UTC)
        return web.json_response({"status": "expired" if expired else "pending"})
    # ok -> used exactly once, even when two polls of the same browser race
    taken = await ConsoleLogin.filter(id=row.id, status=LoginStatus.OK).update(
        status=LoginStatus.USED
    )
    staff = await Staff.get_or_none(id=row.staff_id, active=True) if row.staff_id else None
    expert = await Expert.get_or_none(id=row.expert_id, active=True) if row.expert_id else None
    if not taken or (staff is None and expert is None):
        return web.json_response({"status": "expired"})
    resp = web.json_response({"status": "ok", "next": row.next_path})
    await start_session(request, resp, staff, "scan", expert)
    return resp


async def who(openid: str, conn=None) -> tuple[Staff | None, Expert | None]:
    """The active staff member and the active evaluation expert with this openid (either, both
    or none). Someone who is both signs in with their staff role and also gets the expert's
    page; an expert alone gets the expert's page only."""
    if not openid:
        return None, None
    staff = await Staff.filter(openid=openid, active=True).using_db(conn).first()
    expert = await Expert.filter(openid=openid, active=True).using_db(conn).first()
    return staff, expert


@scene(SCENE_PREFIX)
async def on_scan(ctx: Ctx, token: str) -> Outcome:
    """A login QR code scanned: complete the login of the browser that shows it."""
    row = await ConsoleLogin.filter(token=token[:40], kind="scan").using_db(ctx.conn).first()
    staff, expert = await who(ctx.openid, ctx.conn)
    if row is None or row.status != LoginStatus.PENDING or row.expires_at <= ctx.now:
        text = ctx.t("console.login.scan_expired")
    elif staff is None and expert is None:
        await (
            ConsoleLogin.filter(id=row.id, status=LoginStatus.PENDING)
            .using_db(ctx.conn)
            .update(status=LoginStatus.DENIED)
        )
        log.info("console login scanned by non-staff %s", mask_openid(ctx.openid))
        text = ctx.t("console.login.not_staff")
    else:
        n = (
            await ConsoleLogin.filter(id=row.id, status=LoginStatus.PENDING)
            .using_db(ctx.conn)
            .update(
                status=LoginStatus.OK,
                staff_id=staff.id if staff else None,
                expert_id=expert.id if expert else None,
            )
        )
        scanned = "console.login.scanned" if staff else "console.login.scanned_expert"
        text = ctx.t(scanned if n else "console.login.scan_expired")
    return Stay(text) if ctx.conv.flow else Done(text)


async def oauth(request: web.Request) -> web.StreamResponse:
    """GET /console/oauth?code=&state=: WeChat's answer to the web authorisation."""
    state, code = request.query.get("state", ""), request.query.get("code", "")
    row = (
        await ConsoleLogin.get_or_none(token=state[:40], kind="oauth", status=LoginStatus.PENDING)
        if state
        else None
    )
    pre = request.cookies.get(PRE_COOKIE, "")
    if (
        row is None
        or row.expires_at <= datetime.now(UTC)
        or not pre
        or not secrets.compare_digest(hash_secret(pre), row.browser_hash)
    ):
        return error_page(request, 403, "console.login.bad_state")
    if not code or len(code) > 128:
        return error_page(request, 403, "console.login.no_code")
    s = request.app[settings_key]
    try:
        answer = await request_json(
            request.app[http_key],
            "GET",
            f"{s.wechat_api_base.rstrip('/')}/sns/oauth2/access_token",
            params={
                "appid": s.wechat_app_id or "",
                "secret": reveal(s.wechat_app_secret) or "",
                "code": code,
                "grant_type": "authorization_code",
            },
            timeout=request.app[http_key].timeout,
        )
    except WeChatAPIError as exc:
        log.warning("oauth code exchange failed: errcode %s", exc.errcode)
        return error_page(request, 403, "console.login.no_code")
    if not await ConsoleLogin.filter(id=row.id, status=LoginStatus.PENDING).update(
        status=LoginStatus.USED
    ):
        return error_page(request, 403, "console.login.bad_state")
    openid = str(answer.get("openid") or "")
    staff, expert = await who(openid)
    if staff is None and expert is None:
        log.info("console oauth by non-staff %s", mask_openid(openid))
        return error_page(request, 403, "console.login.not_staff")
    resp = redirect(row.next_path)
    await start_session(request, resp, staff, "oauth", expert)
    return resp


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /console/logout (with the CSRF token): end this session."""
    visitor = await current(request)
    if visitor is not None:
        use_visitor(visitor)
        try:
            await form_of(request, visitor)
        except ApiError:
            return error_page(request, 403, "console.error.csrf")
        await ConsoleSession.filter(id=visitor.session.id).update(ended_at=datetime.now(UTC))
    resp = redirect("/console/login")
    resp.del_cookie(SESSION_COOKIE, path="/console/")
    return resp


async def lang(request: web.Request) -> web.StreamResponse:
    """GET /console/lang?to=en|zh_CN&next=…: the console's language (a cookie, no state)."""
    to = "en" if request.query.get("to") == "en" else "zh_CN"
    resp = redirect(safe_next(request.query.get("next")))
    set_cookie(request, resp, "console_lang", to, max_age=365 * 86400)
    return resp
