"""Embedded-backend specifics: persistence, compaction, concurrency; plus the Meilisearch request mapping."""

from __future__ import annotations

import threading
from pathlib import Path

from search import make_backend
from search.embedded import EmbeddedBackend
from search.meili import MeiliBackend, filter_expression, index_settings, to_meili_document
from search.port import SearchBackend, SearchFilters, SearchQuery
from search.synonyms import SYNONYM_GROUPS, dictionary_words, meilisearch_synonyms
from search.text import index_tokens
from tests.search.test_contract import svc


def test_make_backend(tmp_path: Path) -> None:
    embedded = make_backend(None, None, str(tmp_path / "s.sqlite3"))
    assert isinstance(embedded, EmbeddedBackend)
    assert isinstance(embedded, SearchBackend)
    meili = make_backend("http://127.0.0.1:1", "key", str(tmp_path / "s.sqlite3"))
    assert isinstance(meili, MeiliBackend)
    assert meili.health().startswith("unavailable: ")


def test_survives_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "search.sqlite3")
    first = EmbeddedBackend(path)
    first.index("services", [svc(1, title="儿童心理疏导"), svc(2, title="法律援助")])
    first.delete("services", [2])
    first.close()
    second = EmbeddedBackend(path)
    assert second.search("services", SearchQuery(q="心理辅导")).ids == [1]
    assert second.search("services", SearchQuery()).total == 1


def test_stale_analyzer_resegments_on_load(tmp_path: Path) -> None:
    path = str(tmp_path / "search.sqlite3")
    first = EmbeddedBackend(path)
    first.index("services", [svc(1, title="儿童心理疏导")])
    first._conn.execute("UPDATE search_meta SET value = 'old'")
    first._conn.execute("UPDATE search_documents SET terms = '{}'")
    first.close()
    second = EmbeddedBackend(path)
    assert second.search("services", SearchQuery(q="心理疏导")).ids == [1]


def test_compaction_keeps_results(tmp_path: Path) -> None:
    backend = EmbeddedBackend(":memory:")
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
    backend = EmbeddedBackend(":memory:")
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
    words = set(dictionary_words())
    assert {"心理疏导", "送教上门", "事实无人抚养儿童", "监护缺失", "香蜜湖"} <= words
    tokens = index_tokens("开展送教上门和心理疏导服务")
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
    doc = to_meili_document("services", svc(1, street_ids=[], assured_on=None, child_categories=["orphan"]))
    assert doc["district_wide"] is True
    assert "assured_on_days" not in doc
    assert doc["child_category_labels"] == ["孤儿"]
    settings = index_settings("services")
    assert settings["localizedAttributes"] == [{"attributePatterns": ["*"], "locales": ["cmn"]}]
    assert "district_wide" in settings["filterableAttributes"]
    assert "心理疏导" in meilisearch_synonyms()["心理辅导"]
