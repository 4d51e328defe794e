"""The search port (:class:`SearchBackend`) and its backends.

The app calls :func:`make_backend` once at startup with its :class:`Labels` (then ``ensure_indexes()`` for the
embedded engine; Meilisearch's indexes are set up by ``marketplace search setup``, never at start-up); the
outbox calls ``index()`` / ``delete()``; the API calls ``search()``; the health endpoint calls ``health()``.
``search`` imports no part of the app: what it must know of the domain (labels, documents) is passed in.
"""

from __future__ import annotations

from search.documents import Labels
from search.embedded import EmbeddedBackend
from search.meili import MeiliBackend
from search.port import (
    FACETS,
    INDEX_NAMES,
    ORGANIZATIONS,
    SERVICES,
    SORTS,
    Document,
    InapplicableFilter,
    InvalidQuery,
    SearchBackend,
    SearchError,
    SearchFilters,
    SearchHit,
    SearchQuery,
    SearchResult,
)


def make_backend(
    meili_url: str | None, meili_key: str | None, sqlite_path: str, labels: Labels | None = None
) -> SearchBackend:
    """Meilisearch when ``meili_url`` is set, else the embedded backend storing into ``sqlite_path``."""
    if meili_url:
        return MeiliBackend(meili_url, meili_key, labels=labels)
    return EmbeddedBackend(sqlite_path, labels)


__all__ = [
    "FACETS",
    "INDEX_NAMES",
    "ORGANIZATIONS",
    "SERVICES",
    "SORTS",
    "Document",
    "InapplicableFilter",
    "InvalidQuery",
    "Labels",
    "SearchBackend",
    "SearchError",
    "SearchFilters",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "make_backend",
]
