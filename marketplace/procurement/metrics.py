"""Milestone targets measured from the system's own records.

Each metric counts what one organization did in a window of district days. The home-visit count reads the cases
feature (below procurement) directly. The referral counts live in the referrals feature, which sits above
procurement: it plugs its counters in through the :class:`Source` port (``provide``) when it is loaded. A metric
with no source answers ``None`` — "not measurable yet" — so a contract can name the target now and be measured
once the source exists.

Sources count many windows in one call, so a page of contracts is measured with one query per metric.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.models import User
from marketplace.cases.models import Visit
from marketplace.clock import DISTRICT_TZ


@dataclass(frozen=True)
class Window:
    """An organization's work from ``start`` to ``end`` (district days, both included)."""

    organization_id: int
    start: dt.date
    end: dt.date


class Source(Protocol):
    """Counts for each window, in the order given; one round trip whatever the number of windows."""

    async def __call__(self, session: AsyncSession, windows: Sequence[Window]) -> list[int]: ...


@dataclass(frozen=True)
class Metric:
    code: str
    label: str


METRICS: Final[dict[str, Metric]] = {
    m.code: m
    for m in (
        Metric("completed_referrals", "完成转介服务（件）"),
        Metric("service_logs", "服务记录（次）"),
        Metric("home_visits", "入户走访（次）"),
    )
}

_sources: dict[str, Source] = {}


def provide(code: str, source: Source) -> None:
    """Plug in the counter for a metric of the catalogue (the feature that owns the records calls this)."""
    if code not in METRICS:
        raise ValueError(f"unknown metric {code!r}")
    _sources[code] = source


def withdraw(code: str) -> None:
    _sources.pop(code, None)


def measurable(code: str) -> bool:
    return code in _sources


def instant_range(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """District days as UTC instants: [start 00:00, the day after end 00:00) China Standard Time."""
    lo = dt.datetime.combine(start, dt.time(), DISTRICT_TZ).astimezone(dt.UTC)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), DISTRICT_TZ).astimezone(dt.UTC)
    return lo, hi


def span(windows: Sequence[Window]) -> tuple[list[int], dt.date, dt.date]:
    """The organizations and the day range that cover every window (what a source's one query selects)."""
    return (
        sorted({w.organization_id for w in windows}),
        min(w.start for w in windows),
        max(w.end for w in windows),
    )


def count_days(windows: Sequence[Window], rows: Iterable[tuple[int, dt.date, int]]) -> list[int]:
    """Per window, the sum of ``(organization, day, count)`` rows that fall inside it."""
    by_org: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for org_id, day, n in rows:
        by_org[org_id].append((day, n))
    return [sum(n for day, n in by_org.get(w.organization_id, ()) if w.start <= day <= w.end) for w in windows]


def count_instants(windows: Sequence[Window], rows: Iterable[tuple[int, dt.datetime]]) -> list[int]:
    """Per window, how many ``(organization, instant)`` rows fall inside its district days."""
    bounds = [instant_range(w.start, w.end) for w in windows]
    by_org: dict[int, list[dt.datetime]] = defaultdict(list)
    for org_id, at in rows:
        by_org[org_id].append(at)
    return [
        sum(1 for at in by_org.get(w.organization_id, ()) if lo <= at < hi)
        for w, (lo, hi) in zip(windows, bounds, strict=True)
    ]


async def home_visits(session: AsyncSession, windows: Sequence[Window]) -> list[int]:
    """Home visits recorded by the organization's own staff (e.g. contracted verification visits 走访核查)."""
    org_ids, start, end = span(windows)
    rows = await session.execute(
        select(User.organization_id, Visit.visited_on, func.count())
        .join(User, User.id == Visit.created_by)
        .where(
            User.organization_id.in_(org_ids),
            Visit.kind == "home",
            Visit.visited_on >= start,
            Visit.visited_on <= end,
        )
        .group_by(User.organization_id, Visit.visited_on)
    )
    return count_days(windows, ((int(o), d, int(n)) for o, d, n in rows.all() if o is not None))


provide("home_visits", home_visits)


async def measure_many(session: AsyncSession, code: str, windows: Sequence[Window]) -> list[int | None]:
    """Counts for many windows of one metric: one query, or none when the metric cannot be measured yet."""
    source = _sources.get(code)
    if source is None or not windows:
        return [None] * len(windows)
    return list(await source(session, windows))


async def measure(session: AsyncSession, code: str, org_id: int, start: dt.date, end: dt.date) -> int | None:
    return (await measure_many(session, code, [Window(org_id, start, end)]))[0]
