"""JSON endpoints for the mini-program and the centre. Importing declares the operations."""

API_MODULES: list[str] = [
    "handlers.api.center_outbox",
]

for _name in API_MODULES:
    __import__(_name)
