"""The code tables of DOMAIN §1 as data, so rules and labels share one spelling.

Codes are the API's vocabulary and the i18n key suffixes (`matter.<code>`, `exempt.<code>`,
`material.<code>`, `hardship.<basis>`, `pledge_confirm.<code>`, `grade.<code>`). Anything a region
may change (which exempt groups apply, whether `other_civil` is open) lives in `models.policy`,
not here: this module states what the law says a code *means*.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class MatterRule:
    """What the law attaches to one matter code."""

    hardship_required: bool  # False only for the Art. 32 matters
    criminal: bool = False  # criminal matters go to the court/procuratorate route, not civil


@dataclass(frozen=True, slots=True)
class ExemptRule:
    """Who may claim one exemption from the hardship check (Art. 42; Shaoxing I.(二))."""

    matters: frozenset[str] | None = None  # None: the group is exempt whatever the matter
    min_age: int | None = None  # full years (周岁) on the day the application is checked
    max_age: int | None = None

    def covers(self, matter: object) -> bool:
        """The exemption may be claimed for `matter`."""
        return self.matters is None or matter in self.matters


_REQUIRED = MatterRule(hardship_required=True)
_ART32 = MatterRule(hardship_required=False)

# Order is the order the chat menu and the API docs list them in (law's order: Art. 31, 32, 24/29).
MATTERS: Mapping[str, MatterRule] = MappingProxyType(
    {
        "state_compensation": _REQUIRED,
        "social_insurance_or_assistance": _REQUIRED,
        "survivor_pension": _REQUIRED,
        "support_payment": _REQUIRED,
        "labor_remuneration": _REQUIRED,
        "civil_capacity": _REQUIRED,
        "work_injury": _REQUIRED,
        "traffic_accident": _REQUIRED,
        "food_drug_accident": _REQUIRED,
        "medical_accident": _REQUIRED,
        "environmental_damage": _REQUIRED,
        "other_civil": _REQUIRED,
        "hero_honor": _ART32,
        "good_samaritan": _ART32,
        "retrial_acquittal_compensation": _ART32,
        "domestic_violence": _ART32,
        "criminal_defense": MatterRule(hardship_required=True, criminal=True),
        "criminal_victim": MatterRule(hardship_required=True, criminal=True),
    }
)

# Open only where the regional policy lifts the matter limit (Shaoxing I.(一)).
OTHER_CIVIL = "other_civil"
# The green-channel wage claim (DOMAIN §1, 容缺受理) is this matter with the migrant_worker group.
LABOR_REMUNERATION = "labor_remuneration"
MIGRANT_WORKER = "migrant_worker"

ART32_MATTERS: frozenset[str] = frozenset(c for c, r in MATTERS.items() if not r.hardship_required)
CRIMINAL_MATTERS: frozenset[str] = frozenset(c for c, r in MATTERS.items() if r.criminal)

EXEMPT_CATEGORIES: Mapping[str, ExemptRule] = MappingProxyType(
    {
        # Art. 42 (三): only for wage or work-injury claims.
        MIGRANT_WORKER: ExemptRule(matters=frozenset({LABOR_REMUNERATION, "work_injury"})),
        # Art. 42 (一): a minor is under 18 (Civil Code Art. 17).
        "minor_no_income": ExemptRule(max_age=17),
        # Art. 42 (一): "老年人" is 60 and over (老年人权益保障法 Art. 2).
        "elderly_no_income": ExemptRule(min_age=60),
        "disabled_no_income": ExemptRule(),
        "social_assistance": ExemptRule(),
        "judicial_assistance": ExemptRule(),
        "special_care": ExemptRule(),
        # Shaoxing I.(二) widens the list; the age is checked against the ID number.
        "elderly_70_plus": ExemptRule(min_age=70),
        "elderly_60_plus_special": ExemptRule(min_age=60),
    }
)

# The groups Art. 42 names; the national preset allows exactly these.
NATIONAL_EXEMPT_CATEGORIES: tuple[str, ...] = (
    MIGRANT_WORKER,
    "minor_no_income",
    "elderly_no_income",
    "disabled_no_income",
    "social_assistance",
    "judicial_assistance",
    "special_care",
)

MATERIAL_KINDS: tuple[str, ...] = (
    "id_document",
    "hardship_statement",
    "exemption_proof",
    "matter_evidence",
    "proxy_authorization",
    "other",
)
# A material is either in hand or listed as owed (容缺受理: accept first, supply by a deadline).
MATERIAL_STATUSES: tuple[str, ...] = ("provided", "missing")

# The ways an application meets (or need not meet) the hardship condition, recorded explicitly.
# "other_reason": criminal defence may be granted "因经济困难或者其他原因" (Art. 24), the agent
# records the reason.
HARDSHIP_BASES: tuple[str, ...] = ("not_required", "exempt", "pledge", "other_reason")
OTHER_REASON = "other_reason"
CRIMINAL_DEFENSE = "criminal_defense"
OTHER_REASON_MAX = 500  # characters of the recorded reason
# Claims of migrant workers (城乡务工人员) that go through the green channel whatever the hardship
# path (DOMAIN §1, 容缺受理): wages and work-injury damages.
MIGRANT_GREEN_MATTERS: frozenset[str] = frozenset({"labor_remuneration", "work_injury"})
EXEMPTION_PROOF = "exemption_proof"

# How the applicant confirmed the pledge; photos are kept for the first two, the agent witnesses
# the third.
PLEDGE_CONFIRMATIONS: tuple[str, ...] = ("signature", "fingerprint", "spoken")

# Bump with every wording change of the i18n key PLEDGE_TEXT_KEY, so each record says what was
# signed.
PLEDGE_TEXT_VERSION = "2026-11"  # Art. 64 quoted exactly, the provinces' title
PLEDGE_TEXT_KEY = "pledge.text"

# The national peer-review grades, best first (DOMAIN §5).
GRADES: tuple[str, ...] = ("excellent", "good", "pass", "fail")
