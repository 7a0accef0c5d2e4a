"""Staff console sign-in: the scanned QR code, WeChat's web authorisation, sessions, CSRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from models.console import ConsoleLogin, ConsoleSession
from models.people import Staff
from tests.console_support import csrf_of, other_browser, scan, show_login, sign_in
from tests.test_cases_support import add_staff


async def test_a_page_without_a_session_goes_to_the_login_page_and_back(app):
    await add_staff("赵六", "o-staff-1")
    resp = await app.get("/console/callbacks?tab=flagged", allow_redirects=False)
    assert resp.status == 302
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/console/login"
    assert parse_qs(location.query)["next"] == ["/console/callbacks?tab=flagged"]
    page = await (await app.get(resp.headers["Location"])).text()
    assert 'id="login-scene">login:' in page
    assert "python -m bot chat --openid &lt;openid&gt; --event SCAN --key login:" in page
    resp = await app.get("/console/login?next=%2Fconsole%2Fcallbacks%3Ftab%3Dflagged")
    scene = (await resp.text()).split('id="login-scene">')[1].split("<")[0]
    assert "已登录工作台" in await scan(app, "o-staff-1", scene)
    resp = await app.get("/console/login/poll", params={"scene": scene})
    assert await resp.json() == {"status": "ok", "next": "/console/callbacks?tab=flagged"}
    cookie = resp.cookies["console_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/console/"
    page = await app.get("/console/callbacks?tab=flagged")
    assert page.status == 200 and "赵六" in await page.text()
    # the scene is spent (and the pre-login cookie gone): polling again signs nobody in
    again = await app.get("/console/login/poll", params={"scene": scene})
    assert (await again.json())["status"] != "ok" and "console_session" not in again.cookies


async def test_the_qr_code_comes_from_wechat_when_credentials_exist(app, fake_wechat):
    await show_login(app)
    [body] = fake_wechat.bodies("qrcode/create")
    assert body["action_info"]["scene"]["scene_str"].startswith("login:")
    assert body["expire_seconds"] == 300


async def test_a_scan_by_someone_who_is_not_staff_logs_nobody_in(app):
    scene = await show_login(app)
    reply = await scan(app, "o-stranger", scene)
    assert "不是在职的中心工作人员" in reply
    poll = await (await app.get("/console/login/poll", params={"scene": scene})).json()
    assert poll["status"] == "denied"
    assert (await app.get("/console/", allow_redirects=False)).status == 302


async def test_a_scene_polled_from_another_browser_is_refused(app):
    await add_staff("赵六", "o-staff-1")
    scene = await show_login(app)
    await scan(app, "o-staff-1", scene)
    async with other_browser(app) as (thief, base):
        resp = await thief.get(f"{base}/console/login/poll", params={"scene": scene})
        assert resp.status == 403
        assert "console_session" not in {c.key for c in thief.cookie_jar}
    # the browser that showed it still gets in
    assert (await (await app.get("/console/login/poll", params={"scene": scene})).json())[
        "status"
    ] == "ok"


async def test_an_expired_scene_does_not_log_in(app):
    await add_staff("赵六", "o-staff-1")
    scene = await show_login(app)
    await ConsoleLogin.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert "已失效" in await scan(app, "o-staff-1", scene)
    assert (await (await app.get("/console/login/poll", params={"scene": scene})).json())[
        "status"
    ] == "expired"


async def test_state_changes_need_the_csrf_token(app):
    await add_staff("赵六", "o-staff-1")
    await sign_in(app, "o-staff-1")
    for path in (
        "/console/logout",
        "/console/records/outbox/1/retry",
        "/console/applications/1/decision",
        "/console/complaints/1/step",
    ):
        resp = await app.post(path, data={"csrf": "forged"}, allow_redirects=False)
        assert resp.status == 403, path
        resp = await app.post(path, data={}, allow_redirects=False)
        assert resp.status == 403, path
    assert (await app.get("/console/")).status == 200  # still signed in
    token = await csrf_of(app)
    resp = await app.post("/console/logout", data={"csrf": token}, allow_redirects=False)
    assert resp.status == 302
    assert (await app.get("/console/", allow_redirects=False)).status == 302
    assert await ConsoleSession.filter(ended_at=None).count() == 0


async def test_disabling_a_staff_member_ends_their_sessions_at_once(app):
    member = await add_staff("赵六", "o-staff-1")
    await sign_in(app, "o-staff-1")
    assert (await app.get("/console/")).status == 200
    await Staff.filter(id=member.id).update(active=False)  # python -m bot staff disable
    assert (await app.get("/console/", allow_redirects=False)).status == 302
    await Staff.filter(id=member.id).update(active=True)
    assert (await app.get("/console/", allow_redirects=False)).status == 302  # stays ended


async def test_an_idle_session_ends(app):
    await add_staff("赵六", "o-staff-1")
    await sign_in(app, "o-staff-1")
    await ConsoleSession.all().update(last_seen_at=datetime.now(UTC) - timedelta(hours=13))
    assert (await app.get("/console/", allow_redirects=False)).status == 302


async def test_the_console_speaks_english_on_request(app):
    await add_staff("赵六", "o-staff-1")
    await sign_in(app, "o-staff-1")
    resp = await app.get("/console/lang", params={"to": "en", "next": "/console/"})
    assert "Last 12 weeks" in await resp.text()
