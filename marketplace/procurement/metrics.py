"""Milestone targets measured from the system's own records.

Each metric counts what one organization did in a date range. The records live in other features (cases,
referrals); a metric whose source is not installed answers ``None`` — "not measurable yet" — so a contract can
name the target now and be measured once the source exists.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.clock import DISTRICT_TZ

Measure = Callable[[AsyncSession, int, dt.date, dt.date], Awaitable[int | None]]


@dataclass(frozen=True)
class Metric:
    code: str
    label: str
    measure: Measure


def _module(name: str) -> ModuleType | None:
    try:
        if importlib.util.find_spec(name) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(name)


def _instant_range(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """District days as UTC instants: [start 00:00, the day after end 00:00) China Standard Time."""
    lo = dt.datetime.combine(start, dt.time(), DISTRICT_TZ).astimezone(dt.UTC)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), DISTRICT_TZ).astimezone(dt.UTC)
    return lo, hi


async def _completed_referrals(session: AsyncSession, org_id: int, start: dt.date, end: dt.date) -> int | None:
    models = _module("marketplace.referrals.models")
    if models is None or not hasattr(models, "Referral"):
        return None
    referral: Any = models.Referral
    lo, hi = _instant_range(start, end)
    count = await session.scalar(
        select(func.count())
        .select_from(referral)
        .where(referral.organization_id == org_id, referral.completed_at >= lo, referral.completed_at < hi)
    )
    return int(count or 0)


async def _service_logs(session: AsyncSession, org_id: int, start: dt.date, end: dt.date) -> int | None:
    models = _module("marketplace.referrals.models")
    if models is None or not hasattr(models, "ReferralLog"):
        return None
    referral: Any = models.Referral
    log: Any = models.ReferralLog
    count = await session.scalar(
        select(func.count())
        .select_from(log)
        .join(referral, referral.id == log.referral_id)
        .where(referral.organization_id == org_id, log.delivered_on >= start, log.delivered_on <= end)
    )
    return int(count or 0)


async def _home_visits(session: AsyncSession, org_id: int, start: dt.date, end: dt.date) -> int | None:
    """Home visits recorded by the organization's own staff (e.g. contracted verification visits 走访核查)."""
    cases = _module("marketplace.cases.models")
    if cases is None or not hasattr(cases, "Visit"):
        return None
    from marketplace.auth.models import User

    visit: Any = cases.Visit
    count = await session.scalar(
        select(func.count())
        .select_from(visit)
        .join(User, User.id == visit.created_by)
        .where(
            User.organization_id == org_id,
            visit.kind == "home",
            visit.visited_on >= start,
            visit.visited_on <= end,
        )
    )
    return int(count or 0)


METRICS: Final[dict[str, Metric]] = {
    m.code: m
    for m in (
        Metric("completed_referrals", "完成转介服务（件）", _completed_referrals),
        Metric("service_logs", "服务记录（次）", _service_logs),
        Metric("home_visits", "入户走访（次）", _home_visits),
    )
}


async def measure(session: AsyncSession, code: str, org_id: int, start: dt.date, end: dt.date) -> int | None:
    metric = METRICS.get(code)
    if metric is None:
        return None
    return await metric.measure(session, org_id, start, end)
