"""Case subsidies (办案补贴, DOMAIN §10): what a closed case pays its handler, and when.

The amount is the policy's base fee for the case's kind times a coefficient: the grade's
(Shaoxing 1.2 / 0.9 / 0.6 / 0), a failed case's (Wanzhou claws back, Zhashui lowers by a local
figure), or 1.0. What may be paid depends on the region:

- Beijing: nothing before the closing quality check is signed off as passed (`QualityCheck`);
- Shaoxing: nothing before the grade stands (special cases excepted, paid the base fee);
- elsewhere the fee is payable at closing, and a later failed grade claws it back (Wanzhou).

`Subsidy` keeps only the money that moved (paid, clawed back); the status is worked out from the
case, its grade and its check each time, so a later grade or check never leaves a stale status.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.policy import Policy


class SubsidyStatus(StrEnum):
    AWAITING_CHECK = "awaiting_check"
    AWAITING_GRADE = "awaiting_grade"
    PAYABLE = "payable"
    PAID = "paid"
    CLAWED_BACK = "clawed_back"


class Subsidy(Model):
    id = fields.IntField(primary_key=True)
    case = fields.OneToOneField(
        "models.Case", related_name="subsidy", on_delete=fields.OnDelete.CASCADE
    )
    region = fields.CharField(max_length=12, db_index=True)
    paid_at = fields.DatetimeField(null=True)
    paid_amount = fields.DecimalField(max_digits=10, decimal_places=2, null=True)
    clawed_back_at = fields.DatetimeField(null=True)
    clawback_amount = fields.DecimalField(max_digits=10, decimal_places=2, null=True)
    note = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "subsidy"


class QualityCheck(Model):
    """Beijing's closing check: the centre's quality reviewer signs the case off (or not)."""

    id = fields.IntField(primary_key=True)
    case = fields.OneToOneField(
        "models.Case", related_name="quality_check", on_delete=fields.OnDelete.CASCADE
    )
    region = fields.CharField(max_length=12, db_index=True)
    passed = fields.BooleanField()
    reviewer = fields.ForeignKeyField(
        "models.Staff", related_name="quality_checks", on_delete=fields.OnDelete.RESTRICT
    )
    checked_at = fields.DatetimeField()

    class Meta:
        table = "quality_check"


@dataclass(frozen=True, slots=True)
class Assessment:
    base: Decimal | None  # None: the policy sets no fee for this kind of case
    grade: str | None
    coefficient: float | None
    amount: Decimal | None
    status: SubsidyStatus
    claw_back_due: bool  # paid, then failed where the policy claws back


CENT = Decimal("0.01")


def coefficient_for(grade: str | None, special: bool, policy: Policy) -> float | None:
    """The multiplier of the base fee; None where it is not known yet or set locally."""
    if special:
        return 1.0  # outside evaluation: the base fee (Shaoxing: per local rule)
    if grade is None:
        return None if policy.subsidy_requires_grade else 1.0
    band = next((b for b in policy.grade_bands if b.grade == grade), None)
    if band is not None and band.coefficient is not None:
        return band.coefficient
    if grade != "fail":
        return 1.0
    return {
        "keep": 1.0,
        "claw_back": 0.0,
        "none": 0.0,
        "lower": policy.quality_fail_subsidy_factor,
    }[policy.quality_fail_subsidy]


def assess(
    *,
    kind: str,
    special: bool,
    grade: str | None,
    check_passed: bool | None,
    row: Subsidy | None,
    policy: Policy,
) -> Assessment:
    """The case's subsidy as it stands now."""
    fee = policy.subsidy_base_fees.get(kind)
    base = Decimal(str(fee)).quantize(CENT) if fee is not None else None
    coefficient = coefficient_for(grade, special, policy)
    amount = (
        (base * Decimal(str(coefficient))).quantize(CENT, ROUND_HALF_UP)
        if base is not None and coefficient is not None
        else None
    )
    claw = bool(
        row
        and row.paid_at
        and not row.clawed_back_at
        and grade == "fail"
        and policy.quality_fail_subsidy in ("claw_back", "none")
    )
    if row is not None and row.clawed_back_at is not None:
        status = SubsidyStatus.CLAWED_BACK
    elif row is not None and row.paid_at is not None:
        status = SubsidyStatus.PAID
    elif policy.subsidy_requires_check and not check_passed:
        status = SubsidyStatus.AWAITING_CHECK
    elif grade is None and policy.subsidy_requires_grade and not special:
        status = SubsidyStatus.AWAITING_GRADE
    else:
        status = SubsidyStatus.PAYABLE
    return Assessment(base, grade, coefficient, amount, status, claw)
