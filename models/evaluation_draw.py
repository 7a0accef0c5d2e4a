"""The draw of an evaluation round (DOMAIN §10): how many cases, which ones, which experts.

Pure functions, no ORM: the same seed, population and expert list always give the same draw, so
anyone can re-run a published round and check it (Wanzhou: 随机抽选、随机匹配).

- Wanzhou's sample: round the population to tens and take `rate` of it (761 -> 760 -> 76), at
  least 20 (all of them when there are fewer) and at most 200.
- The sample is split between the criminal and the civil/administrative groups in proportion to
  the population, because experts of each group evaluate only their own group's cases.
- Experts of a group are shuffled and paired in that order (the first of each pair leads); an odd
  one out waits for the next round. Cases are dealt to the pairs in turn, skipping a pair with a
  member from the handler's own organisation (回避).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

SAMPLE_RATE = 0.1  # Wanzhou: 10 % of the cases closed in the period
SAMPLE_MIN = 20  # Wanzhou: at least 20 cases (all of them when fewer closed)
SAMPLE_MAX = 200  # Wanzhou: at most 200 cases
GROUPS = ("criminal", "civil_admin")


def group_of(kind: str) -> str:
    """The expert group that evaluates a case of `kind` (civil and administrative share one)."""
    return "criminal" if kind == "criminal" else "civil_admin"


def sample_size(
    population: int,
    rate: float = SAMPLE_RATE,
    *,
    minimum: int = SAMPLE_MIN,
    maximum: int = SAMPLE_MAX,
) -> int:
    """Wanzhou's size: the population rounded to tens, times `rate`, within [minimum, maximum]."""
    if population <= minimum:
        return population
    tens = (population + 5) // 10 * 10  # 761 -> 760, 765 -> 770
    size = int(tens * rate + 0.5)
    return max(minimum, min(maximum, size, population))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A case that may be drawn."""

    case_no: str
    group: str
    org: str  # the handler's organisation, for 回避


@dataclass(frozen=True, slots=True)
class ExpertRef:
    id: int
    group: str
    org: str | None


@dataclass(slots=True)
class Pair:
    leader: int
    member: int
    group: str
    orgs: frozenset[str]
    case_nos: list[str] = field(default_factory=list)


class DrawError(ValueError):
    """The draw cannot be made (`reason` is an i18n suffix, `group` the group concerned)."""

    def __init__(self, reason: str, group: str) -> None:
        super().__init__(f"{reason}: {group}")
        self.reason, self.group = reason, group


def split_by_group(size: int, counts: dict[str, int]) -> dict[str, int]:
    """`size` shared between the groups in proportion to `counts` (largest remainder)."""
    total = sum(counts.values())
    if not total:
        return dict.fromkeys(counts, 0)
    exact = {g: size * n / total for g, n in counts.items()}
    shares = {g: min(counts[g], int(v)) for g, v in exact.items()}
    by_remainder = sorted(counts, key=lambda g: (-(exact[g] - int(exact[g])), g))
    for g in by_remainder:
        if sum(shares.values()) >= size:
            break
        if shares[g] < counts[g]:
            shares[g] += 1
    return shares


def draw(
    population: Sequence[Candidate], experts: Sequence[ExpertRef], *, seed: int, size: int | None
) -> tuple[list[Candidate], list[Pair]]:
    """The cases drawn (all of them when `size` is None) and the expert pairs holding them.

    Raises DrawError when a group with cases has fewer than two experts, or when a case has no
    pair free of its handler's organisation.
    """
    rng = random.Random(seed)
    ordered = sorted(population, key=lambda c: c.case_no)  # the seed alone decides the order
    counts = {g: sum(1 for c in ordered if c.group == g) for g in GROUPS}
    shares = counts if size is None else split_by_group(size, counts)
    chosen: list[Candidate] = []
    pairs: list[Pair] = []
    for group in GROUPS:
        cases = [c for c in ordered if c.group == group]
        picked = rng.sample(cases, shares[group]) if shares[group] < len(cases) else cases[:]
        rng.shuffle(picked)
        if not picked:
            continue
        group_pairs = _pair(
            rng, [e for e in sorted(experts, key=lambda e: e.id) if e.group == group], group
        )
        turn = 0
        for case in picked:
            for k in range(len(group_pairs)):
                pair = group_pairs[(turn + k) % len(group_pairs)]
                if case.org not in pair.orgs:
                    pair.case_nos.append(case.case_no)
                    turn = (turn + k + 1) % len(group_pairs)
                    break
            else:
                raise DrawError("no_free_pair", group)
        chosen += picked
        pairs += [p for p in group_pairs if p.case_nos]
    return chosen, pairs


def _pair(rng: random.Random, experts: list[ExpertRef], group: str) -> list[Pair]:
    if len(experts) < 2:
        raise DrawError("too_few_experts", group)
    rng.shuffle(experts)
    return [
        Pair(leader=a.id, member=b.id, group=group, orgs=frozenset(o for o in (a.org, b.org) if o))
        for a, b in zip(experts[0::2], experts[1::2], strict=False)
    ]
