"""The batch allocation is optimal: the min-cost flow equals brute force on small random instances."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.matching.allocation import allocate, greedy


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
