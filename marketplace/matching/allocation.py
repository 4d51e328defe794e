"""Batch allocation as a min-cost flow: the exact optimum of total urgency-weighted score under capacity.

Network: need (one unit of supply) → service (capacity 1, cost = M − gain) → sink (capacity = places left),
and need → sink directly at cost M (the need stays unassigned). Every need sends its unit, so the total cost
is n·M − Σ gains of the assignments made, and the minimum cost is the maximum total gain. Gains are
positive integers (scores scaled), which keeps the solver exact.

The arcs go to the solver as arrays (one call per kind of arc), and only needs with an eligible pair are
nodes: at district scale (100,000 needs, millions of pairs) building the network pair by pair in Python cost
more than solving it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Allocation:
    assignments: dict[int, int]  # need id -> service id
    total_gain: int
    optimal: bool


@dataclass(frozen=True)
class PairAllocation:
    """The allocation over pair arrays: ``service_of[n]`` is the service position given to need n, or -1."""

    service_of: IntArray
    total_gain: int
    optimal: bool


def allocate(needs: Sequence[int], gains: Mapping[tuple[int, int], int], capacity: Mapping[int, int]) -> Allocation:
    """The optimal allocation of needs (ids) to services (ids) for pair gains and places left."""
    if not needs:
        return Allocation({}, 0, True)
    services = sorted({s for (_, s) in gains} | set(capacity))
    need_pos = {n: i for i, n in enumerate(needs)}
    svc_pos = {s: j for j, s in enumerate(services)}
    # Pairs in a fixed order (by need, then service): the solver is deterministic for a given arc order,
    # so the same input gives the same assignment even among equally good ones.
    pairs = sorted((need_pos[n], svc_pos[s], g) for (n, s), g in gains.items() if n in need_pos)
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 3)
    cap = np.array([max(0, capacity.get(s, 0)) for s in services], dtype=np.int64)
    result = allocate_pairs(len(needs), arr[:, 0], arr[:, 1], arr[:, 2], cap)
    assignments = {needs[i]: services[int(j)] for i, j in enumerate(result.service_of.tolist()) if j >= 0}
    return Allocation(assignments, result.total_gain, result.optimal)


def allocate_pairs(
    n_needs: int, need: IntArray, service: IntArray, gain: IntArray, capacity: IntArray
) -> PairAllocation:
    """The optimal allocation over pairs sorted by need then service (see the module's note)."""
    service_of = np.full(n_needs, -1, dtype=np.int64)
    if len(need):
        usable = capacity[service] > 0
        if not usable.all():
            need, service, gain = need[usable], service[usable], gain[usable]
    if n_needs == 0 or len(need) == 0:
        return PairAllocation(service_of, 0, True)
    # Only needs with a pair are nodes: need is sorted, so its runs number them.
    starts = np.empty(len(need), dtype=np.bool_)
    starts[0] = True
    np.not_equal(need[1:], need[:-1], out=starts[1:])
    present = need[starts]
    node = np.cumsum(starts) - 1
    service_of[present] = _solve(len(present), node, service, gain, capacity)
    total = int(gain[service_of[need] == service].sum())
    return PairAllocation(service_of, total, True)


def _solve(n_needs: int, need: IntArray, service: IntArray, gain: IntArray, capacity: IntArray) -> IntArray:
    """The flow: need nodes 0..n-1 (one unit of supply each), service nodes after them, then the sink."""
    n_svc = len(capacity)
    sink = n_needs + n_svc
    big = int(gain.max()) + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    needs = np.arange(n_needs, dtype=np.int64)
    flow.add_arcs_with_capacity_and_unit_cost(  # unassigned
        needs, np.full(n_needs, sink, dtype=np.int64), np.ones(n_needs, dtype=np.int64), np.full(n_needs, big)
    )
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        need, n_needs + service, np.ones(len(need), dtype=np.int64), big - gain
    )
    flow.add_arcs_with_capacity_and_unit_cost(
        n_needs + np.arange(n_svc, dtype=np.int64),
        np.full(n_svc, sink, dtype=np.int64),
        np.minimum(capacity, n_needs),
        np.zeros(n_svc, dtype=np.int64),
    )
    flow.set_nodes_supplies(needs, np.ones(n_needs, dtype=np.int64))
    flow.set_node_supply(sink, -n_needs)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    used = flow.flows(arcs) > 0
    service_of = np.full(n_needs, -1, dtype=np.int64)
    service_of[need[used]] = service[used]
    return service_of


def greedy(needs: Sequence[int], gains: Mapping[tuple[int, int], int], capacity: Mapping[int, int]) -> Allocation:
    """The obvious baseline: best pairs first. Kept for the benchmark's comparison, not used to allocate."""
    left = dict(capacity)
    taken: dict[int, int] = {}
    wanted = set(needs)
    for (n, s), _gain in sorted(gains.items(), key=lambda kv: (-kv[1], kv[0])):
        if n in wanted and n not in taken and left.get(s, 0) > 0:
            taken[n] = s
            left[s] -= 1
    return Allocation(taken, sum(gains[(n, s)] for n, s in taken.items()), False)


def greedy_pairs(n_needs: int, need: IntArray, service: IntArray, gain: IntArray, capacity: IntArray) -> PairAllocation:
    """``greedy`` over pair arrays (best gain first, ties by need then service)."""
    order = np.lexsort((service, need, -gain))
    left = capacity.tolist()
    service_of = [-1] * n_needs
    total = 0
    free = n_needs
    places = int(np.minimum(capacity, n_needs).sum())
    for n, s, g in zip(need[order].tolist(), service[order].tolist(), gain[order].tolist(), strict=True):
        if service_of[n] < 0 and left[s] > 0:
            service_of[n] = s
            left[s] -= 1
            total += g
            free -= 1
            places -= 1
            if not free or not places:
                break
    return PairAllocation(np.array(service_of, dtype=np.int64), total, False)
