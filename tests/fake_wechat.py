"""A fake WeChat API server and a fake centre records system, for tests (aiohttp, localhost).

`FakeWeChat` answers the endpoints the bot calls, with bodies shaped like the recorded ones in
tests/fixtures/wechat/api_responses, and records every call in `.calls` as
`Call(path, query, body)`. Paths are named without "/" and "cgi-bin/":

    stable_token, token, message/custom/send, message/template/send, message/subscribe/send,
    qrcode/create, webhook/send (WeCom group robot), sns/jscode2session,
    sns/oauth2/access_token (web authorisation; codes from `fake.add_oauth_code(code, openid)`)

and every helper taking a path also accepts the full spelling ("/cgi-bin/message/custom/send").

Scripting (each queues per path; every request consumes one queued entry, in order):
    fake.fail_next("message/custom/send", errcode=45015, times=1)   # WeChat errcode answer
    fake.http_error_next("message/custom/send", status=502)         # HTTP error page
    fake.delay_next("message/custom/send", 2.0)                     # slow, then normal answer
State:
    fake.expire_tokens()              # every issued token answers 42001 (or errcode=40001)
    fake.add_code("code1", openid="o-agent-1")   # jscode2session; codes are single-use
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, NamedTuple, Self

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.push import HEADER_SIGNATURE, HEADER_TIMESTAMP, verify_signature

OA_APP_ID = "wxfake0a0a0a0a0a0a"
OA_SECRET = "fake-oa-secret"
WXA_APP_ID = "wxfake1b1b1b1b1b1b"
WXA_SECRET = "fake-wxa-secret"
WECOM_KEY = "fake-robot-key"
CENTER_SECRET = "fake-center-secret"
TOKEN_TTL = 7200  # seconds, what WeChat grants

# errmsg texts as WeChat sends them (a " rid: ..." suffix is added, as live answers have).
ERRMSGS = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41008: "missing code",
    42001: "access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit mustslower retry next minute",
    45015: "response out of time limit or subscription is canceled",
    47001: "data format error",
    47003: "argument invalid!",
    93000: "invalid webhook url",
}


def errmsg_for(errcode: int) -> str:
    rid = f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"
    return f"{ERRMSGS.get(errcode, 'error')} rid: {rid}"


def norm_path(path: str) -> str:
    return path.strip("/").removeprefix("cgi-bin/")


class Call(NamedTuple):
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON; None for a GET


@dataclass(slots=True)
class _Script:
    kind: str  # "errcode" | "http" | "delay"
    errcode: int = 0
    errmsg: str | None = None
    status: int = 200
    seconds: float = 0.0


def _err(errcode: int, errmsg: str | None = None) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg or errmsg_for(errcode)}


OK = {"errcode": 0, "errmsg": "ok"}


class _FakeServer:
    """Start/stop plumbing shared by both fakes."""

    def __init__(self) -> None:
        self._server: TestServer | None = None
        self._closing = asyncio.Event()

    def _app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> Self:
        # No access log: its URLs would put tokens and secrets into the captured logs we check.
        self._server = TestServer(self._app(), host="127.0.0.1")
        await self._server.start_server(access_log=None)
        return self

    async def close(self) -> None:
        self._closing.set()  # wake handlers sleeping in a scripted delay
        if self._server is not None:
            await self._server.close()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return str(self._server.make_url("")).rstrip("/")

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass


class FakeWeChat(_FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.apps = {OA_APP_ID: OA_SECRET, WXA_APP_ID: WXA_SECRET}
        self.calls: list[Call] = []
        self.qrcodes: dict[str, str] = {}  # ticket -> scene_str, to simulate a scan
        self._scripts: dict[str, deque[_Script]] = defaultdict(deque)
        self._stable: dict[str, tuple[str, float]] = {}  # app id -> (token, issued at)
        self._plain: dict[str, str] = {}  # app id -> latest cgi-bin/token token
        self._valid: dict[str, str] = {}  # token -> app id
        self._dead: dict[str, int] = {}  # token -> errcode it now gets
        self._codes: dict[str, dict[str, str]] = {}
        self._oauth_codes: dict[str, str] = {}  # web authorisation code -> openid
        self._client_msg_ids: dict[tuple[str, str], int] = {}
        self._media: dict[str, tuple[bytes, str]] = {}  # media id -> (bytes, content type)
        self._seq = itertools.count(1)

    # ---- scripting -------------------------------------------------------------------------
    def fail_next(self, path: str, errcode: int, errmsg: str | None = None, times: int = 1) -> None:
        for _ in range(times):
            self._scripts[norm_path(path)].append(
                _Script("errcode", errcode=errcode, errmsg=errmsg)
            )

    def http_error_next(self, path: str, status: int = 502, times: int = 1) -> None:
        for _ in range(times):
            self._scripts[norm_path(path)].append(_Script("http", status=status))

    def delay_next(self, path: str, seconds: float, times: int = 1) -> None:
        for _ in range(times):
            self._scripts[norm_path(path)].append(_Script("delay", seconds=seconds))

    def expire_tokens(self, errcode: int = 42001) -> None:
        """Every token issued so far now answers `errcode`; the next fetch issues a new one."""
        for token in self._valid:
            self._dead[token] = errcode
        self._valid.clear()
        self._stable.clear()
        self._plain.clear()

    def add_media(self, media_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        """A temporary media file a user 'sent': cgi-bin/media/get answers it."""
        self._media[media_id] = (data, content_type)

    def add_code(
        self, code: str, openid: str, *, unionid: str | None = None, session_key: str | None = None
    ) -> None:
        self._codes[code] = {
            "openid": openid,
            "session_key": session_key or secrets.token_urlsafe(16),
        }
        if unionid:
            self._codes[code]["unionid"] = unionid

    def add_oauth_code(self, code: str, openid: str) -> None:
        """A web-authorisation (snsapi_base) code for sns/oauth2/access_token; single-use."""
        self._oauth_codes[code] = openid

    # ---- inspecting ------------------------------------------------------------------------
    def calls_to(self, path: str) -> list[Call]:
        p = norm_path(path)
        return [c for c in self.calls if c.path == p]

    def bodies(self, path: str) -> list[Any]:
        return [c.body for c in self.calls_to(path)]

    @property
    def wecom_url(self) -> str:
        return f"{self.url}/cgi-bin/webhook/send?key={WECOM_KEY}"

    def api_kwargs(self) -> dict[str, str]:
        """Keyword arguments for bot.wechat.api.WeChatAPI(session, **...)."""
        return {
            "base_url": self.url,
            "app_id": OA_APP_ID,
            "app_secret": OA_SECRET,
            "wxa_app_id": WXA_APP_ID,
            "wxa_app_secret": WXA_SECRET,
        }

    def settings_kwargs(self) -> dict[str, str]:
        """Keyword arguments for Settings(...) pointing every WeChat URL at this fake."""
        return {
            "wechat_api_base": self.url,
            "wechat_app_id": OA_APP_ID,
            "wechat_app_secret": OA_SECRET,
            "wxa_app_id": WXA_APP_ID,
            "wxa_app_secret": WXA_SECRET,
            "wecom_webhook_url": self.wecom_url,
        }

    # ---- server ----------------------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = norm_path(request.path)
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.calls.append(Call(path, dict(request.query), body))
        queue = self._scripts.get(path)
        script = queue.popleft() if queue else None
        if script and script.kind == "delay":
            await self._sleep(script.seconds)
        elif script and script.kind == "http":
            return web.Response(
                status=script.status,
                text=f"<html><body>{script.status}</body></html>",
                content_type="text/html",
            )
        elif script:
            return _json(_err(script.errcode, script.errmsg))
        route = self._routes.get(path)
        if route is None:
            raise web.HTTPNotFound()
        method, handler = route
        if request.method != method:
            return _json(_err(43002 if method == "POST" else 43001))
        result = handler(self, request.query, body)
        if isinstance(result, web.StreamResponse):
            return result
        if path == "sns/jscode2session":
            return _json(result, content_type="text/plain")  # as WeChat answers it
        return _json(result)

    def _issue(self, app_id: str) -> str:
        token = f"{next(self._seq):04d}_{secrets.token_urlsafe(96)}"
        self._valid[token] = app_id
        return token

    def _check_token(self, query: Any, apps: tuple[str, ...]) -> dict[str, Any] | None:
        token = query.get("access_token")
        if not token:
            return _err(41001)
        if token in self._dead:
            return _err(self._dead[token])
        app_id = self._valid.get(token)
        if app_id is None:
            return _err(40001)
        if app_id not in apps:
            return _err(40003)  # the openid belongs to another app than this token's
        return None

    def _stable_token(self, query: Any, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("grant_type") != "client_credential":
            return _err(40002)
        app_id = body.get("appid")
        if app_id not in self.apps:
            return _err(40013)
        if body.get("secret") != self.apps[app_id]:
            return _err(40125)
        current = self._stable.get(app_id)
        now = time.monotonic()
        if body.get("force_refresh") is True and current:
            self._valid.pop(current[0], None)
            self._dead[current[0]] = 40001
            current = None
        if current is None or now - current[1] >= TOKEN_TTL:
            current = self._stable[app_id] = (self._issue(app_id), now)
        return {
            "access_token": current[0],
            "expires_in": max(1, int(TOKEN_TTL - (now - current[1]))),
        }

    def _plain_token(self, query: Any, body: Any) -> dict[str, Any]:
        if query.get("grant_type") != "client_credential":
            return _err(40002)
        app_id = query.get("appid")
        if app_id not in self.apps:
            return _err(40013)
        if query.get("secret") != self.apps[app_id]:
            return _err(40125)
        old = self._plain.get(app_id)
        if old:  # each call replaces the last token, which is why we use stable_token
            self._valid.pop(old, None)
            self._dead[old] = 40001
        token = self._plain[app_id] = self._issue(app_id)
        return {"access_token": token, "expires_in": TOKEN_TTL}

    def _custom_send(self, query: Any, body: Any) -> dict[str, Any]:
        if err := self._check_token(query, (OA_APP_ID, WXA_APP_ID)):
            return err  # mini-program customer service shares this URL
        if not isinstance(body, dict) or not body.get("touser"):
            return _err(40003)
        msgtype = body.get("msgtype")
        if msgtype not in (
            "text",
            "image",
            "voice",
            "video",
            "news",
            "mpnews",
            "link",
            "miniprogrampage",
            "msgmenu",
        ):
            return _err(40008)
        if msgtype == "text" and not (body.get("text") or {}).get("content"):
            return _err(47001)
        return dict(OK)

    def _template_send(self, query: Any, body: Any) -> dict[str, Any]:
        if err := self._check_token(query, (OA_APP_ID,)):
            return err
        if not isinstance(body, dict) or not body.get("touser"):
            return _err(40003)
        if not body.get("template_id"):
            return _err(40037)
        if not isinstance(body.get("data"), dict):
            return _err(47003)
        key = (body["touser"], body.get("client_msg_id") or "")
        if (
            key[1] and key in self._client_msg_ids
        ):  # a resend with the same id is not delivered again
            return {**OK, "msgid": self._client_msg_ids[key]}
        msgid = 200228332 + next(self._seq)
        if key[1]:
            self._client_msg_ids[key] = msgid
        return {**OK, "msgid": msgid}

    def _subscribe_send(self, query: Any, body: Any) -> dict[str, Any]:
        if err := self._check_token(query, (WXA_APP_ID,)):
            return err
        if not isinstance(body, dict) or not body.get("touser"):
            return _err(40003)
        if not body.get("template_id"):
            return _err(40037)
        if not isinstance(body.get("data"), dict) or body.get("miniprogram_state") not in (
            None,
            "developer",
            "trial",
            "formal",
        ):
            return _err(47003)
        return {**OK, "msgid": 1988810812324364291 + next(self._seq)}  # > 2**53, as seen live

    def _qrcode_create(self, query: Any, body: Any) -> dict[str, Any]:
        if err := self._check_token(query, (OA_APP_ID,)):
            return err
        scene = ((body or {}).get("action_info") or {}).get("scene") or {}
        action = (body or {}).get("action_name")
        if action not in ("QR_SCENE", "QR_STR_SCENE", "QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE"):
            return _err(47003)
        key = scene.get("scene_str") if "STR" in action else scene.get("scene_id")
        if not key or ("STR" in action and len(key) > 64):
            return _err(47003)
        ticket = "gQ" + secrets.token_urlsafe(60) + "/+="  # real tickets need URL-encoding
        self.qrcodes[ticket] = str(key)
        result: dict[str, Any] = {"ticket": ticket}
        if "LIMIT" not in action:  # temporary: default 30 s, at most 30 days
            result["expire_seconds"] = min(int(body.get("expire_seconds") or 30), 30 * 24 * 3600)
        result["url"] = f"http://weixin.qq.com/q/{secrets.token_urlsafe(16)}"
        return result

    def _jscode2session(self, query: Any, body: Any) -> dict[str, Any]:
        if query.get("appid") != WXA_APP_ID:
            return _err(40013)
        if query.get("secret") != WXA_SECRET:
            return _err(40125)
        if query.get("grant_type") != "authorization_code":
            return _err(40002)
        code = query.get("js_code")
        if not code:
            return _err(41008)
        found = self._codes.pop(code, None)  # single-use: a second try is 40029
        if found is None:
            return _err(40029)
        return dict(found)  # no errcode on success, as WeChat answers since 2020

    def _oauth_token(self, query: Any, body: Any) -> dict[str, Any]:
        if query.get("appid") != OA_APP_ID:
            return _err(40013)
        if query.get("secret") != OA_SECRET:
            return _err(40125)
        if query.get("grant_type") != "authorization_code":
            return _err(40002)
        openid = self._oauth_codes.pop(query.get("code", ""), None)
        if openid is None:
            return _err(40029)
        return {
            "access_token": secrets.token_urlsafe(48),
            "expires_in": 7200,
            "refresh_token": secrets.token_urlsafe(48),
            "openid": openid,
            "scope": "snsapi_base",
        }

    def _wecom_send(self, query: Any, body: Any) -> dict[str, Any]:
        if query.get("key") != WECOM_KEY:
            return _err(93000)
        if not isinstance(body, dict) or body.get("msgtype") not in (
            "text",
            "markdown",
            "markdown_v2",
            "image",
            "news",
            "file",
        ):
            return _err(40008)
        if body["msgtype"] == "markdown":
            content = (body.get("markdown") or {}).get("content") or ""
            if not content or len(content.encode()) > 4096:
                return _err(47001)
        return dict(OK)

    def _media_get(self, query: Any, body: Any) -> dict[str, Any] | web.Response:
        if err := self._check_token(query, (OA_APP_ID,)):
            return err
        found = self._media.get(query.get("media_id", ""))
        if found is None:
            return _err(40007)  # invalid media_id: unknown, or older than 3 days
        data, content_type = found
        return web.Response(
            body=data,
            content_type=content_type,
            headers={"Content-Disposition": f'attachment; filename="{query["media_id"]}.jpg"'},
        )

    _routes = {
        "stable_token": ("POST", _stable_token),
        "media/get": ("GET", _media_get),
        "token": ("GET", _plain_token),
        "message/custom/send": ("POST", _custom_send),
        "message/template/send": ("POST", _template_send),
        "message/subscribe/send": ("POST", _subscribe_send),
        "qrcode/create": ("POST", _qrcode_create),
        "sns/jscode2session": ("GET", _jscode2session),
        "sns/oauth2/access_token": ("GET", _oauth_token),
        "webhook/send": ("POST", _wecom_send),
    }


def _json(payload: dict[str, Any], content_type: str = "application/json") -> web.Response:
    return web.Response(
        text=json.dumps(payload, ensure_ascii=False), content_type=content_type, charset="utf-8"
    )


class Delivery(NamedTuple):
    headers: dict[str, str]
    body: bytes
    status: int  # what the fake answered

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class FakeCenter(_FakeServer):
    """The centre's records system: records every POST; checks the signature when given a secret.

    `.calls` holds every attempt, `.received` only the accepted ones. A bad or stale signature
    gets 401. `fail_next(times, status=503)` makes the next attempts fail.
    """

    def __init__(self, secret: str | None = CENTER_SECRET) -> None:
        super().__init__()
        self.secret = secret
        self.calls: list[Delivery] = []
        self._failures: deque[int] = deque()

    @property
    def received(self) -> list[Delivery]:
        return [d for d in self.calls if 200 <= d.status < 300]

    def fail_next(self, times: int = 1, status: int = 503) -> None:
        self._failures.extend([status] * times)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        if self._failures:
            status = self._failures.popleft()
        elif self.secret is not None and not verify_signature(
            self.secret,
            request.headers.get(HEADER_TIMESTAMP),
            body,
            request.headers.get(HEADER_SIGNATURE),
        ):
            status = 401
        else:
            status = 200
        self.calls.append(Delivery(headers, body, status))
        return web.json_response({"ok": status == 200}, status=status)
