"""Every regional policy setting is read somewhere: a setting that changes nothing must not look
like a feature (issue 11 item 19)."""

from __future__ import annotations

import re
from pathlib import Path

from models.policy import Policy

ROOT = Path(__file__).resolve().parent.parent
# Settings whose reader is being built elsewhere, with the reason. Remove an entry when its
# reader lands (the test then requires the read).
PENDING = {
    "handler_monthly_case_cap": "the assignment module (issue 13, Beijing IV.(三) cap) reads it",
    "assign_days": "the assignment module (issue 13, Art. 43 three days) reads it",
}


def _sources() -> str:
    """The code that runs: the engine, the features and the rules (not the tests)."""
    return "\n".join(
        p.read_text("utf-8")
        for d in ("bot", "handlers", "models")
        for p in sorted((ROOT / d).rglob("*.py"))
        if "migrations" not in p.parts
    )


def test_every_policy_field_is_read() -> None:
    code = _sources()
    unread = [
        name
        for name in Policy.model_fields
        if name not in PENDING and not re.search(rf"\.{name}\b", code)
    ]
    assert unread == [], f"policy fields nobody reads: {unread}"


def test_pending_fields_still_exist() -> None:
    assert set(PENDING) <= set(Policy.model_fields)
