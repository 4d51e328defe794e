"""Benchmark: reconcile 1,000,000 ledger records against 1,000,000 settlement records, in process.

Compares the hash-join core (marketplace.funds.reconciliation.reconcile, whose loops all run in C) with two
baselines on the same data: the same hash join written as a per-record Python loop over dicts
(_reconcile_general, also the path for repeated ids) and a textbook sort-merge (reconcile_naive). 0.1% of each
kind of difference is planted and must be found exactly. Prints medians.

    .venv/bin/python tests/benchmarks/bench_reconciliation.py [--n 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Callable

from marketplace.funds.reconciliation import Outcome, Record, _reconcile_general, reconcile, reconcile_naive


def make_data(n: int, seed: int = 2026) -> tuple[list[Record], list[Record], dict[str, int]]:
    rng = random.Random(seed)
    ours: list[Record] = []
    theirs: list[Record] = []
    planted = {"missing_here": 0, "missing_there": 0, "amount_differs": 0, "status_differs": 0}
    for i in range(n):
        key = f"ch_{i:012d}"
        amount = rng.randrange(100, 5_000_000)
        roll = rng.random()
        if roll < 0.001:
            ours.append(Record(key, amount, "succeeded", i))
            theirs.append(Record(f"ch_x{i:011d}", amount, "succeeded"))
            planted["missing_there"] += 1
            planted["missing_here"] += 1
        elif roll < 0.002:
            ours.append(Record(key, amount, "succeeded", i))
            theirs.append(Record(key, amount + 1, "succeeded"))
            planted["amount_differs"] += 1
        elif roll < 0.003:
            ours.append(Record(key, amount, "failed", i))
            theirs.append(Record(key, amount, "succeeded"))
            planted["status_differs"] += 1
        else:
            ours.append(Record(key, amount, "succeeded", i))
            theirs.append(Record(key, amount, "succeeded"))
    rng.shuffle(ours)  # neither side arrives in id order
    rng.shuffle(theirs)
    return ours, theirs, planted


def timed(fn: Callable[[], Outcome], runs: int) -> tuple[list[float], Outcome]:
    times: list[float] = []
    out: Outcome | None = None
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    assert out is not None
    return times, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--naive-runs", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    ours, theirs, planted = make_data(args.n)
    print(f"generated {len(ours):,} x {len(theirs):,} records in {time.perf_counter() - t0:.1f} s; planted {planted}")

    fast_times, fast = timed(lambda: reconcile(ours, theirs), args.runs)
    loop_times, loop = timed(lambda: _reconcile_general(ours, theirs), args.naive_runs)
    naive_times, naive = timed(lambda: reconcile_naive(ours, theirs), args.naive_runs)
    assert fast == naive == loop, "the implementations disagree"
    found = {k: sum(1 for d in fast.differences if d.kind == k) for k in planted}
    assert found == planted, (found, planted)

    rows = [
        ("hash join, C loops (reconcile)", fast_times),
        ("hash join, Python loop (baseline)", loop_times),
        ("sort-merge, Python loop (baseline)", naive_times),
    ]
    print()
    print(f"{'implementation':<40} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7} {'records/s':>12}")
    for name, times in rows:
        med = statistics.median(times)
        print(
            f"{name:<40} {len(times):>4} {med:>9.3f} {min(times):>7.3f} {max(times):>7.3f} {2 * args.n / med:>12,.0f}"
        )
    fast_med = statistics.median(fast_times)
    for name, times in rows[1:]:
        print(f"speed-up vs {name.split(' (')[0]}: {statistics.median(times) / fast_med:.2f}x")
    print(f"matched {fast.matched:,}; differences {len(fast.differences):,} = planted {sum(planted.values()):,}")
    target = 3.0
    verdict = "meets" if fast_med <= target else "MISSES"
    print(f"target <= {target:.1f} s for {args.n:,} x {args.n:,}: {verdict}")


if __name__ == "__main__":
    main()
