"""Case subsidies (办案补贴, DOMAIN §10): what a closed case pays its handler, and when.

The amount is the policy's base fee for the case's kind times a coefficient: the grade's
(Shaoxing 1.2 / 0.9 / 0.6 / 0), a failed case's (Wanzhou claws back, Zhashui lowers by a local
figure), or 1.0. What may be paid depends on the region:

- Beijing: nothing before the closing quality check is signed off as passed (`QualityCheck`);
- Shaoxing: nothing before the grade stands (special cases excepted, paid the base fee);
- elsewhere the fee is payable at closing, and a later failed grade claws it back (Wanzhou).

`Subsidy` keeps only the money that moved (paid, clawed back); the status is worked out from the
case, its grade and its check each time, so a later grade or check never leaves a stale status.
Every money record, and every undo of one, is a dated `SubsidyEvent` (who, amount, note): the
rules for them (`pay`, `claw_back`, `undo`) raise `SubsidyError` before changing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.policy import Policy


class SubsidyStatus(StrEnum):
    AWAITING_CHECK = "awaiting_check"
    AWAITING_GRADE = "awaiting_grade"
    PAYABLE = "payable"
    NOTHING_DUE = "nothing_due"  # the amount works out at 0 (a fail where nothing is paid)
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


class SubsidyEvent(Model):
    """One money record on a subsidy, or the undo of one: who, when, how much, why."""

    id = fields.IntField(primary_key=True)
    subsidy = fields.ForeignKeyField(
        "models.Subsidy", related_name="events", on_delete=fields.OnDelete.CASCADE
    )
    action = fields.CharField(max_length=16)  # paid | claw_back | undo_paid | undo_claw_back
    amount = fields.DecimalField(max_digits=10, decimal_places=2, null=True)
    note = fields.CharField(max_length=200, null=True)
    actor = fields.CharField(max_length=64)  # "center_key:3", "cli"
    at = fields.DatetimeField()

    class Meta:
        table = "subsidy_event"


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
    elif amount is not None and amount == 0:
        status = SubsidyStatus.NOTHING_DUE
    else:
        status = SubsidyStatus.PAYABLE
    return Assessment(base, grade, coefficient, amount, status, claw)


class SubsidyError(Exception):
    """A money record the rules refuse: HTTP-like `status`, an i18n `code` (quality.error.*),
    the request `field` at fault (a 422's) and the message's parameters."""

    def __init__(self, status: int, code: str, *, field: str | None = None, **params: object):
        super().__init__(code)
        self.status, self.code, self.field, self.params = status, code, field, params


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def pay(
    row: Subsidy,
    a: Assessment,
    amount: Decimal | None,
    note: str | None,
    *,
    actor: str,
    now: datetime,
) -> SubsidyEvent:
    """Record the payment. The amount is the one worked out; another amount needs a note
    saying why and can only be lower (to pay more, the policy's fee is what changes); where the
    policy gives no amount (a local figure), the amount is required. Nothing due, nothing paid."""
    if a.status != SubsidyStatus.PAYABLE:
        raise SubsidyError(409, f"not_payable.{a.status}")
    if amount is None:
        if a.amount is None:
            raise SubsidyError(422, "amount_needed", field="amount")
        amount = a.amount
    amount = amount.quantize(CENT, ROUND_HALF_UP)
    if amount <= 0:
        raise SubsidyError(422, "amount_positive", field="amount")
    cap = a.amount if a.amount is not None else a.base  # a local lowering: at most the fee
    if cap is not None and amount > cap:
        raise SubsidyError(422, "amount_over", field="amount", due=_money(cap))
    if a.amount is not None and amount != a.amount and not note:
        raise SubsidyError(422, "amount_note_needed", field="note", due=_money(a.amount))
    row.paid_at, row.paid_amount, row.note = now, amount, note
    return SubsidyEvent(subsidy=row, action="paid", amount=amount, note=note, actor=actor, at=now)


def claw_back(
    row: Subsidy,
    a: Assessment,
    amount: Decimal | None,
    note: str | None,
    *,
    actor: str,
    now: datetime,
) -> SubsidyEvent:
    """Record money returned: where the policy claws back a failed case (`claw_back_due`), or
    for another reason given in the note; at most what was paid."""
    if a.status != SubsidyStatus.PAID:
        raise SubsidyError(409, "not_paid")
    if not a.claw_back_due and not note:
        raise SubsidyError(422, "claw_back_reason", field="note")
    paid = row.paid_amount or Decimal(0)
    amount = (amount if amount is not None else paid).quantize(CENT, ROUND_HALF_UP)
    if amount <= 0:
        raise SubsidyError(422, "amount_positive", field="amount")
    if amount > paid:
        raise SubsidyError(422, "claw_back_over", field="amount", paid=_money(paid))
    row.clawed_back_at, row.clawback_amount = now, amount
    row.note = note or row.note
    return SubsidyEvent(
        subsidy=row, action="claw_back", amount=amount, note=note, actor=actor, at=now
    )


def undo(row: Subsidy, note: str, *, actor: str, now: datetime) -> SubsidyEvent:
    """Revert the last money record made by mistake: a claw-back (back to paid), else the
    payment (back to what the case's status says, payable as a rule). The note says why."""
    if row.clawed_back_at is not None:
        amount, action = row.clawback_amount, "undo_claw_back"
        row.clawed_back_at, row.clawback_amount = None, None
    elif row.paid_at is not None:
        amount, action = row.paid_amount, "undo_paid"
        row.paid_at, row.paid_amount, row.note = None, None, None
    else:
        raise SubsidyError(409, "nothing_to_undo")
    return SubsidyEvent(subsidy=row, action=action, amount=amount, note=note, actor=actor, at=now)
