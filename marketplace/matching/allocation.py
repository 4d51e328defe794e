"""Batch allocation as a min-cost flow: the exact optimum of total urgency-weighted score under capacity.

Network: source → need (capacity 1) → service (capacity 1, cost = M − gain) → sink (capacity = places left),
and need → sink directly at cost M (the need stays unassigned). Every need sends one unit, so the total cost
is n·M − Σ gains of the assignments made, and the minimum cost is the maximum total gain. Gains are
positive integers (scores scaled), which keeps the solver exact.

At district scale a need has a hundred eligible services or more, and the flow over every pair takes the
solver seconds. Most pairs cannot matter: a need goes to one of its best services or to none. So the flow is
solved first over each need's best ``TOP`` pairs, and the answer is then proved optimal for *all* pairs by LP
duality: prices ``v`` on the services (zero where places are left) and ``u`` on the needs (zero where
unassigned) with ``u[n] + v[s] ≥ gain[n, s]`` on every pair and equality on the assigned ones certify that no
allocation of any pairs gains more (the transportation polytope is integral). The prices are the least ones
the assignment implies, found as longest paths over the services (``_prices``). When no such prices exist
(a pair left out would have paid), the flow is solved again with more pairs per need, up to all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow

IntArray = npt.NDArray[np.int64]

# Pairs per need in the first solve (doubled while the optimality proof fails).
TOP = 12
# Rounds of price relaxation before the proof gives up (a longer chain means pairs left out are needed).
PRICE_ROUNDS = 200


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
    pairs_solved: int  # pairs in the last flow solved (all of them when no subset could be proved)


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
    n_needs: int, need: IntArray, service: IntArray, gain: IntArray, capacity: IntArray, *, top: int = TOP
) -> PairAllocation:
    """The optimal allocation over pairs sorted by need then service (see the module's note)."""
    none = np.full(n_needs, -1, dtype=np.int64)
    usable = capacity[service] > 0 if len(service) else np.zeros(0, dtype=np.bool_)
    need, service, gain = need[usable], service[usable], gain[usable]
    if n_needs == 0 or len(need) == 0:
        return PairAllocation(none, 0, True, 0)
    # Rank of each pair among its need's pairs, best gain first (ties: service order).
    order = np.lexsort((service, -gain, need))
    starts = np.searchsorted(need[order], np.arange(n_needs))
    rank = np.empty(len(need), dtype=np.int64)
    rank[order] = np.arange(len(need)) - starts[need[order]]
    degree = int(rank.max()) + 1
    while True:
        keep = rank < top if top < degree else np.ones(len(need), dtype=np.bool_)
        service_of = _solve(n_needs, need[keep], service[keep], gain[keep], capacity)
        solved = int(keep.sum())
        total = int(gain[keep][service_of[need[keep]] == service[keep]].sum())
        if top >= degree or _proved(service_of, need, service, gain, capacity):
            return PairAllocation(service_of, total, True, solved)
        top *= 2


def _solve(n_needs: int, need: IntArray, service: IntArray, gain: IntArray, capacity: IntArray) -> IntArray:
    n_svc = len(capacity)
    source, sink = 0, 1 + n_needs + n_svc
    big = int(gain.max()) + 1
    needs = np.arange(n_needs, dtype=np.int64)
    svcs = np.arange(n_svc, dtype=np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([np.zeros(n_needs, dtype=np.int64), 1 + needs]),
        np.concatenate([1 + needs, np.full(n_needs, sink, dtype=np.int64)]),
        np.ones(2 * n_needs, dtype=np.int64),
        np.concatenate([np.zeros(n_needs, dtype=np.int64), np.full(n_needs, big, dtype=np.int64)]),
    )
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        1 + need, 1 + n_needs + service, np.ones(len(need), dtype=np.int64), big - gain
    )
    flow.add_arcs_with_capacity_and_unit_cost(
        1 + n_needs + svcs,
        np.full(n_svc, sink, dtype=np.int64),
        np.minimum(capacity, n_needs),
        np.zeros(n_svc, dtype=np.int64),
    )
    flow.set_node_supply(source, n_needs)
    flow.set_node_supply(sink, -n_needs)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    used = flow.flows(arcs) > 0
    service_of = np.full(n_needs, -1, dtype=np.int64)
    service_of[need[used]] = service[used]
    return service_of


def _proved(service_of: IntArray, need: IntArray, service: IntArray, gain: IntArray, capacity: IntArray) -> bool:
    """Whether the assignment is optimal over all the pairs given: dual prices exist (the module's note)."""
    prices = _prices(service_of, need, service, gain, len(capacity))
    if prices is None:
        return False
    assigned = service_of >= 0
    load = np.bincount(service_of[assigned], minlength=len(capacity))
    full = load >= np.minimum(capacity, len(service_of))
    if np.any((prices > 0) & ~full):
        return False  # a place left unused would have paid
    mine = service_of[need] == service
    return bool(np.all(gain[mine] - prices[service[mine]] >= 0))  # no need is better off unassigned


def _prices(
    service_of: IntArray, need: IntArray, service: IntArray, gain: IntArray, n_svc: int
) -> npt.NDArray[np.int64] | None:
    """The least service prices with ``u[n] + v[s] ≥ gain`` on every pair, where ``u[n]`` is what need n keeps
    of its assigned pair (``gain − v``) or 0 when unassigned: a longest-path relaxation over the services,
    None when it does not settle (a positive cycle: the assignment is not optimal)."""
    at = service_of[need]
    free = at < 0
    floor = np.zeros(n_svc, dtype=np.int64)  # unassigned needs: v[s] ≥ gain
    np.maximum.at(floor, service[free], gain[free])
    other = ~free & (at != service)
    # Assigned needs: v[s] ≥ gain[n, s] − (gain[n, a] − v[a]) = v[a] + (gain[n, s] − gain[n, a]).
    mine = at == service
    kept = np.zeros(len(service_of), dtype=np.int64)
    kept[need[mine]] = gain[mine]
    src = at[other]
    dst = service[other]
    step = gain[other] - kept[need[other]]
    by_dst = np.argsort(dst, kind="stable")
    src, dst, step = src[by_dst], dst[by_dst], step[by_dst]
    heads, first = np.unique(dst, return_index=True)
    prices = floor.copy()
    for _ in range(PRICE_ROUNDS):
        if len(dst) == 0:
            return prices
        best = np.maximum.reduceat(prices[src] + step, first)
        updated = prices.copy()
        updated[heads] = np.maximum(updated[heads], best)
        if np.array_equal(updated, prices):
            return prices
        prices = updated
    return None


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
    return PairAllocation(np.array(service_of, dtype=np.int64), total, False, len(need))
