"""The demo holds realistic parents away for the left-behind children, their contact logs, and alerts in both
levels; the director of the demo's community sees theirs."""

from __future__ import annotations

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from marketplace.app import create_app
from marketplace.cases.models import Child, Notification
from marketplace.db import Database
from marketplace.families import service
from marketplace.families.models import ContactAlert, ParentAway, ParentContact, ParentVisitHome


async def test_demo_parents_contacts_and_alerts(demo_settings) -> None:
    settings = demo_settings
    db = Database(settings)
    try:
        async with db.session(write=False) as s:
            parents = list((await s.scalars(select(ParentAway))).all())
            kids = {
                c.id: c
                for c in (await s.scalars(select(Child).where(Child.id.in_({p.child_id for p in parents})))).all()
            }
            contacts = await s.scalar(select(func.count()).select_from(ParentContact))
            stays = await s.scalar(select(func.count()).select_from(ParentVisitHome))
            alerts = list((await s.scalars(select(ContactAlert).where(ContactAlert.status == "open"))).all())
            told = await s.scalar(
                select(func.count()).select_from(Notification).where(Notification.kind.like("families_%"))
            )
        assert len(parents) >= 60 and all("left_behind" in kids[p.child_id].categories for p in parents)
        assert {p.work_city for p in parents} >= {"东莞市", "南宁市", "长沙市"}
        assert int(contacts or 0) > 5 * len(parents) // 2 and int(stays or 0) > 10
        assert {a.level for a in alerts} == {1, 2} and 5 <= len(alerts) <= len(parents) // 4
        assert int(told or 0) >= len(alerts)
        # The demo's check is today's: run again, nothing new.
        async with db.session() as s:
            assert (await service.check_contact(s))["opened"] == 0
    finally:
        await db.dispose()
    async with AsyncTestClient(app=create_app(settings)) as client:
        r = await client.post("/api/v1/auth/login", json={"username": "admin", "password": "demo-password"})
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        listed = await client.get("/api/v1/families/alerts?limit=100", headers=h)
        assert listed.status_code == 200 and listed.json()["total"] == len(alerts)
