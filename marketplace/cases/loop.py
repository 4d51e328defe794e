"""One event of a child's closed loop, as every casework feature hands it to the timeline (``referrals.timeline``).

The features above the files (safety warnings, hotline intake, case conferences, guardianship, left-behind
children's parents) each give ``async def loop_events(session, child) -> list[LoopEvent]``; the timeline lists
them in ``SOURCES`` and tells them with its own. ``stage`` is one of ``taxonomy.LOOP_STAGES``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.cases.models import Child


@dataclass(frozen=True)
class LoopEvent:
    at: dt.datetime
    stage: str
    kind: str
    title: str
    detail: str
    entity: str
    entity_id: int


# What a feature gives the timeline: every event of one child's loop it knows of (read with the file's scope
# already checked by the caller; no audit row of its own: the timeline writes one).
LoopSource = Callable[[AsyncSession, Child], Awaitable[list[LoopEvent]]]
