"""Regional policy presets: every rule DOMAIN marks *policy* is a field here, not a branch in code.

A deployment names a preset (`national`, `shaoxing`, ...) or a JSON file that overrides some fields
of one, e.g. `{"base": "shaoxing", "name": "keqiao", "materials_due_days": 10}`. Defaults are the
national rules (Legal Aid Law, 程序规定, 投诉处理办法); each preset changes what its seed document says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from types import MappingProxyType
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.codes import EXEMPT_CATEGORIES, GRADES, NATIONAL_EXEMPT_CATEGORIES

__all__ = ["PRESETS", "GradeBand", "Policy", "ScoreItem", "grade_for", "load_policy"]

DOCUMENT_SERIES = ("decision", "materials", "assignment", "termination")  # models.document

# The top of every score scale in the seed documents (peer review out of 100).
MAX_SCORE = 100


class GradeBand(NamedTuple):
    """Scores from `min_score` up to the next band's minimum get `grade`; a JSON file writes
    it as `["good", 75, 0.9]`."""

    grade: str
    min_score: int
    coefficient: float | None  # subsidy multiplier (Shaoxing); None where the region has none


class ScoreItem(NamedTuple):
    """One item of an expert's score sheet and its points; a JSON file writes it as
    `["及时有效会见受援人", 15]`."""

    name: str
    points: float


SCORE_ITEMS_MAX = 20  # items a score may carry (the API's `items` takes at most 20)


class Policy(BaseModel):
    """One region's settings for deadlines, exemptions, callbacks, complaints and duty."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    label_zh: str

    # Applications (DOMAIN §1)
    decision_days: int = Field(7, ge=1)  # Art. 43: decide within 7 days of receipt
    assign_days: int = Field(3, ge=0)  # Art. 43: handler within 3 days; Shaoxing: same day (0)
    materials_due_days: int = Field(15, ge=1)  # Shaoxing III.(二): missing materials in 15 days
    # What the 补充材料通知书 says happens when materials come late (DOMAIN §1): nationally the
    # application counts as withdrawn (程序规定); after a 容缺 acceptance (Shaoxing) aid may end.
    materials_consequence: Literal["withdrawn", "terminated"] = "withdrawn"
    materials_reminder_days_before: tuple[int, ...] = (3, 1)  # remind 3 days and 1 day before
    # what the one-time notice says happens when they come late: before a decision the national
    # rule is 视为撤回申请 (程序规定); Shaoxing accepts first (容缺受理) and then terminates the aid
    missing_materials_consequence: Literal["withdrawn", "terminated"] = "withdrawn"
    urgent_limitation_days: int = Field(7, ge=0)  # Art. 44: limitation ends in under 7 days
    other_civil_allowed: bool = False  # Shaoxing I.(一) lifts the matter limit for the poor
    exempt_categories_allowed: tuple[str, ...] = NATIONAL_EXEMPT_CATEGORIES  # Art. 42

    # Assignment (DOMAIN §9): "here" = this service assigns from the pool (models.rotation);
    # "external" = the province's platform assigns and the case upsert carries the handler.
    assignment: Literal["here", "external"] = "here"
    assignment_auto: bool = True  # assign by the rules on grant (the centre may still name one)
    handler_monthly_case_cap: int | None = Field(None, ge=1)  # Beijing IV.(三): 5 per month

    # Formal documents (DOMAIN §9, SF/T 0024): who issues them and how they are numbered.
    centre_name: str = "法律援助中心"  # the issuing centre, as printed on the letters
    bureau_name: str = "司法局"  # the justice bureau that hears objections (Art. 49)
    document_abbr: str = ""  # the region's short name in numbers: 绍援决〔2026〕15号
    document_numbers: dict[str, str] = Field(
        default_factory=lambda: {
            "decision": "{abbr}援决〔{year}〕{n}号",
            "materials": "{abbr}援补〔{year}〕{n}号",
            "assignment": "{abbr}援指〔{year}〕{n}号",
            "termination": "{abbr}援终〔{year}〕{n}号",
        }
    )

    # Callbacks (DOMAIN §2)
    callback_delay_days: int = Field(3, ge=0)  # let the recipient get the closing papers first
    callback_phone_after_days: int = Field(5, ge=0)  # no answer in chat by then: staff phone
    callback_target: float = Field(0.0, ge=0.0, le=1.0)  # share of closed cases; Zhashui 0.9

    # Complaints (DOMAIN §3, 投诉处理办法)
    complaint_accept_working_days: int = Field(5, ge=1)
    complaint_conclude_days: int = Field(60, ge=1)
    complaint_extend_max_days: int = Field(30, ge=0)
    complaint_notify_working_days: int = Field(5, ge=1)  # Order 149 Art. 24: written decision
    objection_review_days: int = Field(5, ge=1)  # Art. 49: calendar days, not working days
    # Complaints one person may file in chat per day; beyond it they are pointed to the
    # hotline (one person cannot flood the supervisors' phones with alerts).
    complaint_daily_limit: int = Field(5, ge=1)

    # People on duty (DOMAIN §4, Shaoxing II.(二))
    handoff_day_start: time = time(8, 30)
    handoff_day_end: time = time(22, 0)
    handoff_day_reply_minutes: int = Field(3, ge=1)
    handoff_night_reply_by: time = time(10, 0)  # night messages answered by 10:00 next morning
    # Shaoxing: 30 answered calls (in chat: handled 人工 consultations) = one duty day, paid
    # the basic service fee at coefficient 1.0
    duty_consultations_per_day: int = Field(30, ge=1)
    duty_coefficient: float = Field(1.0, ge=0.0)
    digest_time: time = time(8, 30)  # the morning digest goes out when the day shift starts

    # Working days (DOMAIN §6): a year's State Council notice where the holidays package has no
    # official arrangement yet, e.g. ["2027-02-11", ...]; these days win over the package.
    extra_holidays: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()

    # Quality (DOMAIN §5): national peer review uses four grades at 90 / 75 / 60.
    grade_bands: tuple[GradeBand, ...] = (
        GradeBand("excellent", 90, None),
        GradeBand("good", 75, None),
        GradeBand("pass", 60, None),
        GradeBand("fail", 0, None),
    )

    # Quality evaluation (DOMAIN §10). Rounds are drawn by Wanzhou's rule; the limits count
    # working days.
    evaluation_sample_rate: float = Field(0.1, gt=0.0, le=1.0)  # Wanzhou: 10 % of the cases
    evaluation_recheck_grades: tuple[str, ...] = ()  # Shaoxing: excellent and fail re-checked
    evaluation_publish_working_days: int = Field(5, ge=0)  # Wanzhou: results within 5 days
    objection_working_days: int = Field(5, ge=1)  # Wanzhou: a handler objects within 5 days
    objection_review_working_days: int = Field(10, ge=1)  # Wanzhou: reviewed within 10 days
    # The score sheet per group (criminal, civil_admin): SF/T 0086 / 0085's eight first-level
    # items with the points the region gives them. No seed lists them, so none by default: the
    # expert's page then asks for the total alone.
    evaluation_items: dict[str, tuple[ScoreItem, ...]] = Field(default_factory=dict)
    # What a grade brings (consequences as data; none by default, each preset per its seed)
    quality_interview_grades: tuple[str, ...] = ()  # 约谈 for these grades (Shaoxing, Zhashui)
    quality_interview_max_score: float | None = Field(None, ge=0, le=100)  # Shaoxing 60–65
    quality_pool_exit_below: float | None = Field(None, ge=0, le=100)  # Shaoxing: under 65
    quality_fail_blocks_assignment: bool = False  # Beijing: no new cases after a fail
    quality_fail_investigation: bool = False  # Wanzhou: the handler's conduct is investigated
    quality_excellent_award: bool = False  # Shaoxing, Zhashui: counted for awards
    quality_excellent_extra_turns: int = Field(0, ge=0)  # extra turns in the rotation, if any

    # Subsidies (办案补贴, DOMAIN §10): the base fee per case kind is local (no seed gives one)
    subsidy_base_fees: dict[str, float] = Field(default_factory=dict)  # civil/criminal/admin
    subsidy_requires_check: bool = False  # Beijing: payable once the closing check passed
    subsidy_requires_grade: bool = False  # Shaoxing: fee x the grade's coefficient
    quality_fail_subsidy: Literal["keep", "claw_back", "lower", "none"] = "keep"
    quality_fail_subsidy_factor: float | None = Field(None, ge=0, le=1)  # Zhashui 下浮: local

    @field_validator("subsidy_base_fees")
    @classmethod
    def _known_kinds(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - {"civil", "criminal", "administrative"})
        if unknown or any(v < 0 for v in value.values()):
            raise ValueError("subsidy_base_fees: civil, criminal, administrative, each >= 0")
        return value

    @field_validator("evaluation_items")
    @classmethod
    def _score_sheets(
        cls, value: dict[str, tuple[ScoreItem, ...]]
    ) -> dict[str, tuple[ScoreItem, ...]]:
        for group, items in value.items():
            names = [i.name for i in items]
            if group not in ("criminal", "civil_admin"):
                raise ValueError("evaluation_items: groups are criminal and civil_admin")
            if not 0 < len(items) <= SCORE_ITEMS_MAX or len(set(names)) != len(names):
                raise ValueError(f"evaluation_items.{group}: 1 to 20 items, names unique")
            if any(not 0 < len(n.strip()) <= 40 for n in names):
                raise ValueError(f"evaluation_items.{group}: names of 1 to 40 characters")
            if any(i.points <= 0 for i in items) or sum(i.points for i in items) > MAX_SCORE:
                raise ValueError(f"evaluation_items.{group}: points > 0, adding up to 100 at most")
        return value

    @field_validator("evaluation_recheck_grades", "quality_interview_grades")
    @classmethod
    def _known_grades(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if set(value) - set(GRADES):
            raise ValueError(f"grades must be among {', '.join(GRADES)}")
        return value

    @field_validator("exempt_categories_allowed")
    @classmethod
    def _known_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - EXEMPT_CATEGORIES.keys())
        if unknown:
            raise ValueError(f"unknown exempt categories: {', '.join(unknown)}")
        return value

    @field_validator("document_numbers")
    @classmethod
    def _number_formats(cls, value: dict[str, str]) -> dict[str, str]:
        """Every series has a format using {n} and {year} (and optionally {abbr}), nothing else."""
        import string

        if set(value) != set(DOCUMENT_SERIES):
            raise ValueError(f"document_numbers needs exactly: {', '.join(DOCUMENT_SERIES)}")
        for series, fmt in value.items():
            names = {f for _, f, _, _ in string.Formatter().parse(fmt) if f is not None}
            if not {"n", "year"} <= names <= {"n", "year", "abbr"}:
                raise ValueError(f"document_numbers.{series}: use {{n}}, {{year}}, {{abbr}} only")
        return value

    @field_validator("materials_reminder_days_before")
    @classmethod
    def _positive_reminders(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 0 for d in value):
            raise ValueError("reminder days must be >= 0")
        return tuple(sorted(set(value), reverse=True))

    @model_validator(mode="after")
    def _bands_cover_the_scale(self) -> Policy:
        """Bands must go from best to worst, strictly down, and the last must start at 0."""
        bands = self.grade_bands
        if not bands or bands[-1].min_score != 0:
            raise ValueError("grade_bands must end with a band starting at 0")
        if any(b.grade not in GRADES for b in bands):
            raise ValueError(f"grade codes must be among {', '.join(GRADES)}")
        mins = [b.min_score for b in bands]
        if mins != sorted(set(mins), reverse=True) or mins[0] > MAX_SCORE:
            raise ValueError("grade_bands must have strictly decreasing min_score within 0..100")
        return self


_NATIONAL = Policy(name="national", label_zh="全国通用（法律援助法）")

PRESETS: Mapping[str, Policy] = MappingProxyType(
    {
        "national": _NATIONAL,
        "shaoxing": _NATIONAL.model_copy(
            update={
                "name": "shaoxing",
                "label_zh": "浙江省绍兴市",
                "centre_name": "绍兴市法律援助中心",
                "bureau_name": "绍兴市司法局",
                "document_abbr": "绍",
                "materials_consequence": "terminated",
                "assign_days": 0,
                "other_civil_allowed": True,
                "missing_materials_consequence": "terminated",
                "exempt_categories_allowed": (
                    *NATIONAL_EXEMPT_CATEGORIES,
                    "elderly_70_plus",
                    "elderly_60_plus_special",
                ),
                "grade_bands": (
                    GradeBand("excellent", 90, 1.2),
                    GradeBand("good", 75, 0.9),
                    GradeBand("pass", 60, 0.6),
                    GradeBand("fail", 0, 0.0),
                ),
                "evaluation_recheck_grades": ("excellent", "fail"),
                "quality_interview_grades": ("fail",),
                "quality_interview_max_score": 65,
                "quality_pool_exit_below": 65,
                "quality_excellent_award": True,
                "subsidy_requires_grade": True,
            }
        ),
        "zhashui": _NATIONAL.model_copy(
            update={
                "name": "zhashui",
                "label_zh": "陕西省柞水县",
                "centre_name": "柞水县法律援助中心",
                "bureau_name": "柞水县司法局",
                "document_abbr": "柞",
                "callback_target": 0.9,
                "grade_bands": (
                    GradeBand("excellent", 90, None),
                    GradeBand("good", 80, None),
                    GradeBand("pass", 70, None),
                    GradeBand("fail", 0, None),
                ),
                "quality_interview_grades": ("fail",),
                "quality_excellent_award": True,
                "quality_fail_subsidy": "lower",
            }
        ),
        "beijing": _NATIONAL.model_copy(
            update={
                "name": "beijing",
                "label_zh": "北京市",
                "handler_monthly_case_cap": 5,
                "quality_fail_blocks_assignment": True,
                "subsidy_requires_check": True,
                "centre_name": "北京市法律援助中心",
                "bureau_name": "北京市司法局",
                "document_abbr": "京",
            }
        ),
        "wanzhou": _NATIONAL.model_copy(
            update={
                "name": "wanzhou",
                "label_zh": "重庆市万州区",
                "quality_fail_subsidy": "claw_back",
                "quality_fail_investigation": True,
                "centre_name": "重庆市万州区法律援助中心",
                "bureau_name": "重庆市万州区司法局",
                "document_abbr": "万",
            }
        ),
    }
)
# model_copy(update=...) skips validation; the presets are checked once at import instead.
for _preset in PRESETS.values():
    Policy.model_validate(_preset.model_dump())


def load_policy(name_or_path: str) -> Policy:
    """A preset by name, or a JSON file overriding the preset its "base" names (default national).

    A file's policy is called after the file (its stem) unless it sets "name". Every problem —
    unknown name, unreadable file, bad JSON, unknown or invalid field — raises ValueError.
    """
    preset = PRESETS.get(name_or_path)
    if preset is not None:
        return preset
    path = Path(name_or_path)
    if not path.is_file():
        raise ValueError(
            f"unknown policy {name_or_path!r}: not a preset ({', '.join(PRESETS)}) nor a JSON file"
        )
    try:
        overrides = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read policy file {path}: {exc}") from exc
    if not isinstance(overrides, dict):
        raise ValueError(f"policy file {path} must hold a JSON object")
    base_name = overrides.pop("base", "national")
    base = PRESETS.get(base_name)
    if base is None:
        raise ValueError(f"unknown base policy {base_name!r}; presets: {', '.join(PRESETS)}")
    overrides.setdefault("name", path.stem)
    return Policy.model_validate(base.model_dump() | overrides)


def grade_for(score: float, policy: Policy) -> tuple[str, float | None]:
    """The grade and subsidy coefficient of a 0..100 score (an average like 87.5 is fine)."""
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= MAX_SCORE:
        raise ValueError(f"score must be a number from 0 to {MAX_SCORE}")
    for band in policy.grade_bands:
        if score >= band.min_score:
            return band.grade, band.coefficient
    raise AssertionError("unreachable: the last band starts at 0")  # pragma: no cover
