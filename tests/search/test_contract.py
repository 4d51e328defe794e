"""The search port's contract, run against every backend (see conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from search.port import InapplicableFilter, SearchBackend, SearchFilters, SearchQuery
from search.synonyms import STOP_WORDS

PUBLISHED = SearchFilters(status="published")
FACETS_OF = {"services": ["categories", "status"], "organizations": ["kind", "status"]}


def svc(id: int, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": id,
        "title": f"服务项目{id}",
        "description": "为辖区儿童提供综合服务",
        "eligibility": "经儿童主任评估转介",
        "organization_id": 1,
        "organization_name": "福田区春晖社工服务中心",
        "categories": ["targeted_assistance"],
        "category_labels": ["精准帮扶"],
        "child_categories": [],
        "street_ids": [],
        "age_min": 0,
        "age_max": 18,
        "status": "published",
        "capacity_per_month": 10,
        "capacity_left": 5,
        "cost_per_case_fen": 10000,
        "assured_on": None,
        "updated_at": "2025-01-01T00:00:00+08:00",
    }
    doc.update(overrides)
    return doc


def ids(backend: SearchBackend, q: str = "", **kwargs: Any) -> list[int]:
    return backend.search("services", SearchQuery(q=q, limit=100, **kwargs)).ids


def test_health(backend: SearchBackend) -> None:
    assert backend.health() == "ok"


def test_round_trip_delete_clear(backend: SearchBackend) -> None:
    backend.index("services", [svc(1, title="儿童心理疏导"), svc(2, title="法律援助进社区")])
    result = backend.search("services", SearchQuery(q="法律援助"))
    assert result.ids == [2]
    assert result.total == 1
    backend.delete("services", [2, 999])
    assert ids(backend, "法律援助") == []
    assert ids(backend) == [1]
    backend.clear("services")
    assert ids(backend) == []
    backend.index("services", [svc(3)])
    assert ids(backend) == [3]


def test_reindex_replaces_document(backend: SearchBackend) -> None:
    backend.index("services", [svc(1, title="周末陪伴计划", categories=["emotional_support"])])
    backend.index("services", [svc(1, title="法律咨询服务", categories=["legal_aid"])])
    assert ids(backend, "陪伴") == []
    assert ids(backend, "法律咨询") == [1]
    result = backend.search("services", SearchQuery(facets=["categories"]))
    assert result.total == 1
    assert result.facets["categories"] == {"legal_aid": 1}


def test_empty_query_matches_all_and_paginates(backend: SearchBackend) -> None:
    backend.index("services", [svc(i) for i in range(1, 26)])
    first = backend.search("services", SearchQuery(limit=10, offset=0))
    second = backend.search("services", SearchQuery(limit=10, offset=10))
    third = backend.search("services", SearchQuery(limit=10, offset=20))
    assert first.total == second.total == third.total == 25
    assert first.ids == list(range(1, 11))
    assert second.ids == list(range(11, 21))
    assert third.ids == list(range(21, 26))
    assert backend.search("services", SearchQuery(limit=0)).total == 25
    assert backend.search("services", SearchQuery(limit=5, offset=100)).ids == []


def test_pagination_of_text_results_is_stable(backend: SearchBackend) -> None:
    backend.index("services", [svc(i, title=f"心理疏导小组{i}") for i in range(1, 13)] + [svc(50, title="助医")])
    pages = [backend.search("services", SearchQuery(q="心理疏导", limit=4, offset=o)) for o in (0, 4, 8)]
    assert all(p.total == 12 for p in pages)
    seen = [i for p in pages for i in p.ids]
    assert sorted(seen) == list(range(1, 13))


def test_category_filters(backend: SearchBackend) -> None:
    backend.index(
        "services",
        [
            svc(1, categories=["legal_aid"], child_categories=["abused"]),
            svc(2, categories=["medical_aid", "education_aid"], child_categories=["seriously_ill"]),
            svc(3, categories=["education_aid"], child_categories=["left_behind", "economic_hardship"]),
        ],
    )
    assert ids(backend, filters=SearchFilters(categories=["education_aid"])) == [2, 3]
    assert ids(backend, filters=SearchFilters(categories=["legal_aid", "medical_aid"])) == [1, 2]
    assert ids(backend, filters=SearchFilters(child_categories=["left_behind"])) == [3]
    assert ids(backend, filters=SearchFilters(child_categories=["abused", "seriously_ill"])) == [1, 2]
    assert ids(backend, filters=SearchFilters(categories=["education_aid"], child_categories=["abused"])) == []


def test_street_filter_includes_district_wide(backend: SearchBackend) -> None:
    backend.index(
        "services",
        [svc(1, street_ids=[3]), svc(2, street_ids=[4, 5]), svc(3, street_ids=[]), svc(4, street_ids=[3, 5])],
    )
    assert ids(backend, filters=SearchFilters(street_id=3)) == [1, 3, 4]
    assert ids(backend, filters=SearchFilters(street_id=5)) == [2, 3, 4]
    assert ids(backend, filters=SearchFilters(street_id=9)) == [3]


def test_age_filter(backend: SearchBackend) -> None:
    backend.index(
        "services", [svc(1, age_min=0, age_max=6), svc(2, age_min=6, age_max=12), svc(3, age_min=12, age_max=18)]
    )
    assert ids(backend, filters=SearchFilters(age=6)) == [1, 2]
    assert ids(backend, filters=SearchFilters(age=13)) == [3]
    assert ids(backend, filters=SearchFilters(age=19)) == []


def test_status_filter_hides_paused_and_archived(backend: SearchBackend) -> None:
    statuses = ["draft", "pending_review", "published", "paused", "archived"]
    backend.index("services", [svc(i + 1, title="心理疏导", status=s) for i, s in enumerate(statuses)])
    assert ids(backend, "心理疏导", filters=PUBLISHED) == [3]
    assert ids(backend, filters=SearchFilters(status=["published", "paused"])) == [3, 4]
    assert len(ids(backend, "心理疏导")) == 5


def test_organization_and_availability_filters(backend: SearchBackend) -> None:
    backend.index(
        "services",
        [
            svc(1, organization_id=7, capacity_left=0),
            svc(2, organization_id=7, capacity_left=3),
            svc(3, organization_id=8),
        ],
    )
    assert ids(backend, filters=SearchFilters(organization_id=7)) == [1, 2]
    assert ids(backend, filters=SearchFilters(available=True)) == [2, 3]
    assert ids(backend, filters=SearchFilters(available=False)) == [1]
    assert ids(backend, filters=SearchFilters(organization_id=7, available=True)) == [2]


def test_facets_count_the_whole_result(backend: SearchBackend) -> None:
    docs = [
        svc(
            i,
            title="心理疏导",
            categories=["psych_counselling"] + (["hotline"] if i % 2 else []),
            street_ids=[i % 3 + 1],
        )
        for i in range(1, 31)
    ]
    docs.append(svc(100, title="法律援助", categories=["legal_aid"], street_ids=[1]))
    backend.index("services", docs)
    result = backend.search("services", SearchQuery(q="心理疏导", facets=["categories", "street_ids"], limit=5))
    assert result.total == 30
    assert len(result.hits) == 5
    assert result.facets["categories"] == {"psych_counselling": 30, "hotline": 15}
    assert result.facets["street_ids"] == {"1": 10, "2": 10, "3": 10}
    everything = backend.search("services", SearchQuery(facets=["categories", "status"], limit=1))
    assert everything.facets["categories"]["legal_aid"] == 1
    assert everything.facets["status"] == {"published": 31}
    filtered = backend.search(
        "services", SearchQuery(facets=["street_ids"], filters=SearchFilters(categories=["hotline"]))
    )
    assert sum(filtered.facets["street_ids"].values()) == 15


def test_sorts(backend: SearchBackend) -> None:
    backend.index(
        "services",
        [
            svc(1, assured_on="2024-03-01", updated_at="2025-01-03T00:00:00+08:00", cost_per_case_fen=300),
            svc(2, assured_on=None, updated_at="2025-01-01T00:00:00+08:00", cost_per_case_fen=100),
            svc(3, assured_on="2024-05-01", updated_at="2025-01-02T00:00:00+08:00", cost_per_case_fen=200),
        ],
    )
    assert ids(backend, sort="assured_on:desc") == [3, 1, 2]
    assert ids(backend, sort="updated_at:desc") == [1, 3, 2]
    assert ids(backend, sort="cost_per_case_fen:asc") == [2, 3, 1]
    with pytest.raises(ValueError, match="unknown sort"):
        backend.search("services", SearchQuery(sort="title:asc"))


def test_synonyms(backend: SearchBackend) -> None:
    backend.index(
        "services",
        [
            svc(1, title="儿童心理疏导服务", description="一对一面谈"),
            svc(2, title="困境学生奖学金", description="每学期发放"),
            svc(3, title="法律咨询进社区", description="律师驻点"),
            svc(4, title="残障儿童康复训练", description="感统训练"),
        ],
    )
    assert ids(backend, "心理辅导") == [1]
    assert ids(backend, "心理健康") == [1]
    assert ids(backend, "助学") == [2]
    assert ids(backend, "法援") == [3]
    assert ids(backend, "残疾") == [4]


def plain(id: int, title: str, **overrides: Any) -> dict[str, Any]:
    """A listing whose only text is its title (the words of a test are all there is to match)."""
    neutral = {
        "description": "",
        "eligibility": "",
        "organization_name": "春晖",
        "category_labels": [],
        "categories": [],
    }
    return svc(id, title=title, **{**neutral, **overrides})


def test_multi_word_query_keeps_the_first_words(backend: SearchBackend) -> None:
    """Words are dropped from the end (Meilisearch's ``matchingStrategy: "last"``): all n words first, then the
    first n-1, ... down to the first word alone; a listing without the first word is not a result."""
    backend.index(
        "services",
        [
            plain(1, "留守、儿童、周末"),
            plain(2, "留守、儿童"),
            plain(3, "留守、周末"),
            plain(4, "儿童、周末"),
            plain(5, "周末"),
            plain(6, "助医"),
        ],
    )
    result = backend.search("services", SearchQuery(q="留守 儿童 周末"))
    # 1 has all three words; 2 the first two; 3 only the first (it lacks 儿童); 4 and 5 lack 留守
    assert result.ids == [1, 2, 3]
    assert result.total == 3
    reordered = backend.search("services", SearchQuery(q="留守 周末 儿童"))
    assert reordered.ids == [1, 3, 2]
    second = backend.search("services", SearchQuery(q="儿童 周末 夏令营"))
    # 儿童 and 周末: 1 and 4 (relevance, then id); 儿童 alone: 2
    assert set(second.ids[:2]) == {1, 4}
    assert second.ids[2:] == [2]
    assert second.total == 3
    assert backend.search("services", SearchQuery(q="夏令营 留守")).ids == []


def test_multi_word_buckets_paginate_with_exact_totals(backend: SearchBackend) -> None:
    backend.index(
        "services",
        [plain(i, "留守、儿童、周末") for i in range(1, 6)]
        + [plain(i, "留守、儿童") for i in range(6, 12)]
        + [plain(i, "留守") for i in range(12, 15)]
        + [plain(i, "儿童、周末") for i in range(15, 20)],
    )
    full = backend.search("services", SearchQuery(q="留守 儿童 周末", limit=100))
    # identical listings tie on relevance: id ascending inside each bucket
    assert full.ids == list(range(1, 15))
    for offset, limit in [(0, 4), (3, 4), (4, 5), (5, 3), (13, 5), (2, 9)]:
        page = backend.search("services", SearchQuery(q="留守 儿童 周末", offset=offset, limit=limit))
        assert page.ids == full.ids[offset : offset + limit], (offset, limit)
        assert page.total == 14, (offset, limit)


def test_ties_are_broken_by_id(backend: SearchBackend) -> None:
    # identical listings, indexed out of order
    backend.index("services", [plain(i, "法律援助") for i in (9, 3, 27, 1, 14)])
    assert ids(backend, "法律援助") == [1, 3, 9, 14, 27]
    assert ids(backend) == [1, 3, 9, 14, 27]
    for sort in ("assured_on:desc", "updated_at:desc", "cost_per_case_fen:asc"):
        assert ids(backend, sort=sort) == [1, 3, 9, 14, 27], sort
        assert ids(backend, "法律援助", sort=sort) == [1, 3, 9, 14, 27], sort


@pytest.mark.parametrize("q", ["", "心理疏导"])
def test_offsets_that_are_not_a_multiple_of_the_limit(backend: SearchBackend, q: str) -> None:
    backend.index("services", [plain(i, "心理疏导") for i in range(1, 38)] + [plain(100, "助医")])
    full = backend.search("services", SearchQuery(q=q, limit=100))
    expected_total = 37 if q else 38
    assert full.total == expected_total
    for offset, limit in [(3, 7), (5, 10), (13, 4), (1, 36), (30, 9), (36, 1), (7, 3), (35, 20), (0, 0), (3, 0)]:
        page = backend.search("services", SearchQuery(q=q, offset=offset, limit=limit))
        assert page.ids == full.ids[offset : offset + limit], (offset, limit)
        assert page.total == expected_total, (offset, limit)
    past = backend.search("services", SearchQuery(q=q, offset=expected_total + 3, limit=7))
    assert (past.ids, past.total) == ([], expected_total)


@pytest.mark.parametrize(
    ("index_name", "filters"),
    [
        ("services", SearchFilters(categories=[])),
        ("services", SearchFilters(child_categories=[])),
        ("services", SearchFilters(status=[])),
        ("services", SearchFilters(status=[], categories=["legal_aid"])),
        ("organizations", SearchFilters(kind=[])),
        ("organizations", SearchFilters(status=[], street_id=1)),
    ],
)
def test_an_empty_list_filter_matches_nothing(backend: SearchBackend, index_name: str, filters: SearchFilters) -> None:
    backend.index("services", [svc(1, categories=["legal_aid"], child_categories=["abused"]), svc(2)])
    backend.index(
        "organizations", [{"id": 1, "name": "春晖社工", "kind": "charity", "street_ids": [], "status": "approved"}]
    )
    facets = FACETS_OF[index_name]
    for q in ("", "春晖"):
        result = backend.search(index_name, SearchQuery(q=q, filters=filters, facets=facets))
        assert (result.ids, result.total) == ([], 0)
        assert result.facets == {name: {} for name in facets}


@pytest.mark.parametrize(
    ("index_name", "filters", "field"),
    [
        ("services", SearchFilters(kind="charity"), "kind"),
        ("services", SearchFilters(kind=[]), "kind"),
        ("organizations", SearchFilters(age=6), "age"),
        ("organizations", SearchFilters(available=True), "available"),
        ("organizations", SearchFilters(organization_id=3), "organization_id"),
        ("organizations", SearchFilters(categories=["legal_aid"]), "categories"),
        ("organizations", SearchFilters(categories=[]), "categories"),
        ("organizations", SearchFilters(child_categories=["abused"]), "child_categories"),
    ],
)
def test_a_filter_that_does_not_apply_is_refused(
    backend: SearchBackend, index_name: str, filters: SearchFilters, field: str
) -> None:
    backend.index("services", [svc(1)])
    with pytest.raises(InapplicableFilter, match=f"filter '{field}' does not apply to {index_name}") as refused:
        backend.search(index_name, SearchQuery(q="服务", filters=filters))
    assert refused.value.field == field
    assert isinstance(refused.value, ValueError)


def test_long_synonym_keys_fire_from_the_query(backend: SearchBackend) -> None:
    backend.index(
        "services",
        [
            plain(1, "孤儿助学"),
            plain(2, "困境儿童关爱"),
            plain(3, "流浪儿童救助"),
            plain(4, "艾滋病家庭关爱"),
            plain(5, "儿童、关爱"),  # the parts of the long keys, not their meaning
            plain(6, "感染、病毒、事实、抚养、未成年人"),
        ],
    )
    assert sorted(ids(backend, "事实无人抚养儿童")) == [1, 2]
    assert backend.search("services", SearchQuery(q="事实无人抚养儿童")).total == 2
    assert ids(backend, "流浪未成年人") == [3]
    assert ids(backend, "艾滋病病毒感染") == [4]
    # and the other way round: a listing using the long word is found by its short synonyms
    backend.index(
        "services", [plain(7, "事实无人抚养儿童走访"), plain(8, "流浪未成年人救助"), plain(9, "艾滋病病毒感染儿童")]
    )
    assert 7 in ids(backend, "孤儿")
    assert 8 in ids(backend, "流浪儿童")
    assert 9 in ids(backend, "hiv")


def test_stop_words_are_not_query_words(backend: SearchBackend) -> None:
    assert "开展" in STOP_WORDS and "的" in STOP_WORDS
    backend.index("services", [plain(1, "周末陪伴"), plain(2, "开展、活动"), plain(3, "留守、儿童")])
    # 开展 is a stop word: it is not the query's first word, so a listing holding only it is no result
    assert ids(backend, "开展 周末") == [1]
    assert ids(backend, "留守 的 儿童") == ids(backend, "留守 儿童") == [3]
    with_stop = backend.search("services", SearchQuery(q="的 留守 儿童", limit=1))
    assert (with_stop.ids, with_stop.total) == ([3], 1)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('"周末 法律援助"', [1, 2]),  # a phrase would need the words in this order, side by side: none
        ("\u201c周末 法律援助\u201d", [1, 2]),
        ("＂周末 法律援助＂", [1, 2]),
        ("-法律援助 周末", [1]),  # a negation would exclude 1 and answer 2
        ("周末 -法律援助", [1, 2]),
        ("-周末", "周末"),  # the same as the plain word
        ('法律援助"', [1]),
        ('"', ""),  # nothing but operators: an empty query (every listing)
        ("-", ""),
        ("- -", ""),
    ],
)
def test_quotes_and_a_leading_minus_are_plain_text(backend: SearchBackend, q: str, expected: list[int] | str) -> None:
    backend.index("services", [plain(1, "法律援助，周末"), plain(2, "周末"), plain(3, "助医")])
    result = backend.search("services", SearchQuery(q=q))
    if isinstance(expected, str):
        same = backend.search("services", SearchQuery(q=expected))
        assert (result.ids, result.total) == (same.ids, same.total)
    else:
        assert (result.ids, result.total) == (expected, len(expected))


def test_title_outranks_description(backend: SearchBackend) -> None:
    backend.index(
        "services",
        [
            svc(1, title="社区综合服务", description="其中包括防溺水宣传和其他活动，内容丰富多样，覆盖多个年龄段"),
            svc(2, title="暑期防溺水安全课", description="社区综合服务"),
        ],
    )
    assert ids(backend, "防溺水") == [2, 1]


def test_organizations_index(backend: SearchBackend) -> None:
    backend.index(
        "organizations",
        [
            {
                "id": 1,
                "name": "福田区春晖社会工作服务中心",
                "kind": "social_work_agency",
                "credit_code": "52440304MJ0000001X",
                "description": "儿童保护",
                "street_ids": [1],
                "status": "approved",
            },
            {
                "id": 2,
                "name": "福田区阳光志愿者协会",
                "kind": "volunteer_org",
                "credit_code": "52440304MJ0000002X",
                "description": "志愿服务",
                "street_ids": [],
                "status": "approved",
            },
            {
                "id": 3,
                "name": "深圳市护苗公益慈善基金会",
                "kind": "charity",
                "credit_code": "52440304MJ0000003X",
                "description": "公益基金",
                "street_ids": [2],
                "status": "suspended",
            },
        ],
    )
    assert backend.search("organizations", SearchQuery(q="志愿者")).ids == [2]
    assert backend.search("organizations", SearchQuery(filters=SearchFilters(kind="charity"))).ids == [3]
    assert backend.search("organizations", SearchQuery(filters=SearchFilters(street_id=1))).ids == [1, 2]
    assert backend.search("organizations", SearchQuery(filters=SearchFilters(status="approved"))).ids == [1, 2]
    facets = backend.search("organizations", SearchQuery(facets=["kind"])).facets
    assert facets == {"kind": {"social_work_agency": 1, "volunteer_org": 1, "charity": 1}}
    assert backend.search("services", SearchQuery()).total == 0


def test_bad_arguments(backend: SearchBackend) -> None:
    with pytest.raises(ValueError, match="unknown index"):
        backend.search("children", SearchQuery())
    with pytest.raises(ValueError, match="not a facet"):
        backend.search("services", SearchQuery(facets=["title"]))


def test_freshness_after_writes(backend: SearchBackend) -> None:
    """Writes return once searchable: this process is behind by nothing (Meilisearch: no task left pending)."""
    backend.index("services", [svc(1), svc(2)])
    backend.delete("services", [1])
    assert ids(backend) == [2]
    report = backend.freshness()
    assert report["engine"] in ("embedded", "fts5", "meilisearch")
    assert "error" not in report
    assert report["behind"] == 0
    if report["engine"] == "embedded":
        assert report["generation"] == report["latest"] >= 3
    if report["engine"] == "meilisearch":
        assert report["pending_tasks"] == 0


def test_document_ids(backend: SearchBackend) -> None:
    assert backend.document_ids("services") == []
    backend.index("services", [svc(5), svc(2), svc(9)])
    backend.index("organizations", [{"id": 4, "name": "春晖社工", "kind": "social_work", "street_ids": []}])
    backend.delete("services", [9])
    assert backend.document_ids("services") == [2, 5]
    assert backend.document_ids("organizations") == [4]
    with pytest.raises(ValueError):
        backend.document_ids("children")
