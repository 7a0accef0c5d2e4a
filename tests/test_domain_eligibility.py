"""The eligibility rules (DOMAIN §1) and their messages in every locale."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from i18n import LOCALES, t
from models.codes import (
    EXEMPT_CATEGORIES,
    GRADES,
    HARDSHIP_BASES,
    MATERIAL_KINDS,
    MATTERS,
    PLEDGE_CONFIRMATIONS,
    PLEDGE_TEXT_KEY,
    PLEDGE_TEXT_VERSION,
)
from models.eligibility import (
    VIOLATION_CODES,
    WARNING_CODES,
    EligibilityInput,
    Violation,
    check_application,
    violation_message,
)
from models.idcard import check_char
from models.policy import load_policy

TODAY = date(2026, 3, 2)
NATIONAL = load_policy("national")
SHAOXING = load_policy("shaoxing")
BORN_1985 = "11010519850301001" + check_char("11010519850301001")  # 41 on TODAY
BORN_1949 = "11010519491231002X"  # 76 on TODAY
BORN_2012 = "11010520120301001" + check_char("11010520120301001")  # 14 on TODAY

STATEMENT = {
    "household_size": 3,
    "monthly_income_yuan": 1800,
    "income_source": "务农",
    "assets": "自住房一间",
}
PLEDGE = {"accepted": True, "confirmed_by": "fingerprint", "text_version": PLEDGE_TEXT_VERSION}


def pledge_app(**changes: object) -> EligibilityInput:
    app = EligibilityInput(
        matter="support_payment",
        id_number=BORN_1985,
        hardship_basis="pledge",
        statement=dict(STATEMENT),
        pledge=dict(PLEDGE),
        materials=[("id_document", "provided"), ("hardship_statement", "provided")],
    )
    return replace(app, **changes)  # type: ignore[arg-type]  # changes: any field, by name


def exempt_app(matter: str, category: str, id_number: str = BORN_1985) -> EligibilityInput:
    return EligibilityInput(
        matter=matter, id_number=id_number, hardship_basis="exempt", exempt_category=category
    )


def codes(result) -> list[str]:
    return [v.code for v in result.violations]


def test_complete_pledge_application_is_ok() -> None:
    result = check_application(pledge_app(), NATIONAL, TODAY)
    assert result.ok, result.violations
    assert result.hardship_basis == "pledge"
    assert result.applicant is not None and result.applicant.birth_date == date(1985, 3, 1)
    assert result.urgent is False and result.urgent_reasons == ()
    assert result.missing_materials == () and result.materials_due is None
    assert result.decision_due == date(2026, 3, 9)
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("id_number", "code"),
    [
        ("110105194912310021", "id_number.checksum"),
        ("11010519490231001" + check_char("11010519490231001"), "id_number.birth_date"),
        ("11010520990101001" + check_char("11010520990101001"), "id_number.future"),
        ("12345", "id_number.format"),
    ],
)
def test_invalid_id_number(id_number: str, code: str) -> None:
    result = check_application(pledge_app(id_number=id_number), NATIONAL, TODAY)
    assert result.violations == (Violation("id_number", code),)
    assert result.applicant is None


def test_lower_case_x_and_legacy_numbers_are_accepted() -> None:
    assert check_application(pledge_app(id_number="11010519491231002x"), NATIONAL, TODAY).ok
    result = check_application(pledge_app(id_number="110105491231002"), NATIONAL, TODAY)
    assert result.ok and result.applicant is not None and result.applicant.legacy


def test_unknown_matter() -> None:
    result = check_application(pledge_app(matter="divorce"), NATIONAL, TODAY)
    assert result.violations == (Violation("matter", "matter.unknown", {"matter": "divorce"}),)


def test_migrant_worker_exemption_does_not_fit_support_payment() -> None:
    result = check_application(exempt_app("support_payment", "migrant_worker"), NATIONAL, TODAY)
    assert codes(result) == ["exempt.matter_mismatch"]
    assert result.violations[0].field == "hardship.exempt_category"
    assert result.violations[0].params == {
        "category": "migrant_worker",
        "matter": "support_payment",
    }


def test_elderly_70_plus_for_a_41_year_old_under_shaoxing() -> None:
    result = check_application(exempt_app("support_payment", "elderly_70_plus"), SHAOXING, TODAY)
    assert result.violations == (
        Violation(
            "hardship.exempt_category",
            "exempt.age",
            {"category": "elderly_70_plus", "min_age": 70, "age": 41},
        ),
    )
    assert violation_message(result.violations[0]) == (
        "申请人41周岁，不符合「70周岁及以上老年人」的年龄条件（70周岁及以上）"
    )
    assert "41" in violation_message(result.violations[0], "en")


def test_elderly_70_plus_for_a_76_year_old_under_shaoxing() -> None:
    app = exempt_app("support_payment", "elderly_70_plus", BORN_1949)
    assert check_application(app, SHAOXING, TODAY).ok


def test_elderly_70_plus_is_not_in_the_national_policy() -> None:
    app = exempt_app("support_payment", "elderly_70_plus", BORN_1949)
    result = check_application(app, NATIONAL, TODAY)
    assert codes(result) == ["exempt.not_in_policy"]


def test_minor_age_limit() -> None:
    assert check_application(
        exempt_app("support_payment", "minor_no_income", BORN_2012), NATIONAL, TODAY
    ).ok
    result = check_application(exempt_app("support_payment", "minor_no_income"), NATIONAL, TODAY)
    assert result.violations[0].code == "exempt.age_max"
    assert result.violations[0].params == {"category": "minor_no_income", "max_age": 17, "age": 41}


@pytest.mark.parametrize(
    ("category", "code"),
    [
        (None, "exempt.category_required"),
        ("", "exempt.category_required"),
        ("astronaut", "exempt.unknown"),
    ],
)
def test_exempt_category_required_and_known(category: str | None, code: str) -> None:
    app = exempt_app("support_payment", category)  # type: ignore[arg-type]  # None on purpose
    result = check_application(app, NATIONAL, TODAY)
    assert codes(result) == [code]


def test_pledge_without_statement() -> None:
    result = check_application(pledge_app(statement=None), NATIONAL, TODAY)
    assert result.violations == (Violation("hardship.statement", "pledge.statement_required"),)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"household_size": 0}, "pledge.household_size"),
        ({"household_size": "3"}, "pledge.household_size"),
        ({"household_size": True}, "pledge.household_size"),
        ({"monthly_income_yuan": -1}, "pledge.monthly_income"),
        ({"monthly_income_yuan": None}, "pledge.monthly_income"),
        ({"income_source": "  "}, "pledge.income_source"),
    ],
)
def test_statement_fields(changes: dict[str, object], code: str) -> None:
    result = check_application(pledge_app(statement=STATEMENT | changes), NATIONAL, TODAY)
    assert codes(result) == [code]


def test_zero_income_is_fine() -> None:
    statement = STATEMENT | {"monthly_income_yuan": 0, "income_source": "无收入"}
    assert check_application(pledge_app(statement=statement), NATIONAL, TODAY).ok


def test_pledge_not_accepted() -> None:
    result = check_application(pledge_app(pledge=PLEDGE | {"accepted": False}), NATIONAL, TODAY)
    assert result.violations == (Violation("hardship.pledge.accepted", "pledge.not_accepted"),)


def test_pledge_missing_confirmation_and_old_text() -> None:
    pledge = {"accepted": True, "confirmed_by": "nod", "text_version": "2020-01"}
    result = check_application(pledge_app(pledge=pledge), NATIONAL, TODAY)
    assert codes(result) == ["pledge.confirmation", "pledge.text_version"]
    assert result.violations[1].params["version"] == PLEDGE_TEXT_VERSION
    assert check_application(pledge_app(pledge=None), NATIONAL, TODAY).violations == (
        Violation("hardship.pledge", "pledge.required"),
    )


def test_art32_matter_needs_no_hardship() -> None:
    app = EligibilityInput(
        matter="domestic_violence", id_number=BORN_1985, hardship_basis="not_required"
    )
    result = check_application(app, NATIONAL, TODAY)
    assert result.ok and result.hardship_basis == "not_required" and result.warnings == ()


def test_art32_matter_with_another_basis_is_recorded_as_not_required() -> None:
    result = check_application(pledge_app(matter="good_samaritan", statement=None), NATIONAL, TODAY)
    assert result.ok
    assert result.hardship_basis == "not_required"
    assert result.warnings == ("hardship.not_needed",)


def test_other_matters_need_a_hardship_basis() -> None:
    result = check_application(pledge_app(hardship_basis="not_required"), NATIONAL, TODAY)
    assert result.violations == (
        Violation("hardship.basis", "hardship.required", {"matter": "support_payment"}),
    )
    assert "赡养费" in violation_message(result.violations[0])
    assert codes(check_application(pledge_app(hardship_basis="vibes"), NATIONAL, TODAY)) == [
        "hardship.basis_unknown"
    ]


def test_other_civil_only_where_the_policy_allows_it() -> None:
    national = check_application(pledge_app(matter="other_civil"), NATIONAL, TODAY)
    assert national.violations == (Violation("matter", "matter.other_civil_not_allowed"),)
    assert check_application(pledge_app(matter="other_civil"), SHAOXING, TODAY).ok


def test_migrant_wage_claim_is_urgent() -> None:
    result = check_application(exempt_app("labor_remuneration", "migrant_worker"), NATIONAL, TODAY)
    assert result.ok
    assert result.urgent and result.urgent_reasons == ("green.migrant_wage",)


@pytest.mark.parametrize(
    ("deadline", "urgent", "warnings"),
    [
        (date(2026, 3, 2), True, ()),  # ends today
        (date(2026, 3, 8), True, ()),  # 6 days left: under seven
        (date(2026, 3, 9), False, ()),  # 7 days left
        (date(2026, 3, 1), False, ("limitation.passed",)),
    ],
)
def test_limitation_deadline(deadline: date, urgent: bool, warnings: tuple[str, ...]) -> None:
    result = check_application(pledge_app(limitation_deadline=deadline), NATIONAL, TODAY)
    assert result.ok
    assert result.urgent is urgent
    assert result.urgent_reasons == (("green.limitation",) if urgent else ())
    assert result.warnings == warnings


def test_both_green_reasons() -> None:
    app = replace(exempt_app("labor_remuneration", "migrant_worker"), limitation_deadline=TODAY)
    assert check_application(app, NATIONAL, TODAY).urgent_reasons == (
        "green.migrant_wage",
        "green.limitation",
    )


def test_missing_materials_get_a_due_date() -> None:
    materials = [
        ("id_document", "provided"),
        ("matter_evidence", "missing"),
        ("hardship_statement", "missing"),
        ("matter_evidence", "missing"),
    ]
    result = check_application(pledge_app(materials=materials), NATIONAL, TODAY)
    assert result.ok
    assert result.missing_materials == ("matter_evidence", "hardship_statement")
    assert result.materials_due == date(2026, 3, 17)


def test_unknown_material_kind_and_status() -> None:
    result = check_application(
        pledge_app(materials=[("selfie", "provided"), ("other", "lost")]), NATIONAL, TODAY
    )
    assert result.violations == (
        Violation("materials[0].kind", "materials.kind", {"kind": "selfie"}),
        Violation("materials[1].status", "materials.status"),
    )


def test_every_problem_is_listed_at_once() -> None:
    app = pledge_app(matter="other_civil", id_number="1", statement=None, pledge=None)
    assert codes(check_application(app, NATIONAL, TODAY)) == [
        "id_number.format",
        "matter.other_civil_not_allowed",
        "pledge.statement_required",
        "pledge.required",
    ]


# --- the domain catalog ------------------------------------------------------------------------

_MODELS = Path(__file__).resolve().parent.parent / "models"
_I18N = Path(__file__).resolve().parent.parent / "i18n"


def _domain(locale: str) -> dict[str, str]:
    return json.loads((_I18N / locale / "domain.json").read_text("utf-8"))


def test_the_code_lists_are_complete() -> None:
    """Every code literal the rules module emits is declared in VIOLATION_CODES / WARNING_CODES."""
    source = (_MODELS / "eligibility.py").read_text("utf-8")
    violations = set(re.findall(r'Violation\(\s*[^,()]+,\s*"([a-z_.]+)"', source))
    warnings = set(re.findall(r'warnings\.append\("([a-z_.]+)"\)', source))
    assert "exempt.age" in violations and "matter.unknown" in violations
    assert violations <= VIOLATION_CODES
    assert warnings == WARNING_CODES


def test_domain_catalogs_have_the_same_keys_and_placeholders() -> None:
    zh, en = _domain("zh_CN"), _domain("en")
    assert zh.keys() == en.keys()
    for key in zh:
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key


def test_every_code_has_a_label() -> None:
    wanted = (
        [f"matter.{c}" for c in MATTERS]
        + [f"exempt.{c}" for c in EXEMPT_CATEGORIES]
        + [f"material.{c}" for c in MATERIAL_KINDS]
        + [f"hardship.{c}" for c in HARDSHIP_BASES]
        + [f"pledge_confirm.{c}" for c in PLEDGE_CONFIRMATIONS]
        + [f"grade.{c}" for c in GRADES]
        + ["green.migrant_wage", "green.limitation", PLEDGE_TEXT_KEY]
        + [f"invalid.id_number.{r}" for r in ("format", "checksum", "birth_date", "future")]
        + ["invalid.phone.format", "invalid.name.format"]
    )
    for locale in LOCALES:
        missing = [k for k in wanted if k not in _domain(locale)]
        assert not missing, (locale, missing)


def test_every_code_has_a_message() -> None:
    for locale in LOCALES:
        catalog = _domain(locale)
        assert not [c for c in VIOLATION_CODES if f"violation.{c}" not in catalog], locale
        assert not [c for c in WARNING_CODES if f"warning.{c}" not in catalog], locale


def test_pledge_text_says_what_the_law_requires() -> None:
    zh = t(PLEDGE_TEXT_KEY, "zh_CN")
    assert "第六十四条" in zh and "三千元" in zh and "核查" in zh
    en = t(PLEDGE_TEXT_KEY, "en")
    assert "Article 64" in en and "3,000 yuan" in en


def test_warning_messages() -> None:
    assert violation_message("limitation.passed", "en").startswith("The limitation period")
    assert "经济困难" in violation_message("hardship.not_needed")


def test_messages_use_only_the_params_violations_carry() -> None:
    params = {
        "matter": "x",
        "category": "x",
        "min_age": 1,
        "max_age": 1,
        "age": 1,
        "version": "x",
        "given": "x",
        "kind": "x",
    }
    for locale in LOCALES:
        for code in VIOLATION_CODES:
            assert violation_message(Violation("f", code, params), locale)
