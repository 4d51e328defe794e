"""The people side of the five-society linkage: providers' social workers and the streets' volunteer teams.

A social worker's own contact (``phone``) is for the district's roles and the worker's own organization; every
other role sees the name and reaches the worker through the organization's channel (the organization's registered
contact phone), never the person's number. A volunteer team's contact person's number follows the same rule: the
district's roles and the team's own organization (``may_see_team_contact``) see it; everyone else gets the team's
organization's registered contact phone ("" for a street's team without an organization)."""

from __future__ import annotations

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import DISTRICT_ROLES, Principal
from marketplace.errors import Forbidden, NotFound
from marketplace.resources.models import Organization, SocialWorker, VolunteerTeam
from marketplace.resources.schemas import SocialWorkerIn, SocialWorkerPatch, VolunteerTeamIn, VolunteerTeamPatch
from marketplace.resources.service import can_manage_org, check_codes, check_streets, get_organization, raise_if
from marketplace.resources.taxonomy import SERVICE_CATEGORIES


async def list_social_workers(
    session: AsyncSession, *, organization_id: int | None, street_id: int | None, limit: int, offset: int
) -> tuple[list[SocialWorker], int]:
    stmt = select(SocialWorker).where(SocialWorker.active.is_(True))
    if organization_id:
        stmt = stmt.where(SocialWorker.organization_id == organization_id)
    rows = list((await session.scalars(stmt.order_by(SocialWorker.id))).all())
    if street_id:
        rows = [w for w in rows if not w.street_ids or street_id in w.street_ids]
    return rows[offset : offset + limit], len(rows)


def may_see_worker_contact(principal: Principal, organization_id: int) -> bool:
    """Whether ``principal`` sees the personal contact of a social worker of ``organization_id``."""
    return principal.role in DISTRICT_ROLES or (
        principal.role == "org_staff" and principal.organization_id == organization_id
    )


def may_see_team_contact(principal: Principal, organization_id: int | None) -> bool:
    """Whether ``principal`` sees the mobile of the contact person of a volunteer team of ``organization_id``
    (the social workers' rule: the district's roles and the team's own organization)."""
    return principal.role in DISTRICT_ROLES or (
        organization_id is not None and principal.role == "org_staff" and principal.organization_id == organization_id
    )


async def organization_channels(session: AsyncSession, organization_ids: set[int]) -> dict[int, str]:
    """Each organization's public channel: the contact phone it registered as an organization."""
    if not organization_ids:
        return {}
    rows = await session.execute(
        select(Organization.id, Organization.contact_phone).where(Organization.id.in_(organization_ids))
    )
    return {org_id: phone for org_id, phone in rows.all()}


async def create_social_worker(session: AsyncSession, principal: Principal, data: SocialWorkerIn) -> SocialWorker:
    if not can_manage_org(principal, data.organization_id):
        raise Forbidden("只能登记本机构的社工 (only for your own organization)")
    await get_organization(session, data.organization_id)
    raise_if(
        check_codes("specialties", data.specialties, SERVICE_CATEGORIES)
        + await check_streets(session, "street_ids", data.street_ids)
    )
    worker = SocialWorker(**msgspec.structs.asdict(data))
    session.add(worker)
    await session.flush()
    return worker


async def update_social_worker(
    session: AsyncSession, principal: Principal, worker_id: int, data: SocialWorkerPatch
) -> SocialWorker:
    worker = await session.get(SocialWorker, worker_id)
    if worker is None:
        raise NotFound(f"社工 {worker_id} 不存在 (social worker not found)")
    if not can_manage_org(principal, worker.organization_id):
        raise Forbidden("只能修改本机构的社工 (only for your own organization)")
    values = {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not msgspec.UNSET}
    raise_if(
        check_codes("specialties", values.get("specialties", []), SERVICE_CATEGORIES)
        + await check_streets(session, "street_ids", values.get("street_ids", []))
    )
    for field, value in values.items():
        setattr(worker, field, value)
    return worker


def _can_manage_team(principal: Principal, street_id: int, organization_id: int | None) -> bool:
    return (
        principal.role == "district_admin"
        or (principal.role == "child_supervisor" and principal.street_id == street_id)
        or (
            principal.role == "org_staff"
            and organization_id is not None
            and principal.organization_id == organization_id
        )
    )


async def list_volunteer_teams(
    session: AsyncSession, *, street_id: int | None, limit: int, offset: int
) -> tuple[list[VolunteerTeam], int]:
    stmt = select(VolunteerTeam).where(VolunteerTeam.active.is_(True))
    if street_id:
        stmt = stmt.where(VolunteerTeam.street_id == street_id)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(stmt.order_by(VolunteerTeam.id).limit(limit).offset(offset))
    return list(rows.all()), total


async def create_volunteer_team(session: AsyncSession, principal: Principal, data: VolunteerTeamIn) -> VolunteerTeam:
    if not _can_manage_team(principal, data.street_id, data.organization_id):
        raise Forbidden("无权为该街道登记志愿服务队 (not allowed for this street)")
    raise_if(
        check_codes("skills", data.skills, SERVICE_CATEGORIES)
        + await check_streets(session, "street_id", [data.street_id])
    )
    team = VolunteerTeam(**msgspec.structs.asdict(data))
    session.add(team)
    await session.flush()
    return team


async def update_volunteer_team(
    session: AsyncSession, principal: Principal, team_id: int, data: VolunteerTeamPatch
) -> VolunteerTeam:
    team = await session.get(VolunteerTeam, team_id)
    if team is None:
        raise NotFound(f"志愿服务队 {team_id} 不存在 (volunteer team not found)")
    if not _can_manage_team(principal, team.street_id, team.organization_id):
        raise Forbidden("无权修改该志愿服务队 (not allowed)")
    values = {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not msgspec.UNSET}
    raise_if(check_codes("skills", values.get("skills", []), SERVICE_CATEGORIES))
    for field, value in values.items():
        setattr(team, field, value)
    return team
