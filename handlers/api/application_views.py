"""How an application is shown: masked to the filing agent, whole to the centre.

Agents see the applicant's name, ID number, phone and address masked (they typed them once;
a lost phone must not leak them); the centre API, which decides, gets the full values, and each
such read is audited (models.application.DataAccess).
"""

from __future__ import annotations

from typing import Any

from handlers.api.application_schemas import (
    ApplicantMasked,
    ApplicationCreated,
    ApplicationListItem,
    ApplicationOut,
    DecisionOut,
    MaterialOut,
    WarningOut,
)
from i18n import t
from models.application import Application, Material
from models.eligibility import violation_message
from models.masking import mask_id, mask_name, mask_phone

ADDRESS_SHOWN = 6  # characters of the address an agent sees: the township, not the house


def mask_address(value: str) -> str:
    return value[:ADDRESS_SHOWN] + ("…" if len(value) > ADDRESS_SHOWN else "")


def missing_of(materials: list[Material]) -> list[str]:
    return list(dict.fromkeys(m.kind for m in materials if m.status == "missing"))


def missing_notice(
    missing: list[str], row: Application, locale: str, consequence: str = "withdrawn"
) -> str | None:
    """一次性告知: every missing item, the deadline, and what happens if it passes (the
    policy's `missing_materials_consequence`: 视为撤回申请 nationally, termination after a
    Shaoxing 容缺 acceptance)."""
    if not missing or row.materials_due is None:
        return None
    items = "\n".join(f"{i}. {t('material.' + k, locale)}" for i, k in enumerate(missing, 1))
    return t(
        "applications.missing_notice",
        locale,
        items=items,
        due=row.materials_due.isoformat(),
        consequence=t(f"applications.missing_consequence.{consequence}", locale),
    )


def created_view(
    row: Application, materials: list[Material], locale: str, consequence: str = "withdrawn"
) -> ApplicationCreated:
    missing = missing_of(materials)
    return ApplicationCreated(
        id=row.id,
        status=row.status,
        received_at=row.received_at,
        decision_due=row.decision_due,
        hardship_basis=row.hardship_basis,
        urgent=row.urgent,
        missing_materials=missing,
        materials_due=row.materials_due if missing else None,
        warnings=[WarningOut(code=c, message=violation_message(c, locale)) for c in row.warnings],
        notice=missing_notice(missing, row, locale, consequence),
    )


def material_out(m: Material) -> MaterialOut:
    return MaterialOut(
        id=m.id,
        kind=m.kind,
        status=m.status,
        source=m.source,
        content_type=m.content_type,
        size=m.size,
        created_at=m.created_at,
    )


def decision_of(row: Application) -> DecisionOut | None:
    if row.decided_at is None:
        return None
    return DecisionOut(
        decision=row.status,
        reason=row.decision_reason,
        case_no=row.case_no,
        decided_at=row.decided_at,
    )


def agent_view(
    row: Application, materials: list[Material], locale: str, consequence: str = "withdrawn"
) -> ApplicationOut:
    base = created_view(row, materials, locale, consequence).model_dump()
    return ApplicationOut(
        **base,
        channel=row.channel,
        applicant=ApplicantMasked(
            name=mask_name(row.applicant_name),
            id_number=mask_id(row.applicant_id_number),
            phone=mask_phone(row.applicant_phone),
            address=mask_address(row.applicant_address),
        ),
        matter=row.matter,
        matter_label=t(f"matter.{row.matter}", locale),
        facts=row.facts,
        opposing_party=row.opposing_party,
        limitation_deadline=row.limitation_deadline,
        exempt_category=row.exempt_category,
        urgent_reasons=list(row.urgent_reasons),
        materials=[material_out(m) for m in materials],
        decision=decision_of(row),
    )


def list_item(row: Application, locale: str) -> ApplicationListItem:
    return ApplicationListItem(
        id=row.id,
        status=row.status,
        received_at=row.received_at,
        matter=row.matter,
        matter_label=t(f"matter.{row.matter}", locale),
        applicant_name=mask_name(row.applicant_name),
        urgent=row.urgent,
        decision_due=row.decision_due,
        materials_due=row.materials_due,
    )


def center_view(row: Application, materials: list[Material], agent: Any) -> dict[str, Any]:
    """Everything, unmasked, for the centre's records system."""
    return {
        "id": row.id,
        "region": row.region,
        "status": row.status,
        "channel": row.channel,
        "received_at": row.received_at,
        "updated_at": row.updated_at,
        "decision_due": row.decision_due,
        "materials_due": row.materials_due,
        "materials_overdue": row.materials_overdue_at is not None,
        "applicant": {
            "name": row.applicant_name,
            "id_number": row.applicant_id_number,
            "phone": row.applicant_phone,
            "address": row.applicant_address,
        },
        "matter": row.matter,
        "facts": row.facts,
        "opposing_party": row.opposing_party,
        "limitation_deadline": row.limitation_deadline,
        "hardship": {
            "basis": row.hardship_basis,
            "exempt_category": row.exempt_category,
            "other_reason": row.other_reason,
            "statement": row.statement,
            "pledge": row.pledge,
        },
        "migrant_worker": row.migrant_worker,
        "urgent": row.urgent,
        "urgent_reasons": list(row.urgent_reasons),
        "warnings": list(row.warnings),
        "location": row.location,
        "missing_materials": missing_of(materials),
        "missing_acknowledged_at": row.missing_acknowledged_at,
        "materials": [
            material_out(m).model_dump()
            | {
                "wechat_media_id": m.wechat_media_id,
                "wechat_pic_url": m.wechat_pic_url,
                "file_url": f"/api/v1/center/applications/{row.id}/materials/{m.id}"
                if m.storage_key
                else None,
            }
            for m in materials
        ],
        "agent": {"id": agent.id, "name": agent.name, "village": agent.village, "kind": agent.kind},
        "decision": d.model_dump() if (d := decision_of(row)) else None,
    }
