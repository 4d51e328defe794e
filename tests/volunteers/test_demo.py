"""The demo holds about 120 volunteers across Futian's streets with valid synthetic identity numbers, members of the
streets' teams, hours and a few certificates that verify; the demo director sees their community's volunteers."""

from __future__ import annotations

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from marketplace.app import create_app
from marketplace.cases.crypto import resident_id_problem
from marketplace.db import Database
from marketplace.volunteers.models import Certificate, Hours, Membership, Volunteer


async def test_demo_volunteers(demo_settings) -> None:
    settings = demo_settings
    db = Database(settings)
    try:
        async with db.session(write=False) as s:
            volunteers = list((await s.scalars(select(Volunteer))).all())
            members = await s.scalar(select(func.count()).select_from(Membership))
            hours = await s.scalar(select(func.count()).select_from(Hours))
            certificates = list((await s.scalars(select(Certificate))).all())
        assert 110 <= len(volunteers) <= 140
        assert all(resident_id_problem(v.id_number) is None for v in volunteers)
        assert len({v.street_id for v in volunteers}) >= 10
        assert int(members or 0) >= len(volunteers) // 2 and int(hours or 0) >= 20 and len(certificates) >= 3
    finally:
        await db.dispose()
    async with AsyncTestClient(app=create_app(settings)) as client:
        r = await client.post("/api/v1/auth/login", json={"username": "director", "password": "demo-password"})
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        listed = await client.get("/api/v1/volunteers?limit=100", headers=h)
        assert listed.status_code == 200 and listed.json()["total"] >= 8
        for cert in certificates[:3]:
            check = await client.get(f"/api/v1/public/volunteer-certificates/{cert.code}")
            assert check.json()["valid"] is True, check.text
