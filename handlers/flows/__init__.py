"""Chat flows. Importing this package registers every flow, command and QR scene."""

import importlib

FLOW_MODULES = [
    "handlers.flows.menu",
    "handlers.flows.progress",
    "handlers.flows.callback_survey",
    "handlers.flows.complaint",
    "handlers.flows.handoff",
    "handlers.flows.bureau",
    "handlers.flows.agent_filing",
    "handlers.flows.agent_applications",  # 我的申请, 申请 N
    "handlers.flows.agent_supplement",  # 补充材料 N
    "handlers.flows.agent_bind",
    "handlers.flows.grade_objection",
    "handlers.flows.handler_cases",
    "handlers.flows.applicant_follow",
    "handlers.flows.objection",
]

for _name in FLOW_MODULES:
    importlib.import_module(_name)
