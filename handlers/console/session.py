"""Who is looking at the console: server-side sessions, roles, CSRF, rendering.

A session is a random token in an HttpOnly, SameSite=Lax cookie (Secure when the public URL is
https); the database keeps its hash, the staff member and/or the evaluation expert, and a CSRF
token. Every request re-reads those rows, so disabling a staff member or an expert ends their
sessions at once, and a session idle for longer than BOT_CONSOLE_IDLE_TIMEOUT ends too. Lax
rather than Strict: a link tapped in a WeChat push is a cross-site navigation, and it must
arrive signed in.

An expert (models.evaluation.Expert) signs in like staff and gets the role `expert`: the
expert's page only. Someone registered as both keeps their staff role and also gets the
expert's page (`Visitor.expert`).
"""

from __future__ import annotations

import contextvars
import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from bot.api import ApiError
from bot.keys import settings_key
from i18n import normalize_locale, t
from models.calendar import to_local
from models.console import ConsoleSession
from models.credentials import hash_secret
from models.evaluation import Expert
from models.people import Staff

SESSION_COOKIE = "console_session"
PRE_COOKIE = "console_pre"  # the pre-login cookie a QR scene or OAuth state is bound to
LANG_COOKIE = "console_lang"
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most once a minute
ROLES = ("staff", "supervisor", "bureau", "expert")


@dataclass(slots=True)
class Visitor:
    """The signed-in person: staff (with `staff`), an expert only (`staff` None), or both.

    Staff pages are only for roles other than `expert`, so their handlers can rely on `staff`."""

    staff: Staff | None
    session: ConsoleSession
    expert: Expert | None = None

    @property
    def role(self) -> str:
        return role_of(self.staff) if self.staff is not None else "expert"

    @property
    def person(self) -> Staff | Expert:
        """The staff member, else the expert (a visitor is always one or both)."""
        if self.staff is not None:
            return self.staff
        assert self.expert is not None, "a visitor without staff is an expert"
        return self.expert

    @property
    def member(self) -> Staff:
        """The staff member, which every staff page (any role but `expert`) has."""
        if self.staff is None:
            raise ApiError(403, "forbidden", message_key="console.error.forbidden")
        return self.staff

    @property
    def region(self) -> str:
        return self.person.region

    @property
    def name(self) -> str:
        return self.person.name

    @property
    def actor(self) -> str:
        return f"staff:{self.person.id}" if self.staff is not None else f"expert:{self.person.id}"


# The signed-in visitor of the request being handled: aiohttp runs each request in its own
# task, so a context variable is per request, and pages need not thread it through.
_visitor: contextvars.ContextVar[Visitor | None] = contextvars.ContextVar(
    "console_visitor", default=None
)


def use_visitor(visitor: Visitor | None) -> None:
    _visitor.set(visitor)


def role_of(staff: Staff) -> str:
    """staff, supervisor, bureau or expert. A `role` column (bureau, expert) wins where the
    model has one; otherwise the supervisor flag decides."""
    role = getattr(staff, "role", None)
    if role in ("bureau", "expert"):
        return role
    return "supervisor" if staff.supervisor or role == "supervisor" else "staff"


def locale_of(request: web.Request) -> str:
    """Chinese unless the visitor chose English on the page: a desk computer's browser
    language says little about its user, and the centre works in Chinese."""
    return normalize_locale(request.cookies.get(LANG_COOKIE))


def secure_cookies(request: web.Request) -> bool:
    return request.secure or request.app[settings_key].public_base_url.startswith("https:")


def set_cookie(
    request: web.Request,
    resp: web.StreamResponse,
    name: str,
    value: str,
    max_age: int | None = None,
) -> None:
    resp.set_cookie(
        name,
        value,
        path="/console/",
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(request),
        max_age=max_age,
    )


async def start_session(
    request: web.Request,
    resp: web.StreamResponse,
    staff: Staff | None,
    via: str,
    expert: Expert | None = None,
) -> None:
    assert staff is not None or expert is not None
    token = secrets.token_urlsafe(32)
    await ConsoleSession.create(
        token_hash=hash_secret(token),
        csrf=secrets.token_urlsafe(24),
        staff=staff,
        expert=expert,
        via=via,
        last_seen_at=datetime.now(UTC),
    )
    set_cookie(request, resp, SESSION_COOKIE, token)
    resp.del_cookie(PRE_COOKIE, path="/console/")


async def current(request: web.Request) -> Visitor | None:
    """The signed-in visitor of this request, or None (and the session ended when the staff
    member or the expert is disabled, or the session idled out). A staff member who is also an
    expert stays signed in as staff when the expert is disabled, without the expert's page."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    row = (
        await ConsoleSession.filter(token_hash=hash_secret(token), ended_at=None)
        .select_related("staff", "expert")
        .first()
    )
    if row is None:
        return None
    now = datetime.now(UTC)
    idle = timedelta(seconds=request.app[settings_key].console_idle_timeout)
    staff, expert = row.staff, row.expert
    if expert is not None and not expert.active:
        expert = None
    gone = (staff is not None and not staff.active) or (staff is None and expert is None)
    if gone or now - row.last_seen_at > idle:
        await ConsoleSession.filter(id=row.id).update(ended_at=now)
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        await ConsoleSession.filter(id=row.id).update(last_seen_at=now)
    return Visitor(staff, row, expert)


def page(*roles: str) -> Callable:
    """Decorate a console handler: signed in (else to the login page, or OAuth inside
    WeChat), one of `roles` (403 otherwise; all when empty), an ApiError shown as a page."""

    def deco(fn: Callable[..., Awaitable[web.StreamResponse]]) -> Callable:
        @functools.wraps(fn)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            visitor = await current(request)
            if visitor is None:
                if request.method != "GET":
                    return render(
                        request,
                        "error.html",
                        {"message": t("console.error.signed_out", locale_of(request))},
                        status=401,
                    )
                from handlers.console.login import enter

                return await enter(request)
            use_visitor(visitor)
            if roles and visitor.role not in roles:
                return error_page(request, 403, "console.error.forbidden")
            try:
                return await fn(request, visitor)
            except ApiError as exc:
                loc = locale_of(request)
                return render(
                    request,
                    "error.html",
                    {"message": t(exc.message_key, loc, **exc.params), "fields": exc.fields},
                    status=exc.status,
                )

        return wrapper

    return deco


def error_page(request: web.Request, status: int, key: str) -> web.Response:
    return render(request, "error.html", {"message": t(key, locale_of(request))}, status=status)


async def form_of(request: web.Request, visitor: Visitor) -> dict[str, str]:
    """The posted form, after its CSRF token is checked (403 when missing or wrong)."""
    form = await request.post()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, visitor.session.csrf):
        raise ApiError(403, "csrf", message_key="console.error.csrf")
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


def render(request: web.Request, template: str, context: dict, status: int = 200) -> web.Response:
    loc = locale_of(request)
    visitor = _visitor.get()
    tz = request.app[settings_key].timezone
    base = {
        "_": functools.partial(_tr, loc),
        "lang": loc,
        "visitor": visitor,
        "csrf": visitor.session.csrf if visitor else "",
        "path": request.path,
        "when": functools.partial(local_time, tz),
        "tz_label": tz_label(tz),
    }
    resp = aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)
    resp.headers["Cache-Control"] = "no-store"  # pages carry personal data
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "same-origin"
    return resp


def tz_label(tz: str) -> str:
    """The centre's offset from UTC as people read it: UTC+8, UTC-3:30."""
    offset = datetime.now(ZoneInfo(tz)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def local_time(
    tz: str, dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M", label: bool = True
) -> str:
    """A stored (UTC) time on the centre's wall clock, labelled with its offset unless the
    column's header already says it."""
    if dt is None:
        return ""
    text = to_local(dt, tz).strftime(fmt)
    return f"{text} ({tz_label(tz)})" if label else text


def _tr(loc: str, key: str, **fields: object) -> str:
    return t(key, loc, **fields)
