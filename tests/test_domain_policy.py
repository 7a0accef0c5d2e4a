"""Regional policy presets, policy files and quality grades (DOMAIN §5)."""

from __future__ import annotations

import json
from datetime import time
from pathlib import Path

import pydantic
import pytest

from models.codes import NATIONAL_EXEMPT_CATEGORIES
from models.policy import PRESETS, GradeBand, Policy, grade_for, load_policy


def test_presets_exist_and_are_named_after_their_key() -> None:
    assert set(PRESETS) == {"national", "shaoxing", "zhashui", "beijing", "wanzhou"}
    for name, policy in PRESETS.items():
        assert load_policy(name) is policy
        assert policy.name == name
        assert policy.label_zh


def test_national_defaults() -> None:
    p = load_policy("national")
    assert (p.decision_days, p.materials_due_days, p.urgent_limitation_days) == (7, 15, 7)
    assert p.materials_reminder_days_before == (3, 1)
    assert p.other_civil_allowed is False
    assert p.exempt_categories_allowed == NATIONAL_EXEMPT_CATEGORIES
    assert p.callback_target == 0.0
    assert (
        p.complaint_accept_working_days,
        p.complaint_conclude_days,
        p.complaint_extend_max_days,
    ) == (
        5,
        60,
        30,
    )
    assert (p.handoff_day_start, p.handoff_day_end, p.handoff_night_reply_by) == (
        time(8, 30),
        time(22, 0),
        time(10, 0),
    )
    assert (p.duty_consultations_per_day, p.duty_coefficient) == (30, 1.0)


def test_shaoxing_widens_exemptions_and_matters() -> None:
    p = load_policy("shaoxing")
    assert p.other_civil_allowed is True
    assert {"elderly_70_plus", "elderly_60_plus_special"} <= set(p.exempt_categories_allowed)
    assert "elderly_70_plus" not in load_policy("national").exempt_categories_allowed
    assert p.assign_days == 0


def test_zhashui_callback_target() -> None:
    assert load_policy("zhashui").callback_target == 0.9


def test_policies_are_frozen() -> None:
    with pytest.raises(pydantic.ValidationError):
        load_policy("national").decision_days = 3  # type: ignore[misc]  # the point: frozen


@pytest.mark.parametrize(
    ("score", "grade", "coefficient"),
    [
        (100, "excellent", 1.2),
        (90, "excellent", 1.2),
        (89, "good", 0.9),
        (75, "good", 0.9),
        (74, "pass", 0.6),
        (60, "pass", 0.6),
        (59, "fail", 0.0),
        (0, "fail", 0.0),
    ],
)
def test_shaoxing_grades(score: int, grade: str, coefficient: float) -> None:
    assert grade_for(score, load_policy("shaoxing")) == (grade, coefficient)


@pytest.mark.parametrize(
    ("score", "grade"),
    [(90, "excellent"), (89, "good"), (80, "good"), (79, "pass"), (70, "pass"), (69, "fail")],
)
def test_zhashui_grades(score: int, grade: str) -> None:
    assert grade_for(score, load_policy("zhashui")) == (grade, None)


@pytest.mark.parametrize("name", ["national", "beijing", "wanzhou"])
def test_four_national_grades(name: str) -> None:
    p = load_policy(name)
    assert [grade_for(s, p)[0] for s in (95, 80, 65, 30)] == ["excellent", "good", "pass", "fail"]
    assert grade_for(75, p) == ("good", None)


@pytest.mark.parametrize("score", [-1, 101, True, 50.0 * float("nan"), "90"])
def test_score_out_of_range(score: object) -> None:
    with pytest.raises(ValueError):
        grade_for(score, load_policy("national"))  # type: ignore[arg-type]  # bad on purpose


def test_average_score_is_fine() -> None:
    assert grade_for(89.5, load_policy("shaoxing")) == ("good", 0.9)


def test_unknown_name_lists_presets() -> None:
    with pytest.raises(ValueError, match=r"national.*shaoxing.*zhashui.*beijing.*wanzhou"):
        load_policy("hangzhou")


def test_file_overrides_its_base(tmp_path: Path) -> None:
    path = tmp_path / "keqiao.json"
    path.write_text(
        json.dumps(
            {
                "base": "shaoxing",
                "materials_due_days": 10,
                "digest_time": "09:00",
                "grade_bands": [["excellent", 85, 1.5], ["fail", 0, 0]],
            }
        ),
        "utf-8",
    )
    p = load_policy(str(path))
    assert p.name == "keqiao"
    assert p.materials_due_days == 10
    assert p.digest_time == time(9, 0)
    assert p.other_civil_allowed is True  # from shaoxing
    assert p.grade_bands == (GradeBand("excellent", 85, 1.5), GradeBand("fail", 0, 0.0))
    assert grade_for(85, p) == ("excellent", 1.5)


def test_file_defaults_to_national(tmp_path: Path) -> None:
    path = tmp_path / "town.json"
    path.write_text('{"name": "town", "label_zh": "某县", "callback_target": 0.8}', "utf-8")
    p = load_policy(str(path))
    assert (p.name, p.label_zh, p.callback_target, p.other_civil_allowed) == (
        "town",
        "某县",
        0.8,
        False,
    )


@pytest.mark.parametrize(
    "content",
    [
        '{"materials_due_dayz": 10}',
        '{"base": "mars"}',
        '{"exempt_categories_allowed": ["aliens"]}',
        '{"callback_target": 1.5}',
        '{"grade_bands": [["excellent", 90, null], ["good", 95, null], ["fail", 0, null]]}',
        '{"grade_bands": [["excellent", 90, null]]}',
        '{"grade_bands": [["great", 90, null], ["fail", 0, null]]}',
        "[1, 2]",
        "not json",
    ],
)
def test_bad_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, "utf-8")
    with pytest.raises(ValueError):
        load_policy(str(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="national"):
        load_policy(str(tmp_path / "absent.json"))


def test_reminders_sorted_latest_first() -> None:
    p = Policy(name="x", label_zh="x", materials_reminder_days_before=(1, 3, 3))
    assert p.materials_reminder_days_before == (3, 1)
