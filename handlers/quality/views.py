"""What the centre sees of an evaluation round: the JSON shapes and how they are built.

Back to back (背靠背): a case's scores stay hidden until both experts of its pair have scored —
before that the view says only who has scored. The API, the console and the report all read
rounds through `round_view` / `case_view`, so the secrecy rule lives here once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from pydantic import BaseModel, Field
from tortoise.backends.base.client import BaseDBAsyncClient

from i18n import t
from models.evaluation import (
    Evaluation,
    EvaluationCase,
    EvaluationPair,
    EvaluationScore,
    Expert,
    GradeObjection,
    QualityConsequence,
)
from models.evaluation_draw import group_of


class ExpertRef(BaseModel):
    id: int
    name: str


class PairOut(BaseModel):
    id: int = Field(description="the pair, for …/pairs/{pair_id}/replace")
    leader: ExpertRef
    member: ExpertRef
    group: str
    case_nos: list[str]


class ScoreOut(BaseModel):
    expert: ExpertRef
    score: float
    grade: str
    items: dict | None
    notes: str | None
    created_at: datetime


class GradeObjectionOut(BaseModel):
    text: str
    filed_at: datetime
    review_due: date
    state: str
    previous_grade: str
    new_grade: str | None
    reviewers: str | None
    note: str | None
    reviewed_at: datetime | None


class CaseEvalOut(BaseModel):
    case_no: str
    kind: str
    group: str
    handler: dict[str, str]
    pair: PairOut | None = None
    state: str
    state_label: str
    scored_by: list[int] = Field(
        description="experts who have scored (their scores stay hidden until both have)"
    )
    scores: list[ScoreOut] = Field(description="both scores, once both are in")
    score: float | None = Field(description="the mean of both scores, once both are in")
    grade: str | None
    grade_label: str | None
    decided_how: str | None = Field(description="agreed | leader | recheck | review")
    decided_by: ExpertRef | None
    consequences: list[str]
    objection: GradeObjectionOut | None


class EvaluationOut(BaseModel):
    id: int
    method: str
    closed_from: date
    closed_to: date
    rate: float | None
    population: int
    sample_size: int
    seed: int
    policy: str
    case_nos: list[str]
    pairs: list[PairOut]
    grades: dict[str, int] = Field(description="cases per standing grade")
    created_at: datetime
    completed_on: date | None
    publish_due: date | None
    published_at: datetime | None
    objections_until: date | None
    cases: list[CaseEvalOut]


async def round_view(
    ev: Evaluation,
    locale: str,
    conn: BaseDBAsyncClient | None = None,
    *,
    only_expert: int | None = None,
) -> EvaluationOut:
    """The round with every case (or only those of `only_expert`'s pairs)."""
    return (await round_views([ev], locale, conn, only_expert=only_expert))[0]


async def round_views(
    evs: list[Evaluation],
    locale: str,
    conn: BaseDBAsyncClient | None = None,
    *,
    only_expert: int | None = None,
) -> list[EvaluationOut]:
    """`round_view` of several rounds of one region with one query per table, not per round."""
    if not evs:
        return []
    ev_ids = [ev.id for ev in evs]
    pairs = await EvaluationPair.filter(evaluation_id__in=ev_ids).using_db(conn).order_by("id")
    experts = {
        e.id: e for e in await Expert.filter(region__in={ev.region for ev in evs}).using_db(conn)
    }
    q = EvaluationCase.filter(evaluation_id__in=ev_ids)
    if only_expert is not None:
        mine = {p.id for p in pairs if only_expert in (p.leader_id, p.member_id)}
        pairs = [p for p in pairs if p.id in mine]
        q = q.filter(pair_id__in=mine)
    ecs = await q.select_related("case").using_db(conn).order_by("id")
    ids = [ec.id for ec in ecs]
    scores: dict[int, list[EvaluationScore]] = defaultdict(list)
    for sc in await EvaluationScore.filter(eval_case_id__in=ids).using_db(conn).order_by("id"):
        scores[sc.eval_case_id].append(sc)
    objections = {
        o.eval_case_id: o for o in await GradeObjection.filter(eval_case_id__in=ids).using_db(conn)
    }
    kinds: dict[int, list[str]] = defaultdict(list)
    for c in (
        await QualityConsequence.filter(eval_case_id__in=ids, void=False)
        .using_db(conn)
        .order_by("id")
    ):
        kinds[c.eval_case_id].append(c.kind)
    case_nos: dict[int, list[str]] = defaultdict(list)
    for ec in ecs:
        case_nos[ec.pair_id].append(ec.case.case_no)
    pair_outs = {p.id: _pair_out(p, experts, case_nos[p.id]) for p in pairs}
    out = []
    for ev in evs:
        cases = [
            _case_out(
                ec,
                pair_outs.get(ec.pair_id),
                experts,
                scores[ec.id],
                objections.get(ec.id),
                kinds[ec.id],
                locale,
            )
            for ec in ecs
            if ec.evaluation_id == ev.id
        ]
        out.append(
            EvaluationOut(
                id=ev.id,
                method=ev.method,
                closed_from=ev.closed_from,
                closed_to=ev.closed_to,
                rate=ev.rate,
                population=ev.population,
                sample_size=ev.sample_size,
                seed=ev.seed,
                policy=ev.policy,
                case_nos=[c.case_no for c in cases],
                pairs=[pair_outs[p.id] for p in pairs if p.evaluation_id == ev.id],
                grades=dict(Counter(c.grade for c in cases if c.grade and c.state == "graded")),
                created_at=ev.created_at,
                completed_on=ev.completed_on,
                publish_due=ev.publish_due,
                published_at=ev.published_at,
                objections_until=ev.objections_until,
                cases=cases,
            )
        )
    return out


async def case_view(
    ec: EvaluationCase, locale: str, conn: BaseDBAsyncClient | None = None
) -> CaseEvalOut:
    await ec.fetch_related("case", "pair", using_db=conn)
    scores = await EvaluationScore.filter(eval_case_id=ec.id).using_db(conn).order_by("id")
    experts = {
        e.id: e
        for e in await Expert.filter(
            id__in=[ec.pair.leader_id, ec.pair.member_id, ec.decided_by_id or 0]
            + [s.expert_id for s in scores]  # a replaced expert's score keeps its name
        ).using_db(conn)
    }
    objection = await GradeObjection.get_or_none(eval_case_id=ec.id).using_db(conn)
    case_nos = cast(  # the pair's cases, as in the round's answer
        "list[str]",
        await EvaluationCase.filter(pair_id=ec.pair_id)
        .using_db(conn)
        .order_by("id")
        .values_list("case__case_no", flat=True),
    )
    kinds = cast(  # flat=True gives values; tortoise's types say tuples
        "list[str]",
        await QualityConsequence.filter(eval_case_id=ec.id, void=False)
        .using_db(conn)
        .order_by("id")
        .values_list("kind", flat=True),
    )
    return _case_out(
        ec,
        _pair_out(ec.pair, experts, list(case_nos)),
        experts,
        scores,
        objection,
        list(kinds),
        locale,
    )


def _ref(experts: dict[int, Expert], expert_id: int) -> ExpertRef:
    e = experts.get(expert_id)
    return ExpertRef(id=expert_id, name=e.name if e else "?")


def _pair_out(p: EvaluationPair, experts: dict[int, Expert], case_nos: list[str]) -> PairOut:
    return PairOut(
        id=p.id,
        leader=_ref(experts, p.leader_id),
        member=_ref(experts, p.member_id),
        group=p.group,
        case_nos=case_nos,
    )


def _case_out(
    ec: EvaluationCase,
    pair: PairOut | None,
    experts: dict[int, Expert],
    scores: list[EvaluationScore],
    objection: GradeObjection | None,
    consequences: list[str],
    locale: str,
) -> CaseEvalOut:
    both = len(scores) >= 2
    case = ec.case
    return CaseEvalOut(
        case_no=case.case_no,
        kind=case.kind,
        group=group_of(case.kind),
        handler={"name": case.handler_name, "org": case.handler_org},
        pair=pair,
        state=ec.state,
        state_label=t(f"quality.state.{ec.state}", locale),
        scored_by=[s.expert_id for s in scores],
        scores=[
            ScoreOut(
                expert=_ref(experts, s.expert_id),
                score=float(s.score),
                grade=s.grade,
                items=s.items,
                notes=s.notes,
                created_at=s.created_at,
            )
            for s in scores
        ]
        if both
        else [],
        score=float(ec.score) if both and ec.score is not None else None,
        grade=ec.grade if both else None,
        grade_label=t(f"grade.{ec.grade}", locale) if both and ec.grade else None,
        decided_how=ec.decided_how,
        decided_by=None if ec.decided_by_id is None else _ref(experts, ec.decided_by_id),
        consequences=consequences,
        objection=GradeObjectionOut(
            text=objection.text,
            filed_at=objection.filed_at,
            review_due=objection.review_due,
            state=objection.state,
            previous_grade=objection.previous_grade,
            new_grade=objection.new_grade,
            reviewers=objection.reviewers,
            note=objection.note,
            reviewed_at=objection.reviewed_at,
        )
        if objection
        else None,
    )


@dataclass(frozen=True, slots=True)
class RoundReport:
    """A round's report (DOMAIN §10): cases per group and grade, and the objections with their
    outcomes. The xlsx (GET …/evaluations/{id}/report.xlsx) and the console's report page are
    both made from this."""

    counts: dict[str, Counter]  # group -> grade (or "none") -> cases
    cases: list[CaseEvalOut]
    objections: list[CaseEvalOut]  # the cases objected to, in the round's order

    @property
    def total(self) -> Counter:
        return sum(self.counts.values(), Counter())


def round_report(view: EvaluationOut) -> RoundReport:
    counts: dict[str, Counter] = {"criminal": Counter(), "civil_admin": Counter()}
    for c in view.cases:
        counts[c.group][c.grade or "none"] += 1
    return RoundReport(
        counts=counts, cases=view.cases, objections=[c for c in view.cases if c.objection]
    )
