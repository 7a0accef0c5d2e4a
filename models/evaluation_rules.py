"""The rules of an evaluation round (DOMAIN §10), acting on models.evaluation.

Each function checks before it acts and raises `EvaluationError` (status, code) without writing
anything; on success it returns what happened, and the caller (handlers/) tells people. Callers
pass the transaction `conn` so that a score, the grade it settles and its consequences are
written together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from models.calendar import add_working_days, to_local
from models.case import Case, CaseStatus
from models.evaluation import (
    CaseState,
    Evaluation,
    EvaluationCase,
    EvaluationPair,
    EvaluationScore,
    Expert,
    GradeObjection,
    ObjectionState,
    PairReplacement,
    QualityConsequence,
)
from models.evaluation_draw import Candidate, DrawError, ExpertRef, draw, group_of, sample_size
from models.policy import Policy, ScoreItem, grade_for
from models.pool import handler_of_case, readmit_handler, remove_handler
from models.quality import record_review


class EvaluationError(Exception):
    """A request the rules refuse: HTTP-like `status` and an i18n `code` (quality.error.*);
    `field` names the request field at fault (a 422's)."""

    def __init__(self, status: int, code: str, *, field: str | None = None, **params: object):
        super().__init__(code)
        self.status, self.code, self.params, self.field = status, code, params, field


@dataclass(frozen=True, slots=True)
class RoundSpec:
    method: str  # sample | all
    closed_from: date
    closed_to: date
    seed: int
    rate: float | None = None
    exclude_case_nos: tuple[str, ...] = ()


async def create_round(
    region: str, spec: RoundSpec, policy: Policy, *, conn: BaseDBAsyncClient
) -> Evaluation:
    """Draw the round's cases and expert pairs and store them (409 when it cannot be drawn)."""
    closed = Case.filter(
        region=region,
        status=CaseStatus.CLOSED,
        closed_on__gte=spec.closed_from,
        closed_on__lte=spec.closed_to,
    )
    if spec.method == "all":
        closed = closed.filter(special=False)  # Shaoxing: every case but the special ones
    cases = await closed.using_db(conn).only("id", "case_no", "kind", "handler_org")
    population = len(cases)
    drawn_before = set(
        await EvaluationCase.filter(case__region=region)
        .using_db(conn)
        .values_list("case_id", flat=True)
    )
    excluded = set(spec.exclude_case_nos)
    candidates = [c for c in cases if c.id not in drawn_before and c.case_no not in excluded]
    if spec.method == "sample":
        rate = spec.rate or policy.evaluation_sample_rate
        size: int | None = min(sample_size(population, rate), len(candidates))
    else:
        rate, size = None, None
    if not candidates or size == 0:
        raise EvaluationError(409, "no_cases")
    experts = await Expert.filter(region=region, active=True).using_db(conn)
    refs = [ExpertRef(e.id, e.group, e.org) for e in experts]
    try:
        chosen, pairs = draw(
            [Candidate(c.case_no, group_of(c.kind), c.handler_org) for c in candidates],
            refs,
            seed=spec.seed,
            size=size,
        )
    except DrawError as exc:
        raise EvaluationError(409, exc.reason, group=exc.group) from None
    ev = await Evaluation.create(
        region=region,
        method=spec.method,
        closed_from=spec.closed_from,
        closed_to=spec.closed_to,
        rate=rate,
        seed=spec.seed,
        population=population,
        sample_size=len(chosen),
        policy=policy.name,
        using_db=conn,
    )
    by_no = {c.case_no: c for c in candidates}
    for p in pairs:
        pair = await EvaluationPair.create(
            evaluation=ev, group=p.group, leader_id=p.leader, member_id=p.member, using_db=conn
        )
        await EvaluationCase.bulk_create(
            [EvaluationCase(evaluation=ev, case_id=by_no[no].id, pair=pair) for no in p.case_nos],
            using_db=conn,
        )
    return ev


SUM_TOLERANCE = 0.01  # the items' sum against the score, after rounding to cents


def check_score_items(
    score: float, items: dict[str, float] | None, sheet: tuple[ScoreItem, ...]
) -> None:
    """The score sheet's rule, whichever way a score arrives (the API, the console's sheet):
    with the policy's items for the group, every item is given, none is out of its points, no
    other item is given, and the score is their sum; without, the score alone (no items)."""
    given = dict(items or {})
    if not sheet:
        if given:
            raise EvaluationError(422, "items_not_in_policy", field="items", names="、".join(given))
        return
    points = {i.name: i.points for i in sheet}
    unknown = [n for n in given if n not in points]
    if unknown:
        raise EvaluationError(422, "items_unknown", field="items", names="、".join(unknown))
    missing = [n for n in points if n not in given]
    if missing:
        raise EvaluationError(422, "items_missing", field="items", names="、".join(missing))
    for name, value in given.items():
        if value > points[name]:
            raise EvaluationError(
                422, "item_over", field="items", item=name, max=f"{points[name]:g}"
            )
    total = round(sum(given.values()), 2)
    if abs(total - score) > SUM_TOLERANCE:
        raise EvaluationError(
            422, "items_sum", field="score", total=f"{total:g}", score=f"{score:g}"
        )


async def cancel_round(ev: Evaluation, *, conn: BaseDBAsyncClient) -> list[str]:
    """Undo a round drawn by mistake, before any score: its pairs and cases go, and its cases
    may be drawn again. Returns the case numbers it had (409 once an expert has scored)."""
    if ev.published_at is not None:
        raise EvaluationError(409, "already_published")
    if await EvaluationScore.filter(eval_case__evaluation_id=ev.id).using_db(conn).exists():
        raise EvaluationError(409, "round_scored")
    case_nos = list(
        await EvaluationCase.filter(evaluation_id=ev.id)
        .using_db(conn)
        .order_by("id")
        .values_list("case__case_no", flat=True)
    )
    await EvaluationCase.filter(evaluation_id=ev.id).using_db(conn).delete()
    await PairReplacement.filter(pair__evaluation_id=ev.id).using_db(conn).delete()
    await EvaluationPair.filter(evaluation_id=ev.id).using_db(conn).delete()
    await Evaluation.filter(id=ev.id).using_db(conn).delete()
    return [str(n) for n in case_nos]


async def record_score(
    ec: EvaluationCase,
    expert: Expert,
    score: float,
    policy: Policy,
    *,
    items: dict | None,
    notes: str | None,
    now: datetime,
    conn: BaseDBAsyncClient,
) -> EvaluationCase:
    """Store one expert's score of a case; with both scores in, settle what can be settled."""
    pair = ec.pair
    if expert.id not in (pair.leader_id, pair.member_id):
        raise EvaluationError(403, "not_your_case")
    role = "leader" if expert.id == pair.leader_id else "member"
    replaced = await PairReplacement.filter(pair_id=pair.id, role=role).using_db(conn)
    if (
        await EvaluationScore.filter(eval_case_id=ec.id, expert_id=expert.id)
        .using_db(conn)
        .exists()
    ):
        raise EvaluationError(409, "already_scored")
    if (
        replaced
        and await EvaluationScore.filter(
            eval_case_id=ec.id, expert_id__in=[r.old_expert_id for r in replaced]
        )
        .using_db(conn)
        .exists()
    ):
        raise EvaluationError(409, "scored_before_replacement")
    if ec.state != CaseState.SCORING:
        raise EvaluationError(409, "not_scoring")
    check_score_items(score, items, policy.evaluation_items.get(pair.group, ()))
    grade, _ = grade_for(score, policy)
    await EvaluationScore.create(
        eval_case_id=ec.id,
        expert_id=expert.id,
        score=Decimal(str(round(score, 2))),
        grade=grade,
        items=items,
        notes=notes,
        using_db=conn,
    )
    scores = await EvaluationScore.filter(eval_case_id=ec.id).using_db(conn)
    if len(scores) < 2:
        return ec
    ec.score = Decimal(str(round(sum(float(s.score) for s in scores) / len(scores), 2)))
    if scores[0].grade == scores[1].grade:
        await _settle(ec, scores[0].grade, "agreed", None, policy, now=now, conn=conn)
    else:
        ec.state = CaseState.DISAGREED
        await ec.save(using_db=conn, update_fields=["state", "score"])
    return ec


async def leader_decision(
    ec: EvaluationCase,
    expert: Expert,
    grade: str,
    policy: Policy,
    *,
    now: datetime,
    conn: BaseDBAsyncClient,
) -> EvaluationCase:
    """The pair's leader settles a disagreement (anyone else: 403)."""
    if expert.id != ec.pair.leader_id:
        raise EvaluationError(403, "leader_only")
    if ec.state in (CaseState.GRADED, CaseState.RECHECK):
        raise await already_decided(ec, conn)
    if ec.state != CaseState.DISAGREED:
        raise EvaluationError(409, "no_disagreement")
    await _settle(ec, grade, "leader", expert.id, policy, now=now, conn=conn)
    return ec


async def already_decided(ec: EvaluationCase, conn: BaseDBAsyncClient) -> EvaluationError:
    """The refusal of a second decision: the grade the case has, and how and by whom it was
    decided (`grade` is a code, `how` picks the message: quality.error.already_decided.*)."""
    if ec.state == CaseState.RECHECK:
        return EvaluationError(409, "awaiting_recheck", grade=ec.grade or "")
    by = await Expert.get_or_none(id=ec.decided_by_id).using_db(conn) if ec.decided_by_id else None
    return EvaluationError(
        409,
        "already_decided",
        how=ec.decided_how or "agreed",
        grade=ec.grade or "",
        name=by.name if by else "",
    )


async def recheck(
    ec: EvaluationCase,
    expert: Expert,
    grade: str,
    policy: Policy,
    *,
    now: datetime,
    conn: BaseDBAsyncClient,
) -> EvaluationCase:
    """An expert outside the pair confirms or changes an excellent or failed grade."""
    if ec.state != CaseState.RECHECK:
        raise EvaluationError(409, "no_recheck")
    if expert.id in (ec.pair.leader_id, ec.pair.member_id):
        raise EvaluationError(403, "recheck_by_other")
    await _stand(ec, grade, "recheck", expert.id, policy, now=now, conn=conn)
    return ec


async def _settle(
    ec: EvaluationCase,
    grade: str,
    how: str,
    by: int | None,
    policy: Policy,
    *,
    now: datetime,
    conn: BaseDBAsyncClient,
) -> None:
    """The pair's grade: it stands, or waits for a re-check where the policy asks for one."""
    if grade in policy.evaluation_recheck_grades:
        ec.state, ec.grade, ec.decided_how, ec.decided_by_id = CaseState.RECHECK, grade, how, by
        await ec.save(
            using_db=conn, update_fields=["state", "grade", "decided_how", "decided_by_id", "score"]
        )
        return
    await _stand(ec, grade, how, by, policy, now=now, conn=conn)


async def _stand(
    ec: EvaluationCase,
    grade: str,
    how: str,
    by: int | None,
    policy: Policy,
    *,
    now: datetime,
    conn: BaseDBAsyncClient,
) -> None:
    """The grade stands: record it as the case's quality review and derive its consequences."""
    ec.state, ec.grade, ec.decided_how, ec.decided_by_id = CaseState.GRADED, grade, how, by
    ec.graded_at = now
    await ec.save(
        using_db=conn,
        update_fields=["state", "grade", "decided_how", "decided_by_id", "graded_at", "score"],
    )
    case = await Case.get(id=ec.case_id).using_db(conn)
    await record_review(
        case, float(ec.score or 0), policy, now=now, grade=grade, reviewer="evaluation", conn=conn
    )
    await apply_consequences(ec, case, policy, conn=conn)
    ev = await Evaluation.get(id=ec.evaluation_id).using_db(conn)
    open_cases = (
        await EvaluationCase.filter(evaluation_id=ev.id)
        .exclude(state=CaseState.GRADED)
        .using_db(conn)
        .count()
    )
    if not open_cases and ev.completed_on is None:
        ev.completed_on = to_local(now).date()
        ev.publish_due = add_working_days(ev.completed_on, policy.evaluation_publish_working_days)
        await ev.save(using_db=conn, update_fields=["completed_on", "publish_due"])


def consequence_kinds(grade: str, score: float | None, policy: Policy) -> list[str]:
    """What the grade brings under the policy (DOMAIN §10), as codes (quality.consequence.*)."""
    kinds = []
    low = policy.quality_interview_max_score
    if grade in policy.quality_interview_grades or (
        low is not None and score is not None and score <= low and grade != "excellent"
    ):
        kinds.append("interview")
    if policy.quality_pool_exit_below is not None and (
        grade == "fail" or (score is not None and score < policy.quality_pool_exit_below)
    ):
        kinds.append("pool_exit")
    if grade == "fail":
        if policy.quality_fail_blocks_assignment:
            kinds.append("no_new_assignments")
        if policy.quality_fail_investigation:
            kinds.append("investigation")
        kinds += {
            "claw_back": ["claw_back"],
            "lower": ["subsidy_lowered"],
            "none": ["no_subsidy"],
        }.get(policy.quality_fail_subsidy, [])
    if grade == "excellent":
        if policy.quality_excellent_award:
            kinds.append("award")
        if policy.quality_excellent_extra_turns:
            kinds.append("extra_turns")
    return kinds


async def apply_consequences(
    ec: EvaluationCase, case: Case, policy: Policy, *, conn: BaseDBAsyncClient
) -> list[str]:
    """Bring the case's consequence rows in line with its grade (a changed grade voids some)."""
    kinds = consequence_kinds(
        ec.grade or "", float(ec.score) if ec.score is not None else None, policy
    )
    existing = {
        c.kind: c for c in await QualityConsequence.filter(eval_case_id=ec.id).using_db(conn)
    }
    for kind, row in existing.items():
        if (kind in kinds) == row.void:
            row.void = kind not in kinds
            await row.save(using_db=conn, update_fields=["void"])
    new = [
        QualityConsequence(
            region=case.region,
            eval_case_id=ec.id,
            kind=k,
            handler_name=case.handler_name,
            handler_org=case.handler_org,
        )
        for k in kinds
        if k not in existing
    ]
    if new:
        await QualityConsequence.bulk_create(new, using_db=conn)
    await _pool_follows(
        case, before={k for k, r in existing.items() if not r.void}, after=set(kinds), conn=conn
    )
    return kinds


POOL_KINDS = {
    "pool_exit": "质量评估得分低于退出分数线",
    "no_new_assignments": "质量评估不合格，暂停指派",
}


async def _pool_follows(
    case: Case, *, before: set[str], after: set[str], conn: BaseDBAsyncClient
) -> None:
    """A grade that takes a handler out of the pool does so (dated, with the reason); an
    objection that lifts it brings them back. The handler is the case's pool member by name."""
    gained = [k for k in POOL_KINDS if k in after and k not in before]
    lifted = [k for k in POOL_KINDS if k in before and k not in after]
    if not gained and not lifted:
        return
    handler = await handler_of_case(case, conn)
    if handler is None:
        return
    if gained and handler.in_pool:
        await remove_handler(
            handler, f"{POOL_KINDS[gained[0]]}（{case.case_no}）", actor="quality", conn=conn
        )
    elif lifted and not gained and not handler.in_pool:
        await readmit_handler(
            handler, f"评估异议成立（{case.case_no}）", actor="quality", conn=conn
        )


async def publish(
    ev: Evaluation, policy: Policy, *, now: datetime, conn: BaseDBAsyncClient
) -> list[EvaluationCase]:
    """Publish a finished round; returns its cases (with `case`) for the handlers' notices."""
    if ev.published_at is not None:
        raise EvaluationError(409, "already_published")
    if ev.completed_on is None:
        raise EvaluationError(409, "not_complete")
    ev.published_at = now
    ev.objections_until = add_working_days(to_local(now).date(), policy.objection_working_days)
    await ev.save(using_db=conn, update_fields=["published_at", "objections_until"])
    return (
        await EvaluationCase.filter(evaluation_id=ev.id)
        .select_related("case")
        .using_db(conn)
        .order_by("id")
    )


async def file_objection(
    ec: EvaluationCase,
    ev: Evaluation,
    text: str,
    policy: Policy,
    *,
    openid: str | None,
    now: datetime,
    conn: BaseDBAsyncClient,
) -> GradeObjection:
    """A handler's objection to a published grade: once per case, within the window."""
    if ev.published_at is None:
        raise EvaluationError(409, "not_published")
    today = to_local(now).date()
    if ev.objections_until is not None and today > ev.objections_until:
        raise EvaluationError(409, "objection_late", until=ev.objections_until.isoformat())
    if await GradeObjection.filter(eval_case_id=ec.id).using_db(conn).exists():
        raise EvaluationError(409, "objection_twice")
    return await GradeObjection.create(
        eval_case_id=ec.id,
        region=ev.region,
        openid=openid,
        text=text,
        filed_at=now,
        review_due=add_working_days(today, policy.objection_review_working_days),
        previous_grade=ec.grade or "",
        using_db=conn,
    )


async def review_objection(
    obj: GradeObjection,
    ec: EvaluationCase,
    *,
    upheld: bool,
    grade: str | None,
    reviewers: str,
    note: str | None,
    policy: Policy,
    now: datetime,
    conn: BaseDBAsyncClient,
) -> GradeObjection:
    """The bureau's review group decides; an upheld objection regrades the case."""
    if obj.state != ObjectionState.PENDING:
        raise EvaluationError(409, "objection_reviewed")
    if not upheld and grade is not None:
        raise EvaluationError(422, "review_grade_not_upheld", field="grade")
    if upheld:
        if grade is None or grade == ec.grade:
            raise EvaluationError(422, "objection_needs_grade", field="grade")
        ec.grade, ec.decided_how, ec.decided_by_id = grade, "review", None
        await ec.save(using_db=conn, update_fields=["grade", "decided_how", "decided_by_id"])
        case = await Case.get(id=ec.case_id).using_db(conn)
        await record_review(
            case, float(ec.score or 0), policy, now=now, grade=grade, reviewer="review", conn=conn
        )
        await apply_consequences(ec, case, policy, conn=conn)
    obj.state = ObjectionState.UPHELD if upheld else ObjectionState.REJECTED
    obj.new_grade, obj.reviewers, obj.note, obj.reviewed_at = (
        grade if upheld else None,
        reviewers,
        note,
        now,
    )
    await obj.save(using_db=conn)
    return obj


async def replace_expert(
    ev: Evaluation,
    pair: EvaluationPair,
    old_id: int,
    new_id: int,
    *,
    actor: str,
    now: datetime,
    conn: BaseDBAsyncClient,
) -> PairReplacement:
    """Put `new_id` in `old_id`'s place in a pair of an unpublished round. The new expert is
    active, of the pair's group, not already in it, and not of an organisation whose case the
    pair has (回避, as the draw). Scores the old expert gave stay and count for the role; the
    new expert scores the cases the old one had not, and leads where the old one led."""
    if ev.published_at is not None:
        raise EvaluationError(409, "already_published")
    if old_id not in (pair.leader_id, pair.member_id):
        raise EvaluationError(422, "replace_not_in_pair", field="old_expert_id")
    new = await Expert.get_or_none(region=ev.region, id=new_id).using_db(conn)
    if new is None or not new.active:
        raise EvaluationError(422, "replace_inactive", field="new_expert_id")
    if new.id in (pair.leader_id, pair.member_id):
        raise EvaluationError(422, "replace_in_pair", field="new_expert_id")
    if new.group != pair.group:
        raise EvaluationError(422, "replace_group", field="new_expert_id", group=pair.group)
    if new.org:
        clash = (
            await EvaluationCase.filter(pair_id=pair.id, case__handler_org=new.org)
            .select_related("case")
            .using_db(conn)
            .first()
        )
        if clash is not None:
            raise EvaluationError(
                422, "replace_conflict", field="new_expert_id", case_no=clash.case.case_no
            )
    role = "leader" if old_id == pair.leader_id else "member"
    if role == "leader":
        pair.leader_id = new.id
    else:
        pair.member_id = new.id
    await pair.save(using_db=conn, update_fields=[f"{role}_id"])
    return await PairReplacement.create(
        pair_id=pair.id,
        role=role,
        old_expert_id=old_id,
        new_expert_id=new.id,
        actor=actor,
        at=now,
        using_db=conn,
    )


async def waiting_on(expert_id: int, conn: BaseDBAsyncClient | None = None) -> list[EvaluationCase]:
    """The cases of unpublished rounds waiting for this expert: not yet scored by them (nor
    by an expert they replaced) while the pair scores, or for their decision as leader. A
    disabled expert's such cases are stranded until they are enabled again or replaced."""
    pairs = (
        await EvaluationPair.filter(evaluation__published_at__isnull=True)
        .filter(Q(leader_id=expert_id) | Q(member_id=expert_id))
        .using_db(conn)
    )
    out: list[EvaluationCase] = []
    for pair in pairs:
        role = "leader" if pair.leader_id == expert_id else "member"
        holders = {expert_id} | set(
            await PairReplacement.filter(pair_id=pair.id, role=role)
            .using_db(conn)
            .values_list("old_expert_id", flat=True)
        )
        for ec in (
            await EvaluationCase.filter(pair_id=pair.id)
            .exclude(state=CaseState.GRADED)
            .select_related("case")
            .using_db(conn)
            .order_by("id")
        ):
            if ec.state == CaseState.DISAGREED:
                if role == "leader":
                    out.append(ec)
            elif (
                ec.state == CaseState.SCORING
                and not await EvaluationScore.filter(eval_case_id=ec.id, expert_id__in=holders)
                .using_db(conn)
                .exists()
            ):
                out.append(ec)
    return out
