"""The resource pool's hot read path in SQLAlchemy Core: the service listing, its facets, and one service by id.

The listing is the most requested page of the product, so it avoids ORM identity maps and relationship loaders and
runs a fixed, small number of queries whatever the page size:

- without a search ranking: the page rows joined with the organization name and this month's booked places, with
  the filtered total as a window count (one query); with a ranking (``ordered_ids``): the matching ids in one query,
  then the page rows in another;
- the category / child-category / street codes of the page (one UNION ALL);
- the facets: category counts, street counts and the district-wide count, each ignoring its own filter (one UNION
  ALL).

Visibility, filters and facet semantics are those of ``marketplace.resources.service`` (which re-exports
``list_services``); writes and rich objects stay in the ORM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Integer, Select, String, and_, cast, exists, func, literal, null, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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


def _rows_select(month: str) -> Select[Any]:
    """Service columns with the organization name and this month's booked places (0 when nothing is booked)."""
    joined = services.join(organizations, organizations.c.id == services.c.organization_id).outerjoin(
        capacity, and_(capacity.c.service_id == services.c.id, capacity.c.month == month)
    )
    return select(*_ROW_COLUMNS).select_from(joined)


def _conditions(
    principal: Principal, f: ServiceFilters, month: str, *, skip: str | None = None
) -> list[ColumnElement[bool]]:
    """WHERE conditions on ``services`` for what the caller may see and asked for; ``skip`` drops one facet's filter."""
    where: list[ColumnElement[bool]] = []
    sid = services.c.id
    if f.status:
        where.append(services.c.status == f.status)
    if principal.role not in POOL_READERS:
        own = principal.organization_id if principal.role == "org_staff" else None
        where.append(or_(services.c.status == "published", services.c.organization_id == own))
    if f.category and skip != "category":
        where.append(exists().where(categories.c.service_id == sid, categories.c.code == f.category))
    if f.child_category:
        where.append(exists().where(child_categories.c.service_id == sid, child_categories.c.code == f.child_category))
    if f.street_id and skip != "street":
        where.append(
            or_(
                services.c.district_wide.is_(True),
                exists().where(streets.c.service_id == sid, streets.c.street_id == f.street_id),
            )
        )
    if f.age is not None:
        where.append(and_(services.c.age_min <= f.age, services.c.age_max >= f.age))
    if f.organization_id:
        where.append(services.c.organization_id == f.organization_id)
    if f.available:
        # Correlate on services only: the page query also joins service_capacity for the month.
        booked = (
            select(capacity.c.booked)
            .where(capacity.c.service_id == sid, capacity.c.month == month)
            .correlate(services)
            .scalar_subquery()
        )
        where.append(services.c.capacity_per_month - func.coalesce(booked, 0) > 0)
    return where


def _ids(where: Sequence[ColumnElement[bool]], ordered_ids: list[int] | None) -> Select[Any]:
    stmt = select(services.c.id).where(*where)
    if ordered_ids is not None:
        stmt = stmt.where(services.c.id.in_(ordered_ids))
    return stmt


def _facets_select(principal: Principal, f: ServiceFilters, month: str, ordered_ids: list[int] | None) -> Select[Any]:
    """Category counts, street counts and the district-wide count in one statement (kind, code, street_id, n)."""
    cat_ids = _ids(_conditions(principal, f, month, skip="category"), ordered_ids)
    street_ids = _ids(_conditions(principal, f, month, skip="street"), ordered_ids)
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


def _codes_select(page_ids: list[int]) -> Any:
    """The page's category codes, child-category codes and street ids in one statement (kind, id, code, street)."""
    return (
        select(literal("c"), categories.c.service_id, categories.c.code, cast(null(), Integer))
        .where(categories.c.service_id.in_(page_ids))
        .union_all(
            select(literal("k"), child_categories.c.service_id, child_categories.c.code, cast(null(), Integer)).where(
                child_categories.c.service_id.in_(page_ids)
            ),
            select(literal("s"), streets.c.service_id, cast(null(), String), streets.c.street_id).where(
                streets.c.service_id.in_(page_ids)
            ),
        )
    )


# ---------------------------------------------------------------- execution


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
    )


async def _attach_codes(conn: AsyncConnection, rows: list[ServiceRow]) -> None:
    if not rows:
        return
    by_id = {r.id: r for r in rows}
    for kind, service_id, code, street_id in (await conn.execute(_codes_select(list(by_id)))).all():
        row = by_id[service_id]
        if kind == "c":
            row.category_codes.append(code)
        elif kind == "k":
            row.child_category_codes.append(code)
        else:
            row.street_ids.append(street_id)
    for row in rows:
        row.category_codes.sort()
        row.child_category_codes.sort()
        row.street_ids.sort()


async def _facets(
    conn: AsyncConnection, principal: Principal, f: ServiceFilters, month: str, ordered_ids: list[int] | None
) -> Facets:
    category: dict[str, int] = {}
    street: dict[int, int] = {}
    district_wide = 0
    for kind, code, street_id, n in (await conn.execute(_facets_select(principal, f, month, ordered_ids))).all():
        if kind == "c":
            category[code] = n
        elif kind == "s":
            street[street_id] = n
        else:
            district_wide = n
    street_out = {str(sid): street[sid] for sid in sorted(street)}
    street_out["district_wide"] = district_wide
    return {"category": {code: category[code] for code in sorted(category)}, "street": street_out}


async def list_services(
    session: AsyncSession,
    principal: Principal,
    filters: ServiceFilters,
    *,
    limit: int = 20,
    offset: int = 0,
    ordered_ids: list[int] | None = None,
) -> tuple[list[ServiceRow], int, Facets]:
    """Filtered page of services with facet counts (each facet ignores its own filter, as users expect).

    Ordered by id, or by ``ordered_ids`` (a search ranking) when given, which also restricts the result to them.
    """
    month = clock.month_key()
    conn = await session.connection()
    where = _conditions(principal, filters, month)
    rows: list[ServiceRow]
    if ordered_ids is None:
        stmt = (
            _rows_select(month)
            .add_columns(func.count().over().label("total"))
            .where(*where)
            .order_by(services.c.id)
            .limit(limit)
            .offset(offset)
        )
        result = (await conn.execute(stmt)).all()
        rows = [_service_row(r) for r in result]
        if result:
            total = int(result[0].total)
        else:
            # Past the last page (or nothing matches): the window count has no row to ride on.
            total = int(await conn.scalar(select(func.count()).select_from(_ids(where, None).subquery())) or 0)
    else:
        matching = set((await conn.scalars(_ids(where, ordered_ids))).all())
        ranked = [i for i in ordered_ids if i in matching]
        total = len(matching)
        page_ids = ranked[offset : offset + limit]
        rows = []
        if page_ids:
            found = await conn.execute(_rows_select(month).where(services.c.id.in_(page_ids)))
            by_id = {r.id: r for r in (_service_row(x) for x in found.all())}
            rows = [by_id[i] for i in page_ids if i in by_id]
    await _attach_codes(conn, rows)
    return rows, total, await _facets(conn, principal, filters, month, ordered_ids)


def visible(principal: Principal, row: ServiceRow) -> bool:
    return (
        row.status == "published"
        or principal.role in POOL_READERS
        or (principal.role == "org_staff" and principal.organization_id == row.organization_id)
    )


async def service_rows(session: AsyncSession, ids: Sequence[int]) -> list[ServiceRow]:
    """Services by id (in the order given, missing ones left out) with codes and this month's bookings."""
    if not ids:
        return []
    conn = await session.connection()
    found = await conn.execute(_rows_select(clock.month_key()).where(services.c.id.in_(list(ids))))
    by_id = {r.id: r for r in (_service_row(x) for x in found.all())}
    rows = [by_id[i] for i in dict.fromkeys(ids) if i in by_id]
    await _attach_codes(conn, rows)
    return rows
