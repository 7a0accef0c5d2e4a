"""Chat flows. Importing this package registers every flow, command and QR scene."""

import importlib

FLOW_MODULES = [
    "handlers.flows.menu",
]

for _name in FLOW_MODULES:
    importlib.import_module(_name)
