"""JSON endpoints for the mini-program and the centre. Importing declares the operations."""

API_MODULES: list[str] = [
    "handlers.api.center_outbox",
    "handlers.api.center_quality",
    "handlers.api.exports",
    "handlers.api.auth",
    "handlers.api.agents",
    "handlers.api.applications",
    "handlers.api.application_materials",
    "handlers.api.meta",
    "handlers.api.center_applications",
    "handlers.api.center_cases",
    "handlers.api.center_callbacks",
    "handlers.api.center_complaints",
    "handlers.api.center_pool",
    "handlers.api.center_experts",
    "handlers.api.center_evaluations",
    "handlers.api.center_evaluation_results",
    "handlers.api.center_subsidies",
    "handlers.api.center_duty",
    "handlers.api.center_assignment",
    "handlers.api.center_documents",
    "handlers.api.center_termination",
    "handlers.api.applicant_invitations",
]

for _name in API_MODULES:
    __import__(_name)
