"""Quality grades of closed cases (DOMAIN §5): the score a review gave, and what it means here.

The grade and the subsidy coefficient are worked out from the score by the region's policy
(models.policy.grade_for) when the review is recorded, and stored with the policy's name: a
later change of policy does not regrade past reviews, and the ledgers show what applied then.
One current review per case; recording another replaces it (a group leader settling a
disagreement, Wanzhou) and keeps the number of revisions.
"""

from __future__ import annotations

from datetime import datetime

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from models.policy import Policy, grade_for


class QualityReview(Model):
    id = fields.IntField(primary_key=True)
    case = fields.OneToOneField(
        "models.Case", related_name="quality", on_delete=fields.OnDelete.CASCADE
    )
    region = fields.CharField(max_length=12, db_index=True)
    score = fields.DecimalField(max_digits=5, decimal_places=2)  # 0..100, e.g. 87.5
    grade = fields.CharField(max_length=16)  # excellent | good | pass | fail
    coefficient = fields.FloatField(null=True)  # subsidy multiplier; None where the region has none
    policy = fields.CharField(max_length=40)  # the preset that graded it
    reviewer = fields.CharField(max_length=30, null=True)
    revisions = fields.IntField(default=1)
    reviewed_at = fields.DatetimeField()

    class Meta:
        table = "quality_review"


async def record_review(
    case,
    score: float,
    policy: Policy,
    *,
    now: datetime,
    reviewer: str | None = None,
    grade: str | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> QualityReview:
    """Grade `score` under `policy` and store it as the case's review (ValueError outside 0..100).

    `grade` overrides the score's own grade where people settled it (an evaluation pair's leader,
    a re-check, an objection's review); the coefficient is then that grade's.
    """
    own_grade, coefficient = grade_for(score, policy)
    if grade is not None and grade != own_grade:
        coefficient = next((b.coefficient for b in policy.grade_bands if b.grade == grade), None)
    grade = grade or own_grade
    values = {
        "score": round(score, 2),
        "grade": grade,
        "coefficient": coefficient,
        "policy": policy.name,
        "reviewer": reviewer,
        "reviewed_at": now,
        "region": case.region,
    }
    review = await QualityReview.get_or_none(case_id=case.id).using_db(conn)
    if review is None:
        return await QualityReview.create(case_id=case.id, **values, using_db=conn)
    review.update_from_dict({**values, "revisions": review.revisions + 1})
    await review.save(using_db=conn)
    return review
