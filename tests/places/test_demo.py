"""The demo holds Futian's ten stations, children's homes in most communities (the demo director's among them),
staff on duty, and a quarter of activities (plus the current quarter so far) with the communities' children."""

from __future__ import annotations

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from marketplace import clock
from marketplace.app import create_app
from marketplace.db import Database
from marketplace.places.models import Activity, ActivityChild, Place, PlaceStaff
from marketplace.places.service import quarter_bounds


async def test_demo_places_and_activities(demo_settings) -> None:
    settings = demo_settings
    db = Database(settings)
    try:
        async with db.session(write=False) as s:
            places = list((await s.scalars(select(Place))).all())
            staff = int(await s.scalar(select(func.count()).select_from(PlaceStaff)) or 0)
            today = clock.today()
            q = (today.month - 1) // 3 + 1
            year, prev = (today.year, q - 1) if q > 1 else (today.year - 1, 4)
            start, end = quarter_bounds(year, prev)
            last_quarter = int(
                await s.scalar(select(func.count()).select_from(Activity).where(Activity.held_on.between(start, end)))
                or 0
            )
            named = int(await s.scalar(select(func.count()).select_from(ActivityChild)) or 0)
            future = int(
                await s.scalar(select(func.count()).select_from(Activity).where(Activity.held_on > today)) or 0
            )
    finally:
        await db.dispose()
    stations = [p for p in places if p.kind == "station"]
    homes = [p for p in places if p.kind == "children_home"]
    assert len(stations) == 10 and len({p.street_id for p in stations}) == 10
    assert 30 <= len(homes) <= 45 and all(p.address.startswith("福田区") for p in places)
    assert staff >= 2 * len(places)
    assert 3 * len(homes) <= last_quarter and named > last_quarter and future == 0
    async with AsyncTestClient(app=create_app(settings)) as client:
        r = await client.post("/api/v1/auth/login", json={"username": "director", "password": "demo-password"})
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        mine = (await client.get("/api/v1/places", params={"kind": "children_home", "limit": 100}, headers=h)).json()
        me = (await client.get("/api/v1/auth/me", headers=h)).json()
        home = next(p for p in mine["items"] if p["community_id"] == me["community_id"])
        assert home["staff"] and home["opening_hours"]
        acts = (await client.get(f"/api/v1/places/{home['id']}/activities", headers=h)).json()
        assert acts["total"] >= 3 and any(a["children"] for a in acts["items"])
        public = await client.get("/api/v1/public/places", params={"limit": 100})
        assert public.status_code == 200 and public.json()["total"] == len(places)
