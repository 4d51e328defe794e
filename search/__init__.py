"""The search port (:class:`SearchBackend`) and its backends.

The app calls :func:`make_backend` once at startup, then ``ensure_indexes()``; the outbox calls ``index()`` /
``delete()``; the API calls ``search()``; the health endpoint calls ``health()``.
"""

from __future__ import annotations

from search.port import (
    FACETS,
    INDEX_NAMES,
    ORGANIZATIONS,
    SERVICES,
    SORTS,
    Document,
    SearchBackend,
    SearchError,
    SearchFilters,
    SearchHit,
    SearchQuery,
    SearchResult,
)


def make_backend(meili_url: str | None, meili_key: str | None, sqlite_path: str) -> SearchBackend:
    """Meilisearch when ``meili_url`` is set, else the embedded backend storing into ``sqlite_path``."""
    if meili_url:
        from search.meili import MeiliBackend

        return MeiliBackend(meili_url, meili_key)
    from search.embedded import EmbeddedBackend

    return EmbeddedBackend(sqlite_path)


__all__ = [
    "FACETS",
    "INDEX_NAMES",
    "ORGANIZATIONS",
    "SERVICES",
    "SORTS",
    "Document",
    "SearchBackend",
    "SearchError",
    "SearchFilters",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "make_backend",
]
