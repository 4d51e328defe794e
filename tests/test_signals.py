"""Signals between the processes of a deployment (marketplace.signals): a file whose identity changes with every
committed change to what it watches, and per-process caches emptied by it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from marketplace import signals


def test_every_change_gives_a_new_identity_even_within_one_clock_tick(tmp_path: Path) -> None:
    path = signals.signal_path(tmp_path, "pool")
    assert signals.stamp(path) is None
    seen = set()
    for _ in range(200):
        signals.bump(path)
        seen.add(signals.stamp(path))
    assert len(seen) == 200
    assert os.listdir(tmp_path) == [path.name]  # no temporary files left


def test_a_grown_file_is_replaced_and_still_never_repeats_an_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signals, "ROLLOVER", 3)
    path = signals.signal_path(tmp_path, "pool")
    seen = []
    for _ in range(20):
        signals.bump(path)
        seen.append(signals.stamp(path))
    assert len(set(seen)) == 20
    assert path.stat().st_size <= 3
    assert os.listdir(tmp_path) == [path.name]


async def test_a_cache_is_emptied_by_its_signal_and_keeps_nothing_read_across_a_change(tmp_path: Path) -> None:
    cache: signals.SignalCache[str, int] = signals.SignalCache(tmp_path, "pool", ttl=60, max_entries=10)
    calls: list[str] = []

    async def compute() -> int:
        calls.append("x")
        return len(calls)

    assert await signals.cached(cache, "k", compute) == 1
    assert await signals.cached(cache, "k", compute) == 1  # kept
    signals.bump(cache.path)
    assert await signals.cached(cache, "k", compute) == 2  # the signal emptied it

    async def changed_meanwhile() -> int:
        signals.bump(cache.path)  # another process commits while this one reads
        return 99

    assert await signals.cached(cache, "other", changed_meanwhile) == 99
    assert cache.get("other") is None  # not kept: it may predate the change
    assert await signals.cached(cache, "k", compute) == 3  # that change emptied the cache too
    # Another signal of the same directory does not touch this cache.
    signals.bump(signals.signal_path(tmp_path, "accounts"))
    cache.fresh()
    assert cache.get("k") == 3


def test_entries_expire_and_the_map_is_bounded(tmp_path: Path) -> None:
    cache: signals.SignalCache[int, int] = signals.SignalCache(tmp_path, "pool", ttl=0.05, max_entries=3)
    seen = cache.fresh()
    for i in range(3):
        cache.put(i, i, seen)
    assert len(cache) == 3 and cache.get(2) == 2
    cache.put(3, 3, seen)  # over the bound: the map starts again
    assert len(cache) == 1 and cache.get(0) is None and cache.get(3) == 3
    time.sleep(0.06)
    assert cache.get(3) is None
