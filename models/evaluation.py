"""Quality evaluation of closed cases (DOMAIN §10): experts, rounds, two scores per case, objections.

- An `Expert` of the region's 评估专家库 belongs to the criminal or the civil/administrative group.
- An `Evaluation` round draws cases closed in a period (Wanzhou's sample, or Shaoxing's every case
  but the special ones) and gives each to a random `EvaluationPair` of its group.
- Each expert of the pair scores the case alone (`EvaluationScore`, 一案两评、背靠背). The same grade
  from both stands; otherwise the pair's leader decides. Where the policy says so (Shaoxing), an
  excellent or failed grade stands only after an expert's re-check.
- A published grade may be objected to once per case (`GradeObjection`); the bureau reviews it.
- What a grade brings (interview, leaving the pool, claw-back ...) is a `QualityConsequence` row,
  so the consequences are data the console and the ledgers list, not side effects.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class CaseState(StrEnum):
    SCORING = "scoring"  # waiting for one or both scores
    DISAGREED = "disagreed"  # two different grades: the leader decides
    RECHECK = "recheck"  # an excellent or failed grade waits for an expert's re-check
    GRADED = "graded"  # the grade stands


class Expert(Model):
    id = fields.IntField(primary_key=True)
    region = fields.CharField(max_length=12, db_index=True)
    name = fields.CharField(max_length=30)
    group = fields.CharField(max_length=16)  # criminal | civil_admin
    org = fields.CharField(max_length=100, null=True)  # their own organisation, for 回避
    openid = fields.CharField(max_length=64, null=True, unique=True)  # console login, pushes
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    disabled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "expert"


class Evaluation(Model):
    id = fields.IntField(primary_key=True)
    region = fields.CharField(max_length=12, db_index=True)
    method = fields.CharField(max_length=8)  # sample | all
    closed_from = fields.DateField()
    closed_to = fields.DateField()
    rate = fields.FloatField(null=True)
    seed = fields.BigIntField()
    population = fields.IntField()
    sample_size = fields.IntField()
    policy = fields.CharField(max_length=40)
    created_at = fields.DatetimeField(auto_now_add=True)
    completed_on = fields.DateField(null=True)  # the day the last grade stood
    publish_due = fields.DateField(null=True)  # Wanzhou: 5 working days after the round ends
    published_at = fields.DatetimeField(null=True)
    objections_until = fields.DateField(null=True)  # 5 working days after publication

    class Meta:
        table = "evaluation"


class EvaluationPair(Model):
    id = fields.IntField(primary_key=True)
    evaluation = fields.ForeignKeyField(
        "models.Evaluation", related_name="pairs", on_delete=fields.OnDelete.CASCADE
    )
    group = fields.CharField(max_length=16)
    leader = fields.ForeignKeyField(
        "models.Expert", related_name="leads", on_delete=fields.OnDelete.RESTRICT
    )
    member = fields.ForeignKeyField(
        "models.Expert", related_name="memberships", on_delete=fields.OnDelete.RESTRICT
    )

    class Meta:
        table = "evaluation_pair"


class PairReplacement(Model):
    """An expert of a pair replaced while the round was open (disabled, ill, a late conflict):
    the scores the old expert gave stay, and count for the role the new expert took over."""

    id = fields.IntField(primary_key=True)
    pair = fields.ForeignKeyField(
        "models.EvaluationPair", related_name="replacements", on_delete=fields.OnDelete.CASCADE
    )
    role = fields.CharField(max_length=8)  # leader | member
    old_expert = fields.ForeignKeyField(
        "models.Expert", related_name="replaced_in", on_delete=fields.OnDelete.RESTRICT
    )
    new_expert = fields.ForeignKeyField(
        "models.Expert", related_name="replacing_in", on_delete=fields.OnDelete.RESTRICT
    )
    actor = fields.CharField(max_length=64)
    at = fields.DatetimeField()

    class Meta:
        table = "pair_replacement"


class EvaluationCase(Model):
    id = fields.IntField(primary_key=True)
    evaluation = fields.ForeignKeyField(
        "models.Evaluation", related_name="cases", on_delete=fields.OnDelete.CASCADE
    )
    case = fields.ForeignKeyField(
        "models.Case", related_name="evaluations", on_delete=fields.OnDelete.CASCADE
    )
    pair = fields.ForeignKeyField(
        "models.EvaluationPair", related_name="cases", on_delete=fields.OnDelete.CASCADE
    )
    state = fields.CharField(max_length=12, default=CaseState.SCORING)
    grade = fields.CharField(max_length=16, null=True)
    score = fields.DecimalField(max_digits=5, decimal_places=2, null=True)
    decided_how = fields.CharField(max_length=12, null=True)  # agreed | leader | recheck | review
    decided_by = fields.ForeignKeyField(
        "models.Expert", related_name="decisions", null=True, on_delete=fields.OnDelete.SET_NULL
    )
    graded_at = fields.DatetimeField(null=True)

    class Meta:
        table = "evaluation_case"
        unique_together = (("evaluation", "case"),)


class EvaluationScore(Model):
    id = fields.IntField(primary_key=True)
    eval_case = fields.ForeignKeyField(
        "models.EvaluationCase", related_name="scores", on_delete=fields.OnDelete.CASCADE
    )
    expert = fields.ForeignKeyField(
        "models.Expert", related_name="scores", on_delete=fields.OnDelete.RESTRICT
    )
    score = fields.DecimalField(max_digits=5, decimal_places=2)
    grade = fields.CharField(max_length=16)
    items = fields.JSONField(null=True)  # SF/T 0085/0086 first-level items: {name: points}
    notes: str | None = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "evaluation_score"
        unique_together = (("eval_case", "expert"),)  # each expert scores a case once


class ObjectionState(StrEnum):
    PENDING = "pending"
    UPHELD = "upheld"  # the review group changed the grade
    REJECTED = "rejected"  # the grade stands


class GradeObjection(Model):
    id = fields.IntField(primary_key=True)
    eval_case = fields.OneToOneField(
        "models.EvaluationCase", related_name="objection", on_delete=fields.OnDelete.CASCADE
    )  # once per case
    region = fields.CharField(max_length=12, db_index=True)
    openid = fields.CharField(max_length=64, null=True)  # the handler who objected in chat
    text = fields.TextField()
    filed_at = fields.DatetimeField()
    review_due = fields.DateField()  # 10 working days after receipt
    state = fields.CharField(max_length=10, default=ObjectionState.PENDING)
    previous_grade = fields.CharField(max_length=16)
    new_grade = fields.CharField(max_length=16, null=True)
    reviewers = fields.CharField(max_length=200, null=True)  # the review group's names
    note: str | None = fields.TextField(null=True)
    reviewed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "grade_objection"


class QualityConsequence(Model):
    """What a grade brought to a handler (interview, leaving the pool, claw-back, award ...)."""

    id = fields.IntField(primary_key=True)
    region = fields.CharField(max_length=12, db_index=True)
    eval_case = fields.ForeignKeyField(
        "models.EvaluationCase", related_name="consequences", on_delete=fields.OnDelete.CASCADE
    )
    kind = fields.CharField(max_length=24)
    handler_name = fields.CharField(max_length=30)
    handler_org = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)
    void = fields.BooleanField(default=False)  # an upheld objection lifted it

    class Meta:
        table = "quality_consequence"
        unique_together = (("eval_case", "kind"),)
