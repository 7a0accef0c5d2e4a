"""Request and response bodies of the application endpoints (they make the OpenAPI document).

Shapes only: codes (matter, hardship basis, exempt group, material kind) are plain strings here
because the eligibility rules check them and explain a wrong one better than a schema error
could; names and phone numbers are checked here because they need no other context.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from models.application import FACTS_MAX, TEXT_MAX
from models.codes import MATERIAL_KINDS, OTHER_REASON_MAX
from models.contact import InvalidInput, normalize_phone, validate_name


def _name(value: str) -> str:
    try:
        return validate_name(value)
    except InvalidInput:
        raise PydanticCustomError("name_format", "not a personal name") from None


def _phone(value: str) -> str:
    try:
        return normalize_phone(value)
    except InvalidInput:
        raise PydanticCustomError("phone_format", "not a mainland mobile number") from None


Name = Annotated[str, Field(max_length=60), AfterValidator(_name)]
Phone = Annotated[str, Field(max_length=32), AfterValidator(_phone)]
Line = Annotated[str, Field(min_length=1, max_length=TEXT_MAX)]


class _In(BaseModel):
    # Unknown fields are ignored so an older server accepts a newer mini-program's body.
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")


class ApplicantIn(_In):
    name: Name
    id_number: str = Field(max_length=32, description="resident ID, 18 (or legacy 15) characters")
    phone: Phone = Field(description="mainland mobile; +86/86 and spaces are accepted")
    address: Line
    migrant_worker: bool = Field(
        False,
        description="城乡务工人员: a wage or work-injury claim "
        "goes through the green channel whatever the hardship path",
    )


class StatementIn(_In):
    """经济困难状况说明; completeness is checked by the eligibility rules."""

    household_size: int | None = Field(None, ge=1, le=99)
    monthly_income_yuan: float | None = Field(None, ge=0, le=10_000_000)
    income_source: str | None = Field(None, max_length=TEXT_MAX)
    assets: str | None = Field(None, max_length=TEXT_MAX)


class PledgeIn(_In):
    accepted: bool | None = None
    confirmed_by: str | None = Field(
        None, max_length=16, description="signature|fingerprint|spoken"
    )
    text_version: str | None = Field(None, max_length=16, description="GET /api/v1/meta/pledge")


class HardshipIn(_In):
    basis: str = Field(
        max_length=16,
        description="not_required|exempt|pledge|other_reason "
        "(criminal_defense only, Art. 24: 因经济困难或者其他原因)",
    )
    exempt_category: str | None = Field(None, max_length=32)
    other_reason: str | None = Field(
        None, max_length=OTHER_REASON_MAX, description="the other reason (basis other_reason)"
    )
    statement: StatementIn | None = None
    pledge: PledgeIn | None = None


class MaterialIn(_In):
    kind: str = Field(max_length=32)
    status: str = Field(max_length=16, description="provided|missing")


class LocationIn(_In):
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    label: str | None = Field(None, max_length=100)


class ApplicationIn(_In):
    applicant: ApplicantIn
    matter: str = Field(max_length=40)
    facts: str = Field(min_length=1, max_length=FACTS_MAX)
    opposing_party: str | None = Field(None, max_length=TEXT_MAX)
    limitation_deadline: date | None = None
    hardship: HardshipIn
    materials: list[MaterialIn] = Field(default_factory=list, max_length=30)
    location: LocationIn | None = None
    missing_materials_acknowledged: bool = Field(
        False,
        description="the applicant was told every missing item, the deadline and that "
        "not supplying them ends the aid, and agreed (容缺受理)",
    )


class WarningOut(BaseModel):
    code: str
    message: str


class ApplicationCreated(BaseModel):
    id: int
    status: str
    received_at: datetime
    decision_due: date
    hardship_basis: str
    urgent: bool
    missing_materials: list[str]
    materials_due: date | None
    warnings: list[WarningOut]
    notice: str | None = Field(None, description="the one-time notice of missing materials")


class ApplicantMasked(BaseModel):
    name: str
    id_number: str
    phone: str
    address: str


class MaterialOut(BaseModel):
    id: int
    kind: str
    status: str
    source: str
    content_type: str | None = None
    size: int | None = None
    created_at: datetime


class DecisionOut(BaseModel):
    decision: str
    reason: str | None
    case_no: str | None
    decided_at: datetime


class ApplicationOut(ApplicationCreated):
    channel: str
    applicant: ApplicantMasked
    matter: str
    matter_label: str
    facts: str
    opposing_party: str | None
    limitation_deadline: date | None
    exempt_category: str | None
    urgent_reasons: list[str]
    materials: list[MaterialOut]
    decision: DecisionOut | None


class ApplicationListItem(BaseModel):
    id: int
    status: str
    received_at: datetime
    matter: str
    matter_label: str
    applicant_name: str
    urgent: bool
    decision_due: date
    materials_due: date | None


class ApplicationList(BaseModel):
    items: list[ApplicationListItem]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page")


class ListQuery(BaseModel):
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, pattern=r"^\d{1,12}$")


class MaterialUploaded(BaseModel):
    material: MaterialOut
    missing_materials: list[str]


DecisionCode = Literal["granted", "refused", "need_materials"]


# --- the centre's side ---------------------------------------------------------------------


class CenterQuery(BaseModel):
    status: Literal["received", "need_materials", "granted", "refused"] | None = None
    since: datetime | None = Field(
        None,
        description="only applications changed at or after this time (ISO 8601), to pull changes",
    )
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, pattern=r"^\d{1,12}$")


class CenterApplicant(BaseModel):
    name: str
    id_number: str
    phone: str
    address: str


class CenterHardship(BaseModel):
    basis: str
    exempt_category: str | None
    other_reason: str | None = Field(description="criminal defence on other reasons (Art. 24)")
    statement: dict | None
    pledge: dict | None


class CenterAgent(BaseModel):
    id: int
    name: str
    village: str
    kind: str


class CenterMaterial(MaterialOut):
    wechat_media_id: str | None = None
    wechat_pic_url: str | None = None
    # where to download the file; None until a chat photo has been fetched from WeChat
    file_url: str | None = None


class CenterApplication(BaseModel):
    id: int
    region: str
    status: str
    channel: str
    received_at: datetime
    updated_at: datetime
    decision_due: date
    materials_due: date | None
    materials_overdue: bool
    applicant: CenterApplicant
    matter: str
    facts: str
    opposing_party: str | None
    limitation_deadline: date | None
    hardship: CenterHardship
    migrant_worker: bool = Field(description="the applicant is a 城乡务工人员")
    urgent: bool
    urgent_reasons: list[str]
    warnings: list[str]
    location: dict | None
    missing_materials: list[str]
    missing_acknowledged_at: datetime | None
    materials: list[CenterMaterial]
    agent: CenterAgent
    decision: DecisionOut | None


class CenterApplicationList(BaseModel):
    items: list[CenterApplication]
    next_cursor: str | None = None


class DecisionIn(_In):
    decision: DecisionCode
    reason: str | None = Field(None, max_length=500, description="required when refused")
    case_no: str | None = Field(None, max_length=64)
    materials: list[str] | None = Field(
        None,
        max_length=len(MATERIAL_KINDS),
        description="need_materials only: the material kinds (GET /api/v1/meta/materials) the "
        "applicant must still supply. Each becomes an owed material of the application, with "
        "the policy's deadline: the agent's checklist and the materials reminders follow it "
        "until it is supplied",
    )


class DecisionResult(BaseModel):
    id: int
    status: str
    decision: DecisionOut
