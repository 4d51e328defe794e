"""Embedded-backend specifics: persistence, compaction, concurrency; plus the Meilisearch request mapping."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import numpy as np

from marketplace.indexing.documents import LABELS
from search import Labels, make_backend
from search.embedded import EmbeddedBackend, _smallest, analyzer_version
from search.fts5 import Fts5Backend
from search.meili import MeiliBackend, filter_expression, index_settings, to_meili_document
from search.port import SearchBackend, SearchFilters, SearchQuery
from search.synonyms import SYNONYM_GROUPS, dictionary_words, meilisearch_synonyms
from search.text import analyzer
from tests.search.test_contract import svc


def test_make_backend(tmp_path: Path) -> None:
    embedded = make_backend(None, None, str(tmp_path / "s.sqlite3"), LABELS)
    assert isinstance(embedded, EmbeddedBackend)
    assert isinstance(embedded, SearchBackend)
    assert embedded.labels is LABELS
    meili = make_backend("http://127.0.0.1:1", "key", str(tmp_path / "s.sqlite3"), LABELS)
    assert isinstance(meili, MeiliBackend)
    assert meili.labels is LABELS
    assert meili.health().startswith("unavailable: ")


def test_labels_are_passed_in(tmp_path: Path) -> None:
    """search/ knows no taxonomy: codes are searchable by label only with the labels the caller passes."""
    labels = Labels(child_categories={"orphan": "孤儿"}, organization_kinds={"charity": "慈善组织"})
    doc = svc(1, title="周末陪伴", child_categories=["orphan"])
    org = {"id": 1, "name": "护苗基金会", "kind": "charity", "street_ids": [], "status": "approved"}
    for make in (EmbeddedBackend, Fts5Backend):
        bare = make(str(tmp_path / f"bare-{make.__name__}.sqlite3"))
        labelled = make(str(tmp_path / f"labelled-{make.__name__}.sqlite3"), labels)
        for backend in (bare, labelled):
            backend.index("services", [doc])
            backend.index("organizations", [org])
        assert bare.search("services", SearchQuery(q="孤儿")).ids == [], make
        assert labelled.search("services", SearchQuery(q="孤儿")).ids == [1], make
        assert bare.search("organizations", SearchQuery(q="慈善组织")).ids == [], make
        assert labelled.search("organizations", SearchQuery(q="慈善组织")).ids == [1], make
    bare_doc = to_meili_document("services", doc, Labels())
    assert bare_doc["child_category_labels"] == ["orphan"]
    assert to_meili_document("organizations", org, labels)["kind_label"] == "慈善组织"
    # new labels join the segmenter's dictionary, so terms stored under other labels are recomputed
    assert analyzer_version(analyzer(labels.all())) != analyzer_version(analyzer())


def test_survives_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "search.sqlite3")
    first = EmbeddedBackend(path, LABELS)
    first.index("services", [svc(1, title="儿童心理疏导"), svc(2, title="法律援助")])
    first.delete("services", [2])
    first.close()
    second = EmbeddedBackend(path, LABELS)
    assert second.search("services", SearchQuery(q="心理辅导")).ids == [1]
    assert second.search("services", SearchQuery()).total == 1


def test_stale_analyzer_resegments_on_load(tmp_path: Path) -> None:
    path = str(tmp_path / "search.sqlite3")
    first = EmbeddedBackend(path, LABELS)
    first.index("services", [svc(1, title="儿童心理疏导")])
    first._conn.execute("UPDATE search_meta SET value = 'old'")
    first._conn.execute("UPDATE search_documents SET terms = '{}'")
    first.close()
    second = EmbeddedBackend(path, LABELS)
    assert second.search("services", SearchQuery(q="心理疏导")).ids == [1]


def test_compaction_keeps_results(tmp_path: Path) -> None:
    backend = EmbeddedBackend(":memory:", LABELS)
    assert backend.count("services") == 0  # memory loaded: the writes below apply to it one by one
    docs = [svc(i, title=f"心理疏导{i}", street_ids=[i % 3], categories=["psych_counselling"]) for i in range(1, 1601)]
    backend.index("services", docs)
    backend.index("services", docs[:1500])  # 1,500 dead slots out of 3,100: compacts
    index = backend._state.indexes["services"]
    assert index.n == index.live == 1600
    result = backend.search("services", SearchQuery(q="心理疏导", facets=["street_ids"], limit=1000))
    assert result.total == 1600
    assert sorted(result.ids)[:3] == [1, 2, 3]
    assert result.facets["street_ids"] == {"0": 533, "1": 534, "2": 533}
    assert backend.search("services", SearchQuery(filters=SearchFilters(street_id=2))).total == 533


def test_concurrent_readers_and_writer() -> None:
    backend = EmbeddedBackend(":memory:", LABELS)
    backend.index("services", [svc(i, title="留守儿童周末陪伴") for i in range(1, 201)])
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(200):
                result = backend.search("services", SearchQuery(q="留守 周末", facets=["categories"]))
                assert result.total >= 200
        except BaseException as exc:
            errors.append(exc)

    def write() -> None:
        try:
            for i in range(201, 401):
                backend.index("services", [svc(i, title="留守儿童课业辅导")])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)] + [threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert backend.search("services", SearchQuery(q="留守")).total == 400


def test_dictionary_keeps_domain_words_whole() -> None:
    assert len(SYNONYM_GROUPS) >= 25
    words = set(dictionary_words(LABELS.all()))
    assert {"心理疏导", "送教上门", "事实无人抚养儿童", "监护缺失", "香蜜湖"} <= words
    tokens = analyzer(LABELS.all()).index_tokens("开展送教上门和心理疏导服务")
    assert "送教上门" in tokens
    assert "心理疏导" in tokens


def test_meili_mapping() -> None:
    query = SearchQuery(
        filters=SearchFilters(
            categories=["legal_aid", "medical_aid"],
            street_id=3,
            age=7,
            status=["published"],
            organization_id=5,
            available=True,
        )
    )
    assert filter_expression("services", query) == [
        'categories IN ["legal_aid", "medical_aid"]',
        "(street_ids = 3 OR district_wide = true)",
        'status IN ["published"]',
        "age_min <= 7 AND age_max >= 7",
        "organization_id = 5",
        "capacity_left > 0",
    ]
    doc = to_meili_document("services", svc(1, street_ids=[], assured_on=None, child_categories=["orphan"]), LABELS)
    assert doc["district_wide"] is True
    assert "assured_on_days" not in doc
    assert doc["child_category_labels"] == ["孤儿"]
    settings = index_settings("services")
    assert settings["localizedAttributes"] == [{"attributePatterns": ["*"], "locales": ["cmn"]}]
    assert "district_wide" in settings["filterableAttributes"]
    assert "心理疏导" in meilisearch_synonyms()["心理辅导"]


def _random_services(rng: random.Random, ids: range) -> list[dict[str, Any]]:
    titles = ["留守儿童周末陪伴", "心理疏导小组", "法律援助咨询", "困境儿童助学", "康复训练上门", "亲子沟通课堂"]
    cats = ["targeted_assistance", "legal_aid", "medical_aid", "psych_counselling"]
    return [
        svc(
            i,
            title=rng.choice(titles) + str(i),
            description="为辖区儿童提供服务" if rng.random() < 0.5 else "开展心理辅导",
            categories=rng.sample(cats, rng.choice([1, 2])),
            street_ids=[] if rng.random() < 0.2 else rng.sample(range(1, 6), rng.choice([1, 2])),
            status=rng.choice(["published", "published", "paused"]),
            age_min=rng.choice([0, 6, 12]),
            capacity_left=rng.choice([0, 3]),
        )
        for i in ids
    ]


def test_results_and_facets_follow_writes() -> None:
    """Filter masks, per-term weights, sort keys and facet totals are cached between writes: every write
    must be visible to the next search (rare terms and terms in most documents, small and large results)."""
    rng = random.Random(5)
    backend = EmbeddedBackend(":memory:", LABELS)
    docs = {d["id"]: d for d in _random_services(rng, range(1, 1201))}
    backend.index("services", list(docs.values()))
    for step in range(4):
        fresh = EmbeddedBackend(":memory:", LABELS)
        fresh.index("services", list(docs.values()))
        for word, street in [("儿童", None), ("儿童", 3), ("心理", 2), ("法律援助", None), ("", None), ("", 4)]:
            query = SearchQuery(
                q=word,
                filters=SearchFilters(status="published", street_id=street),
                facets=["categories"],
                sort="cost_per_case_fen:asc" if step % 2 else "relevance",
                limit=1000,
            )
            result = backend.search("services", query)
            expected = fresh.search("services", query)  # same documents, never written over, no caches
            assert result.total == expected.total > 0, (step, word, street)
            assert set(result.ids) == set(expected.ids)
            assert result.facets == expected.facets
            if query.sort != "relevance":
                assert result.ids == expected.ids
            elif word:
                scores = [h.score for h in result.hits]
                assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
        # replace some, delete some (compaction kicks in on the way), add new ones
        changed = _random_services(rng, range(1, 300))
        docs.update({d["id"]: d for d in changed})
        backend.index("services", changed)
        gone = rng.sample(sorted(docs), 100)
        backend.delete("services", gone)
        for i in gone:
            del docs[i]
        new = _random_services(rng, range(901 + 50 * step, 951 + 50 * step))
        docs.update({d["id"]: d for d in new})
        backend.index("services", new)


def test_smallest_matches_a_full_sort() -> None:
    rng = np.random.default_rng(3)
    for trial in range(60):
        m = int(rng.integers(1, 40_000))
        want = int(rng.integers(1, 200))
        if trial % 3 == 0:
            values = rng.random(m)
        elif trial % 3 == 1:
            values = rng.integers(0, 4, m).astype(np.float64)  # heavy ties
        else:
            values = np.where(rng.random(m) < 0.5, np.inf, rng.random(m))  # missing values sort last
        expected = np.arange(m) if want >= m else np.flatnonzero(values <= np.sort(values)[want - 1])
        assert np.array_equal(_smallest(values, want), expected)


def test_a_word_matches_itself_a_synonym_or_all_its_parts(tmp_path: Path) -> None:
    """In the in-process engines a dictionary word written in parts matches; one of its parts alone only scores."""
    for make in (EmbeddedBackend, Fts5Backend):
        backend = make(str(tmp_path / f"{make.__name__}.sqlite3"), LABELS)
        backend.index(
            "services",
            [
                svc(1, title="心理测评", description="", eligibility=""),
                svc(2, title="心理、疏导", description="", eligibility=""),
                svc(3, title="心理咨询", description="", eligibility=""),
                svc(4, title="心理疏导", description="", eligibility=""),
            ],
        )
        result = backend.search("services", SearchQuery(q="心理疏导"))
        assert sorted(result.ids) == [2, 3, 4], make
        assert result.ids[0] == 4, make
        assert result.total == 3, make
        scores = [hit.score for hit in result.hits]
        assert scores == sorted(scores, reverse=True), make


def test_facets_and_totals_count_only_the_kept_words(tmp_path: Path) -> None:
    """Most of the index matches some query word, fewer the first one: the counts follow the results."""
    backend = EmbeddedBackend(str(tmp_path / "s.sqlite3"), LABELS)
    docs = [
        svc(
            i,
            title="留守、儿童" if i % 5 < 3 else "儿童、活动",
            description="",
            eligibility="",
            street_ids=[i % 2 + 1],
        )
        for i in range(1, 201)
    ]
    backend.index("services", docs)
    result = backend.search("services", SearchQuery(q="留守 儿童", facets=["street_ids"], limit=7, offset=3))
    kept = [d for d in docs if d["title"].startswith("留守")]
    assert result.total == len(kept) == 120
    assert result.facets["street_ids"] == {"1": 60, "2": 60}
    assert result.ids == sorted(d["id"] for d in kept)[3:10]
    everything = backend.search("services", SearchQuery(q="儿童 留守", facets=["street_ids"], limit=0))
    assert everything.total == 200
    assert everything.facets["street_ids"] == {"1": 100, "2": 100}
    backend.close()
