"""The demo holds realistic intakes: several channels and outcomes, one untriaged near its deadline, one past it, a
12355 call whose mandatory report was linked to a file and shows on that child's timeline."""

from __future__ import annotations

import datetime as dt

from litestar.testing import AsyncTestClient

from marketplace import clock
from marketplace.app import create_app


async def test_demo_intakes(demo_settings) -> None:
    settings = demo_settings
    async with AsyncTestClient(app=create_app(settings)) as client:
        headers = {}
        for who in ("director", "supervisor", "admin", "org"):
            r = await client.post("/api/v1/auth/login", json={"username": who, "password": "demo-password"})
            headers[who] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        mine = (await client.get("/api/v1/intakes", headers=headers["director"])).json()
        items = mine["items"]
        assert mine["total"] == 4
        assert {i["channel"] for i in items} == {"hotline_12355", "school", "neighbour", "hospital"}
        assert {i["outcome"] for i in items} == {"mandatory_report", "need", "no_action", None}
        # The untriaged first: the hospital's report, not yet late but due within two hours.
        first = items[0]
        assert first["channel"] == "hospital" and first["status"] == "new" and first["overdue"] is False
        left = dt.datetime.fromisoformat(first["due_at"]) - clock.now()
        assert dt.timedelta(0) < left < dt.timedelta(hours=2)
        street = (await client.get("/api/v1/intakes", params={"overdue": True}, headers=headers["supervisor"])).json()
        assert [i["channel"] for i in street["items"]] == ["street_hotline"]
        assert (await client.get("/api/v1/intakes", headers=headers["admin"])).json()["total"] == 6
        assert (await client.get("/api/v1/intakes", headers=headers["org"])).status_code == 403
        # The 12355 call: its report linked to the file it turned out to have, on the child's timeline.
        call = next(i for i in items if i["channel"] == "hotline_12355")
        assert call["child_id"] and call["report_id"]
        assert [t["outcome"] for t in call["triages"]] == ["mandatory_report", "link_file"]
        timeline = (
            await client.get(f"/api/v1/children/{call['child_id']}/timeline", headers=headers["director"])
        ).json()
        kinds = [e["kind"] for e in timeline["events"]]
        assert "intake_received" in kinds and "report" in kinds
        assert "13712345678" not in str(timeline)
