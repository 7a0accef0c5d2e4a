"""Filing an application: one service for the mini-program API and the chat flow.

Both channels collect the same facts into a `Filing`, check it with the eligibility rules
(models.eligibility) and call `file_application` inside their transaction: the application, its
materials, the green-channel alert to staff and the centre event are written atomically, so a
crash leaves either all of it or nothing. The two channels therefore produce the same record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from bot.keys import policy_key, settings_key
from bot.notify import alert_staff, console_link, emit_event
from i18n import t
from models.agent import Agent
from models.application import Application, Material
from models.calendar import local_today
from models.codes import MIGRANT_WORKER, OTHER_REASON, PLEDGE_TEXT_VERSION
from models.eligibility import (
    EligibilityInput,
    EligibilityResult,
    check_application,
    violation_message,
)
from models.fields import blind_index
from models.masking import mask_name

NOT_ACKNOWLEDGED = "materials.not_acknowledged"  # warning: 容缺 notice not confirmed by applicant


@dataclass(slots=True)
class Filing:
    """What an agent entered for one applicant, from either channel (values already trimmed)."""

    name: str
    id_number: str
    phone: str  # normalized 11 digits
    address: str
    matter: str
    facts: str
    hardship_basis: str
    channel: str  # "api" or "chat"
    opposing_party: str | None = None
    limitation_deadline: date | None = None
    exempt_category: str | None = None
    statement: dict[str, Any] | None = None
    pledge: dict[str, Any] | None = None
    materials: list[tuple[str, str]] = field(default_factory=list)
    location: dict[str, Any] | None = None
    missing_acknowledged: bool = False
    other_reason: str | None = None  # criminal defence on other reasons (Art. 24)
    migrant_worker: bool = False  # the applicant is a 城乡务工人员


def today_of(app: web.Application) -> date:
    return local_today(app[settings_key].timezone)


def check(app: web.Application, filing: Filing, today: date | None = None) -> EligibilityResult:
    return check_application(
        EligibilityInput(
            matter=filing.matter,
            id_number=filing.id_number,
            hardship_basis=filing.hardship_basis,
            exempt_category=filing.exempt_category,
            statement=filing.statement,
            pledge=filing.pledge,
            materials=filing.materials,
            limitation_deadline=filing.limitation_deadline,
            other_reason=filing.other_reason,
            migrant_worker=filing.migrant_worker,
        ),
        app[policy_key],
        today or today_of(app),
    )


def violation_fields(result: EligibilityResult, locale: str) -> dict[str, str]:
    """Violations as API `fields`: dotted path (materials.0.kind) -> localized message."""
    out: dict[str, str] = {}
    for v in result.violations:
        path = "applicant.id_number" if v.field == "id_number" else v.field
        path = path.replace("[", ".").replace("]", "")
        out.setdefault(path, violation_message(v, locale))
    return out


async def file_application(
    app: web.Application,
    agent: Agent,
    filing: Filing,
    result: EligibilityResult,
    *,
    conn: BaseDBAsyncClient,
    now: datetime,
) -> Application:
    """Write the application (result must be ok) and queue its alert and centre event."""
    assert result.ok and result.applicant is not None
    settings = app[settings_key]
    warnings = list(result.warnings)
    if result.missing_materials and not filing.missing_acknowledged:
        warnings.append(NOT_ACKNOWLEDGED)
    pledge = None
    if result.hardship_basis == "pledge" and filing.pledge is not None:
        pledge = {
            "accepted": True,
            "confirmed_by": filing.pledge.get("confirmed_by"),
            "text_version": PLEDGE_TEXT_VERSION,
            "record": filing.pledge.get("record"),
            "witness_agent_id": agent.id,
            "witness_name": agent.name,
            "confirmed_at": now.isoformat(),
            "place": filing.location or {"label": agent.village},
        }
    row = await Application.create(
        region=agent.region,
        agent=agent,
        channel=filing.channel,
        applicant_name=filing.name,
        applicant_id_number=result.applicant.number,
        applicant_id_index=blind_index(result.applicant.number_18),
        applicant_phone=filing.phone,
        applicant_address=filing.address,
        matter=filing.matter,
        facts=filing.facts,
        opposing_party=filing.opposing_party,
        limitation_deadline=filing.limitation_deadline,
        hardship_basis=result.hardship_basis,
        exempt_category=filing.exempt_category if result.hardship_basis == "exempt" else None,
        statement=filing.statement if result.hardship_basis == "pledge" else None,
        pledge=pledge,
        location=filing.location,
        urgent=result.urgent,
        other_reason=(filing.other_reason or "").strip() or None
        if result.hardship_basis == OTHER_REASON
        else None,
        migrant_worker=filing.migrant_worker or filing.exempt_category == MIGRANT_WORKER,
        urgent_reasons=list(result.urgent_reasons),
        warnings=warnings,
        received_at=now,
        decision_due=result.decision_due,
        materials_due=result.materials_due,
        missing_acknowledged_at=now
        if result.missing_materials and filing.missing_acknowledged
        else None,
        using_db=conn,
    )
    # what the rules found owed besides what the agent listed (an exempt group's proof, Art. 42)
    owed = [
        (k, "missing") for k in result.missing_materials if (k, "missing") not in filing.materials
    ]
    if filing.materials or owed:
        await Material.bulk_create(
            [
                Material(application_id=row.id, kind=k, status=s)
                for k, s in [*filing.materials, *owed]
            ],
            using_db=conn,
        )
    if result.urgent:
        zh = "zh_CN"
        lines = [
            t(
                "staff.urgent.line",
                zh,
                id=row.id,
                name=mask_name(filing.name),
                matter=t(f"matter.{filing.matter}", zh),
                village=agent.village,
                agent=agent.name,
            ),
            *(t(r, zh) for r in result.urgent_reasons),
        ]
        await alert_staff(
            settings,
            region=agent.region,
            key=f"urgent-application:{row.id}",
            title=t("staff.urgent.title", zh),
            lines=lines,
            conn=conn,
            link=console_link(settings, f"applications/{row.id}"),
        )
    await emit_event(
        settings,
        event_type="application.submitted",
        key=f"application:{row.id}:submitted",
        region=agent.region,
        conn=conn,
        data=event_data(row),
    )
    return row


def event_data(row: Application) -> dict[str, Any]:
    """What the centre's records system gets pushed: no personal data (it pulls that by API)."""
    return {
        "id": row.id,
        "status": row.status,
        "matter": row.matter,
        "urgent": row.urgent,
        "hardship_basis": row.hardship_basis,
        "agent_id": row.agent_id,
        "received_at": row.received_at.isoformat(),
        "decision_due": row.decision_due.isoformat(),
        "materials_due": row.materials_due.isoformat() if row.materials_due else None,
        "case_no": row.case_no,
        "decision_reason": row.decision_reason,
    }
