"""The batch's array scoring (pairs.py) agrees with scoring.py pair by pair: the same eligible pairs, the same
scores to the last bit, the same gains; and its exact rounding agrees with Python's round."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest

from marketplace.matching import scoring
from marketplace.matching.pairs import _round6, score_pairs
from marketplace.matching.scoring import NeedFacts, ProviderRecord, ServiceFacts
from marketplace.settings import MatchWeights

CATS = ["family_education", "psychological", "medical", "legal_aid", "study_support"]
KIDS = ["orphan", "de_facto_unsupported", "left_behind", "disabled", "low_income"]
TODAY = dt.date(2026, 6, 15)
SCALE = 10_000


def _world(seed: int) -> tuple[list[NeedFacts], list[ServiceFacts], dict[int, ProviderRecord]]:
    rng = random.Random(seed)
    streets = list(range(1, 7))
    communities = [f"社区{i}" for i in range(1, 15)]
    orgs = list(range(1, 9))
    # An organization's address and streets are the organization's: the same on each of its services.
    address = {o: f"某街{rng.choice(communities)}号" if o % 3 else "" for o in orgs}
    org_streets = {o: frozenset(rng.sample(streets, o % 3)) for o in orgs}
    services = []
    for j in range(1, 41):
        org = rng.choice(orgs)
        wide = rng.random() < 0.4
        services.append(
            ServiceFacts(
                service_id=j * 3,
                organization_id=org,
                title=f"服务{j}",
                organization_name=f"机构{org}",
                organization_address=address[org],
                organization_streets=org_streets[org],
                categories=frozenset(rng.sample(CATS, rng.randint(1, 3))),
                child_categories=frozenset(rng.sample(KIDS, rng.randint(0, 2))),
                age_min=rng.choice((0, 3, 6)),
                age_max=rng.choice((12, 16, 18)),
                district_wide=wide,
                street_ids=frozenset() if wide else frozenset(rng.sample(streets, rng.randint(1, 2))),
                capacity_per_month=rng.randint(0, 6),
                capacity_left=rng.randint(0, 6),
                cost_per_case_fen=rng.choice((0, 20_000, 80_000, 900_000)),
                funding_source=rng.choice(("free", "special_budget", "self_funded", "none")),
                delivery_mode=rng.choice(("in_person", "online", "phone", "centre")),
                assured_on=None if rng.random() < 0.1 else TODAY - dt.timedelta(days=rng.randint(0, 400)),
            )
        )
    needs = []
    for i in range(1, 121):
        declined = frozenset(rng.sample([s.service_id for s in services], rng.choice((0, 0, 0, 2))))
        needs.append(
            NeedFacts(
                need_id=i * 2,
                child_id=i,
                category=rng.choice(CATS),
                urgency=rng.randint(1, 4),
                age=rng.randint(0, 18),
                child_categories=frozenset(rng.sample(KIDS, rng.randint(1, 2))),
                street_id=rng.choice(streets),
                community_id=1,
                community_name=rng.choice([*communities, ""]),
                declined_services=declined,
                current_orgs=frozenset(rng.sample(orgs, rng.choice((0, 0, 1)))),
                helped_orgs=frozenset(rng.sample(orgs, rng.choice((0, 0, 1)))),
            )
        )
    records = {
        o: ProviderRecord(rng.randint(0, 9), rng.random() * 80, rng.randint(0, 9), rng.randint(0, 3), rng.random() * 5)
        for o in orgs[:6]
    }
    return needs, services, records


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_array_scoring_matches_the_scalar_score(seed: int) -> None:
    needs, services, records = _world(seed)
    weights = MatchWeights()
    args = {"today": TODAY, "stale_days": 180, "sla_hours": 48}
    expected = {}
    for i, n in enumerate(needs):
        for j, s in enumerate(services):
            if scoring.ineligibility(n, s) is None:
                record = records.get(s.organization_id, ProviderRecord())
                sc = scoring.score(n, s, record, scoring.declared_funding(s), weights, **args)
                expected[(i, j)] = (sc.score, max(1, round(n.urgency * sc.score * SCALE)))
    got = score_pairs(needs, services, records, weights, scale=SCALE, **args)
    pairs = list(zip(got.need.tolist(), got.service.tolist(), strict=True))
    assert pairs == sorted(expected)  # the same pairs, in (need, service) order
    assert {p: (sc, g) for p, sc, g in zip(pairs, got.score.tolist(), got.gain.tolist(), strict=True)} == expected


def test_scores_without_reasons_are_the_same_number() -> None:
    needs, services, records = _world(4)
    args = {"today": TODAY, "stale_days": 180, "sla_hours": 48}
    for n in needs[:20]:
        for s in services:
            record = records.get(s.organization_id, ProviderRecord())
            funding = scoring.declared_funding(s)
            full = scoring.score(n, s, record, funding, MatchWeights(), **args)
            bare = scoring.score(n, s, record, funding, MatchWeights(), explain=False, **args)
            assert bare.score == full.score and full.reasons and not bare.reasons


def test_round6_is_pythons_round() -> None:
    rng = np.random.default_rng(5)
    halfway = (rng.integers(0, 2_000_000, 200_000) + 0.5) / 2e6  # x.xxxxxx5 cases, where numpy's round slips
    values = np.concatenate([rng.random(200_000), halfway, np.array([0.0, 1.0, 0.5, 0.0000005, 0.9999995])])
    assert _round6(values).tolist() == [round(v, 6) for v in values.tolist()]
