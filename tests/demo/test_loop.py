"""The demo shows the Yuzhong closed loop on one child (README: 林小雨 of 福山社区): all six stages on her timeline."""

from __future__ import annotations

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from marketplace.app import create_app
from marketplace.cases.models import Child, Need
from marketplace.cases.taxonomy import LOOP_STAGES
from marketplace.db import Database
from marketplace.referrals import demo_loop
from marketplace.referrals.models import Referral


async def test_demo_child_walks_the_whole_loop(demo_settings) -> None:
    settings = demo_settings
    db = Database(settings)
    try:
        async with db.session(write=False) as s:
            # Names are encrypted at rest: the file is found once its name is decrypted.
            child = next((c for c in (await s.scalars(select(Child))).all() if c.name == demo_loop.CHILD_NAME), None)
            assert child is not None and child.guardianship == "temporary_state"
            needs = {n.category: n for n in (await s.scalars(select(Need).where(Need.child_id == child.id))).all()}
            refs = {
                r.need_id: r for r in (await s.scalars(select(Referral).where(Referral.child_id == child.id))).all()
            }
    finally:
        await db.dispose()
    settled = needs["guardianship_assessment"]
    assert settled.status == "met" and settled.emergency and settled.settled_at is not None
    assert refs[settled.id].status == "closed" and refs[settled.id].verdict == "met"
    assert (
        needs["psych_counselling"].status == "in_service" and refs[needs["psych_counselling"].id].status == "in_service"
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        r = await client.post("/api/v1/auth/login", json={"username": "director", "password": "demo-password"})
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        timeline = await client.get(f"/api/v1/children/{child.id}/timeline", headers=h)
        assert timeline.status_code == 200, timeline.text
        body = timeline.json()
    assert body["child"] == {"id": child.id, "name": demo_loop.CHILD_NAME}
    assert [s["code"] for s in body["stages"]] == list(LOOP_STAGES)
    assert all(s["reached"] for s in body["stages"]), body["stages"]
    firsts = [s["first_at"] for s in body["stages"]]
    assert firsts == sorted(firsts)  # the loop is walked in order
    kinds = {e["kind"] for e in body["events"]}
    assert {"visit", "report", "report_ack", "police_notified", "report_step", "referral_closed"} <= kinds
    police = next(e for e in body["events"] if e["kind"] == "police_notified")
    assert "福田派出所" in police["detail"] and "回执号" in police["detail"]
    closed = next(e for e in body["events"] if e["kind"] == "referral_closed")
    assert closed["stage"] == "assessment" and "需求已满足" in closed["detail"]
    ats = [e["at"] for e in body["events"]]
    assert ats == sorted(ats)
