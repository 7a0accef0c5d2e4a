"""Wanzhou's draw (DOMAIN §10): sample sizes, groups in proportion, pairs, 回避, reproducibility."""

from __future__ import annotations

import pytest

from models.evaluation_draw import (
    Candidate,
    DrawError,
    ExpertRef,
    draw,
    sample_size,
    split_by_group,
)


@pytest.mark.parametrize(
    "population,size",
    [
        (761, 76),  # the seed's own example: round to tens, take a tenth
        (150, 20),  # a tenth is 15: at least 20
        (15, 15),  # fewer than 20: all of them
        (20, 20),
        (0, 0),
        (204, 20),
        (205, 21),
        (2500, 200),  # a tenth is 250: at most 200
    ],
)
def test_sample_size_follows_wanzhou(population, size):
    assert sample_size(population) == size


def test_a_policy_rate_changes_the_size_within_the_bounds():
    assert sample_size(761, 0.2) == 152
    assert sample_size(3000, 0.5) == 200


def test_groups_share_the_sample_in_proportion():
    assert split_by_group(76, {"criminal": 190, "civil_admin": 571}) == {
        "criminal": 19,
        "civil_admin": 57,
    }
    assert split_by_group(20, {"criminal": 1, "civil_admin": 149}) == {
        "criminal": 0,
        "civil_admin": 20,
    }


def population(n_criminal=40, n_civil=160):
    cases = [Candidate(f"刑{i:03d}", "criminal", f"所{i % 4}") for i in range(n_criminal)]
    return cases + [Candidate(f"民{i:03d}", "civil_admin", f"所{i % 4}") for i in range(n_civil)]


def experts():
    crim = [ExpertRef(i, "criminal", None) for i in (1, 2, 3, 4)]
    civil = [ExpertRef(i, "civil_admin", "所0" if i in (5, 6) else None) for i in range(5, 13)]
    return crim + civil


def test_the_same_seed_gives_the_same_draw_and_another_seed_another():
    a = draw(population(), experts(), seed=20260301, size=20)
    b = draw(list(reversed(population())), list(reversed(experts())), seed=20260301, size=20)
    assert [c.case_no for c in a[0]] == [c.case_no for c in b[0]]
    assert [(p.leader, p.member, p.case_nos) for p in a[1]] == [
        (p.leader, p.member, p.case_nos) for p in b[1]
    ]
    c = draw(population(), experts(), seed=7, size=20)
    assert {x.case_no for x in c[0]} != {x.case_no for x in a[0]}


def test_pairs_are_two_different_experts_of_the_case_group_and_never_of_its_org():
    chosen, pairs = draw(population(), experts(), seed=1, size=20)
    assert len(chosen) == 20 and sum(len(p.case_nos) for p in pairs) == 20
    by_no = {c.case_no: c for c in chosen}
    ids = {e.id: e for e in experts()}
    for p in pairs:
        assert p.leader != p.member
        assert ids[p.leader].group == ids[p.member].group == p.group
        for no in p.case_nos:
            assert by_no[no].group == p.group
            assert by_no[no].org not in {ids[p.leader].org, ids[p.member].org}
    assert sum(1 for c in chosen if c.group == "criminal") == 4  # 40 of 200 -> 4 of 20


def test_a_group_without_two_experts_or_a_free_pair_cannot_be_drawn():
    with pytest.raises(DrawError) as exc:
        draw(
            population(),
            [e for e in experts() if e.id == 1 or e.group == "civil_admin"],
            seed=1,
            size=None,
        )
    assert exc.value.reason == "too_few_experts" and exc.value.group == "criminal"
    same_org = [ExpertRef(1, "civil_admin", "所0"), ExpertRef(2, "civil_admin", "所0")]
    with pytest.raises(DrawError) as exc:
        draw([Candidate("民1", "civil_admin", "所0")], same_org, seed=1, size=None)
    assert exc.value.reason == "no_free_pair"
