"""Formal documents: numbered per region and year, immutable, reissued under a new number, opened
with python-docx and read for the name, matter, number and reasons; the agent's link in chat."""

from __future__ import annotations

import re

from handlers.document_render import DOCX, text_of
from models.agent import Agent
from models.calendar import local_today
from models.document import Document
from tests.assignment_support import Centre, filed, new_filer, policy_client
from tests.test_cases_support import pushes_to


async def download(c: Centre, url: str) -> bytes:
    resp = await c.client.get(url, headers=c.h)
    assert resp.status == 200 and resp.content_type == DOCX
    return await resp.read()


async def test_grant_refusal_and_notices_are_numbered_documents(
    aiohttp_client, app, settings, tmp_path, fake_wechat
):
    client = await policy_client(aiohttp_client, settings, tmp_path, base="shaoxing")
    c = await Centre.of(client)
    org = await c.org("越城律师事务所")
    await c.handler(org, "李明")
    token, _ = await new_filer(client, fake_wechat)
    year = local_today().year
    granted, refused, asked = [await filed(client, token) for _ in range(3)]
    await c.decide(granted, case_no="绍援2026-15")
    await c.decide(refused, "refused", reason="申请人家庭收入高于当地经济困难标准")
    await c.decide(asked, "need_materials", reason="请补充欠薪证明")

    docs = (await c.call("GET", f"/api/v1/center/applications/{granted}/documents", 200))["items"]
    assert [d["kind"] for d in docs] == ["decision_grant", "assignment_notice"]
    assert (
        docs[0]["number"] == f"绍援决〔{year}〕1号" and docs[1]["number"] == f"绍援指〔{year}〕1号"
    )
    text = text_of(await download(c, docs[0]["url"]))
    assert "给予法律援助决定书" in text and "张三丰" in text and "赡养费" in text
    assert f"绍援决〔{year}〕1号" in text and "绍兴市法律援助中心" in text
    notice = text_of(await download(c, docs[1]["url"]))
    assert "指派通知书" in notice and "越城律师事务所" in notice and "李明" in notice
    assert "委托协议" in notice and "13812345678" in notice

    (refusal,) = (await c.call("GET", f"/api/v1/center/applications/{refused}/documents", 200))[
        "items"
    ]
    assert refusal["number"] == f"绍援决〔{year}〕2号"  # one 决定书 series for both decisions
    text = text_of(await download(c, refusal["url"]))
    assert "不予法律援助决定书" in text and "家庭收入高于" in text
    assert "绍兴市司法局" in text and "五日内" in text and "第四十九条" in text

    (materials,) = (await c.call("GET", f"/api/v1/center/applications/{asked}/documents", 200))[
        "items"
    ]
    assert materials["kind"] == "materials_notice" and "援补" in materials["number"]
    text = text_of(await download(c, materials["url"]))
    assert "补充材料通知书" in text and "欠薪证明" in text and "终止法律援助" in text


async def test_reissue_voids_the_old_number_and_files_never_change(app, fake_wechat):
    c = await Centre.of(app)
    token, _ = await new_filer(app, fake_wechat)
    app_id = await filed(app, token)
    await c.decide(app_id)
    (first,) = (await c.call("GET", f"/api/v1/center/applications/{app_id}/documents", 200))[
        "items"
    ]
    before = await download(c, first["url"])
    assert re.fullmatch(r"援决〔\d{4}〕1号", first["number"])  # national: no region abbreviation
    new = await c.call("POST", f"{first['url']}/reissue", 201)
    assert new["number"].endswith("2号") and new["voided_at"] is None
    docs = (await c.call("GET", f"/api/v1/center/applications/{app_id}/documents", 200))["items"]
    assert docs[0]["voided_at"] and docs[0]["replaced_by"] == new["id"]
    assert await download(c, first["url"]) == before  # the issued file is never rewritten
    again = await c.call("POST", f"{first['url']}/reissue", 409)
    assert again["error"]["code"] == "document_void"
    other = await Centre.of(app, region="110105")
    assert (await other.client.get(first["url"], headers=other.h)).status == 404


async def test_agent_gets_a_link_to_the_decision_letter_in_chat(app, fake_wechat):
    """The agent filed in the mini-program and is known in chat too (a second binding)."""
    c = await Centre.of(app)
    token, filer = await new_filer(app, fake_wechat)
    await Agent.filter(id=filer.id).update(oa_openid="o-oa-agent-9")
    app_id = await filed(app, token)
    await c.decide(app_id, "refused", reason="不符合经济困难标准")
    texts = await pushes_to("o-oa-agent-9")
    link = next(t for t in texts if "不予法律援助决定书" in t)
    url = re.search(r"(http\S+)", link).group(1)
    path = url.split("8080", 1)[1]
    resp = await app.get(path)
    assert resp.status == 200 and "不符合经济困难标准" in text_of(await resp.read())
    tampered = path[:-1] + ("0" if path[-1] != "0" else "1")
    assert (await app.get(tampered)).status == 404
    assert (await app.get("/api/v1/documents/1.2.3")).status == 404
    assert await Document.filter(application_id=app_id).count() == 1
