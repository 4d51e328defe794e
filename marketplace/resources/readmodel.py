"""The resource pool's hot read path in SQLAlchemy Core: the service listing, its facets, and one service by id.

The listing is the most requested page of the product, so it avoids ORM identity maps and relationship loaders and
runs a fixed, small number of queries whatever the page size, as plain functions of a synchronous ``Connection``
(the API runs them through ``Database.read``; the console and writes through their session's connection):

- without a search ranking: the page rows joined with the organization name, this month's booked places and each
  row's category / child-category / street codes (aggregated per row), with the filtered total as a window count
  (one query); with a ranking (``ordered_ids``): the matching ids in one query, then the page rows in another;
- the facets: category counts, street counts and the district-wide count, each ignoring its own filter (one UNION
  ALL);
- one service by id: one query.

Visibility, filters and facet semantics are those of ``marketplace.resources.service`` (which re-exports
``list_services``); writes and rich objects stay in the ORM.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.resources.models import (
    Organization,
    Service,
    ServiceCapacity,
    ServiceCategory,
    ServiceChildCategory,
    ServiceStreet,
)

POOL_READERS = frozenset({"district_admin", "auditor"})

services = Service.__table__
organizations = Organization.__table__
capacity = ServiceCapacity.__table__
categories = ServiceCategory.__table__
child_categories = ServiceChildCategory.__table__
streets = ServiceStreet.__table__

Facets = dict[str, dict[str, int]]


@dataclass
class ServiceFilters:
    category: str | None = None
    street_id: int | None = None
    child_category: str | None = None
    age: int | None = None
    available: bool | None = None
    organization_id: int | None = None
    status: str | None = None

    def key(self) -> tuple[Any, ...]:
        """The filters as a hashable value (for the pool's answer cache)."""
        return (
            self.category,
            self.street_id,
            self.child_category,
            self.age,
            self.available,
            self.organization_id,
            self.status,
        )


class OrganizationRef(NamedTuple):
    id: int
    name: str


@dataclass(slots=True)
class ServiceRow:
    """One service as the listing shows it: its columns, its organization, its codes and this month's bookings."""

    id: int
    organization_id: int
    organization: OrganizationRef
    title: str
    description: str
    eligibility: str
    age_min: int
    age_max: int
    district_wide: bool
    capacity_per_month: int
    booked: int
    cost_per_case_fen: int
    delivery_mode: str
    funding_source: str
    schedule: str
    wait_time_days: int
    fees_text: str
    five_societies: list[str]
    contact_phone: str
    assured_on: dt.date | None
    status: str
    status_note: str
    published_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    category_codes: list[str] = field(default_factory=list)
    child_category_codes: list[str] = field(default_factory=list)
    street_ids: list[int] = field(default_factory=list)

    @property
    def organization_name(self) -> str:
        return self.organization.name

    @property
    def capacity_left(self) -> int:
        return max(0, self.capacity_per_month - self.booked)


# ---------------------------------------------------------------- statements

_ROW_COLUMNS = (
    services.c.id,
    services.c.organization_id,
    organizations.c.name.label("organization_name"),
    services.c.title,
    services.c.description,
    services.c.eligibility,
    services.c.age_min,
    services.c.age_max,
    services.c.district_wide,
    services.c.capacity_per_month,
    func.coalesce(capacity.c.booked, 0).label("booked"),
    services.c.cost_per_case_fen,
    services.c.delivery_mode,
    services.c.funding_source,
    services.c.schedule,
    services.c.wait_time_days,
    services.c.fees_text,
    services.c.five_societies,
    services.c.contact_phone,
    services.c.assured_on,
    services.c.status,
    services.c.status_note,
    services.c.published_at,
    services.c.created_at,
    services.c.updated_at,
)


def _codes(table: Any, column: Any) -> Any:
    """A service's codes in one column (``,``-joined; order restored in Python), correlated to ``services``."""
    return (
        select(func.aggregate_strings(column, ","))
        .where(table.c.service_id == services.c.id)
        .correlate(services)
        .scalar_subquery()
    )


_CODE_COLUMNS = (
    _codes(categories, categories.c.code).label("category_codes"),
    _codes(child_categories, child_categories.c.code).label("child_category_codes"),
    _codes(streets, cast(streets.c.street_id, String)).label("street_codes"),
)


def _rows_select() -> Select[Any]:
    """Service columns with the organization name, this month's booked places (0 when nothing is booked) and the
    service's category, child-category and street codes: a page, or one service, in one statement."""
    joined = services.join(organizations, organizations.c.id == services.c.organization_id).outerjoin(
        capacity, and_(capacity.c.service_id == services.c.id, capacity.c.month == bindparam("month"))
    )
    return select(*_ROW_COLUMNS, *_CODE_COLUMNS).select_from(joined)


# Statements are built once per shape (which filters are given, what the caller may see, ranked or not) with bound
# parameters for the values, and kept: building a Core statement and its cache key costs more than running it.
@dataclass(frozen=True, slots=True)
class Shape:
    visibility: str  # "all" (pool readers), "published", or "own" (published, or the caller's organization's)
    status: bool = False
    category: bool = False
    child_category: bool = False
    street: bool = False
    age: bool = False
    organization: bool = False
    available: bool = False
    ranked: bool = False


def _visibility(principal: Principal) -> str:
    if principal.role in POOL_READERS:
        return "all"
    return "own" if principal.role == "org_staff" and principal.organization_id else "published"


def viewer_key(principal: Principal) -> tuple[str, int | None]:
    """What of the pool the caller may see, as a value: two callers with the same key see the same answers."""
    visibility = _visibility(principal)
    return visibility, principal.organization_id if visibility == "own" else None


def shape_of(principal: Principal, f: ServiceFilters, ranked: bool) -> Shape:
    return Shape(
        visibility=_visibility(principal),
        status=bool(f.status),
        category=bool(f.category),
        child_category=bool(f.child_category),
        street=bool(f.street_id),
        age=f.age is not None,
        organization=bool(f.organization_id),
        available=bool(f.available),
        ranked=ranked,
    )


def params_of(
    principal: Principal, f: ServiceFilters, month: str, ordered_ids: list[int] | None = None
) -> dict[str, Any]:
    """The values bound into a shape's statements."""
    return {
        "month": month,
        "own": principal.organization_id,
        "status": f.status,
        "category": f.category,
        "child_category": f.child_category,
        "street_id": f.street_id,
        "age": f.age,
        "organization_id": f.organization_id,
        "ranked": ordered_ids or [],
    }


def _conditions(shape: Shape, *, skip: str | None = None) -> list[ColumnElement[bool]]:
    """WHERE conditions on ``services`` for what the caller may see and asked for; ``skip`` drops one facet's filter."""
    where: list[ColumnElement[bool]] = []
    sid = services.c.id
    if shape.status:
        where.append(services.c.status == bindparam("status"))
    if shape.visibility == "published":
        where.append(services.c.status == "published")
    elif shape.visibility == "own":
        where.append(or_(services.c.status == "published", services.c.organization_id == bindparam("own")))
    if shape.category and skip != "category":
        where.append(exists().where(categories.c.service_id == sid, categories.c.code == bindparam("category")))
    if shape.child_category:
        where.append(
            exists().where(child_categories.c.service_id == sid, child_categories.c.code == bindparam("child_category"))
        )
    if shape.street and skip != "street":
        where.append(
            or_(
                services.c.district_wide.is_(True),
                exists().where(streets.c.service_id == sid, streets.c.street_id == bindparam("street_id")),
            )
        )
    if shape.age:
        where.append(and_(services.c.age_min <= bindparam("age"), services.c.age_max >= bindparam("age")))
    if shape.organization:
        where.append(services.c.organization_id == bindparam("organization_id"))
    if shape.available:
        # Correlate on services only: the page query also joins service_capacity for the month.
        booked = (
            select(capacity.c.booked)
            .where(capacity.c.service_id == sid, capacity.c.month == bindparam("month"))
            .correlate(services)
            .scalar_subquery()
        )
        where.append(services.c.capacity_per_month - func.coalesce(booked, 0) > 0)
    if shape.ranked:
        where.append(sid.in_(bindparam("ranked", expanding=True)))
    return where


def _ids(shape: Shape, *, skip: str | None = None) -> Select[Any]:
    return select(services.c.id).where(*_conditions(shape, skip=skip))


@functools.lru_cache(maxsize=1024)
def page_statement(shape: Shape) -> Select[Any]:
    """Unranked: the page in id order with its filtered total as a window count. The page's ids (and the total) are
    chosen first, so the per-row work (organization, bookings, codes) is done for the page's rows only."""
    page = (
        select(services.c.id.label("page_id"), func.count().over().label("total"))
        .where(*_conditions(shape))
        .order_by(services.c.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery("page")
    )
    return (
        _rows_select()
        .add_columns(page.c.total)
        .join_from(services, page, page.c.page_id == services.c.id)
        .order_by(services.c.id)
    )


@functools.lru_cache(maxsize=1024)
def count_statement(shape: Shape) -> Select[Any]:
    return select(func.count()).select_from(_ids(shape).subquery())


@functools.lru_cache(maxsize=1024)
def ids_statement(shape: Shape) -> Select[Any]:
    return _ids(shape)


@functools.cache
def rows_statement() -> Select[Any]:
    """Services by id (``ids``), in one statement."""
    return _rows_select().where(services.c.id.in_(bindparam("ids", expanding=True)))


@functools.lru_cache(maxsize=1024)
def facets_statement(shape: Shape) -> Select[Any]:
    """Category counts, street counts and the district-wide count in one statement (kind, code, street_id, n)."""
    cat_ids = _ids(shape, skip="category")
    street_ids = _ids(shape, skip="street")
    by_category = (
        select(literal("c"), categories.c.code, cast(null(), Integer), func.count())
        .where(categories.c.service_id.in_(cat_ids.scalar_subquery()))
        .group_by(categories.c.code)
    )
    by_street = (
        select(literal("s"), cast(null(), String), streets.c.street_id, func.count())
        .where(streets.c.service_id.in_(street_ids.scalar_subquery()))
        .group_by(streets.c.street_id)
    )
    district_wide = select(literal("d"), cast(null(), String), cast(null(), Integer), func.count()).where(
        services.c.id.in_(street_ids.scalar_subquery()), services.c.district_wide.is_(True)
    )
    return by_category.union_all(by_street, district_wide)  # type: ignore[return-value]


# ---------------------------------------------------------------- execution


def _split(joined: str | None) -> list[str]:
    return sorted(joined.split(",")) if joined else []


def _service_row(r: Row[Any]) -> ServiceRow:
    return ServiceRow(
        id=r.id,
        organization_id=r.organization_id,
        organization=OrganizationRef(r.organization_id, r.organization_name),
        title=r.title,
        description=r.description,
        eligibility=r.eligibility,
        age_min=r.age_min,
        age_max=r.age_max,
        district_wide=bool(r.district_wide),
        capacity_per_month=r.capacity_per_month,
        booked=r.booked,
        cost_per_case_fen=r.cost_per_case_fen,
        delivery_mode=r.delivery_mode,
        funding_source=r.funding_source,
        schedule=r.schedule,
        wait_time_days=r.wait_time_days,
        fees_text=r.fees_text,
        five_societies=list(r.five_societies or []),
        contact_phone=r.contact_phone,
        assured_on=r.assured_on,
        status=r.status,
        status_note=r.status_note,
        published_at=r.published_at,
        created_at=r.created_at,
        updated_at=r.updated_at,
        category_codes=_split(r.category_codes),
        child_category_codes=_split(r.child_category_codes),
        street_ids=sorted(int(x) for x in r.street_codes.split(",")) if r.street_codes else [],
    )


def _facets(conn: Connection, shape: Shape, params: dict[str, Any]) -> Facets:
    category: dict[str, int] = {}
    street: dict[int, int] = {}
    district_wide = 0
    for kind, code, street_id, n in conn.execute(facets_statement(shape), params).all():
        if kind == "c":
            category[code] = n
        elif kind == "s":
            street[street_id] = n
        else:
            district_wide = n
    street_out = {str(sid): street[sid] for sid in sorted(street)}
    street_out["district_wide"] = district_wide
    return {"category": {code: category[code] for code in sorted(category)}, "street": street_out}


Listing = tuple[list[ServiceRow], int, Facets]


def query_services(
    conn: Connection,
    principal: Principal,
    filters: ServiceFilters,
    limit: int = 20,
    offset: int = 0,
    ordered_ids: list[int] | None = None,
    month: str | None = None,
) -> Listing:
    """Filtered page of services with facet counts (each facet ignores its own filter, as users expect).

    Ordered by id, or by ``ordered_ids`` (a search ranking) when given, which also restricts the result to them.
    Two statements without a ranking (the page with its codes and window total; the facets), three with one.
    """
    shape = shape_of(principal, filters, ordered_ids is not None)
    month = month or clock.month_key()
    params = params_of(principal, filters, month, ordered_ids)
    rows: list[ServiceRow]
    if ordered_ids is None:
        result = conn.execute(page_statement(shape), {**params, "limit": limit, "offset": offset}).all()
        rows = [_service_row(r) for r in result]
        # Past the last page (or nothing matches) the window count has no row to ride on: count apart.
        total = int(result[0].total) if result else int(conn.scalar(count_statement(shape), params) or 0)
    else:
        matching = set(conn.scalars(ids_statement(shape), params).all())
        ranked = [i for i in ordered_ids if i in matching]
        total = len(matching)
        rows = query_service_rows(conn, ranked[offset : offset + limit], month)
    return rows, total, _facets(conn, shape, params)


async def list_services(
    session: AsyncSession,
    principal: Principal,
    filters: ServiceFilters,
    *,
    limit: int = 20,
    offset: int = 0,
    ordered_ids: list[int] | None = None,
    month: str | None = None,
) -> Listing:
    """``query_services`` in the session's transaction (the console's pages and the tests read through it)."""
    return await session.run_sync(
        lambda s: query_services(s.connection(), principal, filters, limit, offset, ordered_ids)
    )


def visible(principal: Principal, row: ServiceRow) -> bool:
    return (
        row.status == "published"
        or principal.role in POOL_READERS
        or (principal.role == "org_staff" and principal.organization_id == row.organization_id)
    )


def query_service_rows(conn: Connection, ids: Sequence[int], month: str | None = None) -> list[ServiceRow]:
    """Services by id (in the order given, missing ones left out) with codes and the month's bookings (this month's
    unless ``month`` is given): one statement."""
    if not ids:
        return []
    found = conn.execute(rows_statement(), {"month": month or clock.month_key(), "ids": list(ids)})
    by_id = {r.id: r for r in (_service_row(x) for x in found.all())}
    return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]


async def service_rows(session: AsyncSession, ids: Sequence[int]) -> list[ServiceRow]:
    """``query_service_rows`` in the session's transaction (after a write, to answer with what was written)."""
    return await session.run_sync(lambda s: query_service_rows(s.connection(), ids))
