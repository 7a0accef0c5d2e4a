"""Config for Tortoise's own CLI, used by developers to write migrations:

    tortoise makemigrations          (reads [tool.tortoise] in pyproject.toml)

Autodetection compares the models with the committed migration files, so no real database is
needed; the service itself migrates on start (bot.db.migrate) and with `python -m bot migrate`.
"""

from models import MODEL_MODULES

TORTOISE_ORM = {
    "connections": {"default": "sqlite://:memory:"},
    "apps": {
        "models": {
            "models": MODEL_MODULES,
            "migrations": "models.migrations",
            "default_connection": "default",
        }
    },
    "use_tz": True,
    "timezone": "UTC",
}
