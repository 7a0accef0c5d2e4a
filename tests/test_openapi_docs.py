"""The OpenAPI document is valid 3.1, and /api/docs shows it with assets served by us."""

from __future__ import annotations

import re

from openapi_spec_validator import validate


async def test_openapi_document_is_valid_3_1(app):
    doc = await (await app.get("/api/v1/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises with the offending path when the document is not valid 3.1
    text = str(doc)
    assert "nullable" not in text  # 3.0's spelling; 3.1 says "type": "null"


async def test_docs_page_renders_the_document_from_local_assets(app):
    resp = await app.get("/api/docs")
    assert resp.status == 200 and resp.content_type == "text/html"
    html = await resp.text()
    assert 'id="swagger-ui"' in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and not any("//" in s for s in sources)  # nothing from another host
    for src in sources:
        asset = await app.get("/api/" + src)
        assert asset.status == 200, src
        assert asset.headers["Cache-Control"].startswith("public")
    init = await (await app.get("/api/docs/init.js")).text()
    assert '"v1/openapi.json"' in init and "validatorUrl: null" in init
    bundle = await (await app.get("/api/docs/swagger-ui-bundle.js")).read()
    assert b"SwaggerUIBundle" in bundle


async def test_docs_serves_only_its_assets(app):
    for name in ("LICENSE", "VERSION", "..%2F..%2Fsettings.py", "docs.html"):
        assert (await app.get("/api/docs/" + name)).status == 404, name
