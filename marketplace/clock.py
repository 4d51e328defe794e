"""The one clock: every "now" and "today" in the code comes from here.

Days, months and years are counted in China Standard Time (the district's calendar); stored instants are UTC.
A date computed from the machine's own calendar (``date.today()``, ``datetime.now()``) is wrong for eight hours a
day on a UTC machine, so nothing else asks the system for the time (ruff's DTZ rules and ``tests/test_layers.py``
keep it that way).

Tests move the clock with :func:`travel` (it keeps ticking from the instant given) or :func:`freeze` (it stands
still); both undo themselves on exit. ``tests/conftest.py`` uses them for the ``frozen_clock`` fixture and for the
date-sensitive suites run at 16:05 and 23:55 UTC, when the district's date is already tomorrow's.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

DISTRICT_TZ = ZoneInfo("Asia/Shanghai")

# How far the clock is set from the machine's (travel), or the instant it stands at (freeze).
_offset = dt.timedelta(0)
_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    """The current instant, timezone-aware UTC."""
    if _frozen is not None:
        return _frozen
    return dt.datetime.now(dt.UTC) + _offset


def local_now() -> dt.datetime:
    """The current instant on the district's wall clock."""
    return now().astimezone(DISTRICT_TZ)


def today() -> dt.date:
    """The district's date (China Standard Time), which is not the UTC date from 16:00 to 24:00 UTC."""
    return local_now().date()


def timestamp() -> float:
    """Seconds since the epoch on this clock (for token lifetimes and the like)."""
    if _frozen is None and not _offset:
        return time.time()
    return now().timestamp()


def local_date(when: dt.datetime) -> dt.date:
    """The district's date of an instant (naive instants are taken as UTC, as they are stored)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(DISTRICT_TZ).date()


def month_key(when: dt.datetime | dt.date | None = None) -> str:
    if when is None:
        when = local_now()
    elif isinstance(when, dt.datetime):
        when = when.astimezone(DISTRICT_TZ)
    return f"{when.year:04d}-{when.month:02d}"


def _aware(instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is None:
        raise ValueError("the clock takes timezone-aware instants only")
    return instant.astimezone(dt.UTC)


def set_offset(instant: dt.datetime) -> None:
    """Move the clock to ``instant`` and let it tick from there (see :func:`travel`)."""
    global _offset, _frozen
    _frozen = None
    _offset = _aware(instant) - dt.datetime.now(dt.UTC)


def reset() -> None:
    """Back to the machine's time."""
    global _offset, _frozen
    _offset = dt.timedelta(0)
    _frozen = None


@contextmanager
def travel(instant: dt.datetime) -> Iterator[None]:
    """Run with the clock set to ``instant``, still ticking."""
    global _offset, _frozen
    saved = (_offset, _frozen)
    set_offset(instant)
    try:
        yield
    finally:
        _offset, _frozen = saved


@contextmanager
def freeze(instant: dt.datetime) -> Iterator[None]:
    """Run with the clock standing at ``instant``."""
    global _offset, _frozen
    saved = (_offset, _frozen)
    _frozen = _aware(instant)
    try:
        yield
    finally:
        _offset, _frozen = saved
