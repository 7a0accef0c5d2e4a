"""Tortoise ORM models (one module per aggregate) and the domain rules that act on them.

MODEL_MODULES lists every module holding models; the Tortoise config and the migrations use it.
Pure rule modules (idcard, contact, masking, calendar, policy, codes, eligibility) import no ORM.
A nullable TextField is annotated `str | None`: Tortoise types every TextField as `str`.
"""

MODEL_MODULES = [
    "models.conversation",
    "models.inbound",
    "models.outbox",
    "models.jobs",
    "models.people",
    "models.ratelimit",
    "models.keystore",
    "models.agent",
    "models.application",
    "models.case",
    "models.callback",
    "models.complaint",
    "models.handoff",
    "models.quality",
    "models.pool",
    "models.evaluation",
    "models.subsidy",
    "models.assignment",
    "models.document",
    "models.termination",
    "models.follow",
    "models.console",
    "models.followup",
]
