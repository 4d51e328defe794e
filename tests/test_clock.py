"""The one clock: the district's date from 16:00 UTC on, travel and freeze, and token lifetimes on the app's clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.cases.models import Child
from marketplace.db import Database, utcnow
from tests.support.world import PASSWORD, World

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("instant", "district_date", "month"),
    [
        ("2026-12-01T15:59", "2026-12-01", "2026-12"),
        ("2026-12-01T16:05", "2026-12-02", "2026-12"),
        ("2026-12-01T23:55", "2026-12-02", "2026-12"),
        ("2026-03-31T16:05", "2026-04-01", "2026-04"),
        ("2026-12-31T23:55", "2027-01-01", "2027-01"),
    ],
)
def test_the_district_date_turns_at_16_utc(
    frozen_clock: Callable[[dt.datetime], None], instant: str, district_date: str, month: str
) -> None:
    frozen_clock(at(instant))
    assert clock.now() == at(instant)
    assert utcnow() == at(instant)
    assert clock.today() == dt.date.fromisoformat(district_date)
    assert clock.month_key() == month
    assert clock.local_date(at(instant)) == dt.date.fromisoformat(district_date)


def test_freeze_stands_still_and_travel_ticks() -> None:
    target = at("2026-06-30T23:55")
    with clock.freeze(target):
        assert clock.now() == clock.now() == target
        assert clock.timestamp() == target.timestamp()
    with clock.travel(target):
        first = clock.now()
        assert abs((first - target).total_seconds()) < 5
        while clock.now() == first:
            pass
        assert clock.now() > first
        assert clock.today() == dt.date(2026, 7, 1)
    # Undone on exit: back near the machine's time.
    assert abs(clock.timestamp() - clock.now().timestamp()) < 1


def test_the_clock_takes_aware_instants_only() -> None:
    with pytest.raises(ValueError, match="timezone-aware"), clock.freeze(dt.datetime(2026, 1, 1)):  # noqa: DTZ001
        pass


async def test_token_lifetime_follows_the_apps_clock(
    client: AsyncTestClient[Litestar], world: World, frozen_clock: Callable[[dt.datetime], None]
) -> None:
    start = clock.now()
    r = await client.post("/api/v1/auth/login", json={"username": "director", "password": PASSWORD})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    frozen_clock(start + dt.timedelta(hours=13))
    r = await client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401, r.text


async def test_overdue_days_count_district_days_at_any_hour(
    client: AsyncTestClient[Litestar], db: Database, world: World, frozen_clock: Callable[[dt.datetime], None]
) -> None:
    """A visit due on the district's 28 Nov is 3 days overdue on its 1 Dec, and 4 days at 16:05 UTC that day."""

    async def add_child(session: AsyncSession) -> int:
        child = Child(
            community_id=world.communities[0],
            street_id=world.streets[0],
            name="李小红",
            gender="female",
            birth_date=dt.date(2016, 5, 1),
            id_number_enc="x",
            id_number_hmac="clock-test",
            categories=["left_behind"],
            guardianship="family",
            risk_level="medium",
            next_visit_due=dt.date(2026, 11, 28),
        )
        session.add(child)
        await session.flush()
        return child.id

    async with db.session() as s:
        child_id = await add_child(s)
    r = await client.post("/api/v1/auth/login", json={"username": "director", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    for instant, days in (("2026-12-01T03:00", 3), ("2026-12-01T15:55", 3), ("2026-12-01T16:05", 4)):
        frozen_clock(at(instant))
        r = await client.get("/api/v1/visits/overdue", headers=headers)
        assert r.status_code == 200, r.text
        row = next(i for i in r.json()["items"] if i["child_id"] == child_id)
        assert row["days_overdue"] == days, instant
