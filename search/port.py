"""The search port: what the app calls, whatever engine answers.

Two indexes exist: ``"services"`` (the resource pool's service projects) and ``"organizations"``.
Documents are plain dicts (JSON-like) with the fields listed in :data:`SERVICE_FIELDS` and
:data:`ORGANIZATION_FIELDS`; the backends derive whatever extra fields they need.

All methods are synchronous and fast; the app calls them from async code (use ``anyio.to_thread`` for
``index``/``clear`` of large batches, a search is cheap enough to call inline).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, Protocol, runtime_checkable

import msgspec

SERVICES: Final = "services"
ORGANIZATIONS: Final = "organizations"
INDEX_NAMES: Final[tuple[str, str]] = (SERVICES, ORGANIZATIONS)

IndexName = Literal["services", "organizations"]

Document = Mapping[str, Any]

SERVICE_FIELDS: Final[tuple[str, ...]] = (
    "id",
    "title",
    "description",
    "eligibility",
    "organization_id",
    "organization_name",
    "categories",
    "category_labels",
    "child_categories",
    "street_ids",
    "age_min",
    "age_max",
    "status",
    "capacity_per_month",
    "capacity_left",
    "cost_per_case_fen",
    "assured_on",
    "updated_at",
)
ORGANIZATION_FIELDS: Final[tuple[str, ...]] = (
    "id",
    "name",
    "kind",
    "credit_code",
    "description",
    "street_ids",
    "status",
)

SORTS: Final[tuple[str, ...]] = ("relevance", "assured_on:desc", "updated_at:desc", "cost_per_case_fen:asc")

# Facetable fields per index (values are reported as strings, like Meilisearch's facetDistribution).
FACETS: Final[dict[str, tuple[str, ...]]] = {
    SERVICES: ("categories", "child_categories", "street_ids", "status", "organization_id"),
    ORGANIZATIONS: ("kind", "street_ids", "status"),
}

MAX_LIMIT: Final = 1000


class SearchError(Exception):
    """The backend could not answer (engine down, bad settings)."""


class SearchFilters(msgspec.Struct, kw_only=True, frozen=True):
    """Hard filters; ``None`` means "no filter on this field". Lists are any-of."""

    categories: list[str] | None = None
    child_categories: list[str] | None = None
    # a service matches when its street_ids contain street_id OR its street_ids is empty (district-wide)
    street_id: int | None = None
    # age_min <= age <= age_max
    age: int | None = None
    # one status or several (any-of)
    status: str | list[str] | None = None
    organization_id: int | None = None
    # True: capacity_left > 0; False: capacity_left <= 0
    available: bool | None = None
    # organizations index only: any-of organization kinds
    kind: str | list[str] | None = None

    def statuses(self) -> list[str] | None:
        return _as_list(self.status)

    def kinds(self) -> list[str] | None:
        return _as_list(self.kind)


def _as_list(value: str | list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


class SearchQuery(msgspec.Struct, kw_only=True, frozen=True):
    """``q`` empty matches every document (then ``relevance`` orders by id)."""

    q: str = ""
    filters: SearchFilters = msgspec.field(default_factory=SearchFilters)
    facets: list[str] = msgspec.field(default_factory=list)
    sort: str = "relevance"
    limit: int = 20
    offset: int = 0

    def validate(self, index_name: str) -> None:
        check_index_name(index_name)
        if self.sort not in SORTS:
            raise ValueError(f"unknown sort {self.sort!r}; expected one of {', '.join(SORTS)}")
        if index_name == ORGANIZATIONS and self.sort not in ("relevance", "updated_at:desc"):
            raise ValueError(f"sort {self.sort!r} does not apply to organizations")
        if not 0 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be within 0..{MAX_LIMIT}")
        if self.offset < 0:
            raise ValueError("offset must be >= 0")
        for facet in self.facets:
            if facet not in FACETS[index_name]:
                raise ValueError(f"{facet!r} is not a facet of {index_name}; expected {FACETS[index_name]}")


class SearchHit(msgspec.Struct, frozen=True):
    id: int
    # engine-specific relevance score (higher is better); None when the engine does not expose one
    score: float | None = None


class SearchResult(msgspec.Struct, kw_only=True):
    hits: list[SearchHit]
    # number of documents matching q and filters (not only this page)
    total: int
    # {field: {value-as-string: count}} counted over the whole filtered result
    facets: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)

    @property
    def ids(self) -> list[int]:
        return [hit.id for hit in self.hits]


def check_index_name(index_name: str) -> None:
    if index_name not in INDEX_NAMES:
        raise ValueError(f"unknown index {index_name!r}; expected one of {INDEX_NAMES}")


@runtime_checkable
class SearchBackend(Protocol):
    """One search engine behind the app. Every method is synchronous and thread-safe."""

    # True when a search is answered from this process's memory in well under a millisecond (the embedded
    # backends): the app then calls ``search`` on the event loop's thread; a network backend's calls go to a thread.
    in_process: bool

    def ensure_indexes(self) -> None:
        """Create both indexes and apply their settings; idempotent."""

    def index(self, index_name: str, docs: Sequence[Document]) -> None:
        """Add or replace documents (by ``id``); returns once they are searchable."""

    def delete(self, index_name: str, ids: Sequence[int]) -> None:
        """Remove documents by id; unknown ids are ignored."""

    def clear(self, index_name: str) -> None:
        """Remove every document of the index (settings are kept)."""

    def document_ids(self, index_name: str) -> list[int]:
        """The ids of every document the index holds, ascending (a full reindex deletes those gone from the
        database instead of emptying the index first, so searches never see it half-filled)."""
        ...

    def search(self, index_name: str, query: SearchQuery) -> SearchResult:
        """Full-text search with filters, facets, sort and pagination."""
        ...

    def health(self) -> str:
        """``"ok"`` or ``"unavailable: <reason>"``; never raises."""
        ...

    def freshness(self) -> dict[str, Any]:
        """How current this process's answers are, for operators; never raises. Always ``engine``; the embedded
        engine adds ``generation`` (the file's change its memory reflects), ``latest`` (the file's last change),
        ``behind`` (``latest - generation``), ``catching_up`` and ``loaded``; Meilisearch adds ``pending_tasks`` (enqueued or
        processing tasks on its indexes, which searches do not see yet); ``error`` when it could not tell."""
        ...
