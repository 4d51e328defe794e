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
# Meilisearch counts hits exactly up to its index's ``pagination.maxTotalHits`` (set to this); an offset past it
# could never be answered the same way by both engines.
MAX_TOTAL_HITS: Final = 100_000
MAX_OFFSET: Final = MAX_TOTAL_HITS - MAX_LIMIT

# ASCII and full-width double quotes, and the curly ones a Chinese keyboard types
_OPERATOR_CHARS: Final = str.maketrans({c: " " for c in '"\uff02\u201c\u201d'})


# The filters each index can apply (the fields of :class:`SearchFilters`); any other one set on a query is refused.
APPLICABLE_FILTERS: Final[dict[str, frozenset[str]]] = {
    SERVICES: frozenset(
        {"categories", "child_categories", "street_id", "age", "status", "organization_id", "available"}
    ),
    ORGANIZATIONS: frozenset({"street_id", "status", "kind"}),
}


class SearchError(Exception):
    """The backend could not answer (engine down, bad settings)."""


class InvalidQuery(ValueError):
    """The query cannot be asked of this index (unknown sort or facet, bad limit or offset, a filter that does not
    apply): a refusal of the caller's request (the API answers 422), decided before any engine is asked."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InapplicableFilter(InvalidQuery):
    """A filter set on a query of an index that has no such field (``kind`` on services; ``age``, ``available``,
    ``organization_id``, ``categories``, ``child_categories`` on organizations)."""


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

    def set_fields(self) -> list[str]:
        """The names of the filters set (not ``None``), in declaration order."""
        return [name for name in self.__struct_fields__ if getattr(self, name) is not None]

    def matches_nothing(self) -> bool:
        """True when an any-of filter is an empty list: no document can match (the contract's answer is an
        empty result, given without asking the engine)."""
        return any(
            isinstance(value, list) and not value for value in (getattr(self, n) for n in self.__struct_fields__)
        )


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
        """Refuse (:class:`InvalidQuery`, a ``ValueError``) what this index cannot answer; an unknown index is a
        plain ``ValueError`` (the caller's bug, not the user's)."""
        check_index_name(index_name)
        if self.sort not in SORTS:
            raise InvalidQuery(f"unknown sort {self.sort!r}; expected one of {', '.join(SORTS)}", "sort")
        if index_name == ORGANIZATIONS and self.sort not in ("relevance", "updated_at:desc"):
            raise InvalidQuery(f"sort {self.sort!r} does not apply to organizations", "sort")
        if not 0 <= self.limit <= MAX_LIMIT:
            raise InvalidQuery(f"limit must be within 0..{MAX_LIMIT}", "limit")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise InvalidQuery(f"offset must be within 0..{MAX_OFFSET}", "offset")
        for facet in self.facets:
            if facet not in FACETS[index_name]:
                raise InvalidQuery(f"{facet!r} is not a facet of {index_name}; expected {FACETS[index_name]}", facet)
        for name in self.filters.set_fields():
            if name not in APPLICABLE_FILTERS[index_name]:
                allowed = ", ".join(sorted(APPLICABLE_FILTERS[index_name]))
                raise InapplicableFilter(
                    f"filter {name!r} does not apply to {index_name}; its filters are {allowed}", name
                )

    def empty_result(self) -> SearchResult:
        """The answer to a query no document can match: nothing, counted as nothing."""
        return SearchResult(hits=[], total=0, facets={name: {} for name in self.facets})


def prepare(index_name: str, query: SearchQuery) -> SearchResult | None:
    """What every backend's ``search`` does first: validate the query (:meth:`SearchQuery.validate`, raising before
    the engine is asked) and, when a filter is an empty list, return the empty result the engine need not be asked
    for (``None``: ask the engine)."""
    query.validate(index_name)
    if query.filters.matches_nothing():
        return query.empty_result()
    return None


def plain_text(q: str) -> str:
    """User text as plain words: the characters a search engine reads as operators (``"`` for a phrase, a leading
    ``-`` for a negation) become spaces. Both engines treat a query as plain words; Meilisearch is sent this."""
    cleaned = q.translate(_OPERATOR_CHARS)
    return " ".join(word.lstrip("-") for word in cleaned.split())


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
