"""District time: months and days are counted in China Standard Time, stored instants in UTC."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

DISTRICT_TZ = ZoneInfo("Asia/Shanghai")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    return dt.datetime.now(DISTRICT_TZ).date()


def month_key(when: dt.datetime | dt.date | None = None) -> str:
    if when is None:
        when = dt.datetime.now(DISTRICT_TZ)
    elif isinstance(when, dt.datetime):
        when = when.astimezone(DISTRICT_TZ)
    return f"{when.year:04d}-{when.month:02d}"
