"""The batch allocation is optimal: the min-cost flow equals brute force on small random instances."""

from __future__ import annotations

import itertools
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.matching import allocation
from marketplace.matching.allocation import allocate, allocate_pairs, greedy


@st.composite
def instances(draw):
    n_needs = draw(st.integers(0, 6))
    n_services = draw(st.integers(1, 3))
    needs = list(range(1, n_needs + 1))
    services = list(range(101, 101 + n_services))
    gains = {}
    for n in needs:
        for s in services:
            if draw(st.booleans()):
                gains[(n, s)] = draw(st.integers(1, 40_000))
    capacity = {s: draw(st.integers(0, 3)) for s in services}
    return needs, gains, capacity


def brute_force(needs, gains, capacity) -> int:
    options = [[None] + [s for (m, s) in gains if m == n] for n in needs]
    best = 0
    for choice in itertools.product(*options):
        used: dict[int, int] = {}
        for s in choice:
            if s is not None:
                used[s] = used.get(s, 0) + 1
        if all(used[s] <= capacity.get(s, 0) for s in used):
            best = max(best, sum(gains[(n, s)] for n, s in zip(needs, choice, strict=True) if s is not None))
    return best


@settings(max_examples=150, deadline=None)
@given(instances())
def test_min_cost_flow_matches_brute_force(instance) -> None:
    needs, gains, capacity = instance
    result = allocate(needs, gains, capacity)
    assert result.optimal
    assert result.total_gain == brute_force(needs, gains, capacity)
    # The assignment itself is feasible: eligible pairs only, within capacity, one service per need.
    counts: dict[int, int] = {}
    for n, s in result.assignments.items():
        assert (n, s) in gains
        counts[s] = counts.get(s, 0) + 1
    assert all(c <= capacity[s] for s, c in counts.items())
    assert greedy(needs, gains, capacity).total_gain <= result.total_gain


def test_greedy_can_be_beaten() -> None:
    # Need 1 grabs the only place of service A greedily; the optimum gives A to need 2 which has no other option.
    gains = {(1, 10): 100, (1, 20): 90, (2, 10): 95}
    capacity = {10: 1, 20: 1}
    assert greedy([1, 2], gains, capacity).total_gain == 100
    best = allocate([1, 2], gains, capacity)
    assert best.total_gain == 185
    assert best.assignments == {1: 20, 2: 10}


def test_same_input_same_assignment() -> None:
    gains = {(n, s): 10 for n in range(1, 6) for s in (7, 8)}
    first = allocate(list(range(1, 6)), gains, {7: 2, 8: 1})
    for _ in range(5):
        assert allocate(list(range(1, 6)), gains, {7: 2, 8: 1}).assignments == first.assignments


# ---------------------------------------------------------------- the certified pruned solve (large problems)


def _arrays(needs, gains, capacity):
    services = sorted(capacity)
    pos = {s: j for j, s in enumerate(services)}
    rows = sorted((needs.index(n), pos[s], g) for (n, s), g in gains.items())
    arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
    cap = np.array([capacity[s] for s in services], dtype=np.int64)
    return arr[:, 0], arr[:, 1], arr[:, 2], cap


@st.composite
def tied_instances(draw):
    """Few gain values, so that needs repeat each other's pairs (merged into one node) and ties abound."""
    n_needs = draw(st.integers(1, 7))
    n_services = draw(st.integers(1, 3))
    needs = list(range(1, n_needs + 1))
    services = list(range(101, 101 + n_services))
    values = draw(st.lists(st.integers(1, 9), min_size=1, max_size=3))
    gains = {(n, s): draw(st.sampled_from(values)) for n in needs for s in services if draw(st.booleans())}
    capacity = {s: draw(st.integers(0, 3)) for s in services}
    return needs, gains, capacity


def _check_feasible(result, need, service, capacity) -> None:
    chosen = result.service_of[need] == service
    assert chosen.sum() == (result.service_of >= 0).sum()  # every assigned need's pair exists
    assert (np.bincount(service[chosen], minlength=len(capacity)) <= capacity).all()


@settings(max_examples=150, deadline=None)
@given(tied_instances(), st.sampled_from([(0, 1), (1, 0), (3, 10)]))
def test_the_pruned_solve_is_optimal_on_small_instances(instance, keep) -> None:
    needs, gains, capacity = instance
    if not gains:
        return
    need, service, gain, cap = _arrays(needs, gains, capacity)
    with mock.patch.object(allocation, "KEEP_FACTOR", keep[0]), mock.patch.object(allocation, "KEEP_EXTRA", keep[1]):
        pruned = allocate_pairs(len(needs), need, service, gain, cap, prune_above=0)
    assert pruned.optimal
    assert pruned.total_gain == brute_force(needs, gains, capacity)
    _check_feasible(pruned, need, service, cap)


def _random_problem(seed: int, n_needs: int, n_services: int):
    rng = np.random.default_rng(seed)
    degree = rng.integers(0, 12, size=n_needs)
    need = np.repeat(np.arange(n_needs), degree)
    service = np.concatenate([np.sort(rng.choice(n_services, size=d, replace=False)) for d in degree])
    # Gains as the batch makes them: urgency x a few scores per service, so ties are the rule.
    levels = rng.integers(3_000, 9_000, size=(n_services, 3))
    urgency = rng.integers(1, 5, size=n_needs)
    gain = urgency[need] * levels[service, rng.integers(0, 3, size=len(need))]
    capacity = rng.integers(0, 5, size=n_services)
    return need, service, gain.astype(np.int64), capacity.astype(np.int64)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("keep", [(3, 10), (1, 0), (0, 1)])
def test_the_pruned_solve_equals_the_flow_over_every_pair(seed: int, keep: tuple[int, int]) -> None:
    """Thousands of needs competing for a few hundred places: the pruned solve, proved and repaired where the
    proof fails (tight pruning forces repairs), gives the optimum of the flow over every pair."""
    need, service, gain, cap = _random_problem(seed, 3_000, 150)
    full = allocate_pairs(3_000, need, service, gain, cap, prune_above=len(need))
    rounds = []
    solve = allocation._solve_classes

    def counted(*args, **kw):
        rounds.append(1)
        return solve(*args, **kw)

    with (
        mock.patch.object(allocation, "KEEP_FACTOR", keep[0]),
        mock.patch.object(allocation, "KEEP_EXTRA", keep[1]),
        mock.patch.object(allocation, "_solve_classes", counted),
    ):
        pruned = allocate_pairs(3_000, need, service, gain, cap, prune_above=0)
    assert pruned.total_gain == full.total_gain
    _check_feasible(pruned, need, service, cap)
    if keep == (0, 1):
        assert len(rounds) > 1  # the first pruned optimum was not optimal over every pair: repaired


def test_pruning_that_does_not_pay_falls_back_to_the_flow_over_every_pair() -> None:
    need, service, gain, cap = _random_problem(5, 3_000, 150)
    full = allocate_pairs(3_000, need, service, gain, cap, prune_above=len(need))
    with (
        mock.patch.object(allocation, "KEEP_FACTOR", 0),
        mock.patch.object(allocation, "KEEP_EXTRA", 1),
        mock.patch.object(allocation, "MAX_ROUNDS", 1),
    ):
        pruned = allocate_pairs(3_000, need, service, gain, cap, prune_above=0)
    assert pruned.total_gain == full.total_gain
    assert (pruned.service_of == full.service_of).all()  # the same flow: the same assignment
