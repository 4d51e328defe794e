"""The referral counters procurement's milestone targets read, through its ``metrics.Source`` port.

Referrals sits above procurement, so referrals provides them (registered in ``handlers.py`` with its other ports):
a milestone targeting "completed referrals" or "service logs" is measured from the referral rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.procurement import metrics
from marketplace.referrals.models import Referral, ReferralLog


async def completed_referrals(session: AsyncSession, windows: Sequence[metrics.Window]) -> list[int]:
    org_ids, start, end = metrics.span(windows)
    lo, hi = metrics.instant_range(start, end)
    rows = await session.execute(
        select(Referral.organization_id, Referral.completed_at).where(
            Referral.organization_id.in_(org_ids), Referral.completed_at >= lo, Referral.completed_at < hi
        )
    )
    return metrics.count_instants(windows, ((org, at) for org, at in rows.all() if at is not None))


async def service_logs(session: AsyncSession, windows: Sequence[metrics.Window]) -> list[int]:
    org_ids, start, end = metrics.span(windows)
    rows = await session.execute(
        select(Referral.organization_id, ReferralLog.delivered_on, func.count())
        .join(Referral, Referral.id == ReferralLog.referral_id)
        .where(
            Referral.organization_id.in_(org_ids), ReferralLog.delivered_on >= start, ReferralLog.delivered_on <= end
        )
        .group_by(Referral.organization_id, ReferralLog.delivered_on)
    )
    return metrics.count_days(windows, ((org, day, int(n)) for org, day, n in rows.all()))
