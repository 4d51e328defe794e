"""The Meilisearch backend (production): Meilisearch ≥ 1.10 over its HTTP API, one kept-alive session per backend.

The official client (``meilisearch``) opens a new connection for every request (it calls ``requests.get`` and
friends); this backend keeps one :class:`requests.Session` (a connection pool, thread-safe for these calls) for
searches, writes and task polls alike, and speaks the few routes it needs itself.

What the app relies on, decided in one place each:

* **settings**: :func:`index_settings` is the whole settings body of an index (searchable, filterable and sortable
  attributes, ranking rules, synonyms expanded so long keys fire, the domain dictionary, the stop words,
  ``localizedAttributes``, pagination); :meth:`MeiliBackend.setup` sends it (``marketplace search setup``), never
  the app's start-up, and only when the index's current settings differ (a settings change re-indexes a
  populated index: it can take minutes, so the wait is generous and reports progress);
* **the query**: :func:`search_params` (``matchingStrategy: "last"``, the filter strings, the sort ending with
  ``id:asc``, exact totals from ``page``/``hitsPerPage``) with the port's ``plain_text`` (quotes and a leading
  ``-`` are not operators); the port's ``prepare`` refuses inapplicable filters and answers empty ones first;
* **the server**: :meth:`MeiliBackend.check_version` refuses a server older than :data:`MIN_VERSION`.

Every write waits for its task, so ``index()`` returns only when the documents are searchable. Derived fields
sent along with each document:

* ``district_wide`` (bool): the service has no street_ids, so the street filter is
  ``(street_ids = X OR district_wide = true)``;
* ``category_labels`` (if missing), ``child_category_labels``, ``kind_label``: Chinese labels to search;
* ``assured_on_days`` / ``updated_at_ts``: numbers to sort on (omitted when unknown, so those sort last).

Chinese: ``localizedAttributes`` declares ``cmn`` (Mandarin; the code every server from 1.10 accepts) for every
attribute, so Meilisearch segments with its jieba-based segmenter, helped by ``dictionary`` (the same domain words
the embedded engine's jieba loads). Typo tolerance is off: Chinese words have no typos in Meilisearch's sense, and
the embedded engine matches without them (the same results in both engines, as the contract asks).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import requests
from requests.adapters import HTTPAdapter

from search.documents import Labels, category_labels, child_category_labels, date_days, epoch_seconds, kind_label
from search.port import (
    APPLICABLE_FILTERS,
    INDEX_NAMES,
    MAX_TOTAL_HITS,
    ORGANIZATIONS,
    SERVICES,
    Document,
    InapplicableFilter,
    SearchError,
    SearchHit,
    SearchQuery,
    SearchResult,
    check_index_name,
    plain_text,
    prepare,
)
from search.synonyms import STOP_WORDS, dictionary_words, expanded_synonyms

log = logging.getLogger("search.meili")

# localizedAttributes arrived in 1.10; the swap, filter-delete and page/hitsPerPage routes are older.
MIN_VERSION: Final = (1, 10)

# Mandarin Chinese: declared for every attribute and sent with every query (``locales``, also 1.10), so a short
# query is never taken for Japanese (kanji) by the language detection and segmented otherwise than the documents.
LOCALES: Final = ["cmn"]

# Relevance first (documents matching every word, then fewer, words dropped from the end: matchingStrategy
# "last"), then the query's sort, which always ends with id:asc (the contract's tie-break).
RANKING_RULES: Final = ["words", "typo", "proximity", "attribute", "exactness", "sort"]

_SEARCHABLE: Final[dict[str, list[str]]] = {
    SERVICES: ["title", "category_labels", "child_category_labels", "organization_name", "description", "eligibility"],
    ORGANIZATIONS: ["name", "kind_label", "description", "credit_code"],
}
_FILTERABLE: Final[dict[str, list[str]]] = {
    SERVICES: [
        "id",
        "categories",
        "child_categories",
        "street_ids",
        "district_wide",
        "age_min",
        "age_max",
        "status",
        "organization_id",
        "capacity_left",
    ],
    ORGANIZATIONS: ["id", "kind", "street_ids", "district_wide", "status"],
}
_SORTABLE: Final[dict[str, list[str]]] = {
    SERVICES: ["id", "assured_on_days", "updated_at_ts", "cost_per_case_fen"],
    ORGANIZATIONS: ["id", "updated_at_ts"],
}

_SORTS: Final[dict[str, list[str]]] = {
    "relevance": [],
    "assured_on:desc": ["assured_on_days:desc"],
    "updated_at:desc": ["updated_at_ts:desc"],
    "cost_per_case_fen:asc": ["cost_per_case_fen:asc"],
}


def index_settings(index_name: str, labels: Labels | None = None) -> dict[str, Any]:
    """The full settings body of an index: the one place they are decided."""
    check_index_name(index_name)
    return {
        "searchableAttributes": list(_SEARCHABLE[index_name]),
        "filterableAttributes": list(_FILTERABLE[index_name]),
        "sortableAttributes": list(_SORTABLE[index_name]),
        "rankingRules": list(RANKING_RULES),
        "synonyms": expanded_synonyms(),
        "dictionary": dictionary_words((labels or Labels()).all()),
        "stopWords": list(STOP_WORDS),
        "localizedAttributes": [{"attributePatterns": ["*"], "locales": list(LOCALES)}],
        "typoTolerance": {"enabled": False},
        "faceting": {"maxValuesPerFacet": 1000},
        "pagination": {"maxTotalHits": MAX_TOTAL_HITS},
    }


def _same_settings(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether the server's settings already are ``wanted`` (order-insensitive where Meilisearch is)."""
    for key, value in wanted.items():
        have = current.get(key)
        if key in ("filterableAttributes", "sortableAttributes", "stopWords", "dictionary"):
            if sorted(map(str, have or [])) != sorted(map(str, value)):
                return False
        elif key == "synonyms":
            if {k: sorted(v) for k, v in (have or {}).items()} != {k: sorted(v) for k, v in value.items()}:
                return False
        elif isinstance(value, dict):
            if not isinstance(have, dict) or any(have.get(k) != v for k, v in value.items()):
                return False
        elif have != value:
            return False
    return True


def to_meili_document(index_name: str, doc: Document, labels: Labels) -> dict[str, Any]:
    out = dict(doc)
    streets = list(doc.get("street_ids") or [])
    out["street_ids"] = streets
    out["district_wide"] = not streets
    updated = epoch_seconds(doc.get("updated_at"))
    out.pop("updated_at_ts", None)
    if updated == updated:  # not NaN
        out["updated_at_ts"] = updated
    if index_name == SERVICES:
        if not doc.get("category_labels"):
            out["category_labels"] = category_labels(doc, labels)
        out["child_category_labels"] = child_category_labels(doc, labels)
        assured = date_days(doc.get("assured_on"))
        out.pop("assured_on_days", None)
        if assured == assured:
            out["assured_on_days"] = assured
    else:
        out["kind_label"] = kind_label(doc, labels)
    return out


# ---------------------------------------------------------------------------------------------------- the query


def _in(field: str, values: Sequence[Any]) -> str:
    return f"{field} IN [{', '.join(json.dumps(v, ensure_ascii=False) for v in values)}]"


def _given_filters(query: SearchQuery) -> dict[str, Any]:
    f = query.filters
    given = {
        "categories": f.categories,
        "child_categories": f.child_categories,
        "street_id": f.street_id,
        "age": f.age,
        "status": f.statuses(),
        "organization_id": f.organization_id,
        "available": f.available,
        "kind": f.kinds(),
    }
    return {name: value for name, value in given.items() if value is not None}


def filter_expression(index_name: str, query: SearchQuery) -> list[str]:
    """Meilisearch filter clauses (AND-ed) for the query's filters; every field named is filterable on the index.

    Raises for a filter the index does not have or an empty list: ``search.port.prepare`` refuses the one and
    answers the other (nothing matches) before a backend is asked; Meilisearch has no "false" filter literal."""
    given = _given_filters(query)
    inapplicable = sorted(set(given) - APPLICABLE_FILTERS[index_name])
    if inapplicable:
        raise InapplicableFilter(f"filter {', '.join(inapplicable)} does not apply to {index_name}", inapplicable[0])
    if query.filters.matches_nothing():
        raise ValueError("an empty filter list matches nothing: answered without a search (search.port.prepare)")
    clauses: list[str] = []
    if "categories" in given:
        clauses.append(_in("categories", given["categories"]))
    if "child_categories" in given:
        clauses.append(_in("child_categories", given["child_categories"]))
    if "street_id" in given:
        clauses.append(f"(street_ids = {int(given['street_id'])} OR district_wide = true)")
    if "status" in given:
        clauses.append(_in("status", given["status"]))
    if "kind" in given:
        clauses.append(_in("kind", given["kind"]))
    if "age" in given:
        age = int(given["age"])
        clauses.append(f"age_min <= {age} AND age_max >= {age}")
    if "organization_id" in given:
        clauses.append(f"organization_id = {int(given['organization_id'])}")
    if "available" in given:
        clauses.append("capacity_left > 0" if given["available"] else "capacity_left <= 0")
    return clauses


def sort_list(query: SearchQuery) -> list[str]:
    """The ``sort`` parameter: the query's sort (none for relevance), then ``id:asc`` always."""
    return [*_SORTS[query.sort], "id:asc"]


def page_plan(offset: int, limit: int) -> tuple[list[tuple[int, int]], int]:
    """The ``(page, hitsPerPage)`` requests that cover ``[offset, offset + limit)``, and where the slice starts in
    their hits put end to end. Pages (not offset/limit) make Meilisearch count ``totalHits`` exactly.

    One request when a page size from ``limit`` to ``2 * limit`` holds the window whole, else two pages of
    ``limit``."""
    if limit == 0:
        return [(1, 0)], 0
    if offset % limit == 0:
        return [(offset // limit + 1, limit)], 0
    for size in range(limit + 1, 2 * limit + 1):
        first = offset // size
        if (offset + limit - 1) // size == first:
            return [(first + 1, size)], offset - first * size
    first = offset // limit
    return [(first + 1, limit), (first + 2, limit)], offset - first * limit


def search_params(index_name: str, query: SearchQuery) -> dict[str, Any]:
    """The search body but ``page``/``hitsPerPage`` (see :func:`page_plan`)."""
    text = " ".join(plain_text(query.q).split())  # the port leaves a space where a lone "-" was
    params: dict[str, Any] = {
        "q": text,
        "attributesToRetrieve": ["id"],
        "matchingStrategy": "last",
        "sort": sort_list(query),
    }
    if text:
        params["showRankingScore"] = True
        params["locales"] = list(LOCALES)
    clauses = filter_expression(index_name, query)
    if clauses:
        params["filter"] = clauses
    if query.facets:
        params["facets"] = list(query.facets)
    return params


def parse_version(text: str) -> tuple[int, int, int]:
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    if not match:
        raise ValueError(f"not a version: {text!r}")
    return int(match[1]), int(match[2]), int(match[3] or 0)


def version_problem(version: str) -> str | None:
    """Why this app cannot use a server of ``version`` (None when it can)."""
    try:
        found = parse_version(version)
    except ValueError:
        return f"Meilisearch answered an unreadable version {version!r}; this app needs Meilisearch >= 1.10"
    if found[:2] < MIN_VERSION:
        return (
            f"Meilisearch {version} is too old: this app needs Meilisearch >= 1.10 "
            "(localizedAttributes for Chinese, exact page totals); upgrade the server, then run `marketplace search setup`"
        )
    return None


# ------------------------------------------------------------------------------------------------------ the wire


class MeiliApiError(SearchError):
    """The server answered with an error (``code`` is Meilisearch's, e.g. ``index_not_found``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Meilisearch {status} {code}: {message}")
        self.status = status
        self.code = code


class MeiliUnreachable(SearchError):
    """No answer from the server (refused, timed out, reset)."""


class MeiliTaskFailed(SearchError):
    def __init__(self, task: dict[str, Any]) -> None:
        error = task.get("error") or {}
        super().__init__(f"Meilisearch task {task.get('uid')} {task.get('status')}: {error.get('message', error)}")
        self.task = task
        self.code = str(error.get("code", ""))


class _Wire:
    """One kept-alive HTTP session to the server."""

    def __init__(self, url: str, api_key: str | None, timeout_s: float) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["Content-Type"] = "application/json"
        self.session.headers["User-Agent"] = "marketplace (Meilisearch backend)"
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Any:
        try:
            response = self.session.request(
                method,
                f"{self.url}{path}",
                data=None if body is None else json.dumps(body, ensure_ascii=False).encode(),
                params=params,
                timeout=timeout_s or self.timeout_s,
            )
        except requests.RequestException as exc:
            raise MeiliUnreachable(f"Meilisearch at {self.url} unreachable: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {}
            if not isinstance(problem, dict):
                problem = {}
            raise MeiliApiError(
                response.status_code,
                str(problem.get("code", "http_error")),
                str(problem.get("message", response.text[:200])),
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise SearchError(f"Meilisearch at {self.url} answered {method} {path} with non-JSON") from exc

    def close(self) -> None:
        self.session.close()


# ------------------------------------------------------------------------------------------------- the backend

Progress = Callable[[str], None]


class MeiliBackend:
    """Search on a Meilisearch server. ``prefix`` namespaces the index uids (tests use a random one); ``labels``
    name the documents' codes (sent as the derived label fields and in the dictionary).

    Nothing here talks to the server at construction: the app starts with the server slow or absent (searches
    then fail with :class:`SearchError`, health says why); ``setup()`` creates and configures the indexes."""

    in_process = False

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        labels: Labels | None = None,
        prefix: str = "",
        timeout_s: float = 10,
        task_timeout_s: float = 60,
        setup_timeout_s: float = 1800,
        health_timeout_s: float = 2,
    ) -> None:
        self.wire = _Wire(url, api_key, timeout_s)
        self.prefix = prefix
        self.labels = labels or Labels()
        self.task_timeout_s = task_timeout_s
        self.setup_timeout_s = setup_timeout_s
        self.health_timeout_s = health_timeout_s

    def uid(self, index_name: str) -> str:
        check_index_name(index_name)
        return f"{self.prefix}{index_name}"

    def close(self) -> None:
        self.wire.close()

    # tasks

    def wait(
        self, task_uid: int, *, timeout_s: float | None = None, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Poll the task (same session) until it is done; raises when it failed or the wait ran out."""
        limit = timeout_s if timeout_s is not None else self.task_timeout_s
        started = time.monotonic()
        pause = 0.01
        said = started
        while True:
            task: dict[str, Any] = self.wire.call("GET", f"/tasks/{int(task_uid)}")
            status = task.get("status")
            if status == "succeeded":
                return task
            if status in ("failed", "canceled"):
                raise MeiliTaskFailed(task)
            now = time.monotonic()
            if now - started > limit:
                raise SearchError(
                    f"Meilisearch task {task_uid} still {status} after {limit:.0f} s (it goes on on the server; "
                    "run the command again to wait for it)"
                )
            if progress and now - said >= 5:
                progress(
                    f"task {task_uid} ({task.get('type')}, {task.get('indexUid')}) {status} for {now - started:.0f} s"
                )
                said = now
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def _enqueue(self, method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        task: dict[str, Any] = self.wire.call(method, path, body, **kwargs)
        return self.wait(int(task["taskUid"]))

    # the server

    def version(self) -> str:
        return str((self.wire.call("GET", "/version") or {}).get("pkgVersion", ""))

    def check_version(self) -> str:
        """The server's version; raises SearchError with a clear message when this app cannot use it."""
        version = self.version()
        problem = version_problem(version)
        if problem:
            raise SearchError(f"{problem} (server: {self.wire.url})")
        return version

    # set-up

    def _create(self, uid: str) -> bool:
        """Create the index; False when it exists already (also when another process created it meanwhile)."""
        try:
            self.wire.call("GET", f"/indexes/{uid}")
            return False
        except MeiliApiError as exc:
            if exc.code != "index_not_found":
                raise
        task = self.wire.call("POST", "/indexes", {"uid": uid, "primaryKey": "id"})
        try:
            self.wait(int(task["taskUid"]))
        except MeiliTaskFailed as exc:
            if exc.code == "index_already_exists":  # a concurrent setup won the race: fine
                return False
            raise
        return True

    def configure(self, uid: str, index_name: str, *, progress: Progress | None = None) -> bool:
        """Send the index's settings unless it has them already; waits for the task (re-indexing a populated index
        can take minutes). True when settings were sent."""
        wanted = index_settings(index_name, self.labels)
        current = self.wire.call("GET", f"/indexes/{uid}/settings") or {}
        if _same_settings(current, wanted):
            return False
        task = self.wire.call("PATCH", f"/indexes/{uid}/settings", wanted)
        if progress:
            progress(f"{uid}: settings sent (task {task['taskUid']}), waiting for the server to apply them")
        self.wait(int(task["taskUid"]), timeout_s=self.setup_timeout_s, progress=progress)
        return True

    def setup(self, progress: Progress | None = None) -> dict[str, str]:
        """Check the server's version, create both indexes and bring their settings up to date; idempotent, and
        safe when several processes run it at once (``marketplace search setup``, the worker's start)."""
        say = progress or (lambda message: None)
        version = self.check_version()
        say(f"Meilisearch {version} at {self.wire.url}")
        done: dict[str, str] = {}
        for name in INDEX_NAMES:
            uid = self.uid(name)
            created = self._create(uid)
            configured = self.configure(uid, name, progress=say)
            done[name] = "created" if created else ("settings updated" if configured else "up to date")
            say(f"{uid}: {done[name]}")
        return done

    def ensure_indexes(self) -> None:
        self.setup()

    # writes

    def index(self, index_name: str, docs: Sequence[Document]) -> None:
        self._add(self.uid(index_name), index_name, docs)

    def _add(self, uid: str, index_name: str, docs: Sequence[Document]) -> None:
        if not docs:
            return
        body = [to_meili_document(index_name, doc, self.labels) for doc in docs]
        self._enqueue("POST", f"/indexes/{uid}/documents", body, params={"primaryKey": "id"})

    def delete(self, index_name: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        wanted = sorted({int(i) for i in ids})
        self._enqueue("POST", f"/indexes/{self.uid(index_name)}/documents/delete", {"filter": _in("id", wanted)})

    def clear(self, index_name: str) -> None:
        self._enqueue("DELETE", f"/indexes/{self.uid(index_name)}/documents")

    def _drop_uid(self, uid: str) -> None:
        try:
            self._enqueue("DELETE", f"/indexes/{uid}")
        except MeiliApiError as exc:
            if exc.code != "index_not_found":
                raise
        except MeiliTaskFailed as exc:
            if exc.code != "index_not_found":
                raise

    def drop(self) -> None:
        """Delete both indexes and any half-built copy (tests clean up with it)."""
        for name in INDEX_NAMES:
            for uid in (self.uid(name), f"{self.uid(name)}_new"):
                try:
                    self._drop_uid(uid)
                except SearchError:
                    log.warning("could not delete Meilisearch index %s", uid, exc_info=True)

    # zero-downtime rebuild

    def begin_rebuild(self, index_name: str, progress: Progress | None = None) -> MeiliRebuild:
        """A fresh ``<uid>_new`` index with the settings, to fill and then swap in (:class:`MeiliRebuild`)."""
        uid = self.uid(index_name)
        staging = f"{uid}_new"
        self._create(uid)  # the swap needs both indexes
        self._drop_uid(staging)  # left over from an interrupted rebuild
        self._create(staging)
        self.configure(staging, index_name, progress=progress)
        return MeiliRebuild(self, index_name, uid, staging)

    def rebuild(self, index_name: str, batches: Iterable[Sequence[Document]]) -> int:
        """Build the index anew from ``batches`` beside the live one, then swap it in: searches see the old index
        until the new one is complete."""
        rebuild = self.begin_rebuild(index_name)
        count = 0
        try:
            for docs in batches:
                rebuild.index(docs)
                count += len(docs)
        except BaseException:
            rebuild.abort()
            raise
        rebuild.finish()
        return count

    # reads

    def search(self, index_name: str, query: SearchQuery) -> SearchResult:
        nothing = prepare(index_name, query)
        if nothing is not None:
            return nothing
        params = search_params(index_name, query)
        requests_, skip = page_plan(query.offset, query.limit)
        hits: list[dict[str, Any]] = []
        first: dict[str, Any] = {}
        for n, (page, size) in enumerate(requests_):
            raw: dict[str, Any] = self.wire.call(
                "POST", f"/indexes/{self.uid(index_name)}/search", {**params, "page": page, "hitsPerPage": size}
            )
            if n == 0:
                first = raw
            hits.extend(raw.get("hits", []))
        scored = bool(params["q"])
        page_hits = [
            SearchHit(id=int(h["id"]), score=h.get("_rankingScore") if scored else None)
            for h in hits[skip : skip + query.limit]
        ]
        distribution: dict[str, dict[str, int]] = first.get("facetDistribution") or {}
        facets = {name: {str(k): int(v) for k, v in distribution.get(name, {}).items()} for name in query.facets}
        return SearchResult(hits=page_hits, total=int(first.get("totalHits", 0)), facets=facets)

    def document_ids(self, index_name: str) -> list[int]:
        return self._document_ids(self.uid(index_name))

    def _document_ids(self, uid: str) -> list[int]:
        found: list[int] = []
        while True:
            page = self.wire.call(
                "GET", f"/indexes/{uid}/documents", params={"fields": "id", "limit": 1000, "offset": len(found)}
            )
            results = page.get("results", [])
            found.extend(int(doc["id"]) for doc in results)
            if not results or len(found) >= int(page.get("total", 0)):
                break
        return sorted(found)

    def freshness(self) -> dict[str, Any]:
        """The server's enqueued or processing tasks on this backend's indexes (one small request): the changes
        not yet searchable. Every process asks the same server, so none is behind another."""
        uids = ",".join(self.uid(name) for name in INDEX_NAMES)
        try:
            tasks = self.wire.call(
                "GET",
                "/tasks",
                params={"statuses": "enqueued,processing", "indexUids": uids, "limit": 1},
                timeout_s=self.health_timeout_s,
            )
        except Exception as exc:
            return {"engine": "meilisearch", "error": str(exc)}
        return {"engine": "meilisearch", "behind": 0, "pending_tasks": int(tasks.get("total", 0))}

    def health(self) -> str:
        """Both indexes' stats, asked with the configured key within ``health_timeout_s`` each: a wrong key, a
        missing index or an unreachable server each say so. Blocking but bounded (the app calls it in a thread)."""
        for name in INDEX_NAMES:
            uid = self.uid(name)
            try:
                self.wire.call("GET", f"/indexes/{uid}/stats", timeout_s=self.health_timeout_s)
            except MeiliApiError as exc:
                if exc.code == "index_not_found":
                    return f"unavailable: index {uid} missing (run `marketplace search setup`)"
                if exc.status in (401, 403):
                    return f"unavailable: the API key was refused ({exc.code})"
                return f"unavailable: {exc}"
            except Exception as exc:
                return f"unavailable: {exc}"
        return "ok"


class MeiliRebuild:
    """An index being rebuilt beside the live one: ``index()`` batches into ``<uid>_new``, ``finish()`` swaps it in
    (one atomic task) and deletes the old copy; ``abort()`` deletes the half-built one."""

    def __init__(self, backend: MeiliBackend, index_name: str, uid: str, staging: str) -> None:
        self.backend = backend
        self.index_name = index_name
        self.uid = uid
        self.staging = staging

    def index(self, docs: Sequence[Document]) -> None:
        self.backend._add(self.staging, self.index_name, docs)

    def finish(self) -> None:
        self.backend._enqueue("POST", "/swap-indexes", [{"indexes": [self.uid, self.staging]}])
        self.backend._drop_uid(self.staging)  # now the old documents

    def abort(self) -> None:
        try:
            self.backend._drop_uid(self.staging)
        except SearchError:
            log.warning("could not delete the half-built index %s", self.staging, exc_info=True)
