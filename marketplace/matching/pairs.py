"""The batch's pairs at scale: every eligible (need, service) pair and its score, computed over arrays.

The rules and the score are those of scoring.py (``ineligibility`` and ``score``), evaluated for whole
blocks of pairs at once: needs are grouped by category and street, each group meets only the services of its
category that reach its street, and age and child categories are filtered as array masks. Components that
depend on the service alone come from scoring.py's own functions, once per service; the three that depend on
the pair (category fit, locality, continuity) are the same formulas over arrays, and the weighted sum adds the
components in the same order as ``scoring.weighted``, so a pair scores here exactly as there
(tests/matching/test_pairs.py checks it against ``scoring.score`` pair by pair).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.matching import scoring
from marketplace.matching.scoring import NeedFacts, ProviderRecord, ServiceFacts
from marketplace.settings import MatchWeights, Settings

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
# Candidate (need, service) cells per array block.
BLOCK = 500_000


@dataclass(frozen=True)
class Pairs:
    """Eligible pairs, sorted by need then service position: ``need[i]``, ``service[i]`` index the lists given."""

    need: IntArray
    service: IntArray
    score: FloatArray  # as scoring.score rounds it
    gain: IntArray  # urgency x score in units of 1/scale, at least 1

    def __len__(self) -> int:
        return len(self.need)


def _bits(codes: Sequence[frozenset[str]], index: dict[str, int]) -> IntArray:
    out = np.zeros(len(codes), dtype=np.int64)
    for i, cs in enumerate(codes):
        mask = 0
        for c in cs:
            mask |= 1 << index[c]
        out[i] = mask
    return out


def _contains(names: Sequence[str], addresses: Sequence[str]) -> npt.NDArray[np.bool_]:
    """``names[i] in addresses[j]`` for every i, j, by looking each address's substrings up (of the lengths
    names have), not each name in each address."""
    where = {name: i for i, name in enumerate(names) if name}
    lengths = sorted({len(n) for n in where})
    out = np.zeros((len(names), len(addresses)), dtype=np.bool_)
    for j, address in enumerate(addresses):
        for length in lengths:
            for k in range(len(address) - length + 1):
                i = where.get(address[k : k + length])
                if i is not None:
                    out[i, j] = True
    return out


def score_under(
    settings: Settings,
    needs: Sequence[NeedFacts],
    services: Sequence[ServiceFacts],
    records: Mapping[int, ProviderRecord],
    *,
    today: dt.date,
    scale: int,
) -> Pairs:
    """``score_pairs`` with the deployment's weights, staleness limit and referral SLA."""
    return score_pairs(
        needs,
        services,
        records,
        settings.match_weights,
        today=today,
        stale_days=settings.stale_listing_days,
        sla_hours=settings.deadlines.standard_accept_hours,
        scale=scale,
    )


def score_pairs(
    needs: Sequence[NeedFacts],
    services: Sequence[ServiceFacts],
    records: Mapping[int, ProviderRecord],
    weights: MatchWeights,
    *,
    today: dt.date,
    stale_days: int,
    sla_hours: int,
    scale: int,
) -> Pairs:
    empty = np.zeros(0, dtype=np.int64)
    if not needs or not services:
        return Pairs(empty, empty, np.zeros(0), empty)
    kid_codes = sorted(
        {c for n in needs for c in n.child_categories} | {c for s in services for c in s.child_categories}
    )
    if len(kid_codes) > 62:  # pragma: no cover - the taxonomy has a dozen
        raise ValueError("too many child categories for a bit mask")
    kid_index = {c: i for i, c in enumerate(kid_codes)}
    street_ids = sorted(
        {n.street_id for n in needs}
        | {st for s in services for st in s.street_ids}
        | {st for s in services for st in s.organization_streets}
    )
    street_index = {st: i for i, st in enumerate(street_ids)}
    orgs = sorted({s.organization_id for s in services})
    org_index = {o: i for i, o in enumerate(orgs)}
    org_address = {s.organization_id: s.organization_address for s in services}
    org_streets = {s.organization_id: s.organization_streets for s in services}

    # Per service.
    n_svc = len(services)
    live = np.array([s.published and s.organization_approved and s.capacity_left > 0 for s in services])
    age_min = np.array([s.age_min for s in services], dtype=np.int64)
    age_max = np.array([s.age_max for s in services], dtype=np.int64)
    svc_kids = _bits([s.child_categories for s in services], kid_index)
    wide = np.array([s.district_wide for s in services], dtype=np.bool_)
    reaches = np.zeros((n_svc, len(street_ids)), dtype=np.bool_)
    for j, s in enumerate(services):
        for st in s.street_ids:
            reaches[j, street_index[st]] = True
    svc_org = np.array([org_index[s.organization_id] for s in services], dtype=np.int64)
    org_covers = np.zeros((len(orgs), len(street_ids)), dtype=np.bool_)
    for o, k in org_index.items():
        for st in org_streets[o]:
            org_covers[k, street_index[st]] = True
    remote = np.array([s.delivery_mode in scoring.REMOTE_MODES for s in services], dtype=np.bool_)
    fit06 = np.array([0.6 * max(0.4, 1.0 - 0.15 * (len(s.categories) - 1)) for s in services])
    record_part = np.array(
        [scoring.record_component(records.get(s.organization_id, ProviderRecord()), sla_hours) for s in services]
    )
    fresh_part = np.array([scoring.freshness_component(s, today, stale_days) for s in services])
    fund_part = np.array([scoring.funding_component(s, scoring.declared_funding(s)) for s in services])
    cap_part = np.array([scoring.capacity_component(s) for s in services])
    by_category: dict[str, list[int]] = defaultdict(list)
    for j, s in enumerate(services):
        if live[j]:
            for c in s.categories:
                by_category[c].append(j)
    category_services = {c: np.array(js, dtype=np.int64) for c, js in by_category.items()}

    # Per need.
    need_age = np.array([n.age for n in needs], dtype=np.int64)
    need_kids = _bits([n.child_categories for n in needs], kid_index)
    need_street = np.array([street_index[n.street_id] for n in needs], dtype=np.int64)
    urgency = np.array([n.urgency for n in needs], dtype=np.int64)
    communities = sorted({n.community_name for n in needs})
    community_index = {c: i for i, c in enumerate(communities)}
    need_community = np.array([community_index[n.community_name] for n in needs], dtype=np.int64)
    in_community = _contains(communities, [org_address[o] for o in orgs])

    history = np.array([bool(n.current_orgs or n.helped_orgs) for n in needs], dtype=np.bool_)
    declined = np.array([bool(n.declined_services) for n in needs], dtype=np.bool_)
    w = scoring.weight_vector(weights)

    def score_block(na: IntArray, sa: IntArray) -> tuple[FloatArray, IntArray]:
        """The pairs' components as in scoring.score, weighted and summed in the order of scoring.weighted."""
        targeted = (svc_kids[sa] & need_kids[na]) != 0
        category_fit = fit06[sa] + np.where(targeted, 0.4 * 1.0, 0.4 * 0.6)
        org = svc_org[sa]
        covers = ~wide[sa] | org_covers[org, need_street[na]]
        locality = np.where(in_community[need_community[na], org], 1.0, np.where(covers, 0.7, 0.4))
        locality = np.where(remote[sa] & (locality < 0.7), 0.7, locality)
        continuity = np.zeros(len(na))
        for k in np.flatnonzero(history[na]).tolist():
            n = needs[int(na[k])]
            org_id = services[int(sa[k])].organization_id
            continuity[k] = 1.0 if org_id in n.current_orgs else 0.6 if org_id in n.helped_orgs else 0.0
        total = w[0] * category_fit
        total += w[1] * locality
        total += w[2] * record_part[sa]
        total += w[3] * fresh_part[sa]
        total += w[4] * fund_part[sa]
        total += w[5] * continuity
        total += w[6] * cap_part[sa]
        total /= sum(w) or 1.0
        score = _round6(total)
        gain = np.maximum(1, np.rint(urgency[na] * score * scale)).astype(np.int64)
        return score, gain

    # Candidates: per category, the needs of the category against its services as one boolean matrix (age,
    # child categories and street as array masks), in row slices that keep the arrays small (numpy hands
    # large arrays back to the system, and fresh pages cost more than the arithmetic on them).
    by_need_category: dict[str, list[int]] = defaultdict(list)
    for i, n in enumerate(needs):
        by_need_category[n.category].append(i)
    position = {s.service_id: j for j, s in enumerate(services)}
    blocks: list[tuple[IntArray, IntArray, FloatArray, IntArray]] = []
    for category, everyone in by_need_category.items():
        cand = category_services.get(category)
        if cand is None:
            continue
        column = {int(j): k for k, j in enumerate(cand.tolist())}
        step = max(1, BLOCK // len(cand))
        for start in range(0, len(everyone), step):
            members = everyone[start : start + step]
            rows = np.array(members, dtype=np.int64)
            age = need_age[rows][:, None]
            kids = svc_kids[cand][None, :]
            ok = (age_min[cand][None, :] <= age) & (age <= age_max[cand][None, :])
            ok &= (kids == 0) | ((kids & need_kids[rows][:, None]) != 0)
            ok &= wide[cand][None, :] | reaches[cand][:, need_street[rows]].T
            # Services that declined the child before.
            for row in np.flatnonzero(declined[rows]).tolist():
                for sid in needs[members[row]].declined_services:
                    col = column.get(position.get(sid, -1))
                    if col is not None:
                        ok[row, col] = False
            at_row, at_col = np.nonzero(ok)
            block_need, block_svc = rows[at_row], cand[at_col]
            blocks.append((block_need, block_svc, *score_block(block_need, block_svc)))
    if not blocks:
        return Pairs(empty, empty, np.zeros(0), empty)
    # Each block is in (need, service) order and a need is in one block: its pairs go to the need's place.
    counts = np.zeros(len(needs), dtype=np.int64)
    for block_need, *_ in blocks:
        counts += np.bincount(block_need, minlength=len(needs))
    offset = np.concatenate([[0], np.cumsum(counts)[:-1]])
    total_pairs = int(counts.sum())
    out = Pairs(
        np.empty(total_pairs, dtype=np.int64),
        np.empty(total_pairs, dtype=np.int64),
        np.empty(total_pairs, dtype=np.float64),
        np.empty(total_pairs, dtype=np.int64),
    )
    for block_need, block_svc, block_score, block_gain in blocks:
        first = np.searchsorted(block_need, block_need)  # where the need's run starts in the block
        dest = offset[block_need] + np.arange(len(block_need)) - first
        out.need[dest] = block_need
        out.service[dest] = block_svc
        out.score[dest] = block_score
        out.gain[dest] = block_gain
    return out


def _round6(values: FloatArray) -> FloatArray:
    """Python's ``round(x, 6)`` over an array of non-negative floats, exactly: the product x·10⁶ is carried as
    a float and its exact error (Dekker's two-product), so the half-way cases round to even as Python does
    where numpy's own rounding (scale, rint, unscale) would round the inexact product."""
    product = values * 1e6
    high = values * 134217729.0  # 2**27 + 1: split values into two halves of 26 bits
    high = high - (high - values)
    low = values - high
    error = (high * 1e6 - product) + low * 1e6  # product + error == values * 10**6 exactly
    whole = np.floor(product)
    beyond = (product - whole) - 0.5  # the exact fraction beyond one half is beyond + error
    up = (beyond > -error) | ((beyond == -error) & (np.fmod(whole, 2.0) == 1.0))
    rounded: FloatArray = (whole + up) / 1e6
    return rounded
