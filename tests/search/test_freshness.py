"""The embedded engine's change log: several processes share one index file and every one answers from its
current state (the writers are the Celery worker and the command line, the readers the serving processes)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import search.embedded as embedded
from marketplace.indexing.documents import LABELS
from search.embedded import EmbeddedBackend
from search.port import SearchFilters, SearchQuery
from tests.search.test_contract import svc


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "search.sqlite3")


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the stored documents a backend decodes into memory (loads and catch-ups alike)."""
    seen: list[int] = []
    original = embedded._decode

    def counting(index_name: str, doc_blob: bytes, *args: Any) -> Any:
        prepared = original(index_name, doc_blob, *args)
        seen.append(prepared.id)
        return prepared

    monkeypatch.setattr(embedded, "_decode", counting)
    return seen


def backends(path: str, n: int, **kwargs: Any) -> Iterator[EmbeddedBackend]:
    for _ in range(n):
        backend = EmbeddedBackend(path, LABELS, **kwargs)
        backend.ensure_indexes()
        yield backend


def ids(backend: EmbeddedBackend, q: str = "", **filters: Any) -> list[int]:
    return backend.search("services", SearchQuery(q=q, limit=1000, filters=SearchFilters(**filters))).ids


def log_rows(path: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM search_changes").fetchone()[0])


def test_another_process_sees_only_what_changed(path: str, decoded: list[int]) -> None:
    writer, reader = backends(path, 2)
    writer.index("services", [svc(i, title=f"周末陪伴{i}") for i in range(1, 51)])
    assert ids(reader, "周末陪伴") == list(range(1, 51))  # 50 changes: applied incrementally
    assert sorted(decoded) == list(range(1, 51))
    decoded.clear()

    writer.index("services", [svc(7, title="法律援助进社区")])
    writer.delete("services", [9, 12345])
    assert ids(reader, "法律援助") == [7]
    assert decoded == [7]  # the one document rewritten is read; the delete needs no read; the rest stays
    assert 9 not in ids(reader) and len(ids(reader)) == 49
    report = reader.freshness()
    assert report["behind"] == 0
    assert report["generation"] == report["latest"] == writer.freshness()["latest"] == 53
    decoded.clear()
    assert ids(reader, "法律援助") == [7]
    assert decoded == []  # nothing committed since: the check reads nothing


def test_clear_and_writes_after_it(path: str) -> None:
    writer, reader = backends(path, 2)
    writer.index("services", [svc(i) for i in range(1, 11)])
    writer.index("organizations", [{"id": 1, "name": "春晖社工", "kind": "social_work", "street_ids": []}])
    assert len(ids(reader)) == 10
    writer.clear("services")
    writer.index("services", [svc(3), svc(42)])
    writer.delete("services", [3])
    assert ids(reader) == [42]
    assert reader.search("organizations", SearchQuery()).ids == [1]  # the other index kept


def test_each_process_sees_the_others_writes(path: str) -> None:
    a, b = backends(path, 2)
    a.index("services", [svc(1, title="心理疏导")])
    b.index("services", [svc(2, title="心理疏导")])  # b's write applies a's first, then its own
    a.index("services", [svc(1, title="课业辅导")])
    assert ids(a, "心理疏导") == ids(b, "心理疏导") == [2]
    assert ids(a, "课业辅导") == ids(b, "课业辅导") == [1]
    assert a.freshness()["generation"] == b.freshness()["generation"] == 3


def test_a_failed_batch_leaves_nothing(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    writer, reader = backends(path, 2)
    writer.index("services", [svc(1)])
    assert ids(reader) == [1]

    def broken(*args: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(writer, "_compact_log", broken)  # fails after the documents and the log rows are written
    with pytest.raises(sqlite3.OperationalError):
        writer.index("services", [svc(i) for i in range(2, 30)])
    assert ids(reader) == [1]
    assert ids(writer) == [1]
    assert reader.freshness()["latest"] == 1
    monkeypatch.undo()
    writer.index("services", [svc(2)])
    assert ids(reader) == [1, 2]


def test_compacted_log_means_a_full_reload(path: str, decoded: list[int]) -> None:
    writer, reader = backends(path, 2, log_keep=5)
    writer.index("services", [svc(i) for i in range(1, 4)])
    assert ids(reader) == [1, 2, 3]
    for i in range(4, 24):  # 20 more changes: the log is compacted down to its last 5
        writer.index("services", [svc(i)])
    assert log_rows(path) <= 10
    assert reader.freshness()["behind"] == 20
    decoded.clear()
    ids(reader)  # notices it is behind the log: reloads in the background, answering from memory meanwhile
    reader.wait_fresh()
    assert ids(reader) == list(range(1, 24))
    assert sorted(set(decoded)) == list(range(1, 24))  # every document read again
    assert reader.freshness()["behind"] == 0
    # and a reader that was never behind keeps catching up incrementally
    decoded.clear()
    writer.index("services", [svc(5, title="夏令营")])
    assert ids(reader, "夏令营") == [5]
    assert decoded == [5]


@pytest.mark.parametrize("background_limit", [1000, 50])
def test_many_changes_are_applied_off_the_request(path: str, decoded: list[int], background_limit: int) -> None:
    writer, reader = backends(path, 2, inline_limit=10, background_limit=background_limit)
    writer.index("services", [svc(1)])
    assert ids(reader) == [1]
    writer.index("services", [svc(i) for i in range(2, 200)])
    decoded.clear()
    first = ids(reader)  # the catch-up runs in a thread; this answer comes from what the reader had, or all
    assert first in ([1], list(range(1, 200)))
    reader.wait_fresh()
    assert ids(reader) == list(range(1, 200))
    if background_limit > 198:  # applied incrementally: only the changed documents were read
        assert sorted(decoded) == list(range(2, 200))
    else:  # more than a background step: a new copy of everything, swapped in
        assert sorted(decoded) == list(range(1, 200))


def test_check_interval_limits_the_checks(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(embedded, "monotonic", lambda: now[0])
    writer = next(backends(path, 1))
    (reader,) = backends(path, 1, freshness_interval=0.3)
    writer.index("services", [svc(1)])
    assert ids(reader) == [1]
    writer.index("services", [svc(2)])
    now[0] += 0.29
    assert ids(reader) == [1]  # checked less than 0.3 s ago
    now[0] += 0.02
    assert ids(reader) == [1, 2]


def test_memory_only_index_still_works() -> None:
    backend = EmbeddedBackend(":memory:", LABELS)
    backend.index("services", [svc(1), svc(2)])
    backend.delete("services", [1])
    assert ids(backend) == [2]
    assert backend.freshness()["behind"] == 0


# --- concurrent writers in other processes --------------------------------------------------------------

BATCH = 40
BATCHES = 15


def _write_batches(path: str, first_org: int) -> None:
    """A writer process: BATCHES batches of BATCH services, each batch one organization; each batch also
    rewrites the shared document 1 (both writers fight over it)."""
    backend = EmbeddedBackend(path, LABELS)
    backend.ensure_indexes()
    for b in range(BATCHES):
        org = first_org + b
        docs = [svc(org * 1000 + i, organization_id=org) for i in range(BATCH)]
        backend.index("services", [*docs, svc(1, title=f"共享文档{org}", organization_id=1)])
        if b % 5 == 4:
            backend.delete("services", [org * 1000])  # one gone again: the batch then has BATCH - 1
    backend.close()


def test_concurrent_writers_and_a_reader_never_see_half_a_batch(path: str) -> None:
    reader = next(backends(path, 1))
    reader.index("services", [svc(1, organization_id=1)])
    spawn = multiprocessing.get_context("spawn")
    writers = [spawn.Process(target=_write_batches, args=(path, first)) for first in (100, 200)]
    for w in writers:
        w.start()
    orgs = [first + b for first in (100, 200) for b in range(BATCHES)]
    seen_partial: list[tuple[int, int]] = []
    searches = 0
    errors: list[BaseException] = []

    def read() -> None:
        nonlocal searches
        try:
            while any(w.is_alive() for w in writers):
                for org in orgs:
                    total = reader.search("services", SearchQuery(filters=SearchFilters(organization_id=org))).total
                    searches += 1
                    if total not in (0, BATCH, BATCH - 1):
                        seen_partial.append((org, total))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for w in writers:
        w.join(120)
    for t in threads:
        t.join()
    assert [w.exitcode for w in writers] == [0, 0]
    assert not errors
    assert seen_partial == []
    assert searches > len(orgs)
    reader.wait_fresh()
    fresh = next(backends(path, 1))
    everything = SearchQuery(limit=1000, facets=["organization_id"])
    assert reader.search("services", everything) == fresh.search("services", everything)
    assert reader.search("services", everything).total == 1 + 2 * (BATCHES * BATCH - BATCHES // 5)
    shared = [ids(b, "共享文档") for b in (reader, fresh)]
    assert shared == [[1], [1]]
    assert reader.freshness()["behind"] == 0


def test_an_unreadable_change_log_never_fails_a_search(path: str, caplog: pytest.LogCaptureFixture) -> None:
    writer, reader = backends(path, 2)
    writer.index("services", [svc(1)])
    assert ids(reader) == [1]
    writer.index("services", [svc(2)])
    real = reader._rconn
    broken = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)  # no tables: reads fail
    reader._rconn = broken
    assert ids(reader) == [1]  # answered from memory, the failure logged
    assert "catch-up failed" in caplog.text
    reader._rconn = real
    assert ids(reader) == [1, 2]  # the next search catches up
