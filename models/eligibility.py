"""The eligibility rules of DOMAIN §1 in one pure function, shared by the chat flow and the API.

`check_application` never stops at the first problem: the centre must list everything that is wrong
or missing at once (一次性告知), so it returns every violation, the derived facts the application
record stores (hardship basis, urgency, deadlines) and warnings that do not block filing. Codes are
stable API values; `violation_message` turns one into text via the i18n keys `violation.<code>` /
`warning.<code>`. The centre still decides: a clean result means "may be filed", not "granted".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field  # Violation has a `field` attribute
from datetime import date
from typing import Any, TypeGuard

from i18n import catalog, normalize_locale, t
from models.calendar import add_days
from models.codes import (
    ART32_MATTERS,
    CRIMINAL_DEFENSE,
    EXEMPT_CATEGORIES,
    EXEMPTION_PROOF,
    HARDSHIP_BASES,
    MATERIAL_KINDS,
    MATERIAL_STATUSES,
    MATTERS,
    MIGRANT_GREEN_MATTERS,
    MIGRANT_WORKER,
    OTHER_CIVIL,
    OTHER_REASON,
    PLEDGE_CONFIRMATIONS,
    PLEDGE_TEXT_VERSION,
)
from models.idcard import IdNumber, InvalidIdNumber, age_on, parse_id_number
from models.policy import Policy

__all__ = [
    "VIOLATION_CODES",
    "WARNING_CODES",
    "EligibilityInput",
    "EligibilityResult",
    "Violation",
    "check_application",
    "violation_message",
]

# Every code check_application can return, for API docs and the catalog test; the text of each is
# the i18n key `violation.<code>` / `warning.<code>`.
VIOLATION_CODES: frozenset[str] = frozenset(
    {
        "id_number.format",
        "id_number.checksum",
        "id_number.birth_date",
        "id_number.future",
        "matter.unknown",
        "matter.other_civil_not_allowed",
        "hardship.basis_unknown",
        "hardship.required",
        "hardship.other_reason_matter",
        "hardship.other_reason_required",
        "exempt.category_required",
        "exempt.unknown",
        "exempt.not_in_policy",
        "exempt.matter_mismatch",
        "exempt.age",
        "exempt.age_max",
        "pledge.statement_required",
        "pledge.household_size",
        "pledge.monthly_income",
        "pledge.income_source",
        "pledge.required",
        "pledge.not_accepted",
        "pledge.confirmation",
        "pledge.text_version",
        "materials.kind",
        "materials.status",
    }
)
WARNING_CODES: frozenset[str] = frozenset({"hardship.not_needed", "limitation.passed"})


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason the application cannot be filed as it is; `field` is a dotted input path."""

    field: str
    code: str
    params: dict[str, Any] = dataclass_field(default_factory=dict)


@dataclass(slots=True)
class EligibilityInput:
    """What the agent or the applicant entered; raw values are fine, this module checks them."""

    matter: str
    id_number: str
    hardship_basis: str
    exempt_category: str | None = None
    # household_size, monthly_income_yuan, income_source, assets (free text, not checked)
    statement: Mapping[str, Any] | None = None
    pledge: Mapping[str, Any] | None = None  # accepted, confirmed_by, text_version
    materials: Sequence[tuple[str, str]] = ()  # (kind, "provided" | "missing")
    limitation_deadline: date | None = None  # when the limitation period or a legal deadline ends
    other_reason: str | None = None  # criminal defence on "other reasons" (Art. 24): which
    migrant_worker: bool = False  # the applicant is a 城乡务工人员 (green channel for wages/injury)


@dataclass(frozen=True, slots=True)
class EligibilityResult:
    """Violations (empty: may be filed), warnings, and the facts to store with the application."""

    violations: tuple[Violation, ...]
    warnings: tuple[str, ...]
    hardship_basis: str  # what to record: "not_required" for Art. 32 matters whatever was chosen
    applicant: IdNumber | None  # the parsed ID number, None if it was invalid
    urgent: bool  # green channel (Art. 44 先行提供; migrant wages)
    urgent_reasons: tuple[str, ...]  # "green.migrant_wage", "green.limitation"
    missing_materials: tuple[str, ...]  # kinds owed, to list at once (一次性告知)
    materials_due: date | None  # deadline for the owed materials; None when nothing is owed
    decision_due: date  # Art. 43

    @property
    def ok(self) -> bool:
        return not self.violations


def check_application(app: EligibilityInput, policy: Policy, today: date) -> EligibilityResult:
    """Check `app` against the law and `policy` on the local date `today`."""
    violations: list[Violation] = []
    warnings: list[str] = []

    applicant: IdNumber | None = None
    try:
        applicant = parse_id_number(app.id_number, today=today)
    except InvalidIdNumber as exc:
        violations.append(Violation("id_number", exc.code))

    rule = MATTERS.get(app.matter)
    if rule is None:
        violations.append(Violation("matter", "matter.unknown", {"matter": app.matter}))
    elif app.matter == OTHER_CIVIL and not policy.other_civil_allowed:
        violations.append(Violation("matter", "matter.other_civil_not_allowed"))

    basis = app.hardship_basis
    if app.matter in ART32_MATTERS:
        if basis != "not_required":
            warnings.append("hardship.not_needed")
        basis = "not_required"
    elif basis not in HARDSHIP_BASES:
        violations.append(Violation("hardship.basis", "hardship.basis_unknown"))
    elif basis == "not_required" and rule is not None:
        violations.append(Violation("hardship.basis", "hardship.required", {"matter": app.matter}))
    elif basis == "exempt":
        violations += _exempt_violations(app, policy, applicant, today)
    elif basis == "pledge":
        violations += _pledge_violations(app)
    elif basis == OTHER_REASON:
        if app.matter != CRIMINAL_DEFENSE:
            violations.append(Violation("hardship.basis", "hardship.other_reason_matter"))
        elif not (app.other_reason or "").strip():
            violations.append(Violation("hardship.other_reason", "hardship.other_reason_required"))

    missing: list[str] = []
    for i, (kind, status) in enumerate(app.materials):
        if kind not in MATERIAL_KINDS:
            violations.append(Violation(f"materials[{i}].kind", "materials.kind", {"kind": kind}))
        if status not in MATERIAL_STATUSES:
            violations.append(Violation(f"materials[{i}].status", "materials.status"))
        elif status == "missing" and kind in MATERIAL_KINDS and kind not in missing:
            missing.append(kind)
    # Art. 42 "有材料证明": an exempt group without its proof in hand owes it (容缺), it does not
    # pass silently.
    proof_in_hand = (EXEMPTION_PROOF, "provided") in app.materials
    if basis == "exempt" and not proof_in_hand and EXEMPTION_PROOF not in missing:
        missing.append(EXEMPTION_PROOF)

    reasons: list[str] = []
    migrant = app.migrant_worker or (basis == "exempt" and app.exempt_category == MIGRANT_WORKER)
    if app.matter in MIGRANT_GREEN_MATTERS and migrant:
        reasons.append("green.migrant_wage")
    if app.limitation_deadline is not None:
        days_left = (app.limitation_deadline - today).days
        if days_left < 0:
            warnings.append("limitation.passed")
        elif days_left < policy.urgent_limitation_days:  # Art. 44: "不足七日"
            reasons.append("green.limitation")

    return EligibilityResult(
        violations=tuple(violations),
        warnings=tuple(warnings),
        hardship_basis=basis,
        applicant=applicant,
        urgent=bool(reasons),
        urgent_reasons=tuple(reasons),
        missing_materials=tuple(missing),
        materials_due=add_days(today, policy.materials_due_days) if missing else None,
        decision_due=add_days(today, policy.decision_days),
    )


def _exempt_violations(
    app: EligibilityInput, policy: Policy, applicant: IdNumber | None, today: date
) -> list[Violation]:
    """The exempt group must be known, allowed here, fit the matter and the applicant's age."""
    where = "hardship.exempt_category"
    category = app.exempt_category
    if not category:
        return [Violation(where, "exempt.category_required")]
    rule = EXEMPT_CATEGORIES.get(category)
    if rule is None:
        return [Violation(where, "exempt.unknown", {"category": category})]
    found: list[Violation] = []
    if category not in policy.exempt_categories_allowed:
        found.append(Violation(where, "exempt.not_in_policy", {"category": category}))
    if rule.matters is not None and app.matter in MATTERS and app.matter not in rule.matters:
        found.append(
            Violation(where, "exempt.matter_mismatch", {"category": category, "matter": app.matter})
        )
    if applicant is not None and (rule.min_age is not None or rule.max_age is not None):
        age = age_on(applicant.birth_date, today)
        if rule.min_age is not None and age < rule.min_age:
            params = {"category": category, "min_age": rule.min_age, "age": age}
            found.append(Violation(where, "exempt.age", params))
        if rule.max_age is not None and age > rule.max_age:
            params = {"category": category, "max_age": rule.max_age, "age": age}
            found.append(Violation(where, "exempt.age_max", params))
    return found


def _is_number(value: object) -> TypeGuard[int | float]:
    """An int or float that is not a bool and not NaN (NaN != NaN)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _pledge_violations(app: EligibilityInput) -> list[Violation]:
    """The household statement must be complete; the current pledge text accepted, confirmed."""
    found: list[Violation] = []
    statement = app.statement
    if statement is None:
        found.append(Violation("hardship.statement", "pledge.statement_required"))
    else:
        size = statement.get("household_size")
        if not (isinstance(size, int) and not isinstance(size, bool) and size >= 1):
            found.append(Violation("hardship.statement.household_size", "pledge.household_size"))
        income = statement.get("monthly_income_yuan")
        if not (_is_number(income) and income >= 0):
            where = "hardship.statement.monthly_income_yuan"
            found.append(Violation(where, "pledge.monthly_income"))
        source = statement.get("income_source")
        if not (isinstance(source, str) and source.strip()):
            found.append(Violation("hardship.statement.income_source", "pledge.income_source"))

    pledge = app.pledge
    if pledge is None:
        found.append(Violation("hardship.pledge", "pledge.required"))
        return found
    if pledge.get("accepted") is not True:
        found.append(Violation("hardship.pledge.accepted", "pledge.not_accepted"))
    if pledge.get("confirmed_by") not in PLEDGE_CONFIRMATIONS:
        found.append(Violation("hardship.pledge.confirmed_by", "pledge.confirmation"))
    if pledge.get("text_version") != PLEDGE_TEXT_VERSION:
        params = {"version": PLEDGE_TEXT_VERSION, "given": pledge.get("text_version")}
        found.append(Violation("hardship.pledge.text_version", "pledge.text_version", params))
    return found


# Parameters holding a code, shown by their label: {"category": "elderly_70_plus"} -> 70周岁及以上老年人.
_LABEL_PREFIX = {"category": "exempt.", "matter": "matter.", "kind": "material."}


def violation_message(item: Violation | str, locale: str | None = None) -> str:
    """The localized text of a violation, or of a warning code given as a plain string."""
    if isinstance(item, str):
        return t(f"warning.{item}", locale)
    known = catalog(normalize_locale(locale))
    fields: dict[str, object] = {}
    for name, value in item.params.items():
        prefix = _LABEL_PREFIX.get(name)
        label_key = f"{prefix}{value}" if prefix else None
        fields[name] = t(label_key, locale) if label_key in known else value
    return t(f"violation.{item.code}", locale, **fields)
