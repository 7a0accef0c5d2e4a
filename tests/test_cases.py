"""Cases from the centre: the upsert, its checks, region scoping, personal data at rest, and the
callback invitation's QR code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise import connections

from models.callback import Callback
from models.case import Case
from tests.test_cases_support import (
    ID_NUMBER,
    NAME,
    OTHER_REGION,
    PHONE,
    REGION,
    TZ,
    case_body,
    center_key,
    invite,
    put_case,
    today,
)

URL = "/api/v1/center/cases/柞法援民2026-12"


async def test_put_creates_then_updates_idempotently(app):
    key = await center_key()
    first = await put_case(app, key, expect=200)
    assert first["case_no"] == "柞法援民2026-12" and first["status"] == "closed"
    assert first["callback"]["status"] == "scheduled"
    again = await put_case(app, key, expect=200)
    assert again == first
    changed = await put_case(app, key, expect=200, cause="赡养费纠纷")
    assert changed["cause"] == "赡养费纠纷"
    assert await Case.all().count() == 1 and await Callback.all().count() == 1


async def test_callback_is_due_after_the_policy_delay(app):
    key = await center_key()
    closed = today()
    await put_case(app, key, expect=200, closed_on=closed.isoformat())
    local = (await Callback.get()).due_at.astimezone(TZ)
    # national policy: 3 days after closing, in the morning, Beijing time
    assert local.date() == closed + timedelta(days=3) and (local.hour, local.minute) == (9, 0)


async def test_case_imported_long_after_closing_is_on_the_phone_worklist_at_once(app):
    """Closed 30 days ago: due 27 days ago, its WeChat window (5 days) long gone. The worklist
    shows it at once rather than after the next 15-minute job."""
    key = await center_key()
    body = await put_case(
        app, key, expect=200, closed_on=(today() - timedelta(days=30)).isoformat()
    )
    assert body["callback"]["status"] == "pending_phone"
    resp = await app.get(
        "/api/v1/center/callbacks", params={"status": "pending_phone"}, headers=key
    )
    assert [i["case_no"] for i in (await resp.json())["items"]] == ["柞法援民2026-12"]
    # closed yesterday: still WeChat's turn
    fresh = await put_case(
        app, key, "柞法援民2026-13", expect=200, closed_on=(today() - timedelta(days=1)).isoformat()
    )
    assert fresh["callback"]["status"] == "scheduled"


async def test_beneficiary_is_masked_in_responses_and_encrypted_at_rest(app):
    key = await center_key()
    out = await put_case(app, key, expect=200)
    assert out["beneficiary"] == {
        "name": "张*丰",
        "phone": "138****5678",
        "id_number": "110105********002X",
    }
    raw = await connections.get("default").execute_query_dict(
        "SELECT beneficiary_name, beneficiary_phone, beneficiary_id_number FROM legal_case"
    )
    stored = " ".join(str(v) for v in raw[0].values())
    assert PHONE not in stored and ID_NUMBER not in stored and NAME not in stored
    case = await Case.get()
    assert (case.beneficiary_phone, case.beneficiary_id_number) == (PHONE, ID_NUMBER)


@pytest.mark.parametrize(
    "change,field",
    [
        ({"beneficiary": {"name": "张三", "phone": "12345"}}, "beneficiary.phone"),
        (
            {"beneficiary": {"name": "张三", "phone": PHONE, "id_number": "110105194912310021"}},
            "beneficiary.id_number",
        ),
        ({"beneficiary": {"name": "<b>", "phone": PHONE}}, "beneficiary.name"),
        ({"kind": "family"}, "kind"),
        ({"status": "closed", "closed_on": None}, "closed_on"),
        ({"status": "closed", "closed_on": "2999-01-01"}, "closed_on"),
        ({"region": "61102"}, "region"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_cases_are_422_with_the_field_and_nothing_is_written(app, change, field):
    key = await center_key()
    resp = await app.put(URL, json=case_body(**change), headers=key)
    assert resp.status == 422
    body = await resp.json()
    assert field in body["error"]["fields"], body
    assert PHONE not in await resp.text() and "110105194912310021" not in await resp.text()
    assert await Case.all().count() == 0
    assert (await app.get("/healthz")).status == 200


async def test_malformed_json_and_missing_key(app):
    key = await center_key()
    resp = await app.put(URL, data=b"{not json", headers=key)
    assert resp.status == 400
    assert (await app.put(URL, json=case_body())).status == 401
    assert (await app.put(URL, json=case_body(), headers={"X-Api-Key": "lak_nope"})).status == 401


async def test_regions_are_separate(app):
    mine, theirs = await center_key(), await center_key(OTHER_REGION)
    await put_case(app, mine, expect=200)
    assert (await app.get(URL, headers=theirs)).status == 404
    resp = await app.post(URL + "/callback-invitations", json={}, headers=theirs)
    assert resp.status == 404
    # a body naming another region than the key's is refused, not written there
    resp = await app.put(URL, json=case_body(region=REGION), headers=theirs)
    assert resp.status == 403
    assert (await app.get(URL, headers=mine)).status == 200


async def test_reopened_case_loses_its_unanswered_callback(app):
    key = await center_key()
    await put_case(app, key, expect=200)
    out = await put_case(app, key, expect=200, status="in_progress", closed_on=None)
    assert out["callback"] is None and await Callback.all().count() == 0


async def test_invitation_is_a_temporary_string_scene_qr_code(app, fake_wechat):
    key = await center_key()
    await put_case(app, key, expect=200)
    inv = await invite(app, key, expire_days=7)
    assert inv["scene"].startswith("cb:") and inv["qr_url"].startswith("https://")
    body = fake_wechat.bodies("qrcode/create")[-1]
    assert body["action_name"] == "QR_STR_SCENE"
    assert body["action_info"]["scene"]["scene_str"] == inv["scene"]
    assert body["expire_seconds"] == 7 * 86400
    assert inv["scene"] in fake_wechat.qrcodes.values()
    # the default is WeChat's longest: 30 days
    assert (await invite(app, key))["scene"] != inv["scene"]
    assert fake_wechat.bodies("qrcode/create")[-1]["expire_seconds"] == 30 * 86400


async def test_invitation_refused_for_open_cases_and_bad_input(app, fake_wechat):
    key = await center_key()
    await put_case(app, key, expect=200, status="in_progress", closed_on=None)
    resp = await app.post(URL + "/callback-invitations", json={}, headers=key)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "case_not_closed"
    await put_case(app, key, expect=200)
    resp = await app.post(URL + "/callback-invitations", json={"expire_days": 31}, headers=key)
    assert resp.status == 422
    resp = await app.post("/api/v1/center/cases/nope/callback-invitations", json={}, headers=key)
    assert resp.status == 404
    assert fake_wechat.calls_to("qrcode/create") == []


async def test_wechat_down_is_502_and_no_invitation(app, fake_wechat):
    key = await center_key()
    await put_case(app, key, expect=200)
    fake_wechat.fail_next("qrcode/create", 45009)
    resp = await app.post(URL + "/callback-invitations", json={}, headers=key)
    assert resp.status == 502 and (await resp.json())["error"]["code"] == "wechat_unavailable"
    from models.callback import CallbackInvitation

    assert await CallbackInvitation.all().count() == 0
    assert (await invite(app, key))["scene"]  # and it works again afterwards


async def test_development_without_wechat_still_gives_a_scene(
    app, aiohttp_client, settings, fake_wechat, user
):
    """No official account configured: no QR image, but the scene works with `bot chat`."""
    from bot.app import create_app

    dev = await aiohttp_client(create_app(settings.model_copy(update={"wechat_app_secret": None})))
    key = await center_key()
    await put_case(dev, key, expect=200)
    inv = await invite(dev, key)
    assert inv["scene"].startswith("cb:") and "dev-" in inv["qr_url"]
    assert fake_wechat.calls_to("qrcode/create") == []
