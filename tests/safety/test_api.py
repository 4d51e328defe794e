"""十防 checks and graded warnings over the API: a check regrades the child's warning at once, one current check per
child, prevention and season (a correction supersedes), the director acknowledges with the action taken, and the
scope of the children's files holds on every object (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from marketplace.cases.models import Child, Notification
from marketplace.safety.models import SafetyCheck, SafetyWarningEvent
from tests.cases.support import Cases
from tests.conftest import assert_problem
from tests.support import figures

SUITE = "Safety warnings"
# Noon in the district on a July day: the drowning campaign's peak.
JULY_NOON = dt.datetime(2026, 7, 10, 4, 0, tzinfo=dt.UTC)


def drowning(missed: str | None = "summer_care_plan", **kw: object) -> dict[str, object]:
    items = []
    for code in ("told_six_nevers", "guardian_pledge", "water_spots_known", "summer_care_plan"):
        if code == missed:
            items.append({"code": code, "answer": "missed", "note": "父母外出务工，暑期无人看护"})
        else:
            items.append({"code": code, "answer": "done"})
    return {"prevention": "drowning", "items": items, **kw}


async def set_child(db, child_id: int, **values: object) -> None:
    async with db.session() as s:
        child = await s.get(Child, child_id)
        assert child is not None
        for k, v in values.items():
            setattr(child, k, v)


async def test_preventions_are_listed_with_todays_campaign(client, auth, frozen_clock) -> None:
    frozen_clock(JULY_NOON)
    r = await client.get("/api/v1/safety/preventions", headers=await auth("director"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["season"] == "2026-summer" and body["season_label"] == "2026年夏季"
    due = {p["code"]: p["due_now"] for p in body["items"]}
    assert len(due) == 10 and due["drowning"] and not due["fire"]


async def test_check_raises_red_warning_director_acknowledges(client, auth, db, world, cases: Cases, frozen_clock):
    frozen_clock(JULY_NOON)
    a = cases.children["A"]
    await set_child(db, a, risk_level="critical")
    director = await auth("director")

    r = await client.post(f"/api/v1/children/{a}/safety-checks", json=drowning(), headers=director)
    assert r.status_code == 201, r.text
    check = r.json()
    assert check["season"] == "2026-summer" and check["missed"] == 1 and check["current"]
    assert {i["code"]: i["answer"] for i in check["items"]}["summer_care_plan"] == "missed"
    assert check["items"][3]["note"] == "父母外出务工，暑期无人看护"

    # The check regraded the child at once: critical 40 + a missed drowning item in July 20 = red.
    r = await client.get("/api/v1/safety/warnings", headers=director)
    assert r.status_code == 200, r.text
    listed = r.json()
    assert listed["total"] == 1 and listed["counts"] == {"red": 1, "orange": 0, "yellow": 0, "blue": 0}
    w = listed["items"][0]
    assert (w["child_id"], w["grade"], w["points"], w["status"]) == (a, "red", 60, "open")
    assert w["allowed_actions"] == ["acknowledge", "action"]
    assert w["ack_due_at"].startswith("2026-07-11T04:00")  # 24 hours for red
    # The community's directors are told at once, urgently, without the child's name.
    async with db.session(write=False) as s:
        told = (await s.scalars(select(Notification).where(Notification.kind == "safety_warning"))).all()
    assert {n.recipient_id for n in told} == {world.users["director"]}
    assert told[0].data["urgent"] is True and "张小明" not in told[0].title + told[0].body

    # A second check of the same prevention this season is refused; a correction names the one it corrects.
    r = await client.post(f"/api/v1/children/{a}/safety-checks", json=drowning(), headers=director)
    assert assert_problem(r, 409)["detail"].startswith("本季")
    r = await client.post(
        f"/api/v1/children/{a}/safety-checks", json=drowning(None, supersedes_id=check["id"]), headers=director
    )
    assert r.status_code == 201, r.text
    fixed = r.json()
    assert fixed["supersedes_id"] == check["id"] and fixed["missed"] == 0
    old = (await client.get(f"/api/v1/safety/checks/{check['id']}", headers=director)).json()
    assert old["current"] is False and old["superseded_by_id"] == fixed["id"]
    # Corrected: nothing missed, the warning falls to orange (critical alone is 40).
    w = (await client.get(f"/api/v1/safety/warnings/{w['id']}", headers=director)).json()
    assert w["grade"] == "orange" and [h["kind"] for h in w["history"]] == ["raised", "regraded"]

    r = await client.post(f"/api/v1/safety/warnings/{w['id']}/acknowledge", json={"note": ""}, headers=director)
    assert_problem(r, 400 if r.status_code == 400 else 422)
    r = await client.post(
        f"/api/v1/safety/warnings/{w['id']}/acknowledge",
        json={"note": "已入户，联系外婆暑期照看，落实看护"},
        headers=director,
    )
    assert r.status_code == 200, r.text
    w = r.json()
    assert w["status"] == "acknowledged" and w["allowed_actions"] == ["action"]
    assert w["history"][-1]["note"] == "已入户，联系外婆暑期照看，落实看护"
    r = await client.post(f"/api/v1/safety/warnings/{w['id']}/acknowledge", json={"note": "再次"}, headers=director)
    assert_problem(r, 409)
    r = await client.post(
        f"/api/v1/safety/warnings/{w['id']}/actions", json={"note": "社工每周电话回访"}, headers=director
    )
    assert r.status_code == 200 and r.json()["history"][-1]["kind"] == "action"

    # On the child's timeline, stage monitoring.
    r = await client.get(f"/api/v1/children/{a}/timeline", headers=director)
    assert r.status_code == 200, r.text
    kinds = [e["kind"] for e in r.json()["events"]]
    assert {"safety_raised", "safety_regraded", "safety_acknowledged", "safety_action", "safety_check"} <= set(kinds)
    figures.record(SUITE, "API checks and actions", 7)


async def test_bad_checks_are_refused_and_change_nothing(client, auth, db, cases: Cases, frozen_clock) -> None:
    frozen_clock(JULY_NOON)
    a = cases.children["A"]
    director = await auth("director")
    url = f"/api/v1/children/{a}/safety-checks"
    bad = [
        drowning(prevention="nothing"),
        {**drowning(), "items": drowning()["items"][:2]},  # not every item answered
        {**drowning(), "items": [*drowning()["items"], {"code": "told_six_nevers", "answer": "done"}]},
        {**drowning(), "items": [{"code": "x", "answer": "done"}]},
        {**drowning(), "items": [{**i, "note": ""} for i in drowning()["items"]]},  # a missed item without a note
        drowning(checked_on="2026-07-11"),  # tomorrow
        drowning(checked_on="2026-01-01"),  # too long ago
        drowning(supersedes_id=999),  # nothing to correct
        {**drowning(), "unknown": 1},
    ]
    for body in bad:
        r = await client.post(url, json=body, headers=director)
        assert r.status_code in (400, 422), (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(SafetyCheck)) == 0
        assert await s.scalar(select(func.count()).select_from(SafetyWarningEvent)) == 0
    figures.record(SUITE, "bad requests refused", len(bad))
    figures.record(SUITE, "bad requests with an effect", 0)


async def test_scope_on_every_object(client, auth, db, cases: Cases, frozen_clock) -> None:
    frozen_clock(JULY_NOON)
    a = cases.children["A"]
    await set_child(db, a, risk_level="high")
    r = await client.post(f"/api/v1/children/{a}/safety-checks", json=drowning(), headers=await auth("director"))
    assert r.status_code == 201, r.text
    check_id = r.json()["id"]
    w = (await client.get("/api/v1/safety/warnings", headers=await auth("director"))).json()["items"][0]
    wid = w["id"]
    assert w["grade"] == "orange"  # high 25 + peak drowning 20

    crossings = 0
    for who in ("director2", "director3", "supervisor2"):
        h = await auth(who)
        for url in (
            f"/api/v1/safety/warnings/{wid}",
            f"/api/v1/safety/checks/{check_id}",
            f"/api/v1/children/{a}/safety-checks",
        ):
            assert_problem(await client.get(url, headers=h), 404)
            crossings += 1
        assert (await client.get("/api/v1/safety/warnings", headers=h)).json()["total"] == 0
        r = await client.post(f"/api/v1/safety/warnings/{wid}/acknowledge", json={"note": "x"}, headers=h)
        assert_problem(r, 404)
        r = await client.post(f"/api/v1/children/{a}/safety-checks", json=drowning(), headers=h)
        assert_problem(r, 404)
        crossings += 2
    org = await auth("org")
    assert_problem(await client.get("/api/v1/safety/warnings", headers=org), 403)
    assert_problem(await client.get(f"/api/v1/safety/warnings/{wid}", headers=org), 404)
    assert_problem(await client.get(f"/api/v1/children/{a}/safety-checks", headers=org), 404)

    # The street's supervisor and the district read it; they neither check nor acknowledge; a note waits for the
    # escalation.
    for who in ("supervisor", "admin", "auditor"):
        h = await auth(who)
        assert (await client.get(f"/api/v1/safety/warnings/{wid}", headers=h)).status_code == 200
        assert (await client.get("/api/v1/safety/warnings", headers=h)).json()["counts"]["orange"] == 1
        r = await client.post(f"/api/v1/safety/warnings/{wid}/acknowledge", json={"note": "x"}, headers=h)
        assert_problem(r, 403)
    r = await client.post(f"/api/v1/children/{a}/safety-checks", json=drowning(), headers=await auth("supervisor"))
    assert_problem(r, 403)
    r = await client.post(
        f"/api/v1/safety/warnings/{wid}/actions", json={"note": "督促"}, headers=await auth("supervisor")
    )
    assert_problem(r, 409)
    # Filters.
    admin = await auth("admin")
    r = await client.get("/api/v1/safety/warnings?grade=red", headers=admin)
    assert r.json()["total"] == 0 and r.json()["counts"]["orange"] == 1
    r = await client.get("/api/v1/safety/warnings?status=active&street_id=999", headers=admin)
    assert r.json()["total"] == 0
    assert_problem(await client.get("/api/v1/safety/warnings?grade=purple", headers=admin), 400)
    figures.record(SUITE, "cross-scope attempts", crossings)
    figures.record(SUITE, "cross-scope successes", 0)
