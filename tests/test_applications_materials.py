"""POST /api/v1/applications/{id}/materials: sniffed types, size cap, owed items marked provided."""

from __future__ import annotations

import io

import aiohttp

from bot.auth import create_center_key
from bot.storage import MAX_UPLOAD
from models.application import Material
from tests.applications_support import REGION, agent_token, bearer, body, file

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
PDF = b"%PDF-1.7\n" + b"0" * 200


def form(
    kind: str | None, data: bytes | None, filename: str = "a.jpg", content_type: str = "image/jpeg"
) -> aiohttp.FormData:
    f = aiohttp.FormData(default_to_multipart=True)
    if kind is not None:
        f.add_field("kind", kind)
    if data is not None:
        f.add_field("file", io.BytesIO(data), filename=filename, content_type=content_type)
    return f


async def _owed(app, token) -> int:
    data = body(
        materials=[
            {"kind": "id_document", "status": "provided"},
            {"kind": "hardship_statement", "status": "missing"},
        ],
        missing_materials_acknowledged=True,
    )
    return (await (await file(app, token, data)).json())["id"]


async def test_upload_marks_an_owed_material_provided_and_the_centre_can_fetch_it(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    app_id = await _owed(app, token)
    resp = await app.post(
        f"/api/v1/applications/{app_id}/materials",
        headers=bearer(token),
        data=form("hardship_statement", PNG, "x.exe", "application/x-msdownload"),
    )
    assert resp.status == 201, await resp.text()
    out = await resp.json()
    assert out["material"]["content_type"] == "image/png" and out["material"]["size"] == len(PNG)
    assert out["missing_materials"] == []
    got = await (await app.get(f"/api/v1/applications/{app_id}", headers=bearer(token))).json()
    assert got["missing_materials"] == [] and got["materials_due"] is None
    key = await create_center_key(REGION)
    mid = out["material"]["id"]
    fetched = await app.get(
        f"/api/v1/center/applications/{app_id}/materials/{mid}", headers={"X-Api-Key": key}
    )
    assert fetched.status == 200 and await fetched.read() == PNG
    assert fetched.headers["Content-Type"].startswith("image/png")
    pdf = await app.post(
        f"/api/v1/applications/{app_id}/materials",
        headers=bearer(token),
        data=form("matter_evidence", PDF, "a.pdf", "application/pdf"),
    )
    assert (await pdf.json())["material"]["content_type"] == "application/pdf"


async def test_non_image_and_oversized_uploads_are_refused(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat)
    app_id = await _owed(app, token)
    url = f"/api/v1/applications/{app_id}/materials"
    resp = await app.post(
        url, headers=bearer(token), data=form("other", b"MZ\x90\x00 not a picture", "p.jpg")
    )
    assert resp.status == 415
    assert (await resp.json())["error"]["code"] == "unsupported_media_type"
    html = b"<html><script>alert(1)</script></html>"
    assert (await app.post(url, headers=bearer(token), data=form("other", html))).status == 415
    big = JPEG + b"\x00" * (MAX_UPLOAD + 1 - len(JPEG))
    resp = await app.post(url, headers=bearer(token), data=form("other", big))
    assert resp.status == 413 and (await resp.json())["error"]["code"] == "too_large"
    resp = await app.post(url, headers=bearer(token), data=form("passport", JPEG))
    assert resp.status == 422 and "kind" in (await resp.json())["error"]["fields"]
    resp = await app.post(url, headers=bearer(token), data=form("other", None))
    assert resp.status == 422 and "file" in (await resp.json())["error"]["fields"]
    resp = await app.post(url, headers=bearer(token), json={"kind": "other"})
    assert resp.status == 400
    assert await Material.filter(application_id=app_id, source="upload").count() == 0
    ok = await app.post(url, headers=bearer(token), data=form("other", JPEG))
    assert ok.status == 201  # the server keeps serving


async def test_only_the_filing_agent_may_upload(app, fake_wechat):
    token, _ = await agent_token(app, fake_wechat, openid="o-wxa-a")
    other, _ = await agent_token(app, fake_wechat, openid="o-wxa-b")
    app_id = await _owed(app, token)
    resp = await app.post(
        f"/api/v1/applications/{app_id}/materials",
        headers=bearer(other),
        data=form("hardship_statement", JPEG),
    )
    assert resp.status == 404
    resp = await app.post(
        f"/api/v1/applications/{app_id}/materials", data=form("hardship_statement", JPEG)
    )
    assert resp.status == 401
    key = await create_center_key("110105")
    resp = await app.get(
        f"/api/v1/center/applications/{app_id}/materials/1", headers={"X-Api-Key": key}
    )
    assert resp.status == 404
