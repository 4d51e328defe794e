"""Revisions of published services: what an organization changes on a live listing waits for the district's review.

A draft (or a service sent back to draft) is edited in place: nobody but its owner and the district sees it. Once a
service is published (or paused), families, directors and matching read it, and the district approved what it
says: its organization's changes to the listing fields (``ServiceChanges``: everything the PATCH accepts except
``assured_on``) go into the service's one open revision instead, which the organization keeps editing, submits,
or withdraws; the district approves it (the values are applied to the service in the same transaction, the
service stays as it was in the pool otherwise, ``service.changed`` goes out, ``assured_on`` is refreshed) or
returns it with a reason (the organization edits and resubmits). Confirming that a listing is still current
(``assured_on`` alone) stays immediate: it changes nothing families read. The district's own PATCH still edits in
place: it is the reviewer.

Revisions are never deleted: approved and withdrawn ones stay as history with who and when, and with the live
values they replaced (``previous``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from marketplace import clock, outbox
from marketplace.auth.principal import Principal
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.resources import service as pool
from marketplace.resources.models import OPEN_REVISION_STATUSES, Service, ServiceRevision
from marketplace.resources.schemas import ServiceChanges
from marketplace.resources.taxonomy import SERVICE_REVISION_STATUSES
from marketplace.statemachine import StateMachine, Transition

REVISION_LIFECYCLE = StateMachine(
    "service_revision",
    SERVICE_REVISION_STATUSES,
    [
        Transition("submit", frozenset({"draft", "returned"}), "pending_review", "提交审核"),
        Transition("withdraw", frozenset(OPEN_REVISION_STATUSES), "withdrawn", "撤回"),
        Transition("approve", frozenset({"pending_review"}), "approved", "审核通过"),
        Transition("return", frozenset({"pending_review"}), "returned", "退回修改"),
    ],
)
OWNER_ACTIONS = frozenset({"submit", "withdraw"})
DISTRICT_ACTIONS = frozenset({"approve", "return"})

# The listing fields a revision carries, in the order a reviewer reads them, with the labels people read.
FIELD_LABELS: dict[str, str] = {
    "title": "服务名称",
    "categories": "服务类别",
    "capacity_per_month": "每月名额",
    "description": "服务内容",
    "eligibility": "服务对象条件",
    "child_categories": "儿童类别",
    "age_min": "最小年龄",
    "age_max": "最大年龄",
    "street_ids": "服务街道",
    "cost_per_case_fen": "每例成本",
    "delivery_mode": "服务方式",
    "funding_source": "资金来源",
    "schedule": "服务时间",
    "wait_time_days": "等候天数",
    "fees_text": "收费说明",
    "five_societies": "五社联动",
    "contact_phone": "联系电话",
}
REVIEWED_FIELDS = tuple(FIELD_LABELS)
assert set(REVIEWED_FIELDS) == set(ServiceChanges.__struct_fields__)
LIST_FIELDS = frozenset({"categories", "child_categories", "street_ids", "five_societies"})


def live_values(service: Service) -> dict[str, Any]:
    """The service's reviewed fields as they are live (plain JSON values, lists in their stored order)."""
    values: dict[str, Any] = {}
    for name in REVIEWED_FIELDS:
        if name == "categories":
            values[name] = service.category_codes
        elif name == "child_categories":
            values[name] = service.child_category_codes
        elif name == "street_ids":
            values[name] = service.street_ids
        elif name == "five_societies":
            values[name] = list(service.five_societies or [])
        else:
            values[name] = getattr(service, name)
    return values


def _same(name: str, a: Any, b: Any) -> bool:
    if name in LIST_FIELDS:
        return sorted(a or []) == sorted(b or []) if name != "five_societies" else list(a or []) == list(b or [])
    return bool(a == b)


def _normalized(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in LIST_FIELDS:
            value = list(dict.fromkeys(value))
            if name != "five_societies":
                value = sorted(value)
        out[name] = value
    return out


# ---------------------------------------------------------------- reading


def _scope(principal: Principal, service: Service) -> None:
    """Only the owning organization's staff and the district see a service's revisions; others find nothing."""
    owner = principal.role == "org_staff" and principal.organization_id == service.organization_id
    if not (owner or principal.role == "district_admin"):
        raise NotFound(f"服务项目 {service.id} 不存在 (service not found)")


def _is_owner(principal: Principal, service: Service) -> bool:
    return principal.role == "org_staff" and principal.organization_id == service.organization_id


def _revision_options() -> Any:
    return selectinload(ServiceRevision.service).options(
        selectinload(Service.categories),
        selectinload(Service.child_categories),
        selectinload(Service.streets),
        selectinload(Service.organization),
    )


async def _get(session: AsyncSession, service_id: int, revision_id: int, *, lock: bool = False) -> ServiceRevision:
    stmt = (
        select(ServiceRevision)
        .where(ServiceRevision.id == revision_id, ServiceRevision.service_id == service_id)
        .options(_revision_options())
    )
    if lock:
        stmt = stmt.with_for_update(of=ServiceRevision)
    found = await session.scalar(stmt)
    if found is None:
        raise NotFound(f"修改记录 {revision_id} 不存在 (revision not found)")
    return found


async def open_revision(session: AsyncSession, service_id: int) -> ServiceRevision | None:
    """The service's open revision (draft, under review or returned), if any."""
    found: ServiceRevision | None = await session.scalar(
        select(ServiceRevision)
        .where(ServiceRevision.service_id == service_id, ServiceRevision.status.in_(OPEN_REVISION_STATUSES))
        .options(_revision_options())
    )
    return found


async def open_revision_ids(session: AsyncSession, service_ids: Sequence[int]) -> dict[int, ServiceRevision]:
    """The open revision of each of these services that has one (one query, for listings)."""
    if not service_ids:
        return {}
    rows = await session.scalars(
        select(ServiceRevision).where(
            ServiceRevision.service_id.in_(list(service_ids)), ServiceRevision.status.in_(OPEN_REVISION_STATUSES)
        )
    )
    return {r.service_id: r for r in rows.all()}


async def read_revision(
    session: AsyncSession, principal: Principal, service_id: int, revision_id: int
) -> ServiceRevision:
    service = await pool.get_service(session, service_id)
    _scope(principal, service)
    return await _get(session, service_id, revision_id)


async def list_service_revisions(
    session: AsyncSession, principal: Principal, service_id: int, *, limit: int = 20, offset: int = 0
) -> tuple[list[ServiceRevision], int]:
    """One service's revisions, newest first: the open one and its history."""
    service = await pool.get_service(session, service_id)
    _scope(principal, service)
    where = ServiceRevision.service_id == service_id
    total = await session.scalar(select(func.count()).select_from(ServiceRevision).where(where)) or 0
    rows = await session.scalars(
        select(ServiceRevision)
        .where(where)
        .options(_revision_options())
        .order_by(ServiceRevision.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), total


async def list_revisions(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None = None,
    organization_id: int | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[ServiceRevision], int]:
    """Revisions across the pool: the district's review queue (``status="pending_review"``, oldest submitted
    first), or an organization's own."""
    if status is not None and status not in SERVICE_REVISION_STATUSES:
        raise Invalid.field("status", f"未知状态 '{status}' (unknown revision status)")
    stmt = select(ServiceRevision).join(Service, Service.id == ServiceRevision.service_id)
    if principal.role == "org_staff" and principal.organization_id is not None:
        stmt = stmt.where(Service.organization_id == principal.organization_id)
    elif principal.role != "district_admin":
        raise Forbidden("仅区民政或本机构可查看服务修改 (the district or the organization only)")
    if status:
        stmt = stmt.where(ServiceRevision.status == status)
    if organization_id:
        stmt = stmt.where(Service.organization_id == organization_id)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = (
        (ServiceRevision.submitted_at, ServiceRevision.id)
        if status == "pending_review"
        else (ServiceRevision.id.desc(),)
    )
    rows = await session.scalars(stmt.options(_revision_options()).order_by(*order).limit(limit).offset(offset))
    return list(rows.all()), total


def current_values(revision: ServiceRevision) -> dict[str, Any]:
    """What the proposed fields say now: live for an open revision, what they replaced for a closed one."""
    if revision.status in OPEN_REVISION_STATUSES:
        live = live_values(revision.service)
        return {name: live[name] for name in revision.changes if name in live}
    return dict(revision.previous)


def diff(revision: ServiceRevision) -> list[tuple[str, str, Any, Any]]:
    """(field, label, current, proposed) for each proposed field, in the reviewer's reading order."""
    current = current_values(revision)
    return [
        (name, FIELD_LABELS[name], current.get(name), revision.changes[name])
        for name in REVIEWED_FIELDS
        if name in revision.changes
    ]


def allowed_actions(principal: Principal, revision: ServiceRevision) -> list[str]:
    mine = OWNER_ACTIONS if _is_owner(principal, revision.service) else frozenset()
    if principal.role == "district_admin":
        mine = DISTRICT_ACTIONS
    return [a for a in REVISION_LIFECYCLE.allowed(revision.status) if a in mine]


# ---------------------------------------------------------------- writing


async def _owned_service(session: AsyncSession, principal: Principal, service_id: int) -> Service:
    service = await pool.get_service(session, service_id, lock=True)
    _scope(principal, service)
    if not _is_owner(principal, service):
        raise Forbidden("服务修改由本机构提出，区民政审核 (only the owning organization proposes changes)")
    return service


async def propose(
    session: AsyncSession, principal: Principal, service_id: int, data: ServiceChanges
) -> ServiceRevision:
    """Put these changes into the service's open revision (creating it when none is open).

    Fields not given keep what the revision already proposes; a field set back to its live value leaves the
    proposal. Editing a revision under review takes it back to the organization (status ``draft``): it is
    submitted again, so the district never approves values it did not see."""
    service = await _owned_service(session, principal, service_id)
    if service.status not in pool.REVISED_STATUSES:
        raise Conflict(
            "草稿或首次审核中的服务直接修改，无需提交修改审核 (edit a draft in place: PATCH /api/v1/services/{id})",
            current_status=service.status,
        )
    given = {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not msgspec.UNSET}
    if not given:
        raise Invalid("没有填写任何修改 (no field to change)", errors=[{"field": "", "message": "没有修改内容"}])
    revision = await open_revision(session, service_id)
    live = live_values(service)
    proposed = {**(revision.changes if revision is not None else {}), **_normalized(given)}
    await pool.validate_service_fields(session, {**live, **proposed})
    changes = {name: value for name, value in proposed.items() if not _same(name, value, live[name])}
    if not changes:
        raise Invalid(
            "修改内容与当前发布的信息相同 (nothing differs from the live listing; withdraw the revision instead)",
            errors=[{"field": "", "message": "与当前发布的信息相同，没有需要审核的修改"}],
        )
    now_user = principal.account_id
    if revision is None:
        revision = ServiceRevision(service_id=service_id, status="draft", created_by=now_user, reason="")
        session.add(revision)
    elif revision.status == "pending_review":
        revision.status = "draft"
        revision.submitted_at = None
        revision.submitted_by = None
    revision.changes = {name: changes[name] for name in REVIEWED_FIELDS if name in changes}
    revision.previous = {name: live[name] for name in revision.changes}
    revision.updated_by = now_user
    await session.flush()
    return await _get(session, service_id, revision.id)


async def act(
    session: AsyncSession,
    principal: Principal,
    service_id: int,
    revision_id: int,
    action: str,
    reason: str = "",
) -> ServiceRevision:
    """Submit or withdraw (the owner), approve or return with a reason (the district)."""
    service = await pool.get_service(session, service_id, lock=True)
    _scope(principal, service)
    revision = await _get(session, service_id, revision_id, lock=True)
    allowed = DISTRICT_ACTIONS if principal.role == "district_admin" else OWNER_ACTIONS
    if action not in allowed:
        raise Forbidden(f"无权对此修改执行 {action} (not allowed to {action} this revision)")
    reason = reason.strip()
    if action == "return" and not reason:
        raise Invalid.field("reason", "请填写退回原因 (a reason is required to return a revision)")
    target = REVISION_LIFECYCLE.target(revision.status, action)
    now, who = clock.now(), principal.account_id
    if action == "submit":
        revision.submitted_at, revision.submitted_by = now, who
    elif action == "approve":
        if service.status not in pool.REVISED_STATUSES:
            raise Conflict(
                "服务已不在发布或暂停状态，修改不能生效 (the service is no longer published or paused)",
                current_status=service.status,
            )
        live = live_values(service)
        await pool.validate_service_fields(session, {**live, **revision.changes})
        revision.previous = {name: live[name] for name in revision.changes}
        pool.apply_service_values(service, dict(revision.changes))
        service.assured_on = clock.today()
        outbox.emit(session, "service.changed", {"service_id": service.id, "revision_id": revision.id})
    elif action == "withdraw":
        live = live_values(service)
        revision.previous = {name: live[name] for name in revision.changes}
    if action in ("approve", "return", "withdraw"):
        revision.decided_at, revision.decided_by = now, who
    if action in ("return", "withdraw"):
        revision.reason = reason if action == "return" else revision.reason
    revision.status = target
    await session.flush()
    return revision
