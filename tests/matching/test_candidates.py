"""The match endpoint's read path (service.read_match over candidates.py's per-process cache) agrees with the
reference on varied data: the same candidates as the candidate query in SQL (facts.candidate_services) and as
``scoring.ineligibility`` over every service, fact for fact; the same ranking and numbers as ``scoring.score``.
And the cache follows the pool: a change committed by another app (another process) is seen on the next request,
bookings without any signal."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import Connection

from marketplace import clock, signals
from marketplace.auth.principal import Principal
from marketplace.cases.models import Need
from marketplace.db import Database
from marketplace.matching import scoring
from marketplace.matching import service as matching
from marketplace.matching.candidates import PoolCache, candidates, pool_cache
from marketplace.matching.facts import candidate_services, need_facts, provider_records, service_columns, service_facts
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
from marketplace.settings import Settings
from tests.cases.support import add_child, add_need, add_referral
from tests.support.world import World, valid_code

CATS = ["psych_counselling", "legal_aid", "study_support"]
KIDS = ["orphan", "left_behind", "disabled"]
ADMIN = Principal(user_id=1, username="admin", role="district_admin")


async def _varied(db: Database, settings: Settings, world: World, seed: int) -> list[int]:
    """Organizations, services (every status, codes, streets, ages, bookings this month and last), children with
    needs and referrals, drawn at random; the needs' ids."""
    rng = random.Random(seed)
    month = clock.month_key()
    streets = world.streets
    async with db.session() as s:
        orgs = list(world.orgs)
        for k in range(4):
            org = Organization(
                name=f"测试机构{seed}-{k}",
                kind="social_work_agency",
                credit_code=valid_code(100 + seed * 10 + k),
                contact_name="联系人",
                contact_phone="13800000000",
                address=rng.choice(["", "福山社区某路1号", "百花社区", "某街道"]),
                status=rng.choice(["approved", "approved", "pending", "suspended"]),
                streets=[OrganizationStreet(street_id=st) for st in rng.sample(streets, rng.randint(0, 2))],
            )
            s.add(org)
            await s.flush()
            orgs.append(org.id)
        services = []
        for j in range(60):
            wide = rng.random() < 0.4
            svc = Service(
                organization_id=rng.choice(orgs),
                title=f"服务{j}",
                capacity_per_month=rng.randint(1, 4),
                cost_per_case_fen=rng.choice((0, 20_000, 900_000)),
                funding_source=rng.choice(("free", "special_budget", "self_funded", "none")),
                delivery_mode=rng.choice(("in_person", "online", "phone")),
                status=rng.choice(["published"] * 4 + ["draft", "paused"]),
                district_wide=wide,
                assured_on=None if rng.random() < 0.1 else clock.today() - dt.timedelta(days=rng.randint(0, 400)),
                categories=[ServiceCategory(code=c) for c in rng.sample(CATS, rng.randint(1, 3))],
                child_categories=[ServiceChildCategory(code=c) for c in rng.sample(KIDS, rng.randint(0, 2))],
                streets=[] if wide else [ServiceStreet(street_id=st) for st in rng.sample(streets, rng.randint(1, 2))],
                age_min=rng.choice((0, 6, 9)),
                age_max=rng.choice((9, 14, 18)),
            )
            s.add(svc)
            services.append(svc)
        await s.flush()
        for svc in services:
            if rng.random() < 0.4:
                s.add(ServiceCapacity(service_id=svc.id, month=month, booked=rng.randint(0, 4)))
            if rng.random() < 0.3:
                s.add(ServiceCapacity(service_id=svc.id, month="2020-01", booked=4))
        needs = []
        for i in range(25):
            community = rng.choice(world.communities)
            street = streets[0] if community != world.communities[2] else streets[1]
            child = await add_child(
                s,
                settings,
                community,
                street,
                name=f"儿童{i}",
                age=rng.randint(3, 17),
                categories=rng.sample(KIDS, rng.randint(1, 2)),
                seq=f"{seed % 10}{i:02d}",
            )
            need = await add_need(s, child, rng.choice(CATS), urgency=rng.randint(1, 4))
            for svc in rng.sample(services, rng.choice((0, 0, 1, 2))):
                status = rng.choice(("declined", "accepted", "closed"))
                await add_referral(
                    s, need, svc.id, svc.organization_id, status=status, verdict="met" if status == "closed" else None
                )
            need.status = "open"
            needs.append(need.id)
    return needs


def _cached_candidates(
    conn: Connection, cache: PoolCache, facts: NeedFacts, seen: signals.Stamp, month: str
) -> list[ServiceFacts]:
    return candidates(conn, facts, cache.category(conn, facts.category, seen), month)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_cached_read_gives_the_reference_candidates_and_ranking(
    db: Database, settings: Settings, world: World, seed: int
) -> None:
    need_ids = await _varied(db, settings, world, seed)
    month, today = clock.month_key(), clock.today()
    args = scoring.weights_args(settings, today)
    cache = pool_cache(db)
    compared = 0
    for need_id in need_ids:
        async with db.session(write=False) as s:
            need = await s.get(Need, need_id)
            assert need is not None
            facts = await need_facts(s, need)
            by_sql = await candidate_services(s, facts, month)
            every = await service_facts(s, service_columns(month)[0])
            records = await provider_records(s, {v.organization_id for v in by_sql})
        reference = sorted((v for v in every if scoring.ineligibility(facts, v) is None), key=lambda v: v.service_id)
        seen = cache.fresh()
        cached = await db.read(_cached_candidates, cache, facts, seen, month)
        assert cached == reference == sorted(by_sql, key=lambda v: v.service_id)
        # The endpoint's ranking: every eligible service scored by scoring.score (no payer confirmed here).
        expected = scoring.rank(
            [
                scoring.score(
                    facts, v, records[v.organization_id], scoring.declared_funding(v), settings.match_weights, **args
                )
                for v in reference
            ]
        )[:50]
        async with db.session(write=False) as s:
            found, shown, eligible = await matching.match_need(db, s, ADMIN, settings, need_id, 50)
        assert (found, eligible) == (need_id, len(reference))
        assert [(c.scored.service, c.scored.score, c.scored.components, c.scored.reasons) for c in shown] == [
            (e.service, e.score, e.components, e.reasons) for e in expected
        ]
        compared += len(reference)
    assert compared > 0


async def test_a_change_committed_elsewhere_is_seen_on_the_next_request(
    client, auth, cases, world: World, db: Database
) -> None:
    """The app (its own Database, as another serving process would have) keeps the category; the test's writes
    through ``db`` change the signal in the shared data directory."""
    h = await auth("director")
    need_id = cases.needs["A"]
    async with db.session() as s:
        need = await s.get(Need, need_id)
        assert need is not None
        category = need.category
        svc = Service(
            organization_id=world.orgs[1],
            title="新上架的服务",
            capacity_per_month=2,
            status="published",
            district_wide=True,
            assured_on=clock.today(),
            categories=[ServiceCategory(code=category)],
            child_categories=[],
            streets=[],
            age_min=0,
            age_max=18,
        )
        s.add(svc)
        await s.flush()
        sid = svc.id

    async def shown() -> set[int]:
        r = await client.post(f"/api/v1/needs/{need_id}/matches", json={"limit": 50}, headers=h)
        assert r.status_code == 200, r.text
        return {c["service_id"] for c in r.json()["candidates"]}

    assert sid in await shown()
    # Paused: gone on the next request.
    async with db.session() as s:
        row = await s.get(Service, sid)
        assert row is not None
        row.status = "paused"
    assert sid not in await shown()
    async with db.session() as s:
        row = await s.get(Service, sid)
        assert row is not None
        row.status = "published"
    assert sid in await shown()
    # Only for older children: gone.
    async with db.session() as s:
        row = await s.get(Service, sid)
        assert row is not None
        row.age_min = 17
    assert sid not in await shown()
    async with db.session() as s:
        row = await s.get(Service, sid)
        assert row is not None
        row.age_min = 0
    assert sid in await shown()
    # Its places booked this month (no pool signal: the places are read per request): gone.
    async with db.session() as s:
        s.add(ServiceCapacity(service_id=sid, month=clock.month_key(), booked=2))
    assert sid not in await shown()
    async with db.session() as s:
        booking = await s.get(ServiceCapacity, (sid, clock.month_key()))
        assert booking is not None
        booking.booked = 1
    assert sid in await shown()
    # Its provider suspended: gone.
    async with db.session() as s:
        org = await s.get(Organization, world.orgs[1])
        assert org is not None
        org.status = "suspended"
    assert sid not in await shown()
