"""Staff console sign-in inside WeChat: the web authorisation (snsapi_base) behind https."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.console_support import other_browser
from tests.test_cases_support import add_staff

WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Mobile Safari/537.36 MicroMessenger/8.0.47"
)


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={
            "public_base_url": "https://aid.example.gov.cn",
            "wechat_open_base": "https://open.example",
        }
    )


async def test_inside_wechat_a_link_logs_in_by_web_authorisation(app, fake_wechat):
    await add_staff("赵六", "o-staff-1")
    resp = await app.get(
        "/console/complaints/2611290001", headers={"User-Agent": WECHAT_UA}, allow_redirects=False
    )
    assert resp.status == 302
    url = urlsplit(resp.headers["Location"])
    assert url.netloc == "open.example" and url.path == "/connect/oauth2/authorize"
    assert url.fragment == "wechat_redirect"
    q = parse_qs(url.query)
    assert q["scope"] == ["snsapi_base"] and q["response_type"] == ["code"]
    assert q["redirect_uri"] == ["https://aid.example.gov.cn/console/oauth"]
    state = q["state"][0]
    pre = resp.cookies["console_pre"]
    assert pre["secure"] and pre["httponly"]  # behind https: the test client must send it by hand
    jar = {"console_pre": pre.value}
    fake_wechat.add_oauth_code("c1", "o-staff-1")
    # another browser cannot use the state
    async with other_browser(app) as (thief, base):
        fake_wechat.add_oauth_code("c0", "o-staff-1")
        stolen = await thief.get(
            f"{base}/console/oauth", params={"code": "c0", "state": state}, allow_redirects=False
        )
        assert stolen.status == 403
    resp = await app.get(
        "/console/oauth", params={"code": "c1", "state": state}, cookies=jar, allow_redirects=False
    )
    assert resp.status == 302 and resp.headers["Location"] == "/console/complaints/2611290001"
    cookie = resp.cookies["console_session"]
    assert cookie["secure"] and cookie["httponly"]
    [call] = fake_wechat.calls_to("sns/oauth2/access_token")
    assert call.query["code"] == "c1" and call.query["grant_type"] == "authorization_code"
    # the state is single-use
    fake_wechat.add_oauth_code("c2", "o-staff-1")
    assert (
        await app.get("/console/oauth", params={"code": "c2", "state": state}, cookies=jar)
    ).status == 403


async def test_web_authorisation_of_someone_not_staff_gets_a_clear_page(app, fake_wechat):
    resp = await app.get("/console/", headers={"User-Agent": WECHAT_UA}, allow_redirects=False)
    state = parse_qs(urlsplit(resp.headers["Location"]).query)["state"][0]
    jar = {"console_pre": resp.cookies["console_pre"].value}
    fake_wechat.add_oauth_code("c1", "o-stranger")
    resp = await app.get("/console/oauth", params={"code": "c1", "state": state}, cookies=jar)
    assert resp.status == 403 and "不是在职的中心工作人员" in await resp.text()
    bad = await app.get("/console/oauth", params={"code": "x", "state": "nope"})
    assert bad.status == 403 and "登录请求无效" in await bad.text()
