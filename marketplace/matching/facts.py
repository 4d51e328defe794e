"""The candidate query: a need and the services that may meet it, loaded as the plain facts scoring reads.

Every hard eligibility rule runs in SQL (Core, the hot path), so only eligible services leave the database;
the referral history behind the facts comes through the ``ReferralHistory`` port (see ports.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, String, cast, exists, false, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.cases import service as cases
from marketplace.cases.models import Child, Need
from marketplace.errors import NotFound
from marketplace.geography.models import Community
from marketplace.matching import scoring
from marketplace.matching.ports import ChildHistory, referral_history
from marketplace.matching.scoring import NeedFacts, ProviderRecord, ServiceFacts
from marketplace.resources.models import (
    Organization,
    OrganizationStreet,
    Service,
    ServiceCapacity,
    ServiceCategory,
    ServiceChildCategory,
    ServiceStreet,
)

# A provider's record counts the referrals sent to it in this many days.
RECORD_DAYS = 365
# At most this many ids in one IN (...): SQLite's bound-parameter limit.
CHUNK = 900


def chunks(values: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


async def need_facts(session: AsyncSession, need: Need) -> NeedFacts:
    child = await session.get(Child, need.child_id)
    if child is None:  # pragma: no cover - FK guarantees it
        raise NotFound(f"儿童档案 {need.child_id} 不存在")
    community = await session.get(Community, child.community_id)
    facts = await needs_facts(session, [(need, child, community.name if community else "")])
    return facts[0]


class NeedRow(NamedTuple):
    """The columns of a need (and its child) that its facts are made of."""

    need_id: int
    category: str
    urgency: int
    child_id: int
    age: int
    child_categories: Iterable[str]
    street_id: int
    community_id: int
    community_name: str


async def needs_facts(session: AsyncSession, rows: Sequence[tuple[Need, Child, str]]) -> list[NeedFacts]:
    """The facts of many needs, each with its child and the child's community name, in a few queries."""
    today = clock.today()
    return await needs_facts_of(
        session,
        [
            NeedRow(
                need.id,
                need.category,
                need.urgency,
                child.id,
                cases.age_on(child.birth_date, today),
                child.categories,
                child.street_id,
                child.community_id,
                community_name,
            )
            for need, child, community_name in rows
        ],
    )


async def needs_facts_of(session: AsyncSession, rows: Sequence[NeedRow]) -> list[NeedFacts]:
    """The facts of needs read as plain rows, with the children's referral history (one query per 900)."""
    return await session.run_sync(lambda s: needs_facts_on(s.connection(), rows))


def needs_facts_on(conn: Connection, rows: Sequence[NeedRow]) -> list[NeedFacts]:
    """``needs_facts_of`` on a synchronous connection."""
    history = referral_history().children_on(conn, sorted({r.child_id for r in rows}))
    none = ChildHistory()
    facts = []
    for r in rows:
        past = history.get(r.child_id, none)
        facts.append(
            NeedFacts(
                need_id=r.need_id,
                child_id=r.child_id,
                category=r.category,
                urgency=r.urgency,
                age=r.age,
                child_categories=frozenset(r.child_categories),
                street_id=r.street_id,
                community_id=r.community_id,
                community_name=r.community_name,
                declined_services=past.declined_services,
                current_orgs=past.current_orgs,
                helped_orgs=past.helped_orgs,
            )
        )
    return facts


def _booked(month: str) -> Any:
    return (
        select(ServiceCapacity.booked)
        .where(ServiceCapacity.service_id == Service.id, ServiceCapacity.month == month)
        .correlate(Service)
        .scalar_subquery()
    )


def _codes(column: Any, owner: Any) -> Any:
    """A service's (or organization's) set of codes as one comma-joined string: sets ride in the main query."""
    return (
        select(func.aggregate_strings(cast(column, String), ","))
        .where(owner)
        .correlate(Service, Organization)
        .scalar_subquery()
    )


def static_columns() -> Any:
    """The published services of approved providers with every fact scoring reads except the places left.

    One statement carries the category, child-category and street sets too (as comma-joined strings), so a
    candidate set costs one round trip."""
    return (
        select(
            Service.id,
            Service.organization_id,
            Service.title,
            Organization.name.label("organization_name"),
            Organization.address.label("organization_address"),
            Service.age_min,
            Service.age_max,
            Service.district_wide,
            Service.capacity_per_month,
            Service.cost_per_case_fen,
            Service.funding_source,
            Service.delivery_mode,
            Service.assured_on,
            _codes(ServiceCategory.code, ServiceCategory.service_id == Service.id).label("categories"),
            _codes(ServiceChildCategory.code, ServiceChildCategory.service_id == Service.id).label("child_categories"),
            _codes(ServiceStreet.street_id, ServiceStreet.service_id == Service.id).label("street_ids"),
            _codes(OrganizationStreet.street_id, OrganizationStreet.organization_id == Organization.id).label(
                "organization_streets"
            ),
        )
        .join(Organization, Organization.id == Service.organization_id)
        .where(Service.status == "published", Organization.status == "approved")
    )


def service_columns(month: str) -> Any:
    """``static_columns`` with the places left in the month (``capacity_left``), and that column."""
    left = (Service.capacity_per_month - func.coalesce(_booked(month), 0)).label("capacity_left")
    return static_columns().add_columns(left), left


def _split(joined: str | None) -> frozenset[str]:
    return frozenset(joined.split(",")) if joined else frozenset()


def _split_ids(joined: str | None) -> frozenset[int]:
    return frozenset(int(v) for v in joined.split(",")) if joined else frozenset()


async def service_facts(session: AsyncSession, stmt: Any) -> list[ServiceFacts]:
    """The services a ``service_columns`` statement selects, with their categories and streets."""
    return await session.run_sync(lambda s: service_facts_on(s.connection(), stmt))


def service_facts_on(conn: Connection, stmt: Any, params: dict[str, Any] | None = None) -> list[ServiceFacts]:
    """``service_facts`` on a synchronous connection; a ``static_columns`` statement (no ``capacity_left``) gives
    the places of a month without bookings (``capacity_per_month``)."""
    result = conn.execute(stmt, params)
    with_left = "capacity_left" in set(result.keys())
    rows = result.all()
    # Organizations repeat over their services: their street sets are built once.
    org_streets: dict[int, frozenset[int]] = {}
    out = []
    for r in rows:
        streets = org_streets.get(r.organization_id)
        if streets is None:
            streets = org_streets[r.organization_id] = _split_ids(r.organization_streets)
        left = r.capacity_left if with_left else r.capacity_per_month
        out.append(
            ServiceFacts(
                service_id=r.id,
                organization_id=r.organization_id,
                title=r.title,
                organization_name=r.organization_name,
                organization_address=r.organization_address or "",
                organization_streets=streets,
                categories=_split(r.categories),
                child_categories=_split(r.child_categories),
                age_min=r.age_min,
                age_max=r.age_max,
                district_wide=bool(r.district_wide),
                street_ids=_split_ids(r.street_ids),
                capacity_per_month=r.capacity_per_month,
                capacity_left=max(0, int(left)),
                cost_per_case_fen=r.cost_per_case_fen,
                funding_source=r.funding_source,
                delivery_mode=r.delivery_mode,
                assured_on=r.assured_on,
            )
        )
    return out


async def candidate_services(session: AsyncSession, need: NeedFacts, month: str) -> list[ServiceFacts]:
    """Every hard rule as SQL, so only eligible services leave the database."""
    stmt, left = service_columns(month)
    kids = list(need.child_categories)
    # The category drives the query: its index gives the few services of the category, where an EXISTS
    # per row would walk every published service (SQLite plans the status index first without it).
    stmt = stmt.where(
        Service.id.in_(select(ServiceCategory.service_id).where(ServiceCategory.code == need.category)),
        Service.age_min <= need.age,
        Service.age_max >= need.age,
        or_(
            not_(exists().where(ServiceChildCategory.service_id == Service.id)),
            exists().where(ServiceChildCategory.service_id == Service.id, ServiceChildCategory.code.in_(kids))
            if kids
            else false(),
        ),
        or_(
            Service.district_wide.is_(True),
            exists().where(ServiceStreet.service_id == Service.id, ServiceStreet.street_id == need.street_id),
        ),
        left > 0,
    )
    if need.declined_services:
        stmt = stmt.where(Service.id.not_in(sorted(need.declined_services)))
    facts = await service_facts(session, stmt)
    # The same rules again in Python: one definition (scoring.ineligibility) is the reference.
    return [s for s in facts if scoring.ineligibility(need, s) is None]


async def provider_records(session: AsyncSession, org_ids: Iterable[int]) -> dict[int, ProviderRecord]:
    """Each provider's record over the last year; a provider without referrals has the neutral record."""
    since = clock.now() - dt.timedelta(days=RECORD_DAYS)
    return await session.run_sync(lambda s: provider_records_on(s.connection(), org_ids, since))


def provider_records_on(conn: Connection, org_ids: Iterable[int], since: dt.datetime) -> dict[int, ProviderRecord]:
    """``provider_records`` on a synchronous connection, for referrals sent since the moment."""
    ids = sorted(set(org_ids))
    found = referral_history().providers_on(conn, ids, since) if ids else {}
    return {org_id: found.get(org_id, ProviderRecord()) for org_id in ids}
