"""Ranking quality on the judged query set: mean precision@5 over tests/search/judged_queries.py.

precision@5 of a query = (judged-relevant ids among the first 5 hits) / min(5, number of relevant ids),
searching published services only (as directors do).
"""

from __future__ import annotations

from search.port import SearchBackend, SearchFilters, SearchQuery
from tests.search.corpus import organizations, services
from tests.search.judged_queries import JUDGED

# Measured on this corpus: embedded 0.943, FTS5 0.936 (printed by the test); floors sit just under them.
FLOORS = {"EmbeddedBackend": 0.92, "Fts5Backend": 0.92, "MeiliBackend": 0.60}


def precision_at_5(backend: SearchBackend) -> tuple[float, list[tuple[str, float, list[int]]]]:
    rows = []
    for q, relevant in JUDGED:
        top = backend.search("services", SearchQuery(q=q, limit=5, filters=SearchFilters(status="published"))).ids
        hits = len(set(top) & set(relevant))
        rows.append((q, hits / min(5, len(relevant)), top))
    return sum(p for _, p, _ in rows) / len(rows), rows


def test_judged_set_is_well_formed() -> None:
    published = {s["id"] for s in services() if s["status"] == "published"}
    assert len(JUDGED) >= 30
    assert len({q for q, _ in JUDGED}) == len(JUDGED)
    for q, relevant in JUDGED:
        assert relevant, q
        assert set(relevant) <= published, q
    categories = {c for s in services() for c in s["categories"]}
    from marketplace.resources.taxonomy import SERVICE_CATEGORIES

    assert categories == set(SERVICE_CATEGORIES)


def test_mean_precision_at_5(backend: SearchBackend) -> None:
    backend.index("services", services())
    backend.index("organizations", organizations())
    mean, rows = precision_at_5(backend)
    name = type(backend).__name__
    print(f"\n{name}: mean precision@5 over {len(rows)} judged queries = {mean:.3f}")
    for q, p, top in rows:
        if p < 1:
            print(f"  {p:.2f}  {q!r}  top5={top}")
    assert mean >= FLOORS[name], f"{name} precision@5 {mean:.3f} below floor {FLOORS[name]}"
