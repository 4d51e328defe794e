"""The five-society plan (五社联动) of a match: the community, the provider and its social worker, the
street's volunteers and the payer, put together for one need and one service."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.models import User
from marketplace.geography.models import Community
from marketplace.matching.ports import referral_history
from marketplace.matching.scoring import NeedFacts, ServiceFacts
from marketplace.resources.models import SocialWorker, VolunteerTeam

QUALIFICATION_RANK = {"高级社会工作师": 3, "社会工作师": 2, "助理社会工作师": 1}


@dataclass
class PlanContext:
    """Lookups shared by all candidates of one request."""

    community: dict[str, Any]
    volunteers: dict[str, Any] | None
    workers: dict[int, list[tuple[Any, int]]]  # organization id -> (social worker row, caseload)


async def plan_context(session: AsyncSession, need: NeedFacts, org_ids: Iterable[int]) -> PlanContext:
    return await session.run_sync(lambda s: plan_context_on(s.connection(), need, org_ids))


# The plan's statements, built once (bound values).
COMMUNITY_NAME = select(Community.name).where(Community.id == bindparam("community_id"))
DIRECTOR = (
    select(User.id, User.display_name)
    .where(User.role == "child_director", User.community_id == bindparam("community_id"), User.is_active.is_(True))
    .order_by(User.id)
    .limit(1)
)
TEAMS = (
    select(
        VolunteerTeam.id,
        VolunteerTeam.name,
        VolunteerTeam.member_count,
        VolunteerTeam.contact_name,
        VolunteerTeam.skills,
    )
    .where(VolunteerTeam.street_id == bindparam("street_id"), VolunteerTeam.active.is_(True))
    .order_by(VolunteerTeam.id)
)
WORKERS = select(
    SocialWorker.id,
    SocialWorker.organization_id,
    SocialWorker.name,
    SocialWorker.qualification,
    SocialWorker.specialties,
    SocialWorker.street_ids,
    SocialWorker.max_caseload,
).where(SocialWorker.organization_id.in_(bindparam("ids", expanding=True)), SocialWorker.active.is_(True))


def plan_context_on(conn: Connection, need: NeedFacts, org_ids: Iterable[int]) -> PlanContext:
    """The plan's lookups for the need and the providers, on a synchronous connection (``Database.read``)."""
    community = conn.execute(COMMUNITY_NAME, {"community_id": need.community_id}).first()
    d = conn.execute(DIRECTOR, {"community_id": need.community_id}).first()
    teams = list(conn.execute(TEAMS, {"street_id": need.street_id}).all())
    team = None
    if teams:
        teams.sort(key=lambda t: (need.category not in (t.skills or []), -t.member_count, t.id))
        t = teams[0]
        team = {"id": t.id, "name": t.name, "member_count": t.member_count, "contact_name": t.contact_name}
    ids = sorted(set(org_ids))
    workers: dict[int, list[tuple[Any, int]]] = defaultdict(list)
    if ids:
        rows = conn.execute(WORKERS, {"ids": ids}).all()
        load = referral_history().caseloads_on(conn, [w.id for w in rows]) if rows else {}
        for w in rows:
            workers[w.organization_id].append((w, int(load.get(w.id, 0))))
    return PlanContext(
        community={
            "id": need.community_id,
            "name": community.name if community else "",
            "director": {"user_id": d.id, "name": d.display_name} if d else None,
        },
        volunteers=team,
        workers=workers,
    )


def pick_social_worker(ctx: PlanContext, need: NeedFacts, organization_id: int) -> dict[str, Any] | None:
    """The least-loaded qualified worker of the provider for this category, better qualified first."""
    fits = [
        (w, load)
        for w, load in ctx.workers.get(organization_id, [])
        if need.category in (w.specialties or []) and load < w.max_caseload
    ]
    if not fits:
        return None
    fits.sort(
        key=lambda wl: (
            bool(wl[0].street_ids) and need.street_id not in wl[0].street_ids,
            wl[1],
            -QUALIFICATION_RANK.get(wl[0].qualification, 0),
            wl[0].id,
        )
    )
    w, load = fits[0]
    return {"id": w.id, "name": w.name, "qualification": w.qualification, "caseload": load}


def build_plan(ctx: PlanContext, need: NeedFacts, svc: ServiceFacts, funding: dict[str, Any]) -> dict[str, Any]:
    return {
        "community": ctx.community,
        "organization": {"id": svc.organization_id, "name": svc.organization_name},
        "social_worker": pick_social_worker(ctx, need, svc.organization_id),
        "volunteers": ctx.volunteers,
        "funding": funding,
    }
