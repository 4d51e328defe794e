"""The demo holds trained directors and supervisors, certificates (some expiring), the 2025 assessments confirmed
for everybody and the demo director's 2026 assessment computed from the demo's records, self-reported and scored;
the street ranking shows the directors' 2025 assessment; the 2026 post subsidy follows the 2025 grades."""

from __future__ import annotations

from collections import Counter

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from marketplace import clock
from marketplace.app import create_app
from marketplace.auth.models import User
from marketplace.db import Database
from marketplace.workforce import handlers
from marketplace.workforce.models import Assessment, Attendance, Course


async def test_demo_workforce(demo_settings) -> None:
    settings = demo_settings
    year = clock.today().year
    db = Database(settings)
    try:
        async with db.session(write=False) as s:
            directors = list((await s.scalars(select(User.id).where(User.role == "child_director"))).all())
            courses = int(await s.scalar(select(func.count()).select_from(Course)) or 0)
            attended = int(await s.scalar(select(func.count(func.distinct(Attendance.user_id)))) or 0)
            last = list((await s.scalars(select(Assessment).where(Assessment.year == year - 1))).all())
            factors = await handlers.subsidy_factors(s, year, directors)
        assert courses >= 6 and attended >= len(directors) * 3 // 4
        assert len([a for a in last if a.role == "child_director"]) == len(directors)
        assert all(a.status == "confirmed" and a.grade for a in last)
        grades = Counter(a.grade for a in last)
        assert grades["excellent"] + grades["qualified"] >= len(last) // 2, grades
        assert all(f.percent in (0, 80, 120) for f in factors.values())
    finally:
        await db.dispose()
    async with AsyncTestClient(app=create_app(settings)) as client:
        tokens = {}
        for who in ("director", "supervisor", "admin"):
            r = await client.post("/api/v1/auth/login", json={"username": who, "password": "demo-password"})
            tokens[who] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        mine = (await client.get(f"/api/v1/workforce/assessments?year={year}", headers=tokens["director"])).json()
        assert mine["total"] == 1 and mine["items"][0]["status"] == "scored"
        shown = (
            await client.get(f"/api/v1/workforce/assessments/{mine['items'][0]['id']}", headers=tokens["director"])
        ).json()
        inputs = {i["code"]: i for i in shown["indicators"]}
        assert inputs["visits_on_time"]["denominator"] > 0 and inputs["files_complete"]["denominator"] > 0
        assert shown["self_report"] and shown["reviewer_score"] == 86 and shown["result"] is not None
        street = (await client.get(f"/api/v1/workforce/assessments?year={year}", headers=tokens["supervisor"])).json()
        assert {i["status"] for i in street["items"]} == {"open", "self_reported", "scored"}
        people = (await client.get("/api/v1/workforce/people?limit=100", headers=tokens["admin"])).json()
        assert sum(p["certificates_expiring"] for p in people["items"]) >= 2
        assert all(p["latest_grade"] for p in people["items"])
        ranking = (await client.get(f"/api/v1/reports/street-ranking?year={year - 1}", headers=tokens["admin"])).json()
        assert all(i["indicators"]["director_assessment"] for i in ranking["items"])
