"""Load the Futian demo: real street names, synthetic people. Features add their parts through ``demo.py``."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.models import User
from marketplace.auth.passwords import hash_password
from marketplace.db import Database
from marketplace.demo import futian_data as data
from marketplace.features import demo_modules, load_models
from marketplace.geography.models import Community, Street
from marketplace.resources.models import (
    Organization,
    OrganizationStreet,
    Service,
    ServiceCategory,
    ServiceChildCategory,
    ServiceStreet,
    SocialWorker,
    VolunteerTeam,
)
from marketplace.search_wiring import after_demo
from marketplace.settings import Settings

log = logging.getLogger("marketplace.demo")


def rebase(days_ago: int) -> dt.date:
    """Demo dates keep their distance from today, so 'overdue' and 'stale' stay meaningful."""
    return clock.today() - dt.timedelta(days=days_ago)


async def load_pool(session: AsyncSession) -> dict[str, Any]:
    streets = {s.code: Street(code=s.code, name=s.name) for s in data.STREETS}
    session.add_all(streets.values())
    await session.flush()
    communities = {
        c.code: Community(street_id=streets[c.street_code].id, code=c.code, name=c.name) for c in data.COMMUNITIES
    }
    session.add_all(communities.values())
    await session.flush()
    now = clock.now()
    orgs: list[Organization] = []
    for o in data.ORGANIZATIONS:
        orgs.append(
            Organization(
                name=o.name,
                kind=o.kind,
                credit_code=o.credit_code,
                contact_name=o.contact_name,
                contact_phone=o.contact_phone,
                description=o.description,
                address=o.address,
                status=o.status,
                approved_at=now if o.status == "approved" else None,
                streets=[OrganizationStreet(street_id=streets[c].id) for c in o.street_codes],
            )
        )
    session.add_all(orgs)
    await session.flush()
    password_hash = hash_password(data.DEMO_PASSWORD)
    users: dict[str, int] = {}
    for u in data.USERS:
        community = communities.get(u.community_code or "")
        user = User(
            username=u.username,
            display_name=u.display_name,
            password_hash=password_hash,
            role=u.role,
            phone=u.phone,
            street_id=streets[u.street_code].id if u.street_code else (community.street_id if community else None),
            community_id=community.id if community else None,
            organization_id=orgs[u.organization_index].id if u.organization_index is not None else None,
            is_org_admin=u.is_org_admin,
            must_change_password=False,  # the demo's accounts keep demo-password
        )
        session.add(user)
        await session.flush()
        users[u.username] = user.id
    services: list[Service] = []
    for s in data.SERVICES:
        services.append(
            Service(
                organization_id=orgs[s.organization_index].id,
                title=s.title,
                description=s.description,
                eligibility=s.eligibility,
                age_min=s.age_min,
                age_max=s.age_max,
                district_wide=not s.street_codes,
                capacity_per_month=s.capacity_per_month,
                cost_per_case_fen=s.cost_per_case_fen,
                delivery_mode=s.delivery_mode,
                funding_source=s.funding_source,
                schedule=s.schedule,
                wait_time_days=s.wait_time_days,
                fees_text=s.fees_text,
                five_societies=list(s.five_societies),
                assured_on=rebase(s.assured_days_ago),
                status=s.status,
                published_at=now if s.status in {"published", "paused"} else None,
                categories=[ServiceCategory(code=c) for c in s.categories],
                child_categories=[ServiceChildCategory(code=c) for c in s.child_categories],
                streets=[ServiceStreet(street_id=streets[c].id) for c in s.street_codes],
            )
        )
    session.add_all(services)
    for w in data.SOCIAL_WORKERS:
        session.add(
            SocialWorker(
                organization_id=orgs[w.organization_index].id,
                name=w.name,
                qualification=w.qualification,
                specialties=list(w.specialties),
                street_ids=[streets[c].id for c in w.street_codes],
                phone=w.phone,
            )
        )
    for t in data.VOLUNTEER_TEAMS:
        session.add(
            VolunteerTeam(
                street_id=streets[t.street_code].id,
                name=t.name,
                member_count=t.member_count,
                skills=list(t.skills),
                contact_name=t.leader_name,
                contact_phone=t.leader_phone,
            )
        )
    await session.flush()
    return {
        "streets": {code: s.id for code, s in streets.items()},
        "communities": {code: c.id for code, c in communities.items()},
        "organizations": [o.id for o in orgs],
        "users": users,
        "services": [s.id for s in services],
    }


async def load_demo(settings: Settings, *, if_empty: bool = False) -> bool:
    load_models()
    db = Database(settings)
    try:
        async with db.session() as session:
            if if_empty and (await session.scalar(select(func.count()).select_from(Street))):
                return False
            ctx = await load_pool(session)
            ctx["settings"] = settings  # the features' demos encrypt with this settings' field key
            for module in demo_modules():
                log.info("loading demo data: %s", module.__name__)
                await module.load(session, ctx)
        await after_demo(db, settings)
        return True
    finally:
        await db.dispose()
