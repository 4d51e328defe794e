"""The search port's checks and the shared vocabulary, without any engine: query validation (inapplicable filters),
the empty-list answer, plain text, the stop words and the expanded synonym table both engines are given."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.indexing.documents import LABELS
from search.embedded import EmbeddedBackend
from search.port import (
    APPLICABLE_FILTERS,
    INDEX_NAMES,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_TOTAL_HITS,
    InapplicableFilter,
    InvalidQuery,
    SearchFilters,
    SearchQuery,
    plain_text,
    prepare,
)
from search.segment import plain_words
from search.synonyms import (
    MAX_SYNONYM_KEY_WORDS,
    STOP_WORDS,
    SYNONYM_GROUPS,
    dictionary_words,
    expanded_synonyms,
    synonym_map,
)
from search.text import STOPWORDS, analyzer
from tests.search.test_contract import svc

# one value per filter that is not an empty list
SAMPLE: dict[str, object] = {
    "categories": ["legal_aid"],
    "child_categories": ["abused"],
    "street_id": 1,
    "age": 6,
    "status": "published",
    "organization_id": 3,
    "available": True,
    "kind": "charity",
}


def test_every_filter_is_sampled_and_applies_somewhere() -> None:
    assert set(SAMPLE) == set(SearchFilters.__struct_fields__)
    assert set().union(*APPLICABLE_FILTERS.values()) == set(SAMPLE)
    assert set(APPLICABLE_FILTERS) == set(INDEX_NAMES)


@pytest.mark.parametrize("index_name", INDEX_NAMES)
@pytest.mark.parametrize("name", sorted(SAMPLE))
def test_a_filter_is_accepted_where_it_applies_and_refused_elsewhere(index_name: str, name: str) -> None:
    query = SearchQuery(q="儿童", filters=SearchFilters(**{name: SAMPLE[name]}))  # type: ignore[arg-type]
    if name in APPLICABLE_FILTERS[index_name]:
        query.validate(index_name)
        assert prepare(index_name, query) is None
    else:
        with pytest.raises(InapplicableFilter) as refused:
            prepare(index_name, query)
        assert refused.value.field == name
        assert f"filter {name!r} does not apply to {index_name}" in str(refused.value)


def test_validation_comes_before_the_empty_answer() -> None:
    # kind=[] would match nothing, but kind is no filter of services: refused, not answered
    with pytest.raises(InapplicableFilter):
        prepare("services", SearchQuery(filters=SearchFilters(kind=[])))
    with pytest.raises(InvalidQuery, match="not a facet"):
        prepare("services", SearchQuery(filters=SearchFilters(categories=[]), facets=["kind"]))


@pytest.mark.parametrize(
    ("index_name", "filters"),
    [
        ("services", SearchFilters(categories=[])),
        ("services", SearchFilters(child_categories=[], age=6)),
        ("services", SearchFilters(status=[])),
        ("organizations", SearchFilters(kind=[])),
        ("organizations", SearchFilters(status=[], kind=["charity"])),
    ],
)
def test_an_empty_list_is_answered_as_nothing(index_name: str, filters: SearchFilters) -> None:
    facets = ["status", "street_ids"]
    answer = prepare(index_name, SearchQuery(q="儿童", filters=filters, facets=facets, limit=5, offset=10))
    assert answer is not None
    assert (answer.hits, answer.total, answer.facets) == ([], 0, {"status": {}, "street_ids": {}})


def test_lists_with_values_and_scalars_are_asked() -> None:
    assert not SearchFilters(categories=["legal_aid"], status="published", kind=None).matches_nothing()
    assert not SearchFilters(available=False, age=0, street_id=0).matches_nothing()
    assert SearchFilters(status="published", categories=[]).matches_nothing()
    assert SearchFilters(status=["published"], categories=["x"]).set_fields() == ["categories", "status"]


def test_the_embedded_engine_is_not_asked_for_an_empty_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = EmbeddedBackend(str(tmp_path / "s.sqlite3"), LABELS)
    backend.index("services", [svc(1)])

    def asked() -> None:
        raise AssertionError("the engine was asked")

    monkeypatch.setattr(backend, "_ensure_loaded", asked)
    result = backend.search("services", SearchQuery(filters=SearchFilters(categories=[]), facets=["categories"]))
    assert (result.ids, result.total, result.facets) == ([], 0, {"categories": {}})
    with pytest.raises(AssertionError, match="asked"):
        backend.search("services", SearchQuery(filters=SearchFilters(categories=["legal_aid"])))
    backend.close()


def test_pagination_bounds() -> None:
    assert MAX_OFFSET + MAX_LIMIT == MAX_TOTAL_HITS
    SearchQuery(limit=MAX_LIMIT, offset=MAX_OFFSET).validate("services")
    for bad in (SearchQuery(offset=MAX_OFFSET + 1), SearchQuery(offset=-1), SearchQuery(limit=MAX_LIMIT + 1)):
        with pytest.raises(InvalidQuery) as refused:
            bad.validate("services")
        assert refused.value.field in ("offset", "limit")
    with pytest.raises(ValueError, match="unknown index") as unknown:
        SearchQuery().validate("children")
    assert not isinstance(unknown.value, InvalidQuery)  # the app's bug, not the user's request


@pytest.mark.parametrize(
    ("q", "plain"),
    [
        ('"心理 疏导"', "心理 疏导"),
        ("\u201c心理疏导\u201d", "心理疏导"),
        ("\uff02心理疏导\uff02", "心理疏导"),
        ("-法律援助 周末", "法律援助 周末"),
        ("周末 --法律援助", "周末 法律援助"),
        ("12355-热线", "12355-热线"),  # a minus inside a word is no operator
        ("  留守   儿童 ", "留守 儿童"),
        ('"', ""),
        ("- -", ""),
        ("", ""),
    ],
)
def test_plain_text(q: str, plain: str) -> None:
    assert plain_text(q) == plain


def test_one_stop_word_list() -> None:
    assert frozenset(STOP_WORDS) == STOPWORDS
    assert len(set(STOP_WORDS)) == len(STOP_WORDS)
    assert all(w == w.strip().lower() and w for w in STOP_WORDS)
    # a stop word is never a domain word (it would vanish from the dictionary's words)
    assert not set(STOP_WORDS) & set(dictionary_words(LABELS.all()))
    text = analyzer(LABELS.all())
    assert text.query_words("开展 留守 的 儿童") == ("留守", "儿童")
    assert "开展" not in text.index_tokens("开展留守儿童关爱活动")


def test_expanded_synonyms_hold_the_table() -> None:
    table = synonym_map()
    expanded = expanded_synonyms()
    for word, others in table.items():
        assert set(others) <= set(expanded[word]), word
    for group in SYNONYM_GROUPS:
        for word in group:
            assert set(group) - {word} <= set(expanded[word.lower()])
    assert all(key == key.lower() and key not in values for key, values in expanded.items())
    assert all(len(values) == len(set(values)) for values in expanded.values())
    # every key of the table is a dictionary word, which both segmenters keep whole
    words = {w.lower() for w in dictionary_words(LABELS.all())}
    assert set(table) <= words


def test_long_synonym_keys_get_a_run_that_fires() -> None:
    expanded = expanded_synonyms()
    assert len(plain_words("事实无人抚养儿童")) > MAX_SYNONYM_KEY_WORDS
    run = "".join(plain_words("事实无人抚养儿童")[:MAX_SYNONYM_KEY_WORDS])
    assert run == "事实无人抚养"
    assert {"事实无人抚养儿童", "孤儿", "无人抚养"} <= set(expanded[run])
    # every key a segmenter cuts into more than three words has its run of three
    by_char = expanded_synonyms(segment=list)
    for key in synonym_map():
        if len(key) > MAX_SYNONYM_KEY_WORDS:
            head = key[:MAX_SYNONYM_KEY_WORDS]
            assert key in by_char[head] or head == key, key
    assert set(expanded_synonyms(segment=lambda w: [w])) == set(synonym_map())
