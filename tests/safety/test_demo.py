"""The safety demo: warnings in all four grades in the demo director's community (the orange one escalated to the
street's supervisor, the yellow one acknowledged with actions), this season's checks with some missed items; the
daily job run after it changes nothing."""

from __future__ import annotations

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from marketplace.app import create_app
from marketplace.db import Database
from marketplace.safety.jobs import grade
from marketplace.safety.models import SafetyCheck


async def test_demo_holds_every_grade_and_an_escalation(demo_settings) -> None:
    settings = demo_settings
    db = Database(settings)
    try:
        async with db.session(write=False) as s:
            checks = int(await s.scalar(select(func.count()).select_from(SafetyCheck)) or 0)
            missed = int(
                await s.scalar(select(func.count()).select_from(SafetyCheck).where(SafetyCheck.missed > 0)) or 0
            )
        assert checks >= 20 and 0 < missed < checks
        assert await grade(db) == 0  # the demo is what the job would leave
    finally:
        await db.dispose()
    async with AsyncTestClient(app=create_app(settings)) as client:
        tokens = {}
        for who in ("director", "supervisor"):
            r = await client.post("/api/v1/auth/login", json={"username": who, "password": "demo-password"})
            tokens[who] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        mine = (await client.get("/api/v1/safety/warnings?status=active&limit=200", headers=tokens["director"])).json()
        assert all(mine["counts"][g] >= 1 for g in ("red", "orange", "yellow", "blue")), mine["counts"]
        grades = {w["grade"]: w for w in mine["items"]}
        assert grades["yellow"]["status"] == "acknowledged" or any(
            w["status"] == "acknowledged" for w in mine["items"] if w["grade"] == "yellow"
        )
        street = (await client.get("/api/v1/safety/warnings?status=escalated", headers=tokens["supervisor"])).json()
        assert (
            street["total"] >= 1
            and street["items"][0]["escalated"]
            and street["items"][0]["allowed_actions"] == ["note"]
        )
