"""The resource pool's rules: organizations, service projects, social workers and volunteer teams."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from marketplace import clock, outbox
from marketplace.auth.principal import Principal
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.geography.service import existing_street_ids
from marketplace.resources import credit_code
from marketplace.resources.models import (
    OPEN_REVISION_STATUSES,
    Organization,
    OrganizationStreet,
    Service,
    ServiceCapacity,
    ServiceCategory,
    ServiceChildCategory,
    ServiceRevision,
    ServiceStreet,
)
from marketplace.resources.readmodel import POOL_READERS, ServiceFilters, ServiceRow, list_services
from marketplace.resources.schemas import (
    OrganizationIn,
    OrganizationPatch,
    ServiceIn,
    ServicePatch,
)
from marketplace.resources.taxonomy import (
    CHILD_CATEGORIES,
    DELIVERY_MODES,
    FIVE_SOCIETIES,
    FUNDING_SOURCES,
    ORGANIZATION_KINDS,
    SERVICE_CATEGORIES,
    SERVICE_STATUSES,
)
from marketplace.statemachine import StateMachine, Transition

__all__ = ["POOL_READERS", "ServiceFilters", "ServiceRow", "list_services"]  # the listing lives in readmodel

SERVICE_LIFECYCLE = StateMachine(
    "service",
    SERVICE_STATUSES,
    [
        Transition("submit", frozenset({"draft"}), "pending_review", "提交审核"),
        Transition("approve", frozenset({"pending_review"}), "published", "审核通过"),
        Transition("reject", frozenset({"pending_review"}), "draft", "退回修改"),
        Transition("pause", frozenset({"published"}), "paused", "暂停"),
        Transition("resume", frozenset({"paused"}), "published", "恢复"),
        Transition("archive", frozenset({"draft", "pending_review", "published", "paused"}), "archived", "归档"),
    ],
)
# Who may fire each transition: the owner runs its listing, the district moderates the pool.
# A published or paused service's listing fields change through a revision the district reviews (revisions.py).
REVISED_STATUSES = frozenset({"published", "paused"})
OWNER_TRANSITIONS = frozenset({"submit", "pause", "resume", "archive"})
DISTRICT_TRANSITIONS = frozenset({"approve", "reject", "pause", "resume", "archive"})


# ---------------------------------------------------------------- validation helpers


def check_codes(field: str, values: Sequence[str], table: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"field": f"{field}[{i}]", "message": f"未知代码 '{v}' (unknown code; see /api/v1/taxonomy)"}
        for i, v in enumerate(values)
        if v not in table
    ]


async def check_streets(session: AsyncSession, field: str, ids: Sequence[int]) -> list[dict[str, Any]]:
    found = await existing_street_ids(session, list(ids))
    return [
        {"field": f"{field}[{i}]", "message": f"街道 {v} 不存在 (unknown street)"}
        for i, v in enumerate(ids)
        if v not in found
    ]


def raise_if(errors: list[dict[str, Any]]) -> None:
    if errors:
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


def _dedupe(values: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


# ---------------------------------------------------------------- organizations


def can_manage_org(principal: Principal, org_id: int) -> bool:
    return principal.role == "district_admin" or (principal.role == "org_staff" and principal.organization_id == org_id)


async def get_organization(session: AsyncSession, org_id: int, *, lock: bool = False) -> Organization:
    stmt = select(Organization).where(Organization.id == org_id).options(selectinload(Organization.streets))
    if lock:
        stmt = stmt.with_for_update()
    org = await session.scalar(stmt)
    if org is None:
        raise NotFound(f"社会组织 {org_id} 不存在 (organization not found)")
    return org


def organization_visible(principal: Principal, org: Organization) -> bool:
    return (
        org.status == "approved"
        or principal.role in POOL_READERS
        or (principal.role == "org_staff" and principal.organization_id == org.id)
    )


async def read_organization(session: AsyncSession, principal: Principal, org_id: int) -> Organization:
    org = await get_organization(session, org_id)
    if not organization_visible(principal, org):
        raise NotFound(f"社会组织 {org_id} 不存在 (organization not found)")
    return org


async def create_organization(session: AsyncSession, principal: Principal, data: OrganizationIn) -> Organization:
    if principal.role not in {"district_admin", "org_staff"}:
        raise Forbidden("仅区民政或社会组织可登记机构 (only the district or an organization may register)")
    if principal.role == "org_staff" and principal.organization_id is not None:
        raise Forbidden("该账号已属于一个机构 (this account already belongs to an organization)")
    code = data.credit_code.strip().upper()
    errors = check_codes("kind", [data.kind], ORGANIZATION_KINDS)
    reason = credit_code.validate(code)
    if reason:
        errors.append({"field": "credit_code", "message": f"统一社会信用代码无效: {reason}"})
    errors += await check_streets(session, "street_ids", data.street_ids)
    raise_if(errors)
    clash = await session.scalar(
        select(Organization.id).where(or_(Organization.credit_code == code, Organization.name == data.name))
    )
    if clash is not None:
        raise Conflict(
            "同名或同信用代码的机构已登记 (an organization with this name or code exists)", existing_id=clash
        )
    org = Organization(
        name=data.name.strip(),
        kind=data.kind,
        credit_code=code,
        contact_name=data.contact_name,
        contact_phone=data.contact_phone,
        description=data.description,
        address=data.address,
        status="pending",
        streets=[OrganizationStreet(street_id=s) for s in _dedupe(data.street_ids)],
    )
    session.add(org)
    await session.flush()
    outbox.emit(session, "organization.changed", {"organization_id": org.id})
    return org


async def update_organization(
    session: AsyncSession, principal: Principal, org_id: int, data: OrganizationPatch
) -> Organization:
    if not can_manage_org(principal, org_id):
        raise Forbidden("只能修改本机构信息 (only the organization itself or the district may edit it)")
    org = await get_organization(session, org_id, lock=True)
    changes = {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not msgspec.UNSET}
    errors: list[dict[str, Any]] = []
    if "kind" in changes:
        errors += check_codes("kind", [changes["kind"]], ORGANIZATION_KINDS)
    if "street_ids" in changes:
        errors += await check_streets(session, "street_ids", changes["street_ids"])
    raise_if(errors)
    if "name" in changes:
        clash = await session.scalar(
            select(Organization.id).where(Organization.name == changes["name"], Organization.id != org_id)
        )
        if clash is not None:
            raise Conflict("机构名称已被使用 (name taken)")
    for field, value in changes.items():
        if field == "street_ids":
            org.streets = [OrganizationStreet(street_id=s) for s in _dedupe(value)]
        else:
            setattr(org, field, value)
    outbox.emit(session, "organization.changed", {"organization_id": org.id})
    return org


async def set_organization_status(
    session: AsyncSession, principal: Principal, org_id: int, status: str
) -> Organization:
    principal.require("district_admin")
    org = await get_organization(session, org_id, lock=True)
    allowed = {"approved": {"pending", "suspended"}, "suspended": {"approved", "pending"}}
    if org.status not in allowed[status]:
        raise Conflict(f"机构当前状态为 {org.status}，不能改为 {status} (illegal status change)")
    org.status = status
    if status == "approved":
        org.approved_at = clock.now()
        org.approved_by = principal.user_id
    outbox.emit(session, "organization.changed", {"organization_id": org.id})
    return org


async def list_organizations(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: str | None = None,
    status: str | None = None,
    street_id: int | None = None,
    limit: int = 20,
    offset: int = 0,
    ordered_ids: list[int] | None = None,
) -> tuple[list[Organization], int]:
    stmt = select(Organization)
    if principal.role not in POOL_READERS:
        own = principal.organization_id if principal.role == "org_staff" else None
        stmt = stmt.where(or_(Organization.status == "approved", Organization.id == own))
    if kind:
        stmt = stmt.where(Organization.kind == kind)
    if status:
        stmt = stmt.where(Organization.status == status)
    if street_id:
        stmt = stmt.where(
            exists().where(
                OrganizationStreet.organization_id == Organization.id, OrganizationStreet.street_id == street_id
            )
        )
    if ordered_ids is not None:
        stmt = stmt.where(Organization.id.in_(ordered_ids))
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if ordered_ids is not None:
        matching = set((await session.scalars(stmt.with_only_columns(Organization.id))).all())
        page = [i for i in ordered_ids if i in matching][offset : offset + limit]
        found = await session.scalars(
            select(Organization).where(Organization.id.in_(page)).options(selectinload(Organization.streets))
        )
        by_id = {o.id: o for o in found.all()}
        return [by_id[i] for i in page], total
    rows = await session.scalars(
        stmt.options(selectinload(Organization.streets)).order_by(Organization.id).limit(limit).offset(offset)
    )
    return list(rows.all()), total


# ---------------------------------------------------------------- services


def _service_options() -> Any:
    return (
        selectinload(Service.categories),
        selectinload(Service.child_categories),
        selectinload(Service.streets),
        selectinload(Service.organization),
    )


async def get_service(session: AsyncSession, service_id: int, *, lock: bool = False) -> Service:
    stmt = select(Service).where(Service.id == service_id).options(*_service_options())
    if lock:
        stmt = stmt.with_for_update(of=Service)
    service = await session.scalar(stmt)
    if service is None:
        raise NotFound(f"服务项目 {service_id} 不存在 (service not found)")
    return service


def service_visible(principal: Principal, service: Service) -> bool:
    return (
        service.status == "published"
        or principal.role in POOL_READERS
        or (principal.role == "org_staff" and principal.organization_id == service.organization_id)
    )


async def validate_service_fields(session: AsyncSession, values: dict[str, Any]) -> None:
    errors: list[dict[str, Any]] = []
    if "categories" in values:
        errors += check_codes("categories", values["categories"], SERVICE_CATEGORIES)
    if "child_categories" in values:
        errors += check_codes("child_categories", values["child_categories"], CHILD_CATEGORIES)
    if "delivery_mode" in values:
        errors += check_codes("delivery_mode", [values["delivery_mode"]], DELIVERY_MODES)
    if "funding_source" in values:
        errors += check_codes("funding_source", [values["funding_source"]], FUNDING_SOURCES)
    if "five_societies" in values:
        errors += check_codes("five_societies", values["five_societies"], FIVE_SOCIETIES)
    if "street_ids" in values:
        errors += await check_streets(session, "street_ids", values["street_ids"])
    if values.get("age_min", 0) > values.get("age_max", 18):
        errors.append({"field": "age_min", "message": "最小年龄不能大于最大年龄 (age_min > age_max)"})
    raise_if(errors)


def apply_service_values(service: Service, values: dict[str, Any]) -> None:
    for field, value in values.items():
        if field == "categories":
            service.categories = [ServiceCategory(code=c) for c in _dedupe(value)]
        elif field == "child_categories":
            service.child_categories = [ServiceChildCategory(code=c) for c in _dedupe(value)]
        elif field == "street_ids":
            ids = _dedupe(value)
            service.streets = [ServiceStreet(street_id=s) for s in ids]
            service.district_wide = not ids
        elif field == "five_societies":
            service.five_societies = _dedupe(value)
        else:
            setattr(service, field, value)


async def create_service(session: AsyncSession, principal: Principal, data: ServiceIn) -> Service:
    if not can_manage_org(principal, data.organization_id):
        raise Forbidden("只能为本机构发布服务项目 (you may list services only for your own organization)")
    org = await get_organization(session, data.organization_id)
    if org.status == "suspended":
        raise Conflict("机构已暂停，不能新增服务 (organization suspended)")
    values = msgspec.structs.asdict(data)
    await validate_service_fields(session, values)
    values.pop("organization_id")
    service = Service(
        organization_id=org.id,
        status="draft",
        categories=[],
        child_categories=[],
        streets=[],
        assured_on=values.pop("assured_on") or clock.today(),
    )
    apply_service_values(service, values)
    session.add(service)
    await session.flush()
    outbox.emit(session, "service.changed", {"service_id": service.id})
    return await get_service(session, service.id)


async def update_service(session: AsyncSession, principal: Principal, service_id: int, data: ServicePatch) -> Service:
    service = await get_service(session, service_id, lock=True)
    if not can_manage_org(principal, service.organization_id):
        raise Forbidden("只能修改本机构的服务项目 (only the owning organization may edit this service)")
    if service.status == "archived":
        raise Conflict("已归档的服务项目不能修改 (archived services are read-only)")
    values = {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not msgspec.UNSET}
    merged = {"age_min": service.age_min, "age_max": service.age_max, **values}
    await validate_service_fields(session, merged)
    reviewed = sorted(set(values) - {"assured_on"})
    if reviewed and principal.role != "district_admin" and service.status in REVISED_STATUSES:
        # What families read of a published listing changes only after the district's review; confirming that
        # the listing is still current (assured_on alone) stays immediate.
        raise Conflict(
            "已发布服务的修改需经区民政审核，请提交修改 "
            f"(changes to a published service go through review: POST /api/v1/services/{service_id}/revisions)",
            fields=reviewed,
            revisions=f"/api/v1/services/{service_id}/revisions",
        )
    apply_service_values(service, values)
    if "assured_on" not in values:
        # An edit by the provider is a confirmation that the listing is current.
        service.assured_on = clock.today()
    outbox.emit(session, "service.changed", {"service_id": service.id})
    await session.flush()
    return service


async def transition_service(
    session: AsyncSession, principal: Principal, service_id: int, name: str, reason: str = ""
) -> Service:
    service = await get_service(session, service_id, lock=True)
    owner = principal.role == "org_staff" and principal.organization_id == service.organization_id
    district = principal.role == "district_admin"
    if not ((owner and name in OWNER_TRANSITIONS) or (district and name in DISTRICT_TRANSITIONS)):
        if not (owner or district) and not service_visible(principal, service):
            raise NotFound(f"服务项目 {service_id} 不存在 (service not found)")
        raise Forbidden(f"无权对此服务项目执行 {name} (not allowed to {name} this service)")
    target = SERVICE_LIFECYCLE.target(service.status, name)
    if target == "published" and service.organization.status != "approved":
        raise Conflict("机构尚未通过审核，服务不能发布 (organization not approved yet)")
    service.status = target
    service.status_note = reason
    if name == "approve":
        service.published_at = clock.now()
    if name == "archive":
        # An archived listing is read-only: a change waiting for review can no longer go live.
        waiting = await session.scalars(
            select(ServiceRevision).where(
                ServiceRevision.service_id == service.id, ServiceRevision.status.in_(OPEN_REVISION_STATUSES)
            )
        )
        for revision in waiting.all():
            revision.status = "withdrawn"
            revision.reason = revision.reason or "服务已归档"
            revision.decided_at = clock.now()
            revision.decided_by = principal.account_id
    outbox.emit(session, "service.changed", {"service_id": service.id, "transition": name})
    await session.flush()
    return service


async def capacity_left(session: AsyncSession, services: Sequence[Service], month: str | None = None) -> dict[int, int]:
    month = month or clock.month_key()
    ids = [s.id for s in services]
    if not ids:
        return {}
    rows = await session.execute(
        select(ServiceCapacity.service_id, ServiceCapacity.booked).where(
            ServiceCapacity.service_id.in_(ids), ServiceCapacity.month == month
        )
    )
    booked: dict[int, int] = {sid: n for sid, n in rows.all()}
    return {s.id: max(0, s.capacity_per_month - booked.get(s.id, 0)) for s in services}


async def book_capacity(session: AsyncSession, service_id: int, *, places: int = 1, month: str | None = None) -> int:
    """Take places on a service this month under a row lock; 409 when it is full. Returns places left."""
    month = month or clock.month_key()
    service = await session.scalar(select(Service).where(Service.id == service_id).with_for_update())
    if service is None:
        raise NotFound(f"服务项目 {service_id} 不存在 (service not found)")
    row = await session.scalar(
        select(ServiceCapacity)
        .where(ServiceCapacity.service_id == service_id, ServiceCapacity.month == month)
        .with_for_update()
    )
    if row is None:
        row = ServiceCapacity(service_id=service_id, month=month, booked=0)
        session.add(row)
    if row.booked + places > service.capacity_per_month:
        raise Conflict(
            f"该服务本月名额已满 (no capacity left this month: {service.capacity_per_month} places)",
            capacity_per_month=service.capacity_per_month,
            booked=row.booked,
        )
    row.booked += places
    await session.flush()
    return service.capacity_per_month - row.booked


async def release_capacity(
    session: AsyncSession, service_id: int, *, places: int = 1, month: str | None = None
) -> None:
    month = month or clock.month_key()
    row = await session.scalar(
        select(ServiceCapacity)
        .where(ServiceCapacity.service_id == service_id, ServiceCapacity.month == month)
        .with_for_update()
    )
    if row is not None and row.booked > 0:
        row.booked = max(0, row.booked - places)


def is_stale(service: Service | ServiceRow, stale_days: int, today: dt.date | None = None) -> bool:
    if service.assured_on is None:
        return True
    return ((today or clock.today()) - service.assured_on).days > stale_days
