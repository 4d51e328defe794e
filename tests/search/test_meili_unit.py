"""search/meili.py without a Meilisearch server: the settings payload, the filter strings, the pagination
parameters, the text escaping, the sort list, the version check; and, against a tiny local HTTP fake
(tests/search/meili_fake.py: it records requests and answers from dicts, it is not Meilisearch), the request
sequences of set-up, health, the swap reindex and a search, and that one connection serves them all.

What a real server makes of all this is checked by test_contract.py and test_meili_contract.py with MEILI_URL set
(``MEILI_URL=… make test-meilisearch``)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from marketplace.indexing.documents import LABELS
from search.meili import (
    MeiliBackend,
    filter_expression,
    index_settings,
    page_plan,
    search_params,
    sort_list,
    version_problem,
)
from search.port import (
    FACETS,
    INDEX_NAMES,
    MAX_TOTAL_HITS,
    ORGANIZATIONS,
    SERVICES,
    SORTS,
    InapplicableFilter,
    SearchError,
    SearchFilters,
    SearchQuery,
    plain_text,
)
from search.synonyms import STOP_WORDS, dictionary_words, expanded_synonyms
from tests.search.meili_fake import FakeMeili, serve
from tests.search.test_contract import svc
from tests.support import figures

SUITE = "Search: Meilisearch backend without a server"


@pytest.fixture
def fake() -> Iterator[FakeMeili]:
    with serve(FakeMeili()) as server:
        yield server


def backend_on(fake: FakeMeili, key: str | None = None, **kwargs: Any) -> MeiliBackend:
    return MeiliBackend(fake.url, key, labels=LABELS, prefix="p_", **kwargs)


# ------------------------------------------------------------------------------------------------ settings


@pytest.mark.parametrize("index_name", INDEX_NAMES)
def test_settings_payload(index_name: str) -> None:
    s = index_settings(index_name, LABELS)
    assert s["rankingRules"][0] == "words" and s["rankingRules"][-1] == "sort"
    assert "id" in s["sortableAttributes"] and "id" in s["filterableAttributes"]
    for facet in FACETS[index_name]:
        assert facet in s["filterableAttributes"], facet
    assert s["synonyms"] == expanded_synonyms()
    assert s["dictionary"] == dictionary_words(LABELS.all())
    assert s["stopWords"] == list(STOP_WORDS) and s["stopWords"]
    assert s["localizedAttributes"] == [{"attributePatterns": ["*"], "locales": ["cmn"]}]
    assert s["pagination"]["maxTotalHits"] >= 100_000 == MAX_TOTAL_HITS
    assert s["typoTolerance"] == {"enabled": False}
    # every label the documents carry is one word to the segmenter
    for label in LABELS.service_categories.values():
        for part in label.replace("、", "/").split("/"):
            if len(part) > 1:
                assert part in s["dictionary"], part


def test_long_synonym_keys_have_a_short_key_that_fires() -> None:
    synonyms = index_settings(SERVICES, LABELS)["synonyms"]
    for long_key in ("事实无人抚养儿童", "流浪未成年人", "艾滋病病毒感染"):
        assert long_key in synonyms
    # the contract stream's expansion: a run of at most three of the key's words is a key too
    assert any(k != "事实无人抚养儿童" and "事实无人抚养儿童".startswith(k) and len(k) > 2 for k in synonyms)


@pytest.mark.parametrize("index_name", INDEX_NAMES)
def test_every_filter_string_names_a_filterable_field(index_name: str) -> None:
    if index_name == SERVICES:
        filters = SearchFilters(
            categories=["psy", "law"],
            child_categories=["left_behind"],
            street_id=3,
            age=9,
            status=["published", "paused"],
            organization_id=7,
            available=True,
        )
    else:
        filters = SearchFilters(street_id=3, status="published", kind=["social_work", "school"])
    clauses = filter_expression(index_name, SearchQuery(filters=filters))
    filterable = set(index_settings(index_name)["filterableAttributes"])
    named = {m for clause in clauses for m in re.findall(r"\b([a-z_]+) (?:IN|=|<=|>=|>|<)", clause)}
    assert named and named <= filterable
    if index_name == SERVICES:
        assert clauses == [
            'categories IN ["psy", "law"]',
            'child_categories IN ["left_behind"]',
            "(street_ids = 3 OR district_wide = true)",
            'status IN ["published", "paused"]',
            "age_min <= 9 AND age_max >= 9",
            "organization_id = 7",
            "capacity_left > 0",
        ]
    else:
        assert clauses == [
            "(street_ids = 3 OR district_wide = true)",
            'status IN ["published"]',
            'kind IN ["social_work", "school"]',
        ]
    assert "id < 0" not in " ".join(clauses)


def test_filter_values_are_quoted() -> None:
    clause = filter_expression(SERVICES, SearchQuery(filters=SearchFilters(categories=['a" OR id > 0 OR "b'])))
    assert clause == ['categories IN ["a\\" OR id > 0 OR \\"b"]']


@pytest.mark.parametrize(
    ("index_name", "filters"),
    [
        (SERVICES, SearchFilters(kind="school")),
        (ORGANIZATIONS, SearchFilters(age=9)),
        (ORGANIZATIONS, SearchFilters(available=True)),
        (ORGANIZATIONS, SearchFilters(organization_id=1)),
        (ORGANIZATIONS, SearchFilters(categories=["psy"])),
    ],
)
def test_inapplicable_filters_are_never_sent(index_name: str, filters: SearchFilters) -> None:
    query = SearchQuery(filters=filters)
    with pytest.raises(InapplicableFilter):
        query.validate(index_name)  # the port refuses first (the API's 422) ...
    with pytest.raises(InapplicableFilter):
        filter_expression(index_name, query)  # ... and the filter string is never built
    with pytest.raises(InapplicableFilter):
        MeiliBackend("http://127.0.0.1:9", timeout_s=0.5).search(index_name, query)  # nor a request sent


def test_an_empty_filter_list_is_answered_without_the_server() -> None:
    # nothing listens on this port: any request would fail
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = MeiliBackend(f"http://127.0.0.1:{port}", labels=LABELS, timeout_s=1)
    for filters in (SearchFilters(categories=[]), SearchFilters(status=[]), SearchFilters(child_categories=[])):
        query = SearchQuery(q="心理", filters=filters, facets=["status"])
        assert query.filters.matches_nothing()
        with pytest.raises(ValueError):
            filter_expression(SERVICES, query)
        result = backend.search(SERVICES, query)
        assert result.hits == [] and result.total == 0 and result.facets == {"status": {}}
    assert not SearchFilters(categories=["psy"]).matches_nothing()


# -------------------------------------------------------------------------------------------------- query


def test_plain_text_is_what_meilisearch_is_sent() -> None:
    assert plain_text('"心理疏导"') == "心理疏导"
    assert plain_text("-法律 援助") == "法律 援助"
    assert plain_text('儿童 "心理 辅导" -法律 --家访') == "儿童 心理 辅导 法律 家访"
    assert plain_text("12355-热线 a-b") == "12355-热线 a-b"  # a hyphen inside a word is no operator
    assert plain_text('" -- "') == ""
    assert search_params(SERVICES, SearchQuery(q='-"法律援助"'))["q"] == "法律援助"


@pytest.mark.parametrize("sort", SORTS)
def test_sort_ends_with_id(sort: str) -> None:
    listed = sort_list(SearchQuery(sort=sort))
    assert listed[-1] == "id:asc"
    assert len(listed) == (1 if sort == "relevance" else 2)
    for field in listed:
        assert field.split(":")[0] in index_settings(SERVICES)["sortableAttributes"]


def test_search_params() -> None:
    params = search_params(SERVICES, SearchQuery(q=' "留守" 儿童 -周末', filters=SearchFilters(status="published")))
    assert params["q"] == "留守 儿童 周末"
    assert params["matchingStrategy"] == "last"
    assert params["locales"] == ["cmn"]  # never detected as Japanese
    assert params["sort"] == ["id:asc"]
    assert params["filter"] == ['status IN ["published"]']
    assert "offset" not in params and "limit" not in params
    assert "showRankingScore" not in search_params(SERVICES, SearchQuery())


def test_page_plan_covers_every_window_exactly() -> None:
    everything = list(range(2_000))
    tried = 0
    for limit in range(25):
        for offset in range(130):
            plan, skip = page_plan(offset, limit)
            got: list[int] = []
            for page, size in plan:
                assert page >= 1 and limit <= size <= 2 * limit
                got.extend(everything[(page - 1) * size : page * size])
            assert got[skip : skip + limit] == everything[offset : offset + limit], (offset, limit)
            assert len(plan) <= 2
            tried += 1
    assert page_plan(40, 20) == ([(3, 20)], 0)
    assert page_plan(0, 0) == ([(1, 0)], 0)
    figures.record(SUITE, "offset/limit windows checked", tried)


@pytest.mark.parametrize(
    ("version", "ok"),
    [("1.10.0", True), ("1.12.3", True), ("v1.15.2", True), ("2.0.0", True), ("1.9.2", False), ("0.30.5", False)],
)
def test_version_check(version: str, ok: bool) -> None:
    problem = version_problem(version)
    assert (problem is None) is ok
    if not ok:
        assert problem and ">= 1.10" in problem and version in problem and "marketplace search setup" in problem


def test_unreadable_version() -> None:
    assert "unreadable" in (version_problem("") or "")


# --------------------------------------------------------------------------------- against the local fake


def test_setup_creates_configures_and_then_does_nothing(fake: FakeMeili) -> None:
    backend = backend_on(fake)
    said: list[str] = []
    assert backend.setup(progress=said.append) == {SERVICES: "created", ORGANIZATIONS: "created"}
    assert fake.indexes["p_services"]["settings"] == index_settings(SERVICES, LABELS)
    assert fake.indexes["p_organizations"]["settings"] == index_settings(ORGANIZATIONS, LABELS)
    assert said[0].startswith("Meilisearch 1.12.3")
    fake.requests.clear()
    assert backend.setup() == {SERVICES: "up to date", ORGANIZATIONS: "up to date"}
    assert fake.calls("PATCH") == [] and fake.calls("POST") == []
    # a settings change (here: the server lost one) is sent again, and only where needed
    fake.indexes["p_organizations"]["settings"]["stopWords"] = []
    assert backend.setup() == {SERVICES: "up to date", ORGANIZATIONS: "settings updated"}
    assert fake.calls("PATCH") == [("PATCH", "/indexes/p_organizations/settings")]


def test_setup_when_another_process_created_the_index_meanwhile(fake: FakeMeili) -> None:
    backend = backend_on(fake)
    fake.indexes["p_services"] = {"settings": {}, "ids": set()}  # created by a concurrent setup ...
    fake.scripted[("GET", "/indexes/p_services")] = [(404, {"code": "index_not_found", "message": "gone"})]
    done = backend.setup()  # ... after this one looked: its creation task fails with index_already_exists
    assert done[SERVICES] == "settings updated"
    assert ("POST", "/indexes") in fake.calls()
    failed = [t for t in fake.tasks.values() if t["status"] == "failed"]
    assert [t["error"]["code"] for t in failed] == ["index_already_exists"]


def test_setup_refuses_an_old_server_before_touching_indexes(fake: FakeMeili) -> None:
    fake.version = "1.9.0"
    with pytest.raises(SearchError, match=r"1\.9\.0 is too old.*>= 1\.10"):
        backend_on(fake).setup()
    assert fake.calls() == [("GET", "/version")]


def test_health_with_the_key_against_the_indexes(fake: FakeMeili) -> None:
    fake.key = "right"
    backend = backend_on(fake, "right")
    assert backend.health() == "unavailable: index p_services missing (run `marketplace search setup`)"
    backend.setup()
    assert backend.health() == "ok"
    stats = [r for r in fake.requests if r.path.endswith("/stats")]
    assert {r.path for r in stats} >= {"/indexes/p_services/stats", "/indexes/p_organizations/stats"}
    assert all(r.headers["authorization"] == "Bearer right" for r in stats)
    assert backend_on(fake, "wrong").health() == "unavailable: the API key was refused (invalid_api_key)"
    assert backend_on(fake).health() == "unavailable: the API key was refused (invalid_api_key)"


def test_health_is_bounded_when_the_server_does_not_answer() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        backend = MeiliBackend(f"http://127.0.0.1:{listener.getsockname()[1]}", health_timeout_s=0.3)
        started = time.monotonic()
        said = backend.health()
        took = time.monotonic() - started
    assert said.startswith("unavailable: ") and "unreachable" in said
    assert took < 2
    assert "error" in backend.freshness()


def test_one_connection_for_searches_writes_and_task_polls(fake: FakeMeili) -> None:
    backend = backend_on(fake)
    backend.setup()
    fake.search_ids = list(range(1, 30))
    for n in range(10):
        backend.index(SERVICES, [svc(n + 1)])
        backend.search(SERVICES, SearchQuery(q="心理", limit=5, offset=n))
    backend.delete(SERVICES, [1, 2])
    assert len(fake.requests) > 40
    assert fake.connections == 1
    figures.record(SUITE, "requests over one kept-alive connection", len(fake.requests))


def test_search_request_and_exact_totals_at_an_odd_offset(fake: FakeMeili) -> None:
    backend = backend_on(fake)
    backend.setup()
    fake.search_ids = list(range(101, 151))  # 50 hits, in the server's order
    fake.requests.clear()
    result = backend.search(SERVICES, SearchQuery(q='"心理"', limit=10, offset=15, facets=["status"]))
    assert result.ids == list(range(116, 126))
    assert result.total == 50
    assert result.facets == {"status": {"published": 50}}
    bodies = [r.body for r in fake.requests if r.path == "/indexes/p_services/search"]
    assert bodies and all(b["q"] == "心理" and b["matchingStrategy"] == "last" for b in bodies)
    assert all("offset" not in b and "limit" not in b and b["sort"] == ["id:asc"] for b in bodies)
    # the last page, cut short
    assert backend.search(SERVICES, SearchQuery(limit=20, offset=45)).ids == list(range(146, 151))
    assert backend.search(SERVICES, SearchQuery(limit=0)).total == 50


def test_delete_by_filter_not_the_deprecated_batch_route(fake: FakeMeili) -> None:
    backend = backend_on(fake)
    backend.setup()
    fake.requests.clear()
    backend.delete(SERVICES, [3, 1, 3])
    posts = [r for r in fake.requests if r.method == "POST"]
    assert [(r.path, r.body) for r in posts] == [("/indexes/p_services/documents/delete", {"filter": "id IN [1, 3]"})]


def test_swap_reindex_call_sequence(fake: FakeMeili) -> None:
    backend = backend_on(fake)
    backend.setup()
    backend.index(SERVICES, [svc(1), svc(2), svc(99)])  # 99: gone from the database
    fake.indexes["p_services_new"] = {"settings": {}, "ids": {5}}  # left over from an interrupted rebuild
    fake.requests.clear()
    assert backend.rebuild(SERVICES, [[svc(1)], [svc(2), svc(3)]]) == 3
    writes = [(r.method, r.path) for r in fake.requests if r.method != "GET"]
    assert writes == [
        ("DELETE", "/indexes/p_services_new"),
        ("POST", "/indexes"),
        ("PATCH", "/indexes/p_services_new/settings"),
        ("POST", "/indexes/p_services_new/documents"),
        ("POST", "/indexes/p_services_new/documents"),
        ("POST", "/swap-indexes"),
        ("DELETE", "/indexes/p_services_new"),
    ]
    swap = next(r for r in fake.requests if r.path == "/swap-indexes")
    assert swap.body == [{"indexes": ["p_services", "p_services_new"]}]
    assert fake.indexes["p_services"]["ids"] == {1, 2, 3}
    assert "p_services_new" not in fake.indexes
    # the live index is never written while the new one is built
    assert not any(r.path.startswith("/indexes/p_services/documents") for r in fake.requests)


def test_a_failed_rebuild_leaves_the_live_index_alone(fake: FakeMeili) -> None:
    backend = backend_on(fake)
    backend.setup()
    backend.index(SERVICES, [svc(1)])

    def batches() -> Iterator[list[dict[str, Any]]]:
        yield [svc(1)]
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        backend.rebuild(SERVICES, batches())
    assert fake.indexes["p_services"]["ids"] == {1}
    assert "p_services_new" not in fake.indexes
    assert not any(r.path == "/swap-indexes" for r in fake.requests)


def test_a_task_that_fails_is_a_search_error(fake: FakeMeili) -> None:
    backend = backend_on(fake)
    backend.setup()
    fake.failing_tasks["documentAdditionOrUpdate"] = "invalid_document_id"
    with pytest.raises(SearchError, match="invalid_document_id"):
        backend.index(SERVICES, [svc(1)])


def test_the_app_starts_without_asking_meilisearch() -> None:
    from marketplace.indexing.sync import _backend

    with socket.socket() as s:  # nothing listens here
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    started = time.monotonic()
    backend = _backend(url, None, "/nonexistent/search.sqlite3")
    assert time.monotonic() - started < 1
    assert isinstance(backend, MeiliBackend)
    assert backend.health().startswith("unavailable: ")


async def test_an_app_on_an_absent_meilisearch_starts_and_answers_503(settings: Any, world: Any) -> None:
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from marketplace.app import create_app
    from tests.conftest import Auth, assert_problem

    with socket.socket() as s:  # nothing listens here
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    app = create_app(replace(settings, meili_url=url))
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        auth = Auth(client)
        r = await client.get("/api/v1/services", params={"q": "心理"}, headers=await auth("director"))
        body = assert_problem(r, 503)
        assert r.headers["retry-after"] == "10"
        assert "search unavailable" in body["detail"]
        health = (await client.get("/health")).json()
        assert health["search"].startswith("unavailable")
        assert (await client.get("/api/v1/services", headers=await auth("director"))).status_code == 200


class _SwapBackend:
    """A backend that rebuilds beside its live copy and swaps (as MeiliBackend does), held in dicts."""

    in_process = False

    def __init__(self) -> None:
        self.live: dict[str, dict[int, dict[str, Any]]] = {SERVICES: {}, ORGANIZATIONS: {}}
        self.swaps: list[str] = []
        self.during_build: list[Any] = []
        self.before_swap: Callable[[], None] | None = None  # runs in the worker thread, just before a swap

    def index(self, index_name: str, docs: Any) -> None:
        self.live[index_name].update({int(d["id"]): dict(d) for d in docs})

    def delete(self, index_name: str, ids: Any) -> None:
        for i in ids:
            self.live[index_name].pop(int(i), None)

    def document_ids(self, index_name: str) -> list[int]:
        return sorted(self.live[index_name])

    def begin_rebuild(self, index_name: str) -> Any:
        backend = self

        class Build:
            new: dict[int, dict[str, Any]] = {}

            def index(self, docs: Any) -> None:
                self.new = {**self.new, **{int(d["id"]): dict(d) for d in docs}}

            def finish(self) -> None:
                if backend.before_swap is not None:
                    backend.before_swap()
                backend.live[index_name] = self.new
                backend.swaps.append(index_name)

            def abort(self) -> None:
                raise AssertionError("not aborted here")

        return Build()


async def test_reindex_all_swaps_and_catches_up_with_changes_made_meanwhile(db: Any, world: Any) -> None:
    import asyncio
    import threading

    from sqlalchemy import update

    from marketplace.indexing.service import mark_dirty
    from marketplace.indexing.sync import Rebuilding, pending_count, reindex_all
    from marketplace.resources.models import Service

    backend = _SwapBackend()
    assert isinstance(backend, Rebuilding)
    backend.live[SERVICES][990_001] = svc(990_001)  # in the old index, not in the database
    first = min(world.services)
    changes: list[asyncio.Task[None]] = []
    committed = threading.Event()

    async def rename_first() -> None:  # a user's edit while the rebuild runs; its handler writes the live index
        async with db.session() as session:
            await session.execute(update(Service).where(Service.id == first).values(title="改名后的服务项目"))
            await mark_dirty(session, SERVICES, first)
        backend.live[SERVICES][first] = {**backend.live[SERVICES].get(first, {}), "title": "改名后的服务项目"}
        committed.set()

    def wait_for_the_edit() -> None:
        # the edit lands before the swap (its version is then read as moved and as dirty). An edit committed
        # after that read legitimately stays dirty for its own pass, which is not what this test is about.
        if not committed.is_set() and changes:
            assert committed.wait(30), "the edit made meanwhile never committed"

    backend.before_swap = wait_for_the_edit

    def progress(index_name: str, done: int, total: int) -> None:
        if index_name == SERVICES and done == 1:  # the first service is in the new index, in its old version
            changes.append(asyncio.get_running_loop().create_task(rename_first()))

    counts = await reindex_all(db, backend, batch=1, progress=progress)
    assert changes and changes[0].done()
    assert backend.swaps == [SERVICES, ORGANIZATIONS]
    assert counts[SERVICES] == len(backend.live[SERVICES])
    assert 990_001 not in backend.live[SERVICES]
    assert backend.live[SERVICES][first]["title"] == "改名后的服务项目"
    async with db.session(write=False) as session:
        assert await pending_count(session) == 0  # every version the new indexes hold is marked indexed


def test_the_worker_sets_meilisearch_up_in_the_background_as_it_starts(
    fake: FakeMeili, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    from workers import runtime

    backend = backend_on(fake)
    monkeypatch.setattr(runtime, "backend_for", lambda settings: backend)
    runtime.warm()  # returns at once: the set-up runs in its own thread
    for thread in threading.enumerate():
        if thread.name == "search-setup":
            thread.join(10)
    assert set(fake.indexes) == {"p_services", "p_organizations"}
    assert fake.indexes["p_services"]["settings"] == index_settings(SERVICES, LABELS)
    fake.version = "1.9.0"  # a server it cannot use: logged, the worker goes on
    with caplog.at_level("WARNING", logger="workers.runtime"):
        runtime.warm()
        for thread in threading.enumerate():
            if thread.name == "search-setup":
                thread.join(10)
    failed = [r for r in caplog.records if "search setup at worker start failed" in r.getMessage()]
    assert failed and "1.9.0 is too old" in str(failed[0].exc_info[1] if failed[0].exc_info else "")


def test_the_search_setup_command(fake: FakeMeili, settings: Any, tmp_path: Any) -> None:
    from click.testing import CliRunner

    from marketplace.cli import main
    from marketplace.settings import get_settings

    env = {
        "MARKETPLACE_DATABASE_URL": settings.database_url,
        "MARKETPLACE_DATA_DIR": str(tmp_path),
        "MARKETPLACE_SEARCH_PATH": settings.search_path,
        "REDIS_URL": "",
        "MEILI_URL": fake.url,
    }

    def run(**more: str) -> Any:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(main, ["search", "setup"], env={**env, **more})
        finally:
            get_settings.cache_clear()

    first = run()
    assert first.exit_code == 0, first.output
    assert "Meilisearch 1.12.3" in first.output
    assert first.output.splitlines()[-1] == "services: created, organizations: created"
    again = run()
    assert again.exit_code == 0 and again.output.splitlines()[-1] == ("services: up to date, organizations: up to date")
    fake.version = "1.8.1"
    old = run()
    assert old.exit_code == 1 and "Meilisearch 1.8.1 is too old" in old.output and "Traceback" not in old.output
    embedded = run(MEILI_URL="")
    assert embedded.exit_code == 0 and "nothing to set up" in embedded.output
