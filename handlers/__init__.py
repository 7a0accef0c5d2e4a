"""What users do: chat flows (handlers.flows), HTTP endpoints (handlers.api), the staff console
(handlers.console), what staff take away (handlers.records), scheduled jobs (handlers.jobs_*).

`setup_routes` shows the whole HTTP surface on one screen.
"""

from __future__ import annotations

import importlib
import pkgutil

from aiohttp import web

# Feature commands of `python -m bot` (bot/__main__.py adds them to the engine's own).
CLI_MODULES = [
    "handlers.records.digest_cli",  # digest --region R [--now] [--weekly]
    "handlers.records.export_cli",  # export applications|callbacks|complaints|disclosure -o x.xlsx
]


def import_job_modules() -> None:
    """Scheduler jobs live in handlers/jobs_<feature>.py; importing registers them."""
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("jobs_"):
            importlib.import_module(f"{__name__}.{info.name}")


def setup_routes(app: web.Application) -> None:
    import handlers.api
    import handlers.flows  # noqa: F401  (registers chat flows, commands, scenes)

    import_job_modules()
    from bot import docs_ui
    from bot.api import add_operations
    from bot.wechat import webhook
    from handlers import console, system

    webhook.setup(app)  # GET/POST /wechat
    app.router.add_get("/healthz", system.healthz)
    app.router.add_get("/readyz", system.readyz)
    app.router.add_get("/metrics", system.metrics)
    app.router.add_get("/api/v1/openapi.json", system.openapi)
    docs_ui.setup(app)  # /api/docs: Swagger UI over the document above, assets shipped with us
    app.router.add_get("/dev/outbox", system.dev_outbox)  # development only (404 otherwise)
    add_operations(app)  # /api/v1/... declared with @operation
    console.setup(app)  # /console/... staff pages (and the login:… QR scene)
