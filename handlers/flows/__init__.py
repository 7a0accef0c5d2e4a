"""Chat flows. Importing this package registers every flow, command and QR scene."""

from handlers.flows import menu  # noqa: F401  (registers by import)

FLOW_MODULES = ["handlers.flows.menu"]
