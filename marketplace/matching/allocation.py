"""Batch allocation as a min-cost flow: the exact optimum of total urgency-weighted score under capacity.

Network: source → need (capacity 1) → service (capacity 1, cost = M − gain) → sink (capacity = places left),
and need → sink directly at cost M (the need stays unassigned). Every need sends one unit, so the total cost
is n·M − Σ gains of the assignments made, and the minimum cost is the maximum total gain. Gains are
positive integers (scores scaled), which keeps the solver exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ortools.graph.python import min_cost_flow


@dataclass(frozen=True)
class Allocation:
    assignments: dict[int, int]  # need id -> service id
    total_gain: int
    optimal: bool


def allocate(needs: Sequence[int], gains: Mapping[tuple[int, int], int], capacity: Mapping[int, int]) -> Allocation:
    if not needs:
        return Allocation({}, 0, True)
    services = sorted({s for (_, s) in gains} & {s for s, c in capacity.items() if c > 0})
    need_node = {n: 1 + i for i, n in enumerate(needs)}
    svc_node = {s: 1 + len(needs) + j for j, s in enumerate(services)}
    source, sink = 0, 1 + len(needs) + len(services)
    big = max(gains.values(), default=0) + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    for n in needs:
        flow.add_arc_with_capacity_and_unit_cost(source, need_node[n], 1, 0)
        flow.add_arc_with_capacity_and_unit_cost(need_node[n], sink, 1, big)
    # Arcs in a fixed order (by need, then service): the solver is deterministic for a given arc order,
    # so the same input gives the same assignment even among equally good ones.
    pair_arcs: list[tuple[int, int, int]] = []
    for (n, s), gain in sorted(gains.items()):
        if s not in svc_node or n not in need_node:
            continue
        arc = flow.add_arc_with_capacity_and_unit_cost(need_node[n], svc_node[s], 1, big - gain)
        pair_arcs.append((arc, n, s))
    for s in services:
        flow.add_arc_with_capacity_and_unit_cost(svc_node[s], sink, min(capacity[s], len(needs)), 0)
    flow.set_node_supply(source, len(needs))
    flow.set_node_supply(sink, -len(needs))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    assignments = {n: s for arc, n, s in pair_arcs if flow.flow(arc) > 0}
    total = sum(gains[(n, s)] for n, s in assignments.items())
    return Allocation(assignments, total, True)


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
