"""The Meilisearch backend (production), with the official ``meilisearch`` client.

Every write waits for its task (``client.wait_for_task``) so that ``index()`` returns only when the documents
are searchable. Derived fields sent along with each document:

* ``district_wide`` (bool): the service has no street_ids, so the street filter is
  ``(street_ids = X OR district_wide = true)``;
* ``category_labels`` (if missing), ``child_category_labels``, ``kind_label``: Chinese labels to search;
* ``assured_on_days`` / ``updated_at_ts``: numbers to sort on (omitted when unknown, so those sort last).

Chinese: ``localizedAttributes`` declares ``cmn`` for every attribute (Meilisearch then segments with its
Chinese dictionary segmenter), the domain synonyms from :mod:`search.synonyms` go to ``synonyms``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import meilisearch
from meilisearch.errors import MeilisearchError

from search.documents import Labels, category_labels, child_category_labels, date_days, epoch_seconds, kind_label
from search.port import (
    INDEX_NAMES,
    ORGANIZATIONS,
    SERVICES,
    Document,
    SearchError,
    SearchHit,
    SearchQuery,
    SearchResult,
    check_index_name,
)
from search.synonyms import meilisearch_synonyms

_RANKING_RULES: Final = ["sort", "words", "typo", "proximity", "attribute", "exactness"]

_SETTINGS: Final[dict[str, dict[str, Any]]] = {
    SERVICES: {
        "searchableAttributes": [
            "title",
            "category_labels",
            "child_category_labels",
            "organization_name",
            "description",
            "eligibility",
        ],
        "filterableAttributes": [
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
        "sortableAttributes": ["id", "assured_on_days", "updated_at_ts", "cost_per_case_fen"],
    },
    ORGANIZATIONS: {
        "searchableAttributes": ["name", "kind_label", "description", "credit_code"],
        "filterableAttributes": ["kind", "street_ids", "district_wide", "status"],
        "sortableAttributes": ["id", "updated_at_ts"],
    },
}

_SORTS: Final[dict[str, list[str]]] = {
    "assured_on:desc": ["assured_on_days:desc"],
    "updated_at:desc": ["updated_at_ts:desc"],
    "cost_per_case_fen:asc": ["cost_per_case_fen:asc"],
}


def index_settings(index_name: str) -> dict[str, Any]:
    """The full settings body of an index."""
    return {
        **_SETTINGS[index_name],
        "rankingRules": _RANKING_RULES,
        "localizedAttributes": [{"attributePatterns": ["*"], "locales": ["cmn"]}],
        "synonyms": meilisearch_synonyms(),
        "typoTolerance": {
            "enabled": True,
            "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
            "disableOnAttributes": ["credit_code"] if index_name == ORGANIZATIONS else [],
        },
        "faceting": {"maxValuesPerFacet": 1000},
        "pagination": {"maxTotalHits": 100_000},
    }


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


def _in(field: str, values: Sequence[Any]) -> str:
    return f"{field} IN [{', '.join(json.dumps(v, ensure_ascii=False) for v in values)}]"


def filter_expression(index_name: str, query: SearchQuery) -> list[str]:
    """Meilisearch filter clauses (AND-ed) for the query's filters."""
    f = query.filters
    clauses: list[str] = []
    if f.categories is not None:
        clauses.append(_in("categories", f.categories) if f.categories else "id < 0")
    if f.child_categories is not None:
        clauses.append(_in("child_categories", f.child_categories) if f.child_categories else "id < 0")
    if f.street_id is not None:
        clauses.append(f"(street_ids = {int(f.street_id)} OR district_wide = true)")
    statuses = f.statuses()
    if statuses is not None:
        clauses.append(_in("status", statuses) if statuses else "id < 0")
    kinds = f.kinds()
    if kinds is not None:
        clauses.append(_in("kind", kinds) if kinds else "id < 0")
    if f.age is not None:
        clauses.append(f"age_min <= {int(f.age)} AND age_max >= {int(f.age)}")
    if f.organization_id is not None:
        clauses.append(f"organization_id = {int(f.organization_id)}")
    if f.available is not None:
        clauses.append("capacity_left > 0" if f.available else "capacity_left <= 0")
    return clauses


class MeiliBackend:
    """Search on a Meilisearch server. ``prefix`` namespaces the index uids (tests use a random one); ``labels``
    name the documents' codes (sent as the derived label fields)."""

    in_process = False

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        labels: Labels | None = None,
        prefix: str = "",
        timeout_s: int = 10,
        task_timeout_ms: int = 60_000,
    ) -> None:
        self.client = meilisearch.Client(url, api_key, timeout=timeout_s)
        self.prefix = prefix
        self.labels = labels or Labels()
        self.task_timeout_ms = task_timeout_ms

    def uid(self, index_name: str) -> str:
        check_index_name(index_name)
        return f"{self.prefix}{index_name}"

    def _wait(self, task_uid: int) -> None:
        task = self.client.wait_for_task(task_uid, timeout_in_ms=self.task_timeout_ms, interval_in_ms=20)
        if task.status != "succeeded":
            raise SearchError(f"Meilisearch task {task_uid} {task.status}: {task.error}")

    def ensure_indexes(self) -> None:
        try:
            for name in INDEX_NAMES:
                uid = self.uid(name)
                try:
                    self.client.get_index(uid)
                except MeilisearchError:
                    self._wait(self.client.create_index(uid, {"primaryKey": "id"}).task_uid)
                self._wait(self.client.index(uid).update_settings(index_settings(name)).task_uid)
        except MeilisearchError as exc:
            raise SearchError(str(exc)) from exc

    def index(self, index_name: str, docs: Sequence[Document]) -> None:
        if not docs:
            return
        body = [to_meili_document(index_name, doc, self.labels) for doc in docs]
        try:
            info = self.client.index(self.uid(index_name)).add_documents(body, primary_key="id")
            self._wait(info.task_uid)
        except MeilisearchError as exc:
            raise SearchError(str(exc)) from exc

    def delete(self, index_name: str, ids: Sequence[int]) -> None:
        if not ids:
            return
        try:
            info = self.client.index(self.uid(index_name)).delete_documents([int(i) for i in ids])
            self._wait(info.task_uid)
        except MeilisearchError as exc:
            raise SearchError(str(exc)) from exc

    def clear(self, index_name: str) -> None:
        try:
            self._wait(self.client.index(self.uid(index_name)).delete_all_documents().task_uid)
        except MeilisearchError as exc:
            raise SearchError(str(exc)) from exc

    def drop(self) -> None:
        """Delete both indexes (tests clean up with it)."""
        for name in INDEX_NAMES:
            try:
                self._wait(self.client.delete_index(self.uid(name)).task_uid)
            except MeilisearchError:
                continue

    def search(self, index_name: str, query: SearchQuery) -> SearchResult:
        query.validate(index_name)
        params: dict[str, Any] = {
            "showRankingScore": True,
            "attributesToRetrieve": ["id"],
            "matchingStrategy": "last",
        }
        clauses = filter_expression(index_name, query)
        if clauses:
            params["filter"] = clauses
        if query.facets:
            params["facets"] = list(query.facets)
        if query.sort != "relevance":
            params["sort"] = _SORTS[query.sort] + ["id:asc"]
        elif not query.q.strip():
            params["sort"] = ["id:asc"]
        exact_pages = query.limit > 0 and query.offset % query.limit == 0
        if exact_pages:
            params["hitsPerPage"] = query.limit
            params["page"] = query.offset // query.limit + 1
        else:
            params["limit"] = query.limit
            params["offset"] = query.offset
        try:
            raw = self.client.index(self.uid(index_name)).search(query.q, params)
        except MeilisearchError as exc:
            raise SearchError(str(exc)) from exc
        total = int(raw.get("totalHits", raw.get("estimatedTotalHits", 0)))
        hits = [
            SearchHit(id=int(h["id"]), score=h.get("_rankingScore") if query.q.strip() else None)
            for h in raw.get("hits", [])
        ]
        distribution: dict[str, dict[str, int]] = raw.get("facetDistribution") or {}
        facets = {name: {str(k): int(v) for k, v in distribution.get(name, {}).items()} for name in query.facets}
        return SearchResult(hits=hits, total=total, facets=facets)

    def document_ids(self, index_name: str) -> list[int]:
        index = self.client.index(self.uid(index_name))
        found: list[int] = []
        try:
            while True:
                page = index.get_documents({"fields": ["id"], "limit": 1000, "offset": len(found)})
                found.extend(int(doc.id) for doc in page.results)
                if not page.results or len(found) >= page.total:
                    break
        except MeilisearchError as exc:
            raise SearchError(str(exc)) from exc
        return sorted(found)

    def freshness(self) -> dict[str, Any]:
        """The server's enqueued or processing tasks on this backend's indexes (one small request): the changes
        not yet searchable. Every process asks the same server, so none is behind another."""
        try:
            tasks = self.client.get_tasks(
                {
                    "statuses": ["enqueued", "processing"],
                    "indexUids": [self.uid(name) for name in INDEX_NAMES],
                    "limit": 1,
                }
            )
        except Exception as exc:
            return {"engine": "meilisearch", "error": str(exc)}
        return {"engine": "meilisearch", "behind": 0, "pending_tasks": int(tasks.total)}

    def health(self) -> str:
        try:
            status = self.client.health().get("status")
        except Exception as exc:
            return f"unavailable: {exc}"
        return "ok" if status == "available" else f"unavailable: status {status}"
