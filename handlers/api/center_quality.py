"""Quality grades of the region's cases: `POST /api/v1/center/cases/{case_no}/quality`.

The centre posts a review's score (0..100); the grade and subsidy coefficient come from the
regional policy (BOT_POLICY, DOMAIN §5) and appear in the callback ledger and the half-yearly
disclosure workbook. Posting again replaces the case's review. `GET` reads it back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.api import ApiError, json_ok, operation, parse_body, request_locale
from bot.auth import require_center
from bot.keys import policy_key
from i18n import t
from models.case import Case, find_by_case_no
from models.quality import QualityReview, record_review


class QualityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # strict: true/"90" are not scores; 87.5 (an average of two reviewers) is.
    score: Annotated[float, Field(ge=0, le=100, strict=True)]
    reviewer: str | None = Field(None, min_length=1, max_length=30)


class QualityOut(BaseModel):
    case_no: str
    score: float
    grade: str
    grade_label: str
    coefficient: float | None
    policy: str
    reviewer: str | None
    revisions: int
    reviewed_at: datetime


def _out(request: web.Request, case: Case, review: QualityReview) -> QualityOut:
    return QualityOut(
        case_no=case.case_no,
        score=float(review.score),
        grade=review.grade,
        grade_label=t(f"grade.{review.grade}", request_locale(request)),
        coefficient=review.coefficient,
        policy=review.policy,
        reviewer=review.reviewer,
        revisions=review.revisions,
        reviewed_at=review.reviewed_at,
    )


async def _case(request: web.Request) -> Case:
    key = await require_center(request)
    found = await find_by_case_no(Case.filter(region=key.region), request.match_info["case_no"])
    case = found[0] if found else None
    if case is None:
        raise ApiError(404, "not_found")
    return case


@operation(
    "POST",
    "/api/v1/center/cases/{case_no}/quality",
    summary="Record a quality score",
    tag="center",
    body=QualityIn,
    response=QualityOut,
    auth="api_key",
    errors=(404,),
)
async def post_quality(request: web.Request) -> web.Response:
    case = await _case(request)
    body = await parse_body(request, QualityIn)
    review = await record_review(
        case, body.score, request.app[policy_key], now=datetime.now(UTC), reviewer=body.reviewer
    )
    return json_ok(_out(request, case, review))


@operation(
    "GET",
    "/api/v1/center/cases/{case_no}/quality",
    summary="The case's quality grade",
    tag="center",
    response=QualityOut,
    auth="api_key",
    errors=(404,),
)
async def get_quality(request: web.Request) -> web.Response:
    case = await _case(request)
    review = await QualityReview.get_or_none(case_id=case.id)
    if review is None:
        raise ApiError(404, "not_found")
    return json_ok(_out(request, case, review))
