"""Search documents built from the database: what the index holds for a service or an organization, and the
taxonomy's labels the search backend is given (``search`` knows no feature, so the app passes them in)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from marketplace.resources.models import Organization, Service
from marketplace.resources.service import capacity_left
from marketplace.resources.taxonomy import (
    CHILD_CATEGORIES,
    DELIVERY_MODES,
    FIVE_SOCIETIES,
    FUNDING_SOURCES,
    ORGANIZATION_KINDS,
    SERVICE_CATEGORIES,
)
from search import Labels

# The codes' labels a search matches, and the further labels the segmenter keeps whole.
LABELS: Final = Labels(
    service_categories=SERVICE_CATEGORIES,
    child_categories=CHILD_CATEGORIES,
    organization_kinds=ORGANIZATION_KINDS,
    other=(*FIVE_SOCIETIES.values(), *DELIVERY_MODES.values(), *FUNDING_SOURCES.values()),
)


async def service_documents(session: AsyncSession, ids: Sequence[int]) -> tuple[list[dict[str, Any]], list[int]]:
    """Documents for the services that exist, and the ids that no longer do."""
    rows = list(
        (
            await session.scalars(
                select(Service)
                .where(Service.id.in_(list(ids)))
                .options(
                    selectinload(Service.categories),
                    selectinload(Service.child_categories),
                    selectinload(Service.streets),
                    selectinload(Service.organization),
                )
            )
        ).all()
    )
    left = await capacity_left(session, rows)
    docs = [
        {
            "id": s.id,
            "title": s.title,
            "description": s.description,
            "eligibility": s.eligibility,
            "organization_id": s.organization_id,
            "organization_name": s.organization.name,
            "categories": s.category_codes,
            "category_labels": [SERVICE_CATEGORIES.get(c, c) for c in s.category_codes],
            "child_categories": s.child_category_codes,
            "street_ids": s.street_ids,
            "age_min": s.age_min,
            "age_max": s.age_max,
            "status": s.status,
            "capacity_per_month": s.capacity_per_month,
            "capacity_left": left.get(s.id, s.capacity_per_month),
            "cost_per_case_fen": s.cost_per_case_fen,
            "assured_on": s.assured_on.isoformat() if s.assured_on else None,
            "updated_at": s.updated_at.isoformat(),
        }
        for s in rows
    ]
    found = {s.id for s in rows}
    return docs, [i for i in ids if i not in found]


async def organization_documents(session: AsyncSession, ids: Sequence[int]) -> tuple[list[dict[str, Any]], list[int]]:
    rows = list(
        (
            await session.scalars(
                select(Organization).where(Organization.id.in_(list(ids))).options(selectinload(Organization.streets))
            )
        ).all()
    )
    docs = [
        {
            "id": o.id,
            "name": o.name,
            "kind": o.kind,
            "credit_code": o.credit_code,
            "description": o.description,
            "street_ids": o.street_ids,
            "status": o.status,
            "updated_at": o.updated_at.isoformat(),
        }
        for o in rows
    ]
    found = {o.id for o in rows}
    return docs, [i for i in ids if i not in found]


BUILDERS = {"services": service_documents, "organizations": organization_documents}
