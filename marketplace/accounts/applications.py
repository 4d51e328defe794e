"""Organizations join by application: public submission, district review, approval creates the organization."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.schemas import ApplicationIn, ApplicationOut, ApplicationReceipt, ApprovalOut
from marketplace.auth.principal import Principal


async def submit(session: AsyncSession, data: ApplicationIn) -> ApplicationReceipt:
    """Public: anyone may apply; the receipt's reference (shown once) lets the applicant follow and supplement."""
    raise NotImplementedError


async def status_for_applicant(session: AsyncSession, application_id: int, reference: str) -> ApplicationOut:
    raise NotImplementedError


async def supplement(session: AsyncSession, application_id: int, reference: str, data: ApplicationIn) -> ApplicationOut:
    """The applicant answers a request for more (status needs_more -> submitted)."""
    raise NotImplementedError


async def list_applications(
    session: AsyncSession, principal: Principal, *, status: str | None = None, limit: int = 20, offset: int = 0
) -> tuple[list[ApplicationOut], int]:
    raise NotImplementedError


async def get_application(session: AsyncSession, principal: Principal, application_id: int) -> ApplicationOut:
    raise NotImplementedError


async def approve(session: AsyncSession, principal: Principal, application_id: int) -> ApprovalOut:
    """Creates the organization (approved) and its first organization-admin account with an activation code."""
    raise NotImplementedError


async def reject(session: AsyncSession, principal: Principal, application_id: int, reason: str) -> ApplicationOut:
    raise NotImplementedError


async def request_more(session: AsyncSession, principal: Principal, application_id: int, reason: str) -> ApplicationOut:
    raise NotImplementedError
