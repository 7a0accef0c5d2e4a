"""Async client for the few WeChat server APIs the bot calls.

Every failure surfaces as one exception type, `WeChatAPIError`, whose properties tell the
outbox what to do: `retryable` (back off and try again), `permanent` (give up on this row),
`outside_window` (45015: the 48 h customer-service window is closed; send a template or
subscribe message instead). Transport failures that never produced a WeChat answer get
negative local errcodes (below), next to WeChat's own -1 "system busy".

Nothing secret is logged: no AppSecret, access token, session_key or message content; openids
appear masked. Exceptions are raised `from None` because aiohttp's own exceptions can carry the
request URL, and our URLs carry the access token or the AppSecret in their query string.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)

ERR_SYSTEM_BUSY = -1  # WeChat's own code: "system error, try again later"
ERR_TIMEOUT = -2  # local: no answer within the client timeout
ERR_CONNECTION = -3  # local: could not connect, or the connection dropped
ERR_HTTP_TRANSIENT = -4  # local: HTTP 5xx, 408 or 429 from WeChat's front end
ERR_HTTP = -5  # local: any other non-2xx HTTP answer (wrong base URL, ...)
ERR_BAD_RESPONSE = -6  # local: a 2xx whose body is not the JSON object we expect (a proxy page)
ERR_NOT_CONFIGURED = -7  # local: app id or secret missing from the settings
ERR_TOO_LARGE = -8  # local: a media file larger than we accept

TOKEN_INVALID_CODES = frozenset({40001, 40014, 42001})  # invalid / not latest / expired token
OUTSIDE_WINDOW_CODE = 45015  # "response out of time limit or subscription is canceled"
RETRYABLE_CODES = frozenset(
    {
        ERR_SYSTEM_BUSY,
        ERR_TIMEOUT,
        ERR_CONNECTION,
        ERR_HTTP_TRANSIENT,
        ERR_BAD_RESPONSE,
        45009,  # api freq / daily quota: later works
        45011,  # api minute-quota reached: "retry next minute"
    }
)
# Permanent for the row, but an operator must fix the account set-up (wrong appid or secret,
# server IP not in the whitelist, API not authorised); the outbox may want to alert on these.
MEDIA_TIMEOUT = 30.0  # seconds for a media download: a 10 MB photo on a slow link
CONFIG_ERROR_CODES = frozenset(
    {
        ERR_NOT_CONFIGURED,
        ERR_HTTP,
        40013,
        40125,
        40164,
        41002,
        41004,
        48001,
    }
)

TOKEN_EARLY_REFRESH = 300  # seconds before expiry we fetch again, so no call carries a dying token
QR_SCENE_MAX = 64  # WeChat's limit on scene_str
QR_EXPIRE_MAX = 30 * 24 * 3600  # temporary QR codes live at most 30 days
# Always this host, whatever the API base: it is where WeChat serves the QR image.
SHOWQRCODE_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="


class WeChatAPIError(Exception):
    """A WeChat API call failed; `errcode` is WeChat's, or one of the negative ERR_* above."""

    def __init__(self, errcode: int, errmsg: str = "", *, http_status: int | None = None) -> None:
        super().__init__(f"WeChat errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.http_status = http_status

    @property
    def token_invalid(self) -> bool:
        return self.errcode in TOKEN_INVALID_CODES

    @property
    def retryable(self) -> bool:
        """Trying the same call later may succeed (busy, rate-limited, network, stale token)."""
        return self.errcode in RETRYABLE_CODES or self.token_invalid

    @property
    def permanent(self) -> bool:
        """The same call will keep failing (43101 refused, 40003 bad openid, 45015, ...)."""
        return not self.retryable

    @property
    def outside_window(self) -> bool:
        """45015: the user has not written within 48 h; fall back to a template message."""
        return self.errcode == OUTSIDE_WINDOW_CODE

    @property
    def config_error(self) -> bool:
        return self.errcode in CONFIG_ERROR_CODES


def mask_openid(openid: str | None) -> str:
    """The first 4 characters and an ellipsis: enough to correlate log lines, not to identify."""
    return f"{openid[:4]}…" if openid else "-"


async def request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    timeout: aiohttp.ClientTimeout,
    params: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Send one request and return the JSON object; raise WeChatAPIError on any failure.

    Bodies go out as UTF-8 JSON with Chinese unescaped (WeChat shows `\\uXXXX` literally in
    some messages). Answers are parsed whatever their Content-Type (jscode2session answers
    text/plain). A missing errcode is success (jscode2session omits it).
    """
    data = headers = None
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
    try:
        async with session.request(
            method, url, params=params, data=data, headers=headers, timeout=timeout
        ) as resp:
            status = resp.status
            raw = await resp.read()
    except TimeoutError:
        raise WeChatAPIError(ERR_TIMEOUT, "timed out") from None
    except aiohttp.ClientError as exc:
        raise WeChatAPIError(ERR_CONNECTION, type(exc).__name__) from None
    _check_status(status)
    return _json_answer(raw, status)


def _check_status(status: int) -> None:
    if not 200 <= status < 300:
        code = ERR_HTTP_TRANSIENT if status >= 500 or status in (408, 429) else ERR_HTTP
        raise WeChatAPIError(code, f"HTTP {status}", http_status=status)


def _json_answer(raw: bytes, status: int) -> dict[str, Any]:
    """WeChat's JSON answer; WeChatAPIError when it is not one or carries an errcode."""
    try:
        result = json.loads(raw)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        raise WeChatAPIError(ERR_BAD_RESPONSE, "answer is not a JSON object", http_status=status)
    try:
        errcode = int(result.get("errcode") or 0)
    except (TypeError, ValueError):
        raise WeChatAPIError(ERR_BAD_RESPONSE, "errcode is not a number") from None
    if errcode != 0:
        raise WeChatAPIError(errcode, str(result.get("errmsg", "")), http_status=status)
    return result


@dataclass(slots=True)
class _App:
    kind: str  # "official account" / "mini-program", for log lines and errors
    app_id: str | None
    secret: str | None = field(repr=False)

    def require(self) -> tuple[str, str]:
        if not self.app_id or not self.secret:
            raise WeChatAPIError(ERR_NOT_CONFIGURED, f"{self.kind} app id/secret not configured")
        return self.app_id, self.secret


@dataclass(slots=True)
class _Token:
    value: str = field(repr=False)
    refresh_at: float  # time.monotonic() after which we fetch again

    def fresh(self) -> bool:
        return time.monotonic() < self.refresh_at


def _template_data(data: dict[str, Any]) -> dict[str, Any]:
    """Accept {"thing1": "text"} as shorthand for WeChat's {"thing1": {"value": "text"}}."""
    return {k: v if isinstance(v, dict) else {"value": str(v)} for k, v in data.items()}


class WeChatAPI:
    """The official account's (and the mini-program's) server APIs over one aiohttp session.

    Access tokens come from `cgi-bin/stable_token` in normal mode (force_refresh false): WeChat
    hands every caller the same token until shortly before it expires, so several worker
    processes can each fetch and cache it without a shared lock and without revoking each
    other's token (a forced refresh, or the old `cgi-bin/token`, would). Within a process one
    asyncio.Lock per app id keeps it to one fetch in flight.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        app_id: str | None,
        app_secret: str | None,
        wxa_app_id: str | None = None,
        wxa_app_secret: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._oa = _App("official account", app_id, app_secret)
        self._wxa = _App("mini-program", wxa_app_id, wxa_app_secret)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def access_token(self, force: bool = False) -> str:
        """The official account's token; `force` ignores the in-process cache (not WeChat's)."""
        return await self._token(self._oa, force=force)

    async def send_text(self, openid: str, content: str) -> dict[str, Any]:
        """Customer-service text message; only within 48 h of the user's last message."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        return await self._call(self._oa, "cgi-bin/message/custom/send", body, openid)

    async def send_template(
        self,
        openid: str,
        template_id: str,
        data: dict[str, Any],
        *,
        url: str | None = None,
        miniprogram: dict[str, str] | None = None,
        client_msg_id: str | None = None,
    ) -> dict[str, Any]:
        """Official-account template message.

        WeChat sends one message per (openid, client_msg_id) within 10 minutes, so passing the
        outbox row's dedupe key makes a retry after a lost answer harmless.
        """
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": _template_data(data),
        }
        if url:
            body["url"] = url
        if miniprogram:
            body["miniprogram"] = miniprogram
        if client_msg_id:
            body["client_msg_id"] = client_msg_id
        return await self._call(self._oa, "cgi-bin/message/template/send", body, openid)

    async def send_subscribe(
        self,
        openid: str,
        template_id: str,
        data: dict[str, Any],
        *,
        page: str | None = None,
        miniprogram_state: str | None = None,
    ) -> dict[str, Any]:
        """Mini-program subscribe message, sent with the mini-program's own token."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": _template_data(data),
        }
        if page:
            body["page"] = page
        if miniprogram_state:
            body["miniprogram_state"] = miniprogram_state
        return await self._call(self._wxa, "cgi-bin/message/subscribe/send", body, openid)

    async def create_qrcode(self, scene: str, expire_seconds: int) -> dict[str, Any]:
        """Temporary string-scene QR code: {ticket, expire_seconds, url, qr_url}."""
        if not 1 <= len(scene) <= QR_SCENE_MAX:
            raise ValueError(f"scene must be 1..{QR_SCENE_MAX} characters")
        if not 1 <= expire_seconds <= QR_EXPIRE_MAX:
            raise ValueError(f"expire_seconds must be 1..{QR_EXPIRE_MAX}")
        body = {
            "expire_seconds": expire_seconds,
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        }
        result = await self._call(self._oa, "cgi-bin/qrcode/create", body)
        ticket = result.get("ticket")
        if not isinstance(ticket, str) or not ticket:
            raise WeChatAPIError(ERR_BAD_RESPONSE, "qrcode/create answered without a ticket")
        return {**result, "qr_url": SHOWQRCODE_URL + quote(ticket, safe="")}

    async def jscode2session(self, code: str) -> dict[str, Any]:
        """Mini-program login: {openid, session_key, unionid?}. The session_key is never logged."""
        app_id, secret = self._wxa.require()
        params = {
            "appid": app_id,
            "secret": secret,
            "js_code": code,
            "grant_type": "authorization_code",
        }
        try:
            result = await request_json(
                self._session,
                "GET",
                f"{self._base}/sns/jscode2session",
                params=params,
                timeout=self._timeout,
            )
        except WeChatAPIError as exc:
            log.warning("jscode2session failed: errcode %s", exc.errcode)
            raise
        if not result.get("openid") or not result.get("session_key"):
            raise WeChatAPIError(ERR_BAD_RESPONSE, "jscode2session answer lacks openid/session_key")
        log.info("jscode2session ok for %s", mask_openid(result["openid"]))
        return {k: v for k, v in result.items() if k not in ("errcode", "errmsg")}

    async def get_media(self, media_id: str, *, max_bytes: int) -> tuple[bytes, str]:
        """A temporary media file, such as a photo a user sent in chat: (bytes, content type).

        WeChat keeps these for 3 days. It answers the file itself, or JSON with an errcode
        (40007: the media id is unknown or has expired).
        """

        async def fetch(token: str) -> tuple[bytes, str]:
            return await self._get_file(
                "cgi-bin/media/get", {"media_id": media_id}, token, max_bytes
            )

        return await self._with_token(self._oa, "cgi-bin/media/get", fetch)

    async def _call(
        self, app: _App, path: str, body: dict[str, Any], openid: str | None = None
    ) -> dict[str, Any]:
        """POST with the app's token; on a token error fetch a new one and retry exactly once."""

        async def post(token: str) -> dict[str, Any]:
            return await self._post(path, body, token)

        return await self._with_token(app, path, post, openid)

    async def _with_token(self, app: _App, path: str, call, openid: str | None = None):
        """`call(token)`; when WeChat rejects the token, fetch a new one and retry exactly once."""
        token = await self._token(app)
        try:
            return await call(token)
        except WeChatAPIError as exc:
            if not exc.token_invalid:
                log.warning("%s failed for %s: errcode %s", path, mask_openid(openid), exc.errcode)
                raise
            log.info("%s: token rejected (errcode %s), fetching a new one", path, exc.errcode)
        token = await self._token(app, rejected=token)
        try:
            return await call(token)
        except WeChatAPIError as exc:
            log.warning("%s failed for %s: errcode %s", path, mask_openid(openid), exc.errcode)
            raise

    async def _get_file(
        self, path: str, params: dict[str, str], token: str, max_bytes: int
    ) -> tuple[bytes, str]:
        chunks, size = [], 0
        try:
            async with self._session.get(
                f"{self._base}/{path}",
                params={**params, "access_token": token},
                timeout=aiohttp.ClientTimeout(total=MEDIA_TIMEOUT),
            ) as resp:
                _check_status(resp.status)
                content_type = resp.content_type
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise WeChatAPIError(ERR_TOO_LARGE, f"larger than {max_bytes} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise WeChatAPIError(ERR_TIMEOUT, "timed out") from None
        except aiohttp.ClientError as exc:
            raise WeChatAPIError(ERR_CONNECTION, type(exc).__name__) from None
        data = b"".join(chunks)
        if content_type in ("application/json", "text/plain") or data[:1] == b"{":
            _json_answer(data, resp.status)  # raises with WeChat's errcode
            raise WeChatAPIError(ERR_BAD_RESPONSE, "a JSON answer instead of the file")
        return data, content_type

    async def _post(self, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        return await request_json(
            self._session,
            "POST",
            f"{self._base}/{path}",
            params={"access_token": token},
            body=body,
            timeout=self._timeout,
        )

    async def _token(self, app: _App, *, force: bool = False, rejected: str | None = None) -> str:
        """The cached token unless stale, forced, or equal to the one a call just rejected."""
        app_id, secret = app.require()
        cached = self._tokens.get(app_id)
        if cached and cached.fresh() and not force and cached.value != rejected:
            return cached.value
        async with self._locks.setdefault(app_id, asyncio.Lock()):
            # Whoever held the lock before us may already have fetched a good one.
            cached = self._tokens.get(app_id)
            if cached and cached.fresh() and not force and cached.value != rejected:
                return cached.value
            self._tokens.pop(app_id, None)
            body = {
                "grant_type": "client_credential",
                "appid": app_id,
                "secret": secret,
                "force_refresh": False,  # forcing would revoke the token every other worker holds
            }
            try:
                result = await request_json(
                    self._session,
                    "POST",
                    f"{self._base}/cgi-bin/stable_token",
                    body=body,
                    timeout=self._timeout,
                )
            except WeChatAPIError as exc:
                log.warning("%s access token fetch failed: errcode %s", app.kind, exc.errcode)
                raise
            value = result.get("access_token")
            try:
                expires_in = int(result.get("expires_in", 7200))
            except (TypeError, ValueError):
                expires_in = 0
            if not isinstance(value, str) or not value or expires_in <= 0:
                raise WeChatAPIError(ERR_BAD_RESPONSE, "stable_token answered without a token")
            # stable_token reports the time left, which may be short; never cache past half of it.
            ttl = max(expires_in - TOKEN_EARLY_REFRESH, expires_in / 2)
            self._tokens[app_id] = _Token(value, time.monotonic() + ttl)
            log.info("fetched %s access token, expires in %ss", app.kind, expires_in)
            return value
