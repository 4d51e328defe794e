"""Batch allocation as a min-cost flow: the exact optimum of total urgency-weighted score under capacity.

Network: need (one unit of supply) → service (capacity 1, cost = M − gain) → sink (capacity = places left),
and need → sink directly at cost M (the need stays unassigned). Every need sends its unit, so the total cost
is n·M − Σ gains of the assignments made, and the minimum cost is the maximum total gain. Gains are
positive integers (scores scaled), which keeps the solver exact.

The arcs go to the solver as arrays (one call per kind of arc), and only needs with an eligible pair are
nodes: at district scale (100,000 needs, millions of pairs) building the network pair by pair in Python cost
more than solving it. Past ``PRUNE_ABOVE`` pairs the flow is solved on the pairs that may matter and then proved
optimal over every pair (node potentials checked against each pruned pair; failures added and solved again): the
same optimum, a smaller network (see "large problems" below).
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
    n_needs: int,
    need: IntArray,
    service: IntArray,
    gain: IntArray,
    capacity: IntArray,
    *,
    prune_above: int | None = None,
) -> PairAllocation:
    """The optimal allocation over pairs sorted by need then service (see the module's note). More than
    ``prune_above`` pairs (default ``PRUNE_ABOVE``) are solved on a pruned network and proved optimal over every
    pair (``_solve_certified``)."""
    service_of = np.full(n_needs, -1, dtype=np.int64)
    if len(need):
        usable = capacity[service] > 0
        if not usable.all():
            need, service, gain = need[usable], service[usable], gain[usable]
    if n_needs == 0 or len(need) == 0:
        return PairAllocation(service_of, 0, True)
    if len(need) > (PRUNE_ABOVE if prune_above is None else prune_above):
        service_of = _solve_certified(n_needs, need, service, gain, capacity)
        total = int(gain[service_of[need] == service].sum())
        return PairAllocation(service_of, total, True)
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


# ---------------------------------------------------------------- large problems: prune, solve, prove, repeat
#
# At district scale (100,000 needs, 5,000 services, millions of pairs) most needs stay unassigned (there are far
# fewer places than needs) and most pairs cannot be part of an optimum. So the flow is solved on the pairs that
# may matter: for each service, the pairs in the gain buckets that hold its best KEEP_FACTOR x places + KEEP_EXTRA
# needs (ties at the threshold all kept). Needs whose pairs are identical (the same services at the same gains)
# are one node with their count as supply: interchangeable, so the flow gives each some of them in need order.
# Then the proof: node potentials (shortest distances in the residual network of that optimum, Bellman-Ford over
# arrays) give every residual arc a non-negative reduced cost; a flow is optimal when some potentials do that for
# every arc of the FULL network. The pruned pairs are the only arcs the pruned network lacks, so each is checked:
# unassigned need n -> service s at cost big - gain must satisfy d(s) <= d(n) + big - gain. Pairs that fail are
# added and the flow solved again, until none fails: the answer is optimal over every pair, not approximately.

# More pairs than this: the certified pruned solve (below, the flow over every pair is faster).
PRUNE_ABOVE = 1_000_000
GAIN_BUCKETS = 512
KEEP_FACTOR = 3
KEEP_EXTRA = 10
# Solves of the pruned network before giving up on pruning (each repair adds the pairs the proof rejected).
MAX_ROUNDS = 4
# Row identities of needs are hashed with these fixed multipliers (then checked pair by pair).
_HASH_SEED = 20261202


def _prune(service: IntArray, gain: IntArray, capacity: IntArray) -> npt.NDArray[np.bool_]:
    """The pairs kept: per service, those of the gain buckets that hold its best KEEP_FACTOR x places +
    KEEP_EXTRA needs (every pair of the threshold bucket included)."""
    n_svc = len(capacity)
    lo, hi = int(gain.min()), int(gain.max())
    bucket = ((gain - lo) * (GAIN_BUCKETS - 1)) // max(1, hi - lo)
    counts = np.bincount(service * GAIN_BUCKETS + bucket, minlength=n_svc * GAIN_BUCKETS).reshape(n_svc, GAIN_BUCKETS)
    at_least = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]  # pairs of the service in this bucket or above
    enough = at_least >= (KEEP_FACTOR * capacity + KEEP_EXTRA)[:, None]
    highest = GAIN_BUCKETS - 1 - np.argmax(enough[:, ::-1], axis=1)
    threshold = np.where(enough.any(axis=1), highest, 0)
    kept: npt.NDArray[np.bool_] = bucket >= threshold[service]
    return kept


@dataclass(frozen=True)
class _Classes:
    """Needs with identical pairs as one node: ``rows`` are the needs (sorted), ``of_row`` their class, ``count``
    each class's size, ``arc`` the pair positions of each class's representative, in class order."""

    rows: IntArray
    of_row: IntArray
    count: IntArray
    arc: IntArray


def _classes(need: IntArray, service: IntArray, gain: IntArray) -> _Classes:
    starts = np.flatnonzero(np.concatenate([[True], need[1:] != need[:-1]]))
    degree = np.diff(np.concatenate([starts, [len(need)]]))
    rows = need[starts]
    multiplier = np.random.default_rng(_HASH_SEED).integers(1, 2**61, size=int(service.max()) + 1, dtype=np.int64)
    with np.errstate(over="ignore"):
        signature = np.add.reduceat(multiplier[service] * (gain * 2654435761 + 1), starts)
    _, first, of_row, count = np.unique(signature, return_index=True, return_inverse=True, return_counts=True)
    of_row = of_row.reshape(-1)
    # Equal signatures must be equal rows: checked pair by pair; any difference and no needs are merged.
    row_of_arc = np.repeat(np.arange(len(rows)), degree)
    rep = first[of_row]
    same = bool((degree == degree[rep]).all())
    if same:
        where = np.arange(len(need)) - starts[row_of_arc] + starts[rep[row_of_arc]]
        same = bool((service[where] == service).all() and (gain[where] == gain).all())
    if not same:  # pragma: no cover - a 61-bit hash collision
        first, of_row, count = np.arange(len(rows)), np.arange(len(rows)), np.ones(len(rows), dtype=np.int64)
    rep_degree = degree[first]
    offsets = np.cumsum(rep_degree) - rep_degree
    arc = np.arange(int(rep_degree.sum())) - np.repeat(offsets, rep_degree) + np.repeat(starts[first], rep_degree)
    return _Classes(rows, of_row.astype(np.int64), count.astype(np.int64), arc)


def _distances(tail: IntArray, head: IntArray, cost: IntArray, n_nodes: int) -> IntArray:
    """Shortest distances from a virtual root joined to every node at cost 0 (Bellman-Ford over arrays)."""
    order = np.argsort(head, kind="stable")
    tail, head, cost = tail[order], head[order], cost[order]
    heads, starts = np.unique(head, return_index=True)
    dist = np.zeros(n_nodes, dtype=np.int64)
    for _ in range(n_nodes + 1):
        best = np.minimum.reduceat(dist[tail] + cost, starts)
        better = best < dist[heads]
        if not better.any():
            return dist
        dist[heads[better]] = best[better]
    raise RuntimeError("negative cycle in the residual network: the flow is not optimal")  # pragma: no cover


def _solve_certified(n_needs: int, need: IntArray, service: IntArray, gain: IntArray, capacity: IntArray) -> IntArray:
    big = int(gain.max()) + 1
    present = np.zeros(n_needs, dtype=np.bool_)
    present[need] = True
    places = np.minimum(capacity, int(present.sum()))  # as the flow over every pair has them
    kept = _prune(service, gain, capacity)
    for _ in range(MAX_ROUNDS):
        service_of, d_need, d_service = _solve_classes(n_needs, need[kept], service[kept], gain[kept], places, big)
        failing = (d_need[need] + (big - gain) < d_service[service]) & ~kept
        if not failing.any():
            return service_of
        kept |= failing
    # Pruning did not pay on this problem: the flow over every pair, as for smaller problems.
    starts = np.concatenate([[True], need[1:] != need[:-1]])
    service_of = np.full(n_needs, -1, dtype=np.int64)
    service_of[need[starts]] = _solve(int(starts.sum()), np.cumsum(starts) - 1, service, gain, capacity)
    return service_of


def _solve_classes(
    n_needs: int, need: IntArray, service: IntArray, gain: IntArray, places: IntArray, big: int
) -> tuple[IntArray, IntArray, IntArray]:
    """The flow over the kept pairs with identical needs merged: each need's service (or -1), and the potentials
    of the optimum (per need, per service) for the proof."""
    cls = _classes(need, service, gain)
    k, n_svc = len(cls.count), len(places)
    sink = k + n_svc
    arc_class = cls.of_row[np.searchsorted(cls.rows, need[cls.arc])]
    arc_service, arc_gain = service[cls.arc], gain[cls.arc]
    flow = min_cost_flow.SimpleMinCostFlow()
    classes = np.arange(k, dtype=np.int64)
    unassigned = flow.add_arcs_with_capacity_and_unit_cost(classes, np.full(k, sink), cls.count, np.full(k, big))
    pairs = flow.add_arcs_with_capacity_and_unit_cost(arc_class, k + arc_service, cls.count[arc_class], big - arc_gain)
    to_sink = flow.add_arcs_with_capacity_and_unit_cost(
        k + np.arange(n_svc, dtype=np.int64), np.full(n_svc, sink), places, np.zeros(n_svc, dtype=np.int64)
    )
    flow.set_nodes_supplies(classes, cls.count)
    flow.set_node_supply(sink, -int(cls.count.sum()))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    f_pair, f_free, f_sink = flow.flows(pairs), flow.flows(unassigned), flow.flows(to_sink)

    # Each class's members, in need order, take its services in service order.
    service_of = np.full(n_needs, -1, dtype=np.int64)
    given = np.repeat(arc_service, f_pair)  # grouped by class (arcs are in class order)
    taken = np.bincount(arc_class, weights=f_pair, minlength=k).astype(np.int64)
    member = np.argsort(cls.of_row, kind="stable")  # rows by class, then need
    member_class = cls.of_row[member]
    rank = np.arange(len(member)) - np.searchsorted(member_class, member_class)
    gets = rank < taken[member_class]
    first_given = np.cumsum(taken) - taken
    service_of[cls.rows[member[gets]]] = given[first_given[member_class[gets]] + rank[gets]]

    # The potentials: shortest distances in the residual network of this optimum.
    svc_nodes = k + np.arange(n_svc, dtype=np.int64)
    fwd, back = f_pair < cls.count[arc_class], f_pair > 0
    free_fwd, free_back = f_free < cls.count, f_free > 0
    sink_fwd, sink_back = f_sink < places, f_sink > 0
    tail = np.concatenate(
        [
            arc_class[fwd],
            k + arc_service[back],
            classes[free_fwd],
            np.full(int(free_back.sum()), sink),
            svc_nodes[sink_fwd],
            np.full(int(sink_back.sum()), sink),
        ]
    )
    head = np.concatenate(
        [
            k + arc_service[fwd],
            arc_class[back],
            np.full(int(free_fwd.sum()), sink),
            classes[free_back],
            np.full(int(sink_fwd.sum()), sink),
            svc_nodes[sink_back],
        ]
    )
    cost = np.concatenate(
        [
            big - arc_gain[fwd],
            arc_gain[back] - big,
            np.full(int(free_fwd.sum()), big),
            np.full(int(free_back.sum()), -big),
            np.zeros(int(sink_fwd.sum()), dtype=np.int64),
            np.zeros(int(sink_back.sum()), dtype=np.int64),
        ]
    ).astype(np.int64)
    dist = _distances(tail, head, cost, k + n_svc + 1)
    # A need outside the kept pairs sends its unit straight to the sink: its potential d(sink) - big.
    d_need = np.full(n_needs, dist[sink] - big, dtype=np.int64)
    d_need[cls.rows] = dist[cls.of_row]
    return service_of, d_need, dist[k : k + n_svc]


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
