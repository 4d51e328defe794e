"""A small district for tests: two streets, three communities, two organizations, one user per role.

Procurement rules need three approved suppliers: ``suppliers`` lists the two approved organizations and a third
approved one added last (so everything built before it keeps its ids; ``orgs`` stays as it was)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.models import User
from marketplace.geography.models import Community, Street
from marketplace.resources import credit_code
from marketplace.resources.models import (
    Organization,
    OrganizationStreet,
    Service,
    ServiceCategory,
    ServiceChildCategory,
    ServiceStreet,
)

PASSWORD = "test-password"
# An argon2id hash like the app's, made with the smallest cost: argon2 verifies a password with the parameters written
# in its hash, so every sign-in of a test user costs well under a millisecond instead of the production parameters'
# 50-150 ms (thousands of sign-ins per run). Passwords the app itself hashes (changes, resets, the demo) keep the
# production parameters.
_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


def valid_code(n: int, org_type: str = "3") -> str:
    return credit_code.make("5", org_type, "440304", f"{n:08d}")


@dataclass
class World:
    streets: list[int] = field(default_factory=list)
    communities: list[int] = field(default_factory=list)
    orgs: list[int] = field(default_factory=list)
    users: dict[str, int] = field(default_factory=dict)
    services: list[int] = field(default_factory=list)
    suppliers: list[int] = field(default_factory=list)


async def build_world(session: AsyncSession) -> World:
    w = World()
    s1, s2 = Street(code="futian", name="福田街道"), Street(code="yuanling", name="园岭街道")
    session.add_all([s1, s2])
    await session.flush()
    w.streets = [s1.id, s2.id]
    c1 = Community(street_id=s1.id, code="fushan", name="福山社区")
    c2 = Community(street_id=s1.id, code="gangxia", name="岗厦社区")
    c3 = Community(street_id=s2.id, code="baihua", name="百花社区")
    session.add_all([c1, c2, c3])
    await session.flush()
    w.communities = [c1.id, c2.id, c3.id]
    o1 = Organization(
        name="深圳市福田区启航社会工作服务中心",
        kind="social_work_agency",
        credit_code=valid_code(1),
        contact_name="李主任",
        contact_phone="13800000001",
        status="approved",
        approved_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        streets=[OrganizationStreet(street_id=s1.id)],
    )
    o2 = Organization(
        name="深圳市福田区阳光公益服务中心",
        kind="charity",
        credit_code=valid_code(2),
        contact_name="王主任",
        contact_phone="13800000002",
        status="approved",
        approved_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        streets=[OrganizationStreet(street_id=s2.id)],
    )
    o3 = Organization(
        name="深圳市福田区新苗志愿者协会",
        kind="volunteer_org",
        credit_code=valid_code(3, "1"),
        contact_name="赵会长",
        contact_phone="13800000003",
        status="pending",
        streets=[],
    )
    session.add_all([o1, o2, o3])
    await session.flush()
    w.orgs = [o1.id, o2.id, o3.id]
    people = [
        ("admin", "district_admin", {}),
        ("supervisor", "child_supervisor", {"street_id": s1.id}),
        ("supervisor2", "child_supervisor", {"street_id": s2.id}),
        ("director", "child_director", {"street_id": s1.id, "community_id": c1.id}),
        ("director2", "child_director", {"street_id": s1.id, "community_id": c2.id}),
        ("director3", "child_director", {"street_id": s2.id, "community_id": c3.id}),
        ("org", "org_staff", {"organization_id": o1.id}),
        ("org2", "org_staff", {"organization_id": o2.id}),
        ("org3", "org_staff", {"organization_id": o3.id}),
        ("fund", "fund_manager", {}),
        ("procurement", "procurement_officer", {}),
        ("auditor", "auditor", {}),
    ]
    for username, role, scope in people:
        user = User(username=username, display_name=username, password_hash=_HASH, role=role, **scope)
        session.add(user)
        await session.flush()
        w.users[username] = user.id
    svc = [
        Service(
            organization_id=o1.id,
            title="困境儿童心理疏导服务",
            description="一对一心理疏导与团体辅导",
            capacity_per_month=10,
            cost_per_case_fen=50_000,
            status="published",
            district_wide=False,
            assured_on=dt.date(2026, 10, 1),
            five_societies=["social_organization", "social_worker"],
            categories=[ServiceCategory(code="psych_counselling"), ServiceCategory(code="emotional_support")],
            child_categories=[ServiceChildCategory(code="left_behind"), ServiceChildCategory(code="orphan")],
            streets=[ServiceStreet(street_id=s1.id)],
            age_min=6,
            age_max=16,
        ),
        Service(
            organization_id=o2.id,
            title="困境儿童助学金计划",
            description="为家庭经济困难儿童提供助学金",
            capacity_per_month=5,
            cost_per_case_fen=100_000,
            status="published",
            district_wide=True,
            assured_on=dt.date(2026, 9, 1),
            five_societies=["charity"],
            categories=[ServiceCategory(code="education_aid")],
            child_categories=[ServiceChildCategory(code="economic_hardship")],
            streets=[],
            age_min=6,
            age_max=18,
        ),
        Service(
            organization_id=o1.id,
            title="法律援助进社区（草稿）",
            description="法律咨询与援助",
            capacity_per_month=3,
            cost_per_case_fen=0,
            status="draft",
            district_wide=True,
            categories=[ServiceCategory(code="legal_aid")],
            child_categories=[],
            streets=[],
        ),
    ]
    session.add_all(svc)
    await session.flush()
    w.services = [s.id for s in svc]
    o4 = Organization(
        name="深圳市福田区护苗社会工作服务社",
        kind="social_work_agency",
        credit_code=valid_code(4),
        contact_name="陈主任",
        contact_phone="13800000004",
        status="approved",
        approved_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        streets=[OrganizationStreet(street_id=s1.id)],
    )
    session.add(o4)
    await session.flush()
    w.suppliers = [o1.id, o2.id, o4.id]
    return w
