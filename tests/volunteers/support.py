"""Helpers of the volunteers' tests: valid identity numbers of a given age, places with activities."""

from __future__ import annotations

import datetime as dt

from marketplace import clock
from marketplace.db import Database
from marketplace.places.models import Activity, Place

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def id_of_age(age: int, seq: str = "123") -> str:
    """A valid number of someone ``age`` years old today (born on 1 January)."""
    born = dt.date(clock.today().year - age, 1, 1)
    return with_check(f"440304{born:%Y%m%d}{seq}")


async def add_activity(
    db: Database, street_id: int, community_id: int | None, held_on: dt.date, *, title: str = "暑期阅读会"
) -> int:
    async with db.session() as s:
        place = Place(
            kind="children_home" if community_id else "station",
            street_id=street_id,
            community_id=community_id,
            name=f"{title}之家{street_id}-{community_id}-{held_on}",
            address="",
            opening_hours="",
            facilities=[],
            phone="",
            active=True,
            note="",
        )
        s.add(place)
        await s.flush()
        activity = Activity(
            place_id=place.id, held_on=held_on, kind="reading", title=title, counts={}, children_total=12
        )
        s.add(activity)
        await s.flush()
        return activity.id
