"""Organizations join by application: public submission, district review, approval creates the organization.

Anyone may apply (no account). The applicant gets a reference once (random; only its SHA-256 is kept) with which it
reads the application's status and answers a request for more. The district approves (the organization is created,
approved, with the applicant's service areas, and its first organization-admin account with an activation code shown
once), rejects with a reason or asks for more with a reason.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import outbox
from marketplace.accounts.models import OrganizationApplication
from marketplace.accounts.schemas import ApplicationIn, ApplicationOut, ApplicationReceipt, ApprovalOut, UserIn
from marketplace.accounts.service import check_text, control_characters, create_user
from marketplace.audit import service as audit
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.db import utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.masking import mask_phone
from marketplace.pagination import fetch_page
from marketplace.resources import credit_code
from marketplace.resources import service as pool
from marketplace.resources.models import Organization
from marketplace.resources.schemas import OrganizationIn
from marketplace.resources.taxonomy import ORGANIZATION_KINDS
from marketplace.statemachine import StateMachine, Transition

# The outbox topic of a new (or supplemented) application: the district hears of it. Payload: application_id, and
# supplemented_at when the applicant answered a request for more.
SUBMITTED_TOPIC: Final = "accounts.application_submitted"

APPLICATION_STATUSES: Final[dict[str, str]] = {
    "submitted": "待审核",
    "needs_more": "待补充材料",
    "approved": "已通过",
    "rejected": "未通过",
}
OPEN_STATUSES: Final = frozenset({"submitted", "needs_more"})

REVIEW = StateMachine(
    "organization_application",
    APPLICATION_STATUSES,
    [
        Transition("approve", frozenset({"submitted"}), "approved", "审核通过"),
        Transition("reject", frozenset({"submitted", "needs_more"}), "rejected", "不予通过"),
        Transition("request_more", frozenset({"submitted"}), "needs_more", "要求补充材料"),
        Transition("supplement", frozenset({"needs_more"}), "submitted", "补充材料"),
    ],
)
READERS: Final = frozenset({"district_admin", "auditor"})


def reference_hash(reference: str) -> str:
    return hashlib.sha256(reference.strip().encode()).hexdigest()


def new_reference() -> str:
    """About 190 random bits, URL-safe: printed on the applicant's receipt and typed or pasted back."""
    return secrets.token_urlsafe(24)


def application_out(a: OrganizationApplication, *, masked: bool = False) -> ApplicationOut:
    return ApplicationOut(
        id=a.id,
        name=a.name,
        credit_code=a.credit_code,
        kind=a.kind,
        legal_representative=a.legal_representative,
        contact_name=a.contact_name,
        contact_phone=mask_phone(a.contact_phone) if masked else a.contact_phone,
        contact_email=a.contact_email,
        address=a.address,
        street_ids=list(a.street_ids or []),
        qualifications=a.qualifications,
        status=a.status,
        status_label=APPLICATION_STATUSES.get(a.status, a.status),
        review_note=a.review_note,
        reviewed_by=a.reviewed_by,
        reviewed_at=a.reviewed_at,
        organization_id=a.organization_id,
        admin_user_id=a.admin_user_id,
        created_at=a.created_at,
        updated_at=a.updated_at,
    )


async def _validate(session: AsyncSession, data: ApplicationIn, *, exclude_id: int | None = None) -> str:
    """The normalised credit code once the application's content checks out; 422 or 409 otherwise."""
    code = credit_code.normalize(data.credit_code)
    errors: list[dict[str, Any]] = []
    reason = credit_code.validate(code)
    if reason:
        errors.append({"field": "credit_code", "message": f"统一社会信用代码无效: {reason}"})
    if data.kind not in ORGANIZATION_KINDS:
        errors.append({"field": "kind", "message": f"未知机构类型 '{data.kind}' (unknown kind; see /api/v1/taxonomy)"})
    for field in ("name", "legal_representative", "contact_name", "contact_email", "address"):
        errors += control_characters(field, getattr(data, field))
    errors += control_characters("qualifications", data.qualifications, multiline=True)
    if not data.name.strip():
        errors.append({"field": "name", "message": "名称不能为空 (name is blank)"})
    errors += await pool.check_streets(session, "street_ids", data.street_ids)
    pool.raise_if(errors)
    name = data.name.strip()
    existing = await session.scalar(
        select(Organization.id).where(or_(Organization.credit_code == code, Organization.name == name))
    )
    if existing is not None:
        raise Conflict("同名或同信用代码的机构已入库 (an organization with this name or code exists)")
    pending = select(OrganizationApplication.id).where(
        OrganizationApplication.status.in_(OPEN_STATUSES),
        or_(OrganizationApplication.credit_code == code, OrganizationApplication.name == name),
    )
    if exclude_id is not None:
        pending = pending.where(OrganizationApplication.id != exclude_id)
    if await session.scalar(pending) is not None:
        raise Conflict("该机构已有待审核的申请 (an application for this organization is pending)")
    return code


def _apply(a: OrganizationApplication, data: ApplicationIn, code: str) -> None:
    a.name = data.name.strip()
    a.credit_code = code
    a.kind = data.kind
    a.legal_representative = data.legal_representative.strip()
    a.contact_name = data.contact_name.strip()
    a.contact_phone = data.contact_phone
    a.contact_email = data.contact_email.strip()
    a.address = data.address.strip()
    a.street_ids = list(dict.fromkeys(data.street_ids))
    a.qualifications = data.qualifications.strip()


async def submit(session: AsyncSession, data: ApplicationIn) -> ApplicationReceipt:
    """Public: anyone may apply; the receipt's reference (shown once) lets the applicant follow and supplement."""
    code = await _validate(session, data)
    reference = new_reference()
    application = OrganizationApplication(status="submitted", reference_hash=reference_hash(reference))
    _apply(application, data, code)
    session.add(application)
    await session.flush()
    outbox.emit(session, SUBMITTED_TOPIC, {"application_id": application.id})
    await record_anonymous(session, "application.submit", application)
    return ApplicationReceipt(id=application.id, status=application.status, reference=reference)


async def record_anonymous(session: AsyncSession, action: str, a: OrganizationApplication) -> None:
    """The applicant has no account: its audit rows have no principal."""
    await audit.record(
        session, None, action, "organization_application", a.id, [], {"name": a.name, "credit_code": a.credit_code}
    )


async def _find(session: AsyncSession, application_id: int, *, lock: bool) -> OrganizationApplication | None:
    stmt = select(OrganizationApplication).where(OrganizationApplication.id == application_id)
    if lock:
        stmt = stmt.with_for_update()
    found: OrganizationApplication | None = await session.scalar(stmt)
    return found


async def _by_reference(
    session: AsyncSession, application_id: int, reference: str, *, lock: bool = False
) -> OrganizationApplication:
    a = await _find(session, application_id, lock=lock)
    # The same answer for an unknown id and a wrong reference: the reference is the applicant's only proof.
    if a is None or not a.reference_hash or not hmac.compare_digest(a.reference_hash, reference_hash(reference)):
        raise NotFound(f"申请 {application_id} 不存在或查询码不符 (application not found)")
    return a


async def status_for_applicant(session: AsyncSession, application_id: int, reference: str) -> ApplicationOut:
    return application_out(await _by_reference(session, application_id, reference))


async def supplement(session: AsyncSession, application_id: int, reference: str, data: ApplicationIn) -> ApplicationOut:
    """The applicant answers a request for more (status needs_more -> submitted)."""
    a = await _by_reference(session, application_id, reference, lock=True)
    a.status = REVIEW.target(a.status, "supplement")
    code = await _validate(session, data, exclude_id=a.id)
    _apply(a, data, code)
    a.updated_at = utcnow()
    await session.flush()
    outbox.emit(session, SUBMITTED_TOPIC, {"application_id": a.id, "supplemented_at": a.updated_at.isoformat()})
    await record_anonymous(session, "application.supplement", a)
    return application_out(a)


# ---------------------------------------------------------------- the district's review


def _reader(principal: Principal) -> None:
    if principal.role not in READERS:
        raise Forbidden("仅区民政可查看入驻申请 (only the district reviews applications)")


async def list_applications(
    session: AsyncSession, principal: Principal, *, status: str | None = None, limit: int = 20, offset: int = 0
) -> tuple[list[ApplicationOut], int]:
    _reader(principal)
    stmt = select(OrganizationApplication)
    if status:
        stmt = stmt.where(OrganizationApplication.status == status)
    rows, total = await fetch_page(session, stmt, OrganizationApplication.id.desc(), limit=limit, offset=offset)
    masked = principal.role == "auditor"
    return [application_out(a, masked=masked) for a in rows], total


async def _get(session: AsyncSession, application_id: int, *, lock: bool = False) -> OrganizationApplication:
    a = await _find(session, application_id, lock=lock)
    if a is None:
        raise NotFound(f"申请 {application_id} 不存在 (application not found)")
    return a


async def get_application(session: AsyncSession, principal: Principal, application_id: int) -> ApplicationOut:
    _reader(principal)
    return application_out(await _get(session, application_id), masked=principal.role == "auditor")


def admin_username_base(org: Organization) -> str:
    """``org<id>-admin``: readable, tied to the organization, and matching the username pattern."""
    return f"org{org.id}-admin"


async def unique_username(session: AsyncSession, base: str) -> str:
    taken = set((await session.scalars(select(User.username).where(User.username.like(f"{base}%")))).all())
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _review(a: OrganizationApplication, principal: Principal, note: str) -> None:
    a.review_note = note
    a.reviewed_by = principal.account_id
    a.reviewed_at = utcnow()
    a.updated_at = utcnow()


async def approve(session: AsyncSession, principal: Principal, application_id: int) -> ApprovalOut:
    """Creates the organization (approved) and its first organization-admin account with an activation code."""
    principal.require("district_admin")
    a = await _get(session, application_id, lock=True)
    a.status = REVIEW.target(a.status, "approve")
    org = await pool.create_organization(
        session,
        principal,
        OrganizationIn(
            name=a.name,
            kind=a.kind,
            credit_code=a.credit_code,
            contact_name=a.contact_name,
            contact_phone=a.contact_phone,
            street_ids=list(a.street_ids or []),
            description=a.qualifications,
            address=a.address,
        ),
    )
    org = await pool.set_organization_status(session, principal, org.id, "approved")
    # The organization's first admin: an account like any other the district creates (activation code, audit).
    created = await create_user(
        session,
        principal,
        UserIn(
            username=await unique_username(session, admin_username_base(org)),
            display_name=a.contact_name,
            phone=a.contact_phone,
            role="org_staff",
            organization_id=org.id,
            is_org_admin=True,
        ),
    )
    admin = created.user
    a.organization_id = org.id
    a.admin_user_id = admin.id
    _review(a, principal, "")
    await session.flush()
    await audit.record(
        session,
        principal,
        "application.approve",
        "organization_application",
        a.id,
        ["status"],
        {"organization_id": org.id, "admin_user_id": admin.id, "admin_username": admin.username},
    )
    return ApprovalOut(application=application_out(a), organization_id=org.id, admin=created.activation)


async def _decide(
    session: AsyncSession, principal: Principal, application_id: int, transition: str, reason: str
) -> ApplicationOut:
    principal.require("district_admin")
    note = reason.strip()
    check_text(reason=reason, multiline=True)
    if not note:
        raise Invalid.field("reason", "请填写理由 (a reason is required)")
    a = await _get(session, application_id, lock=True)
    a.status = REVIEW.target(a.status, transition)
    _review(a, principal, note)
    await session.flush()
    await audit.record(
        session,
        principal,
        f"application.{transition}",
        "organization_application",
        a.id,
        ["status", "review_note"],
        {"status": a.status, "reason": note},
    )
    return application_out(a)


async def reject(session: AsyncSession, principal: Principal, application_id: int, reason: str) -> ApplicationOut:
    return await _decide(session, principal, application_id, "reject", reason)


async def request_more(session: AsyncSession, principal: Principal, application_id: int, reason: str) -> ApplicationOut:
    return await _decide(session, principal, application_id, "request_more", reason)
