"""The API's docs UI at /api/docs: Swagger UI over /api/v1/openapi.json, from files shipped in
the package (bot/static/swagger-ui, vendored from npm's swagger-ui-dist; see its VERSION file).

Nothing is loaded from a CDN: centres run this on networks that may not reach one, and a page
that pulls code from a third party would run it with the API's origin.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

ASSETS = Path(__file__).parent / "static" / "swagger-ui"
# Served by name only, so nothing else under the directory (licences, VERSION) is a route.
FILES = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
    "init.js": "application/javascript",
}
CACHE = "public, max-age=86400"


def setup(app: web.Application) -> None:
    app.router.add_get("/api/docs", page)
    app.router.add_get("/api/docs/{name}", asset)


async def page(request: web.Request) -> web.StreamResponse:
    """The HTML page; its assets are addressed relative to /api/docs."""
    return web.FileResponse(
        ASSETS / "docs.html",
        headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"},
    )


async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(
        ASSETS / name, headers={"Content-Type": FILES[name], "Cache-Control": CACHE}
    )
