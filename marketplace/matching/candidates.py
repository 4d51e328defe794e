"""The match endpoint's candidates without the candidate query: the pool's facts kept per serving process.

What a service is (its categories, ages, streets, provider, cost...) changes rarely; the places left change with
every booking. So the published services of approved providers are kept per category, as the facts scoring reads
with ``capacity_left`` left out, in a ``signals.SignalCache``: every committed change to the classes in
``WATCHED`` (services, their codes and streets, organizations and their streets) changes the ``matching_pool``
signal, and the next request of every serving process on the machine reads the category again. The places left
are read per request for the services that pass the need's other rules (one indexed query). The time limit bounds
what a process on another machine, which does not share the data directory, could miss.

The rules applied here are those of the candidate query (facts.candidate_services), and ``scoring.ineligibility``
is still the reference every candidate passes.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Sequence
from typing import Final

from sqlalchemy import Connection, bindparam, select

from marketplace import signals
from marketplace.db import Database
from marketplace.matching import scoring
from marketplace.matching.facts import chunks, service_facts_on, static_columns
from marketplace.matching.scoring import NeedFacts, ServiceFacts
from marketplace.resources.models import (
    Organization,
    OrganizationStreet,
    Service,
    ServiceCapacity,
    ServiceCategory,
    ServiceChildCategory,
    ServiceStreet,
)

POOL_SIGNAL: Final = "matching_pool"
# The bookings (ServiceCapacity) are not watched: they are read per request.
WATCHED: Final = signals.watch(
    POOL_SIGNAL, (Organization, OrganizationStreet, Service, ServiceCategory, ServiceChildCategory, ServiceStreet)
)
TTL_SECONDS: Final = 5.0  # as the pool listing cache and the principals (resources/controllers.py, auth/cache.py)
# Categories kept (the taxonomy has a few dozen).
MAX_CATEGORIES: Final = 256

Category = tuple[ServiceFacts, ...]


class PoolCache:
    """Per serving process and database: a category's published services of approved providers, by id."""

    def __init__(self, db: Database) -> None:
        self.cache: signals.SignalCache[str, Category] = signals.SignalCache(
            db.settings.data_dir, POOL_SIGNAL, ttl=TTL_SECONDS, max_entries=MAX_CATEGORIES
        )

    def fresh(self) -> signals.Stamp:
        """To be called before the read's transaction starts: what is read after it is at least this new."""
        return self.cache.fresh()

    def category(self, conn: Connection, code: str, seen: signals.Stamp) -> Category:
        hit = self.cache.get(code)
        if hit is None:
            hit = category_services(conn, code)
            self.cache.put(code, hit, seen)
        return hit


_caches: weakref.WeakKeyDictionary[Database, PoolCache] = weakref.WeakKeyDictionary()


def pool_cache(db: Database) -> PoolCache:
    cache = _caches.get(db)
    if cache is None:
        cache = _caches[db] = PoolCache(db)
    return cache


CATEGORY_SERVICES = (
    static_columns()
    .where(Service.id.in_(select(ServiceCategory.service_id).where(ServiceCategory.code == bindparam("code"))))
    .order_by(Service.id)
)


def category_services(conn: Connection, code: str) -> Category:
    """The published services of approved providers in the category, as in a month without bookings."""
    return tuple(service_facts_on(conn, CATEGORY_SERVICES, {"code": code}))


BOOKED = select(ServiceCapacity.service_id, ServiceCapacity.booked).where(
    ServiceCapacity.month == bindparam("month"), ServiceCapacity.service_id.in_(bindparam("ids", expanding=True))
)


def booked(conn: Connection, service_ids: Sequence[int], month: str) -> dict[int, int]:
    """The places booked in the month, of the services that have a booking."""
    out: dict[int, int] = {}
    for chunk in chunks(service_ids):
        rows = conn.execute(BOOKED, {"month": month, "ids": list(chunk)})
        out.update((int(sid), int(n or 0)) for sid, n in rows)
    return out


def candidates(conn: Connection, need: NeedFacts, pool: Category, month: str) -> list[ServiceFacts]:
    """The services of the need's category that may be offered to it (every hard rule), by service id."""
    age, kids, street, declined = need.age, need.child_categories, need.street_id, need.declined_services
    fits = [
        s
        for s in pool
        if s.age_min <= age <= s.age_max
        and (not s.child_categories or not s.child_categories.isdisjoint(kids))
        and (s.district_wide or street in s.street_ids)
        and s.service_id not in declined
    ]
    taken = booked(conn, [s.service_id for s in fits], month)
    out = []
    for s in fits:
        n = taken.get(s.service_id)
        # The kept facts carry a month without bookings (capacity_left = capacity_per_month).
        svc = s if not n else dataclasses.replace(s, capacity_left=s.capacity_per_month - n)
        # The same rules again (the places left among them): scoring.ineligibility is the reference.
        if scoring.ineligibility(need, svc) is None:
            out.append(svc)
    return out
