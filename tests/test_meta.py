"""GET /api/v1/meta/...: the code lists the mini-program renders, localized; and the OpenAPI."""

from __future__ import annotations

from bot.app import create_app
from i18n import t
from models.codes import MATERIAL_KINDS, MATTERS, PLEDGE_TEXT_VERSION


async def test_matters_are_localized_and_follow_the_policy(app):
    zh = await (await app.get("/api/v1/meta/matters")).json()
    assert [m["code"] for m in zh["items"]] == list(MATTERS)
    support = next(m for m in zh["items"] if m["code"] == "support_payment")
    assert support["label"] == "请求给付赡养费、抚养费、扶养费" and support["hardship_required"]
    other = next(m for m in zh["items"] if m["code"] == "other_civil")
    assert other["available"] is False  # national policy keeps the matter limit
    en = await (await app.get("/api/v1/meta/matters", headers={"Accept-Language": "en"})).json()
    assert [m["label"] for m in en["items"]] == [t(f"matter.{c}", "en") for c in MATTERS]
    assert all(e["label"] != z["label"] for e, z in zip(en["items"], zh["items"], strict=True))


async def test_exempt_categories_and_materials(aiohttp_client, app, settings):
    cats = (await (await app.get("/api/v1/meta/exempt-categories")).json())["items"]
    by_code = {c["code"]: c for c in cats}
    assert by_code["migrant_worker"]["matters"] == ["labor_remuneration", "work_injury"]
    assert by_code["elderly_70_plus"]["min_age"] == 70
    assert by_code["elderly_70_plus"]["available"] is False
    shaoxing = await aiohttp_client(create_app(settings.model_copy(update={"policy": "shaoxing"})))
    cats = (await (await shaoxing.get("/api/v1/meta/exempt-categories")).json())["items"]
    assert next(c for c in cats if c["code"] == "elderly_70_plus")["available"] is True
    kinds = (await (await app.get("/api/v1/meta/materials")).json())["items"]
    assert [k["code"] for k in kinds] == list(MATERIAL_KINDS)
    pledge = await (await app.get("/api/v1/meta/pledge")).json()
    assert pledge["text_version"] == PLEDGE_TEXT_VERSION and "第六十四条" in pledge["text"]


async def test_openapi_documents_every_endpoint_of_the_feature(app):
    doc = await (await app.get("/api/v1/openapi.json")).json()
    paths = doc["paths"]
    for path, method in [
        ("/api/v1/auth/wxa-login", "post"),
        ("/api/v1/agents/bind", "post"),
        ("/api/v1/applications", "post"),
        ("/api/v1/applications", "get"),
        ("/api/v1/applications/{id}", "get"),
        ("/api/v1/applications/{id}/materials", "post"),
        ("/api/v1/meta/matters", "get"),
        ("/api/v1/meta/exempt-categories", "get"),
        ("/api/v1/meta/materials", "get"),
        ("/api/v1/center/applications", "get"),
        ("/api/v1/center/applications/{id}/decision", "post"),
    ]:
        assert method in paths[path], (path, method)
    create = paths["/api/v1/applications"]["post"]
    assert {p["name"] for p in create["parameters"]} == {"Idempotency-Key"}
    assert {"201", "409", "422", "428"} <= set(create["responses"])
    schemas = doc["components"]["schemas"]
    assert "hardship" in schemas["ApplicationIn"]["properties"]
    assert "missing_materials" in schemas["ApplicationCreated"]["properties"]
